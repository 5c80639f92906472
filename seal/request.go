package seal

// Authorization requests: the approval system asks, a responsible person
// enrolled for the seal approves (or refuses) by signing, and the approval
// becomes the grant that a stamping consumes.
//
// The person signs grant bytes (grant.go), which carry everything the
// approval means. In the store:
//
//	requests/<ar>/grant.bin       the exact bytes to be signed (the request itself)
//	requests/<ar>/decision.json   approved or refused, put-if-absent: exactly one decision wins
//	authz/<az>/grant.json         the grant as the service keeps every grant (seal-maker signed)
//	authz/<az>/evidence/grant.bin, signature.der, certificate.pem
//	                              what the person approved, their signature, their certificate:
//	                              bytes copied, never re-encoded (a passkey approval's evidence
//	                              is the assertion and the credential instead, see passkey.go)
//
// The authorization id is fixed when the request is made and is inside the
// grant bytes, so the decision alone says which grant it makes: a crash
// after the decision and before the grant is completed by the next read.

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/keys"
	"eseal/pdf"
)

const requestPrefix = "requests/"

// Audit actions of authorization requests.
const (
	AuthorizationRequested audit.Action = "authorization.requested"
	AuthorizationApproved  audit.Action = "authorization.approved"
	AuthorizationRefused   audit.Action = "authorization.refused"
)

// RequestStatus is where an authorization request stands.
type RequestStatus string

// Request states. Expired is read from the clock: a pending request past its
// expiry.
const (
	RequestPending  RequestStatus = "pending"
	RequestApproved RequestStatus = "approved"
	RequestRefused  RequestStatus = "refused"
	RequestExpired  RequestStatus = "expired"
)

// RequestSpec is what an approval system asks a responsible person to approve.
type RequestSpec struct {
	SealID      string
	CaseNo      string
	Title       string
	DocumentSM3 string
	ExpiresIn   time.Duration
	MaxUses     int
	// PDF, when given, is the document to be stamped: it is kept with the
	// request (requests/<ar>/document.pdf), its SM3 becomes DocumentSM3 (a
	// DocumentSM3 given as well must match), and the approval page shows
	// its first page.
	PDF []byte
	// By names the API key that asks.
	By string
}

// Decision is a responsible person's answer to a request, with the signature
// that proves it.
type Decision struct {
	Outcome    RequestStatus `json:"outcome"` // approved or refused
	PersonID   string        `json:"person_id"`
	PersonName string        `json:"person_name"`
	Method     Method        `json:"method"`
	// Signature is over the grant bytes (approved) or the refusal bytes;
	// for MethodPasskey it is the assertion's signature, over
	// AuthenticatorData ‖ SHA-256(ClientDataJSON), whose challenge is SM3 of
	// those bytes (passkey.go).
	Signature         []byte    `json:"signature"`
	AuthenticatorData []byte    `json:"authenticator_data,omitempty"`
	ClientDataJSON    []byte    `json:"client_data_json,omitempty"`
	CredentialID      []byte    `json:"credential_id,omitempty"`
	Reason            string    `json:"reason,omitempty"`
	Time              time.Time `json:"time"`
}

// RequestState is a request with its decision, if any.
type RequestState struct {
	Grant
	Status   RequestStatus `json:"status"`
	Decision *Decision     `json:"decision,omitempty"`
	// Challenge is the exact grant bytes a person signs to approve.
	Challenge []byte `json:"-"`
}

// RequestReason says why a request cannot be decided.
type RequestReason string

// Reasons a decision is refused. Each maps to its own problem type.
const (
	RequestNotFound     RequestReason = "not-found"
	RequestIsExpired    RequestReason = "expired"
	RequestDecided      RequestReason = "decided"
	RequestBadSignature RequestReason = "bad-signature"
	RequestNoPerson     RequestReason = "no-person"
)

// RequestError says why a request or a decision on it was refused.
type RequestError struct {
	ID     string
	Reason RequestReason
	Detail string
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("authorization request %s: %s: %s", e.ID, e.Reason, e.Detail)
}

var requestIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^ar-[a-z2-7]{16}$`) })

// ValidRequestID reports whether s has the form of a request id.
func ValidRequestID(s string) bool { return requestIDPattern().MatchString(s) }

func requestKey(id, name string) string { return requestPrefix + id + "/" + name }

// MaxSignature bounds a signature presented with a decision: an SM2
// SEQUENCE{r, s} is at most 72 bytes.
const MaxSignature = 128

// RequestAuthorization records a request for a responsible person's approval
// and returns it with its grant bytes.
func (r *Registry) RequestAuthorization(ctx context.Context, spec RequestSpec) (*RequestState, error) {
	s, err := r.Get(ctx, spec.SealID)
	if err != nil {
		return nil, err
	}
	if s.Status != Active {
		return nil, &StateError{ID: s.ID, Status: s.Status, Reason: "only an active seal can be authorized"}
	}
	spec.CaseNo = strings.TrimSpace(spec.CaseNo)
	spec.Title = strings.TrimSpace(spec.Title)
	spec.DocumentSM3 = strings.ToLower(strings.TrimSpace(spec.DocumentSM3))
	switch {
	case !ValidCaseNo(spec.CaseNo):
		return nil, &InputError{"case_no", "1–64 letters, digits and -_/.#:〔〕()"}
	case !validName(spec.Title, 200):
		return nil, &InputError{"title", "1–200 characters, no control characters"}
	case spec.DocumentSM3 != "" && !sm3HexPattern().MatchString(spec.DocumentSM3):
		return nil, &InputError{"document_sm3", "64 hexadecimal digits"}
	}
	if len(spec.PDF) > 0 {
		sum := sm3Hex(spec.PDF)
		if spec.DocumentSM3 != "" && spec.DocumentSM3 != sum {
			return nil, &InputError{"document_sm3", "is not the SM3 of the PDF sent with the request (" + sum + ")"}
		}
		d, err := pdf.Open(bytes.NewReader(spec.PDF), int64(len(spec.PDF)))
		if err != nil {
			return nil, &InputError{"file", "not a readable PDF: " + err.Error()}
		}
		if d.NumPages() == 0 {
			return nil, &InputError{"file", "the PDF has no readable page"}
		}
		spec.DocumentSM3 = sum
	}
	if spec.MaxUses == 0 {
		spec.MaxUses = 1
	}
	if spec.MaxUses < 1 || spec.MaxUses > MaxAuthorizationUses {
		return nil, &InputError{"max_uses", fmt.Sprintf("1–%d", MaxAuthorizationUses)}
	}
	if spec.ExpiresIn == 0 {
		spec.ExpiresIn = DefaultAuthorizationTTL
	}
	if spec.ExpiresIn < time.Second || spec.ExpiresIn > MaxAuthorizationTTL {
		return nil, &InputError{"expires_in", fmt.Sprintf("between 1s and %s", MaxAuthorizationTTL)}
	}
	persons, err := r.Persons(ctx, s.ID)
	if err != nil {
		return nil, err
	}
	enrolled := false
	for _, p := range persons {
		enrolled = enrolled || (p.Removed == nil && p.State == PersonActive)
	}
	if !enrolled {
		return nil, &RequestError{Reason: RequestNoPerson, Detail: "no responsible person is enrolled for seal " + s.ID + "; enrol one with eseal person add"}
	}
	now := r.now().UTC().Truncate(time.Second)
	suffix := randomID(10)
	g := Grant{
		RequestID: "ar-" + suffix, AuthorizationID: "az-" + suffix, SealID: s.ID, SealName: s.Name,
		CaseNo: spec.CaseNo, Title: spec.Title, DocumentSM3: spec.DocumentSM3, MaxUses: spec.MaxUses,
		RequestedBy: spec.By, RequestedAt: now, ExpiresAt: now.Add(spec.ExpiresIn), Nonce: randomID(16),
	}
	if g.ExpiresAt.After(s.ValidEnd) {
		g.ExpiresAt = s.ValidEnd
	}
	if !validName(g.RequestedBy, 200) {
		g.RequestedBy = "unnamed"
	}
	b, err := g.Marshal()
	if err != nil {
		return nil, err
	}
	// The document first: a request is visible only once its grant bytes
	// are, and then its document is there to be shown.
	if len(spec.PDF) > 0 {
		if err := putObject(ctx, r.store, requestKey(g.RequestID, "document.pdf"), spec.PDF); err != nil {
			return nil, err
		}
	}
	if err := putObject(ctx, r.store, requestKey(g.RequestID, "grant.bin"), b); err != nil {
		return nil, err
	}
	r.audit(ctx, AuditEvent{Action: AuthorizationRequested, Subject: g.RequestID, Actor: spec.By, Details: map[string]string{
		"seal": g.SealID, "case_no": g.CaseNo, "document_sm3": g.DocumentSM3, "authorization": g.AuthorizationID,
		"grant_sm3": sm3Hex(b), "expires_at": g.ExpiresAt.Format(time.RFC3339)}})
	return &RequestState{Grant: g, Status: RequestPending, Challenge: b}, nil
}

// HasRequestDocument reports whether a request carried its document.
func (r *Registry) HasRequestDocument(ctx context.Context, requestID string) (bool, error) {
	_, err := r.store.Head(ctx, requestKey(requestID, "document.pdf"))
	if errors.Is(err, archive.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// RequestDocument returns the PDF an authorization request carried, checked
// against the SM3 in its grant bytes; a RequestError with reason not-found
// when the request carried none.
func (r *Registry) RequestDocument(ctx context.Context, st *RequestState) ([]byte, error) {
	noDocument := &RequestError{ID: st.RequestID, Reason: RequestNotFound, Detail: "the request carried no document"}
	if st.DocumentSM3 == "" {
		return nil, noDocument
	}
	b, _, err := archive.GetBytes(ctx, r.store, requestKey(st.RequestID, "document.pdf"))
	if errors.Is(err, archive.ErrNotFound) {
		return nil, noDocument
	}
	if err != nil {
		return nil, err
	}
	if sm3Hex(b) != st.DocumentSM3 {
		return nil, fmt.Errorf("authorization request %s: the stored document is not the one whose SM3 the grant names", st.RequestID)
	}
	return b, nil
}

// AuthorizationRequest reads a request and its decision. An approval whose
// grant a crash left unwritten is completed here.
func (r *Registry) AuthorizationRequest(ctx context.Context, id string) (*RequestState, error) {
	if !ValidRequestID(id) {
		return nil, &RequestError{ID: id, Reason: RequestNotFound, Detail: "no such authorization request"}
	}
	b, err := getObject(ctx, r.store, requestKey(id, "grant.bin"), maxGrantBytes)
	if errors.Is(err, archive.ErrNotFound) {
		return nil, &RequestError{ID: id, Reason: RequestNotFound, Detail: "no such authorization request"}
	}
	if err != nil {
		return nil, err
	}
	g, err := ParseGrant(b)
	if err != nil {
		return nil, fmt.Errorf("authorization request %s: %w", id, err)
	}
	if g.RequestID != id {
		return nil, fmt.Errorf("authorization request %s: stored grant names %s", id, g.RequestID)
	}
	st := &RequestState{Grant: *g, Status: RequestPending, Challenge: b}
	var d Decision
	switch err := getJSON(ctx, r.store, requestKey(id, "decision.json"), &d); {
	case err == nil:
		st.Decision, st.Status = &d, d.Outcome
	case !errors.Is(err, archive.ErrNotFound):
		return nil, err
	case r.now().After(g.ExpiresAt):
		st.Status = RequestExpired
	}
	if st.Status == RequestApproved {
		if _, err := r.store.Head(ctx, authzKey(g.AuthorizationID, "grant.json")); errors.Is(err, archive.ErrNotFound) {
			if _, err := r.writeApprovedGrant(ctx, st); err != nil {
				return nil, err
			}
		} else if err != nil {
			return nil, err
		}
	}
	return st, nil
}

// decidable loads a pending request and the enrolled person who may decide
// it; anything else is a RequestError or PersonError.
func (r *Registry) decidable(ctx context.Context, requestID, personID string) (*RequestState, *Person, error) {
	st, err := r.AuthorizationRequest(ctx, requestID)
	if err != nil {
		return nil, nil, err
	}
	switch st.Status {
	case RequestExpired:
		return nil, nil, &RequestError{ID: requestID, Reason: RequestIsExpired, Detail: "expired at " + st.ExpiresAt.Format(time.RFC3339)}
	case RequestApproved, RequestRefused:
		return nil, nil, &RequestError{ID: requestID, Reason: RequestDecided, Detail: "already " + string(st.Status) + " by " + st.Decision.PersonName}
	}
	p, err := r.Person(ctx, personID)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case p.SealID != st.SealID:
		return nil, nil, &PersonError{ID: p.ID, Reason: PersonNotEnrolled, Detail: "not enrolled for seal " + st.SealID}
	case p.Removed != nil:
		return nil, nil, &PersonError{ID: p.ID, Reason: PersonRemoved, Detail: "removed at " + p.Removed.Time.Format(time.RFC3339)}
	}
	return st, p, nil
}

// checkSignature verifies a person's SM2 signature (default user id) over msg
// against their pinned certificate.
func (r *Registry) checkSignature(ctx context.Context, requestID string, p *Person, msg, sig []byte) error {
	if p.Method != MethodSM2 {
		return &RequestError{ID: requestID, Reason: RequestBadSignature, Detail: p.Name + " approves with a passkey, on the approval page"}
	}
	if len(sig) == 0 || len(sig) > MaxSignature {
		return &RequestError{ID: requestID, Reason: RequestBadSignature, Detail: fmt.Sprintf("a DER SM2 signature of at most %d bytes is needed", MaxSignature)}
	}
	cert, err := r.PersonCertificate(ctx, p)
	if err != nil {
		return err
	}
	if err := r.checkPersonCert(ctx, p.ID, cert, r.now()); err != nil {
		return err
	}
	if !keys.VerifySM2(cert.PublicKey, msg, sig) {
		return &RequestError{ID: requestID, Reason: RequestBadSignature, Detail: "the signature does not verify with " + p.Name + "'s enrolled certificate over this request's challenge"}
	}
	return nil
}

// Approve records a person's SM2-signed approval of a pending request and
// makes its grant. Of concurrent decisions exactly one is recorded; the
// others get a RequestError with reason decided.
func (r *Registry) Approve(ctx context.Context, requestID, personID string, sig []byte) (*Authorization, error) {
	st, p, err := r.decidable(ctx, requestID, personID)
	if err != nil {
		return nil, err
	}
	if err := r.checkSignature(ctx, requestID, p, st.Challenge, sig); err != nil {
		return nil, err
	}
	return r.approve(ctx, st, p, Decision{Outcome: RequestApproved, PersonID: p.ID, PersonName: p.Name, Method: MethodSM2,
		Signature: sig, Time: r.now().UTC().Truncate(time.Second)})
}

// approve records a checked approval, whatever its method, and makes the grant.
func (r *Registry) approve(ctx context.Context, st *RequestState, p *Person, d Decision) (*Authorization, error) {
	s, err := r.Get(ctx, st.SealID)
	if err != nil {
		return nil, err
	}
	if s.Status != Active {
		return nil, &StateError{ID: s.ID, Status: s.Status, Reason: "only an active seal can be authorized"}
	}
	if err := r.decide(ctx, st, d); err != nil {
		return nil, err
	}
	st.Decision, st.Status = &d, RequestApproved
	a, err := r.writeApprovedGrant(ctx, st)
	if err != nil {
		return nil, err
	}
	r.audit(ctx, AuditEvent{Action: AuthorizationApproved, Subject: a.ID, Actor: p.ID, Details: map[string]string{
		"request": st.RequestID, "seal": a.SealID, "person": p.Name, "method": string(d.Method), "case_no": a.CaseNo,
		"document_sm3": a.DocumentSM3, "grant_sm3": sm3Hex(st.Challenge), "max_uses": fmt.Sprint(a.MaxUses),
		"expires_at": a.ExpiresAt.Format(time.RFC3339)}})
	return a, nil
}

// RefusalBytes are what a person signs to refuse a request: the refusal, its
// reason, and the SM3 of the grant bytes refused.
func RefusalBytes(grant []byte, reason string) []byte {
	return []byte("eseal authorization refusal v1\ngrant_sm3: " + sm3Hex(grant) + "\nreason: " + reason + "\n")
}

// Refuse records a person's signed refusal of a pending request. The
// signature is over RefusalBytes, so a refusal cannot be made by whoever
// learns the request id, nor turned into an approval.
func (r *Registry) Refuse(ctx context.Context, requestID, personID, reason string, sig []byte) (*RequestState, error) {
	reason = strings.TrimSpace(reason)
	if !validName(reason, 512) {
		return nil, &InputError{"reason", "1–512 characters, no control characters"}
	}
	st, p, err := r.decidable(ctx, requestID, personID)
	if err != nil {
		return nil, err
	}
	if err := r.checkSignature(ctx, requestID, p, RefusalBytes(st.Challenge, reason), sig); err != nil {
		return nil, err
	}
	return r.refuse(ctx, st, p, Decision{Outcome: RequestRefused, PersonID: p.ID, PersonName: p.Name, Method: MethodSM2, Signature: sig,
		Reason: reason, Time: r.now().UTC().Truncate(time.Second)})
}

// refuse records a checked refusal, whatever its method.
func (r *Registry) refuse(ctx context.Context, st *RequestState, p *Person, d Decision) (*RequestState, error) {
	if err := r.decide(ctx, st, d); err != nil {
		return nil, err
	}
	st.Decision, st.Status = &d, RequestRefused
	r.audit(ctx, AuditEvent{Action: AuthorizationRefused, Subject: st.RequestID, Actor: p.ID, Details: map[string]string{
		"seal": st.SealID, "person": p.Name, "method": string(d.Method), "reason": d.Reason, "case_no": st.CaseNo}})
	return st, nil
}

// decide writes the decision put-if-absent: the one place a request's fate
// is settled, across replicas.
func (r *Registry) decide(ctx context.Context, st *RequestState, d Decision) error {
	err := putJSON(ctx, r.store, requestKey(st.RequestID, "decision.json"), d)
	if errors.Is(err, archive.ErrExists) {
		return &RequestError{ID: st.RequestID, Reason: RequestDecided, Detail: "another decision was recorded first"}
	}
	if err == nil {
		r.keep(ctx, requestKey(st.RequestID, "decision.json"))
	}
	return err
}

// writeApprovedGrant stores an approved request's evidence and its grant.
// Objects already there (a repeated completion) are left as they are.
func (r *Registry) writeApprovedGrant(ctx context.Context, st *RequestState) (*Authorization, error) {
	d := st.Decision
	p, err := r.Person(ctx, d.PersonID)
	if err != nil {
		return nil, err
	}
	var evidence []evidenceObject
	switch d.Method {
	case MethodPasskey:
		evidence, err = r.passkeyEvidence(ctx, st, p)
	default:
		var cert *smx509.Certificate
		if cert, err = r.PersonCertificate(ctx, p); err == nil {
			evidence = []evidenceObject{{"grant.bin", st.Challenge}, {"signature.der", d.Signature}, {"certificate.pem", certPEM(cert)}}
		}
	}
	if err != nil {
		return nil, err
	}
	a := &Authorization{
		ID: st.AuthorizationID, SealID: st.SealID, CaseNo: st.CaseNo, DocumentSM3: st.DocumentSM3, Purpose: st.Title,
		MaxUses: st.MaxUses, ExpiresAt: st.ExpiresAt, GrantedBy: d.PersonName, GrantedAt: d.Time,
		Method: d.Method, PersonID: d.PersonID, PersonName: d.PersonName, RequestID: st.RequestID,
	}
	if a.Signature, err = r.signGrant(a.signedBytes()); err != nil {
		return nil, err
	}
	for _, o := range evidence {
		if err := putObject(ctx, r.store, authzKey(a.ID, "evidence/"+o.name), o.data); err != nil && !errors.Is(err, archive.ErrExists) {
			return nil, err
		}
		r.keep(ctx, authzKey(a.ID, "evidence/"+o.name))
	}
	// The grant last: once it exists the authorization can be used, and its
	// evidence is already there.
	if err := putJSON(ctx, r.store, authzKey(a.ID, "grant.json"), a); errors.Is(err, archive.ErrExists) {
		return r.grant(ctx, a.ID)
	} else if err != nil {
		return nil, err
	}
	r.keep(ctx, authzKey(a.ID, "grant.json"))
	r.rememberGrant(a)
	return a, nil
}

// evidenceObject is one object of a grant's evidence, under authz/<az>/evidence/.
type evidenceObject struct {
	name string
	data []byte
}

// Evidence is what shows who authorized a grant, checkable without eseal:
// for MethodSM2 the exact grant bytes the person signed, their SM2 signature
// and their certificate; for MethodPasskey the grant bytes, the raw WebAuthn
// assertion whose challenge is their SM3, and the credential (passkey.go);
// for MethodAPIKey the grant as the service signed it,
// the seal maker's signature and the seal maker's certificate.
type Evidence struct {
	AuthorizationID string `json:"authorization_id"`
	Method          Method `json:"method"`
	PersonID        string `json:"person_id,omitempty"`
	PersonName      string `json:"person_name,omitempty"`
	// KeyName names the authorizer key of an api-key grant.
	KeyName     string `json:"key_name,omitempty"`
	Grant       []byte `json:"grant"`
	Signature   []byte `json:"signature"`
	Certificate string `json:"certificate,omitempty"`
	// For MethodPasskey, the rest of the assertion as the authenticator and
	// browser made it, and the credential (its id and COSE public key).
	AuthenticatorData   []byte `json:"authenticator_data,omitempty"`
	ClientDataJSON      []byte `json:"client_data_json,omitempty"`
	CredentialID        []byte `json:"credential_id,omitempty"`
	CredentialPublicKey []byte `json:"credential_public_key,omitempty"`
}

// Evidence returns the evidence of an authorization, verified before it is
// returned.
func (r *Registry) Evidence(ctx context.Context, id string) (*Evidence, error) {
	st, err := r.Authorization(ctx, id)
	if err != nil {
		return nil, err
	}
	if st.Method == MethodPasskey {
		ev := &Evidence{AuthorizationID: id, Method: st.Method, PersonID: st.PersonID, PersonName: st.PersonName}
		if err := r.readPasskeyEvidence(ctx, ev); err != nil {
			return nil, err
		}
		return ev, nil
	}
	if st.Method != MethodSM2 {
		return &Evidence{AuthorizationID: id, Method: MethodAPIKey, KeyName: st.GrantedBy, Grant: st.signedBytes(),
			Signature: st.Authorization.Signature, Certificate: string(certPEM(r.makerCA))}, nil
	}
	ev := &Evidence{AuthorizationID: id, Method: st.Method, PersonID: st.PersonID, PersonName: st.PersonName}
	var certBytes []byte
	for _, o := range []struct {
		name string
		dst  *[]byte
	}{{"grant.bin", &ev.Grant}, {"signature.der", &ev.Signature}, {"certificate.pem", &certBytes}} {
		if *o.dst, err = getObject(ctx, r.store, authzKey(id, "evidence/"+o.name), maxGrantBytes); err != nil {
			return nil, fmt.Errorf("authorization %s evidence %s: %w", id, o.name, err)
		}
	}
	ev.Certificate = string(certBytes)
	cert, err := ParsePersonCertificate(certBytes)
	if err != nil {
		return nil, fmt.Errorf("authorization %s evidence: %w", id, err)
	}
	g, err := ParseGrant(ev.Grant)
	if err != nil || g.AuthorizationID != id || !keys.VerifySM2(cert.PublicKey, ev.Grant, ev.Signature) {
		return nil, &AuthzError{ID: id, Reason: AuthzBadSignature, Detail: "the stored evidence does not verify"}
	}
	return ev, nil
}

func sm3Hex(b []byte) string {
	sum := sm3.Sum(b)
	return hex.EncodeToString(sum[:])
}
