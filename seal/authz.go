package seal

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"eseal/archive"
	"eseal/archive/audit"
)

// An Authorization is a responsible person's permission for a seal to be used
// ("一章一授权": every stamping is authorized). It is scoped to a document (its
// SM3) and/or a case (办件编号), may be used MaxUses times (default once),
// expires, and can be revoked before use. The grant is signed by the seal
// maker's key (Org) so the archive proves who authorized what, and when.
//
// In the store: authz/<id>/grant.json (the signed grant), authz/<id>/revoked.json,
// and one authz/<id>/use/<n>.json per use — the commit marker of a stamping,
// created put-if-absent and locked in the put, which is what makes each use
// happen exactly once across replicas. A use given back keeps its marker
// and gets a release beside it, authz/<id>/release/<n>.json. A revocation
// also takes a use slot (its closing marker, see commit.go), so that a
// revoke and a stamping racing for the same use are decided by one
// put-if-absent.
type Authorization struct {
	ID          string    `json:"id"`
	SealID      string    `json:"seal_id"`
	CaseNo      string    `json:"case_no,omitempty"`
	DocumentSM3 string    `json:"document_sm3,omitempty"`
	Purpose     string    `json:"purpose,omitempty"`
	MaxUses     int       `json:"max_uses"`
	ExpiresAt   time.Time `json:"expires_at"`
	GrantedBy   string    `json:"granted_by"`
	GrantedAt   time.Time `json:"granted_at"`
	// Method is how the grant was approved: MethodSM2 or MethodPasskey, a
	// responsible person's signature or passkey assertion over the grant
	// bytes of request RequestID (the evidence is kept beside the grant, see
	// request.go and passkey.go); MethodAPIKey, an
	// authorizer key's direct grant. Grants made before methods existed
	// have none and are api-key grants.
	Method     Method `json:"method,omitempty"`
	PersonID   string `json:"person_id,omitempty"`
	PersonName string `json:"person_name,omitempty"`
	RequestID  string `json:"request_id,omitempty"`
	// Signature is the seal maker's SM2 signature over the grant without it.
	Signature []byte `json:"signature,omitempty"`
}

// AuthorizationState is an authorization with what happened to it since.
type AuthorizationState struct {
	Authorization
	Revoked *StatusEvent `json:"revoked,omitempty"`
	// Uses are the committed uses: every stamping's use marker, except those
	// a revocation's closing marker rules out (commit.go).
	Uses      []AuthorizationUse `json:"uses"`
	Remaining int                `json:"remaining"`
	// TooLateFor, in the answer to a revoke, names the documents stamped
	// under the authorization, including those whose stampings committed
	// while the revoke was under way: it came too late for them (and in time
	// for every use left).
	TooLateFor []string `json:"too_late_for,omitempty"`
}

// AuthorizationUse records one consumption of an authorization: the commit
// marker of one stamping (authz/<id>/use/<n>.json).
type AuthorizationUse struct {
	N          int       `json:"n"`
	DocumentID string    `json:"document_id"`
	Time       time.Time `json:"time"`
	// IdempotencyKey is the hash of the request's Idempotency-Key, so a retry
	// that lost the race to itself finds its own document.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// SealedCode is the document's retrieval code encrypted under a key
	// derived from the request's Idempotency-Key, so only a retry of the
	// same request can show the code again.
	SealedCode []byte `json:"sealed_code,omitempty"`
	// RequestSM3 is the fingerprint of the request that made the document
	// (StampRequest.fingerprint), so the key cannot be reused for another.
	RequestSM3 string `json:"request_sm3,omitempty"`
	// RetainUntil is the end of the marker's retention, set in its put:
	// the document's. Markers put before they were locked at put have
	// none (finish locked them once the stamping was logged).
	RetainUntil time.Time `json:"retain_until,omitzero"`
	// MarkerMissing: the use's marker is gone and only its receipt says
	// the use was spent (see spentKey). The use stays spent; its document
	// is not served.
	MarkerMissing bool `json:"-"`
	// Record pins the document's record as the commit found it: its
	// version id (S3) and SM3. The committed record is read through it
	// (CommittedRecord).
	Record *archive.Pin `json:"record,omitempty"`
}

// AuthzReason says why an authorization cannot be used.
type AuthzReason string

// Reasons an authorization is refused. Each maps to its own problem type.
const (
	AuthzNotFound     AuthzReason = "not-found"
	AuthzExpired      AuthzReason = "expired"
	AuthzRevoked      AuthzReason = "revoked"
	AuthzConsumed     AuthzReason = "consumed"
	AuthzWrongSeal    AuthzReason = "wrong-seal"
	AuthzWrongDoc     AuthzReason = "wrong-document"
	AuthzWrongCase    AuthzReason = "wrong-case"
	AuthzBadSignature AuthzReason = "bad-signature"
	// AuthzPolicy: the seal's policy needs a responsible person's approval
	// and the grant is an API key's.
	AuthzPolicy AuthzReason = "policy"
)

// AuthzError says why an authorization was refused.
type AuthzError struct {
	ID     string
	Reason AuthzReason
	Detail string
	// GrantedFor is the seal the authorization was granted for, with
	// AuthzWrongSeal: whether the caller may know of that seal is the
	// caller's judgement.
	GrantedFor string
}

func (e *AuthzError) Error() string {
	if e.ID == "" {
		return fmt.Sprintf("authorization: %s: %s", e.Reason, e.Detail)
	}
	return fmt.Sprintf("authorization %s: %s: %s", e.ID, e.Reason, e.Detail)
}

// GrantRequest is what an authorizer asks for.
type GrantRequest struct {
	SealID      string
	CaseNo      string
	DocumentSM3 string
	Purpose     string
	MaxUses     int
	ExpiresIn   time.Duration
	GrantedBy   string
}

// Limits on grants.
const (
	MaxAuthorizationUses    = 100
	MaxAuthorizationTTL     = 30 * 24 * time.Hour
	DefaultAuthorizationTTL = time.Hour
)

// Compiled on first use: package initialisation does nothing heavy.
var (
	authzIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^az-[a-z2-7]{16}$`) })
	sm3HexPattern  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-f]{64}$`) })
)

// ValidAuthorizationID reports whether s has the form of an authorization id.
func ValidAuthorizationID(s string) bool { return authzIDPattern().MatchString(s) }

// ValidCaseNo reports whether s is an acceptable case number (办件编号).
func ValidCaseNo(s string) bool { return archive.ValidReference(s) }

func authzKey(id, name string) string { return "authz/" + id + "/" + name }

// Grant records a signed authorization for one seal.
func (r *Registry) Grant(ctx context.Context, req GrantRequest) (*Authorization, error) {
	s, err := r.Get(ctx, req.SealID)
	if err != nil {
		return nil, err
	}
	if s.Status != Active {
		return nil, &StateError{ID: s.ID, Status: s.Status, Reason: "only an active seal can be authorized"}
	}
	if pol, err := r.Policy(ctx, s.ID); err != nil {
		return nil, err
	} else if pol != PolicyKey {
		return nil, &AuthzError{Reason: AuthzPolicy, Detail: "seal " + s.ID + " is authorized by its responsible persons (policy person): ask with POST /v1/authorization-requests"}
	}
	req.DocumentSM3 = strings.ToLower(strings.TrimSpace(req.DocumentSM3))
	req.CaseNo = strings.TrimSpace(req.CaseNo)
	if req.CaseNo == "" && req.DocumentSM3 == "" {
		return nil, &InvalidError{"an authorization is scoped to a case number, a document SM3, or both"}
	}
	if req.CaseNo != "" && !ValidCaseNo(req.CaseNo) {
		return nil, &InvalidError{"case_no: 1–64 letters, digits and -_/.#:〔〕()"}
	}
	if req.DocumentSM3 != "" && !sm3HexPattern().MatchString(req.DocumentSM3) {
		return nil, &InvalidError{"document_sm3: 64 hexadecimal digits"}
	}
	if utf8.RuneCountInString(req.Purpose) > 256 {
		return nil, &InvalidError{"purpose: at most 256 characters"}
	}
	if req.MaxUses == 0 {
		req.MaxUses = 1
	}
	if req.MaxUses < 1 || req.MaxUses > MaxAuthorizationUses {
		return nil, &InvalidError{fmt.Sprintf("max_uses: 1–%d", MaxAuthorizationUses)}
	}
	if req.ExpiresIn == 0 {
		req.ExpiresIn = DefaultAuthorizationTTL
	}
	if req.ExpiresIn < time.Second || req.ExpiresIn > MaxAuthorizationTTL {
		return nil, &InvalidError{fmt.Sprintf("expires_in: between 1s and %s", MaxAuthorizationTTL)}
	}
	now := r.now().UTC().Truncate(time.Second)
	a := &Authorization{
		ID: newAuthzID(), SealID: s.ID, CaseNo: req.CaseNo, DocumentSM3: req.DocumentSM3,
		Purpose: req.Purpose, MaxUses: req.MaxUses, ExpiresAt: now.Add(req.ExpiresIn),
		GrantedBy: req.GrantedBy, GrantedAt: now, Method: MethodAPIKey,
	}
	if a.ExpiresAt.After(s.ValidEnd) {
		a.ExpiresAt = s.ValidEnd
	}
	a.Signature, err = r.signGrant(a.signedBytes())
	if err != nil {
		return nil, err
	}
	if err := putJSON(ctx, r.store, authzKey(a.ID, "grant.json"), a); err != nil {
		return nil, err
	}
	if err := r.logged(ctx, AuditEvent{Action: audit.AuthorizationGranted, Subject: a.ID, Actor: a.GrantedBy, Details: map[string]string{
		"seal": a.SealID, "case_no": a.CaseNo, "document_sm3": a.DocumentSM3, "max_uses": fmt.Sprint(a.MaxUses),
		"expires_at": a.ExpiresAt.Format(time.RFC3339)}}, authzKey(a.ID, "grant.json")); err != nil {
		return nil, err
	}
	r.rememberGrant(a)
	return a, nil
}

// element is the authorization as a document's record names it.
func (a *Authorization) element() archive.AuthorizationElement {
	m := a.Method
	if m == "" {
		m = MethodAPIKey
	}
	return archive.AuthorizationElement{ID: a.ID, GrantedBy: a.GrantedBy, GrantedAt: a.GrantedAt,
		Method: string(m), PersonID: a.PersonID, PersonName: a.PersonName}
}

// signedBytes is what the grant signature covers: the grant as JSON without
// the signature, in the field order of the struct.
func (a *Authorization) signedBytes() []byte {
	c := *a
	c.Signature = nil
	b, _ := json.Marshal(c)
	return b
}

func newAuthzID() string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "az-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// Authorization returns the grant and its uses.
func (r *Registry) Authorization(ctx context.Context, id string) (*AuthorizationState, error) {
	st, _, err := r.authorization(ctx, id)
	return st, err
}

// authorization is Authorization, with the listing of authz/<id>/ it was
// read from. One listing shows revoked.json and the use slots (markers,
// releases, receipts of before): revoked.json is read only when it is
// listed (a listing is as fresh as a read on every store: S3, MinIO, the
// filesystem).
func (r *Registry) authorization(ctx context.Context, id string) (*AuthorizationState, *authzSlots, error) {
	if !ValidAuthorizationID(id) {
		return nil, nil, &AuthzError{ID: id, Reason: AuthzNotFound, Detail: "no such authorization"}
	}
	var st AuthorizationState
	g, err := r.grant(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	st.Authorization = *g
	slots, err := r.slots(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if slots.revoked {
		var rev StatusEvent
		switch _, err := getJSONVersion(ctx, r.store, authzKey(id, "revoked.json"), slots.revokedVersion, &rev); {
		case err == nil:
			st.Revoked = &rev
		case !errors.Is(err, archive.ErrNotFound):
			return nil, nil, err
		}
	}
	st.Uses = committedUses(slots.markers)
	st.Remaining = st.MaxUses - len(st.Uses)
	return &st, slots, nil
}

// Scope is what a stamping presents to an authorization.
type Scope struct {
	SealID      string
	DocumentSM3 []byte // SM3 of the input PDF
	CaseNo      string
}

// CheckAuthorization says whether the authorization may be used now for this
// scope. It reads; the use itself is committed by ConsumeAuthorization.
func (r *Registry) CheckAuthorization(ctx context.Context, id string, sc Scope) (*AuthorizationState, error) {
	return r.checkAuthorization(ctx, id, sc, nil, nil)
}

// checkAuthorization is CheckAuthorization; events are what the caller's
// getSeal of sc.SealID read of the seal's policy, and st the authorization
// as the caller read it (Authorization) a moment before: each nil is read
// here.
func (r *Registry) checkAuthorization(ctx context.Context, id string, sc Scope, events *sealEvents, st *AuthorizationState) (*AuthorizationState, error) {
	var err error
	if st == nil {
		if st, err = r.Authorization(ctx, id); err != nil {
			return nil, err
		}
	}
	now := r.now()
	switch {
	case st.SealID != sc.SealID:
		return nil, &AuthzError{ID: id, Reason: AuthzWrongSeal, Detail: "granted for seal " + st.SealID, GrantedFor: st.SealID}
	case st.Revoked != nil:
		return nil, &AuthzError{ID: id, Reason: AuthzRevoked, Detail: "revoked at " + st.Revoked.Time.Format(time.RFC3339)}
	case now.After(st.ExpiresAt):
		return nil, &AuthzError{ID: id, Reason: AuthzExpired, Detail: "expired at " + st.ExpiresAt.Format(time.RFC3339)}
	case st.Remaining <= 0:
		return nil, &AuthzError{ID: id, Reason: AuthzConsumed, Detail: "already used"}
	case st.DocumentSM3 != "" && st.DocumentSM3 != hex.EncodeToString(sc.DocumentSM3):
		return nil, &AuthzError{ID: id, Reason: AuthzWrongDoc, Detail: "granted for another document"}
	case st.CaseNo != "" && st.CaseNo != sc.CaseNo:
		return nil, &AuthzError{ID: id, Reason: AuthzWrongCase, Detail: "granted for case " + st.CaseNo}
	}
	if st.Method != MethodSM2 && st.Method != MethodPasskey {
		// Only a person-approved grant stamps with a seal whose policy is
		// person, whenever the grant was made.
		if events == nil {
			if _, events, err = r.getSeal(ctx, st.SealID); err != nil {
				return nil, err
			}
		}
		if events.policyNow() != PolicyKey {
			return nil, &AuthzError{ID: id, Reason: AuthzPolicy, Detail: "seal " + st.SealID + " needs a responsible person's approval; this grant is an API key's"}
		}
	}
	return st, nil
}

// UseOf returns the use marker recorded for the n-th use, if any.
func (r *Registry) UseOf(ctx context.Context, id string, n int) (*AuthorizationUse, error) {
	var u AuthorizationUse
	if err := getJSON(ctx, r.store, useKey(id, n), &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// releaseUse gives back the n-th use of an authorization, taken by the
// stamping of docID, which does not commit: a joint approval that lost on
// another of its authorizations, a stamping whose audit entry failed or
// that a revoke's closing marker leaves out, one the recovery sweep
// abandons half-way. The marker stays (it is locked from its put, and its
// slot is never taken again); a release beside it, put once and locked as
// long as the marker, says the use does not count, and why.
func (r *Registry) releaseUse(ctx context.Context, id string, n int, docID string, why releaseReason) error {
	until := archive.Permanent.Until(r.now())
	switch u, err := r.UseOf(ctx, id, n); {
	case errors.Is(err, archive.ErrNotFound):
		// Removed or hidden since this stamping put it: the release still
		// keeps the slot taken and says whose it was.
	case err != nil:
		return err
	case u.DocumentID != docID:
		return fmt.Errorf("authorization %s use %d names %s, not %s", id, n, u.DocumentID, docID)
	case !u.RetainUntil.IsZero():
		until = u.RetainUntil
	}
	key := releaseKey(id, n)
	rel := useRelease{AuthorizationID: id, N: n, DocumentID: docID, Reason: why, Time: r.now().UTC()}
	var err error
	if rel.Signature, err = r.signGrant(rel.signedBytes()); err != nil {
		return err
	}
	_, err = archive.PutLocked(ctx, r.store, key, jsonObject(rel), until)
	switch {
	case errors.Is(err, archive.ErrExists):
		// Released before (a sweep, or a retry after an answer was lost).
		var prev useRelease
		if err := getJSON(ctx, r.store, key, &prev); err != nil {
			return err
		}
		if prev.DocumentID != docID {
			return fmt.Errorf("authorization %s use %d was given back by %s, not %s", id, n, prev.DocumentID, docID)
		}
		return nil
	}
	return err
}

// maxCachedGrants bounds the cache of verified grants.
const maxCachedGrants = 10000

// grant reads and verifies a grant. Grants are written once and never
// deleted, so a verified one is kept in memory.
func (r *Registry) grant(ctx context.Context, id string) (*Authorization, error) {
	r.mu.Lock()
	g := r.grants[id]
	r.mu.Unlock()
	if g != nil {
		return g, nil
	}
	g = new(Authorization)
	if err := getJSON(ctx, r.store, authzKey(id, "grant.json"), g); err != nil {
		if errors.Is(err, archive.ErrNotFound) {
			return nil, &AuthzError{ID: id, Reason: AuthzNotFound, Detail: "no such authorization"}
		}
		return nil, err
	}
	if g.ID != id || !r.grantSignatureValid(g.signedBytes(), g.Signature) {
		return nil, &AuthzError{ID: id, Reason: AuthzBadSignature, Detail: "the stored grant's signature does not verify"}
	}
	r.rememberGrant(g)
	return g, nil
}

// rememberGrant keeps a verified grant: one read back, or one this registry
// signed and has just stored for good (its put-if-absent stored exactly
// these bytes, and no undo of the change can delete them any more), which
// then costs a stamping under it on this replica no read. It keeps a copy:
// the caller's may change.
func (r *Registry) rememberGrant(g *Authorization) {
	c := *g
	r.mu.Lock()
	if len(r.grants) >= maxCachedGrants {
		clear(r.grants)
	}
	r.grants[g.ID] = &c
	r.mu.Unlock()
}

func ptr[T any](v T) *T { return &v }
