package seal

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"

	"eseal/archive"
	"eseal/archive/audit"
)

// Service is the stamping desk of the REST path: it checks the authorization,
// stamps, archives the signed PDF and its record, and commits the use of the
// authorization exactly once (DESIGN.md, "The main job: one stamping").
type Service struct {
	Registry *Registry
	// Timestamps is the TSA used when an order asks for a timestamp (nil:
	// the organisation's embedded TSA); RequireTimestamp refuses to stamp
	// without one instead of degrading.
	Timestamps       TimestampSource
	RequireTimestamp bool
	Store            archive.Store
	Schedule         *archive.Schedule
	// Application names the creating application in records.
	Application string
	// PublicURL is the service's external base URL, for QR codes.
	PublicURL string
	// Now is the clock; nil means the registry's.
	Now func() time.Time
	// Log receives the recovery sweep's and commit's notes; nil means slog.Default().
	Log *slog.Logger
}

// RecordInput is what the approval system tells about the document.
type RecordInput struct {
	Title      string `json:"title"`
	DocumentNo string `json:"document_no,omitempty"`
	ItemCode   string `json:"item_code,omitempty"`
	CaseNo     string `json:"case_no,omitempty"`
	Applicant  string `json:"applicant,omitempty"`
	Retention  string `json:"retention,omitempty"`
	FileName   string `json:"file_name,omitempty"`
}

// Order is one stamping requested over the REST path.
type Order struct {
	SealID          string
	AuthorizationID string
	Placement       Placement
	Record          RecordInput
	// Seals, when given, replaces SealID/AuthorizationID/Placement: several
	// seals (联合审批), each under its own authorization, applied in order.
	Seals []SealUse
	// BaseDocumentID adds the seals to an archived document as a new
	// revision (a new document whose PDF extends the stored one); PDF must
	// then be nil.
	BaseDocumentID string
	// Timestamp asks for an RFC 3161 token from the service's TSA.
	Timestamp bool
	// QR draws a QR code of the document's verify URL beside the (first)
	// seal; it needs Service.PublicURL.
	QR bool
	// LTV adds, after the last seal, a revision with the document security
	// store (/DSS: chains and CRLs) so the seals verify long after their
	// certificates expire; best with Timestamp.
	LTV bool
	// SESignature also makes a GB/T 38540 SES_Signature over each seal's
	// signed bytes, kept beside the document (docs/<id>/ses-<n>.der).
	SESignature bool
	// IdempotencyKey makes a retried request return the same document.
	// Callers pass a value unique to the client (e.g. prefixed with its key).
	IdempotencyKey string
	// PDF is the input document.
	PDF []byte
}

// Issued is a stamped, archived document.
type Issued struct {
	DocumentID string
	// RetrievalCode is set only for a fresh stamping; it is not stored in
	// clear, so a replayed request cannot show it again unless the caller
	// kept it.
	RetrievalCode string
	Record        *archive.Record
	// Replayed is true when an earlier request with the same idempotency key
	// made this document.
	Replayed bool
	// Warnings are the stamping's (e.g. WarnNoTimestamp).
	Warnings []string
}

// InputError is a malformed order: the REST layer answers 400/422.
type InputError struct{ Field, Reason string }

func (e *InputError) Error() string { return e.Field + ": " + e.Reason }

// IdempotencyError says an Idempotency-Key was reused for a different request.
type IdempotencyError struct{ Reason string }

func (e *IdempotencyError) Error() string { return "Idempotency-Key: " + e.Reason }

const (
	pendingPrefix = "pending/"
	codePrefix    = "codes/"
	idemPrefix    = "idem/"
	// recoveryGrace is how old an uncommitted stamping must be before the
	// sweep removes it, so a slow stamping on another replica is left alone.
	recoveryGrace = 10 * time.Minute
)

type pendingEntry struct {
	DocumentID      string `json:"document_id"`
	AuthorizationID string `json:"authorization_id"`
	// AuthorizationIDs lists every authorization of a multi-seal stamping.
	AuthorizationIDs []string `json:"authorization_ids,omitempty"`
	// Extra lists further staged objects (SES_Signatures), locked and
	// discarded with the document.
	Extra          []string  `json:"extra,omitempty"`
	CodeKey        string    `json:"code_key"`
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	Started        time.Time `json:"started"`
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return s.Registry.now()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

var docIDPattern = regexp.MustCompile(`^doc-[a-z2-7]{16}$`)

// ValidDocumentID reports whether s has the form of a document id.
func ValidDocumentID(s string) bool { return docIDPattern.MatchString(s) }

// MaxSealsPerOrder bounds the seals of one request (联合审批 rarely needs
// more than a handful of departments).
const MaxSealsPerOrder = 10

// SealUse is one seal of a multi-seal order, with its own authorization.
type SealUse struct {
	SealID          string    `json:"seal_id"`
	AuthorizationID string    `json:"authorization_id"`
	Placement       Placement `json:"placement"`
}

// uses returns the order's seals: Seals, or the single SealID/AuthorizationID.
func (o *Order) uses() []SealUse {
	if len(o.Seals) > 0 {
		return o.Seals
	}
	return []SealUse{{SealID: o.SealID, AuthorizationID: o.AuthorizationID, Placement: o.Placement}}
}

// Stamp performs one authorized stamping: every seal of the order, each under
// its own authorization, as successive incremental revisions of one document.
// Nothing is visible — and the authorizations stay usable — until the use
// markers of all of them are written; after that, the document is complete
// and retrievable.
func (s *Service) Stamp(ctx context.Context, o Order) (*Issued, error) {
	started := s.now()
	uses := o.uses()
	switch {
	case len(uses) > MaxSealsPerOrder:
		return nil, &InputError{"seals", fmt.Sprintf("at most %d seals in one request", MaxSealsPerOrder)}
	case len(o.Seals) > 0 && (o.SealID != "" || o.AuthorizationID != ""):
		return nil, &InputError{"seals", "give either seals or seal_id/authorization_id"}
	}
	seen := map[string]bool{}
	for _, u := range uses {
		if seen[u.AuthorizationID] {
			return nil, &InputError{"seals", "each seal needs its own authorization"}
		}
		seen[u.AuthorizationID] = true
	}
	idem := ""
	if o.IdempotencyKey != "" {
		idem = hashHex(o.IdempotencyKey)
		if iss, err := s.replay(ctx, o.IdempotencyKey, uses[0].AuthorizationID); iss != nil || err != nil {
			return iss, err
		}
	}
	// A later seal on an archived document starts from its stored PDF.
	var base *archive.Record
	if o.BaseDocumentID != "" {
		if o.PDF != nil {
			return nil, &InputError{"document_id", "a later seal on an archived document takes no file"}
		}
		var err error
		if base, o.PDF, err = s.committedPDF(ctx, o.BaseDocumentID); err != nil {
			return nil, err
		}
		if o.Record.Title == "" {
			o.Record = RecordInput{Title: base.Title, DocumentNo: base.DocumentNo, ItemCode: base.ItemCode,
				CaseNo: base.CaseNo, Applicant: base.Applicant, FileName: base.FileName}
		}
	}
	if err := validateRecord(&o.Record); err != nil {
		return nil, err
	}
	retention := s.Schedule.ClassFor(o.Record.ItemCode)
	if o.Record.Retention != "" {
		c, err := archive.ParseRetentionClass(o.Record.Retention)
		if err != nil {
			return nil, &InputError{"record.retention", err.Error()}
		}
		// The schedule is the floor: an office may keep longer, not shorter.
		if o.Record.ItemCode != "" {
			c = archive.Longer(c, retention)
		}
		retention = c
	}
	if base != nil {
		retention = archive.Longer(retention, base.Retention)
	}

	// For every seal: the seal (active, valid), then its authorization, for
	// the document as the request gave it.
	inSM3 := sm3.Sum(o.PDF)
	seals := make([]*Seal, len(uses))
	grants := make([]*AuthorizationState, len(uses))
	for i, u := range uses {
		sl, err := s.Registry.Get(ctx, u.SealID)
		if err != nil {
			return nil, err
		}
		if err := usable(sl, s.now()); err != nil {
			return nil, err
		}
		az, err := s.Registry.CheckAuthorization(ctx, u.AuthorizationID, Scope{SealID: u.SealID, DocumentSM3: inSM3[:], CaseNo: o.Record.CaseNo})
		if err != nil {
			return nil, err
		}
		seals[i], grants[i] = sl, az
	}

	// Stamp: each seal is a new revision of the previous one.
	st := &Stamper{Registry: s.Registry, Now: s.Now}
	var tsrc TimestampSource
	if o.Timestamp || s.RequireTimestamp {
		tsrc = s.Timestamps
		if tsrc == nil {
			srv, err := s.Registry.TSA(ctx)
			if err != nil {
				return nil, err
			}
			tsrc = EmbeddedTSA{Server: srv}
		}
	}
	docID, code := newDocumentID(), newRetrievalCode()
	revision := 1
	var sigs []archive.SignatureElement
	if base != nil {
		revision = base.Revision + 1
		if base.Revision == 0 {
			revision = 2
		}
		sigs = append(sigs, base.Signatures...)
	}
	signed := o.PDF
	var warnings []string
	var sesObjects []stagedObject
	for i, u := range uses {
		sreq := StampRequest{
			SealID: u.SealID, Placement: u.Placement, Reason: o.Record.Title, Location: s.Registry.Org().Name,
			Timestamps: tsrc, RequireTimestamp: s.RequireTimestamp, SESignature: o.SESignature,
			LTV: o.LTV && i == len(uses)-1,
		}
		if o.QR && i == 0 {
			if s.PublicURL == "" {
				return nil, &InputError{"qr", "this service has no public URL configured for QR codes"}
			}
			sreq.QRText = s.PublicURL + "/v/" + docID
		}
		res, err := st.stamp(ctx, seals[i], bytes.NewReader(signed), int64(len(signed)), sreq)
		if err != nil {
			if len(uses) > 1 {
				return nil, fmt.Errorf("seal %d of %d (%s): %w", i+1, len(uses), u.SealID, err)
			}
			return nil, err
		}
		next := make([]byte, 0, len(signed)+len(res.Update))
		signed = append(append(next, signed...), res.Update...)
		warnings = append(warnings, res.Warnings...)
		var tsTime *time.Time
		if !res.Timestamp.IsZero() {
			t := res.Timestamp.UTC()
			tsTime = &t
		}
		sesKey := ""
		if res.SESignature != nil {
			sesKey = fmt.Sprintf("docs/%s/ses-%d.der", docID, len(sigs)+1)
			sesObjects = append(sesObjects, stagedObject{sesKey, res.SESignature})
		}
		sigs = append(sigs, archive.SignatureElement{
			SESignatureKey: sesKey,
			Rule:           "GB/T 38540 seal; CMS SignedData adbe.pkcs7.detached", Time: res.SigningTime,
			Signer: res.Signer, SealID: res.SealID, SealName: res.SealName, CertSerial: res.SignerSerial,
			Algorithm: "SM2-with-SM3 (1.2.156.10197.1.501)", ByteRange: res.ByteRange,
			SignedSM3: hex.EncodeToString(res.ContentSM3), Page: res.Page, Timestamp: tsTime,
			PlacementMM: [2]float64{u.Placement.XMM, u.Placement.YMM},
			Document:    docID, Revision: revision,
			Authorization: &archive.AuthorizationElement{ID: grants[i].ID, GrantedBy: grants[i].GrantedBy, GrantedAt: grants[i].GrantedAt},
		})
	}

	now := s.now().UTC()
	sum3, sum256 := sm3.Sum(signed), sha256.Sum256(signed)
	fileName := o.Record.FileName
	if fileName == "" {
		fileName = docID + ".pdf"
	}
	authzIDs := make([]string, len(grants))
	for i, g := range grants {
		authzIDs[i] = g.ID
	}
	rec := &archive.Record{
		DocumentID: docID, Title: o.Record.Title, DocumentNo: o.Record.DocumentNo,
		ResponsibleParty: s.Registry.Org().Name, Date: now, Retention: retention,
		RetainUntil: retention.Until(now), Format: "PDF", FileName: fileName, Size: int64(len(signed)),
		CreatingApplication: s.Application, ItemCode: o.Record.ItemCode, CaseNo: o.Record.CaseNo,
		Applicant: o.Record.Applicant, SM3: hex.EncodeToString(sum3[:]), SHA256: hex.EncodeToString(sum256[:]),
		InputSize: int64(len(o.PDF)), InputSM3: hex.EncodeToString(inSM3[:]),
		Revision: revision, Signatures: sigs,
		Authorization:     archive.AuthorizationElement{ID: grants[0].ID, GrantedBy: grants[0].GrantedBy, GrantedAt: grants[0].GrantedAt},
		RetrievalCodeHash: hashHex(normalizeCode(code)),
	}
	if base != nil {
		rec.Previous = base.DocumentID
	}
	pend := pendingEntry{DocumentID: docID, AuthorizationID: grants[0].ID, AuthorizationIDs: authzIDs, Extra: stagedKeys(sesObjects),
		CodeKey: codeKey(code), IdempotencyKey: idem, Started: now}

	// Stage: pending marker first (so the sweep finds leftovers), then the PDF,
	// then the record, then the code — all unlocked.
	if err := putJSON(ctx, s.Store, pendingPrefix+docID+".json", pend); err != nil {
		return nil, err
	}
	if _, err := s.Store.PutIfAbsent(ctx, archive.DocumentKey(docID), bytes.NewReader(signed), int64(len(signed))); err != nil {
		return nil, err
	}
	if err := putJSON(ctx, s.Store, archive.RecordKey(docID), rec); err != nil {
		return nil, err
	}
	if err := putJSON(ctx, s.Store, pend.CodeKey, codeEntry{DocumentID: docID}); err != nil {
		return nil, err
	}
	for _, so := range sesObjects {
		if _, err := archive.PutBytesIfAbsent(ctx, s.Store, so.key, so.data); err != nil {
			return nil, err
		}
	}

	// Commit — unless this stamping took so long that another replica's
	// recovery sweep may already be discarding its staged objects.
	if s.now().Sub(started) > recoveryGrace/2 {
		s.discard(ctx, pend)
		return nil, fmt.Errorf("stamping took longer than %s; abandoned before commit", recoveryGrace/2)
	}
	u := Use{DocumentID: docID, Time: now, IdempotencyKey: idem}
	if idem != "" {
		var err error
		if u.SealedCode, err = sealCode(o.IdempotencyKey, code); err != nil {
			return nil, err
		}
	}
	var made []*Use
	for i, az := range grants {
		use, err := s.Registry.ConsumeAuthorization(ctx, az, u)
		if err == nil {
			made = append(made, use)
			continue
		}
		var ae *AuthzError
		if !errors.As(err, &ae) {
			// The store failed mid-commit: the marker may or may not exist.
			// Leave the staged objects to the recovery sweep, which decides
			// from the markers; never discard a possibly committed document.
			return nil, err
		}
		// Another stamping took this authorization first: give back the
		// uses this one took, then its staged objects.
		for j, m := range made {
			if rerr := s.Registry.releaseUse(ctx, grants[j].ID, m.N, docID); rerr != nil {
				s.log().Error("releasing an authorization use after a lost commit; the recovery sweep will", "authorization", grants[j].ID, "err", rerr)
				return nil, err
			}
		}
		s.discard(ctx, pend)
		if i == 0 && ae.Reason == AuthzConsumed && idem != "" {
			if iss, rerr := s.replay(ctx, o.IdempotencyKey, grants[0].ID); iss != nil || rerr != nil {
				return iss, rerr
			}
		}
		return nil, err
	}
	if err := s.complete(ctx, pend, rec, made[0].N); err != nil {
		// Committed: the document exists. The sweep finishes the locking.
		s.log().Warn("stamping committed; locking deferred to the recovery sweep", "document", docID, "err", err)
	}
	return &Issued{DocumentID: docID, RetrievalCode: code, Record: rec, Warnings: warnings}, nil
}

// committedPDF reads a committed document's record and PDF.
func (s *Service) committedPDF(ctx context.Context, docID string) (*archive.Record, []byte, error) {
	rec, err := s.Record(ctx, docID)
	if err != nil {
		return nil, nil, err
	}
	if ok, err := s.Committed(ctx, rec); err != nil {
		return nil, nil, err
	} else if !ok {
		return nil, nil, archive.ErrNotFound
	}
	b, _, err := archive.GetBytes(ctx, s.Store, archive.DocumentKey(docID))
	if err != nil {
		return nil, nil, err
	}
	return rec, b, nil
}

// complete locks a committed document's objects, logs the stamping and
// removes its pending marker. The recovery sweep calls it too, so a stamping
// interrupted after its commit is still locked and logged.
func (s *Service) complete(ctx context.Context, p pendingEntry, rec *archive.Record, use int) error {
	for _, k := range append([]string{archive.DocumentKey(p.DocumentID), archive.RecordKey(p.DocumentID), p.CodeKey}, p.Extra...) {
		if err := s.Store.SetRetention(ctx, k, rec.RetainUntil); err != nil {
			return err
		}
	}
	// One entry records both the consumption of the authorization (its use
	// number) and the stamped document: they are one commit.
	s.audit(ctx, AuditEvent{Action: audit.DocumentStamped, Subject: p.DocumentID, Actor: "service", Details: map[string]string{
		"authorization": rec.Authorization.ID, "use": fmt.Sprint(use), "seal": rec.Signatures[len(rec.Signatures)-1].SealID, "sm3": rec.SM3,
		"size": fmt.Sprint(rec.Size), "retention": string(rec.Retention), "retain_until": rec.RetainUntil.Format(time.RFC3339)}})
	if p.IdempotencyKey != "" {
		err := putJSON(ctx, s.Store, idemPrefix+p.IdempotencyKey+".json", codeEntry{DocumentID: p.DocumentID})
		if err != nil && !errors.Is(err, archive.ErrExists) {
			return err
		}
	}
	return s.Store.Delete(ctx, pendingPrefix+p.DocumentID+".json")
}

// discard removes the staged objects of a stamping that did not commit.
func (s *Service) discard(ctx context.Context, p pendingEntry) {
	for _, k := range append(append([]string{p.CodeKey}, p.Extra...), archive.RecordKey(p.DocumentID), archive.DocumentKey(p.DocumentID), pendingPrefix+p.DocumentID+".json") {
		if err := s.Store.Delete(ctx, k); err != nil && !errors.Is(err, archive.ErrNotFound) {
			s.log().Warn("discarding an uncommitted stamping", "key", k, "err", err)
		}
	}
}

// replay finds the document an earlier request with the same idempotency key
// made, through the idempotency marker or through the authorization's use
// markers (the marker may not be written yet if that request is still
// finishing).
func (s *Service) replay(ctx context.Context, idemKey, authzID string) (*Issued, error) {
	idem := hashHex(idemKey)
	var ce codeEntry
	err := getJSON(ctx, s.Store, idemPrefix+idem+".json", &ce)
	if err != nil && !errors.Is(err, archive.ErrNotFound) {
		return nil, err
	}
	var use *Use
	if ValidAuthorizationID(authzID) {
		if st, aerr := s.Registry.Authorization(ctx, authzID); aerr == nil {
			for i, u := range st.Uses {
				if u.IdempotencyKey == idem {
					use = &st.Uses[i]
				}
			}
		}
	}
	switch {
	case use == nil && ce.DocumentID == "":
		return nil, nil
	case use == nil:
		return nil, &IdempotencyError{"already used for a request with another authorization"}
	}
	rec, err := s.Record(ctx, use.DocumentID)
	if err != nil {
		return nil, err
	}
	code, err := openCode(idemKey, use.SealedCode)
	if err != nil {
		return nil, err
	}
	return &Issued{DocumentID: rec.DocumentID, RetrievalCode: code, Record: rec, Replayed: true}, nil
}

// sealCode encrypts a retrieval code (SM4-GCM) under a key derived from the
// Idempotency-Key; the store never holds the code in clear.
func sealCode(idemKey, code string) ([]byte, error) {
	aead, err := codeAEAD(idemKey)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, []byte(code), nil), nil
}

func openCode(idemKey string, sealed []byte) (string, error) {
	aead, err := codeAEAD(idemKey)
	if err != nil {
		return "", err
	}
	if len(sealed) < aead.NonceSize() {
		return "", errors.New("sealed retrieval code is truncated")
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], nil)
	if err != nil {
		return "", fmt.Errorf("sealed retrieval code: %w", err)
	}
	return string(plain), nil
}

func codeAEAD(idemKey string) (cipher.AEAD, error) {
	k := sm3.Sum([]byte("eseal retrieval code\x00" + idemKey))
	block, err := sm4.NewCipher(k[:16])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Record reads a document's record.
func (s *Service) Record(ctx context.Context, docID string) (*archive.Record, error) {
	if !ValidDocumentID(docID) {
		return nil, archive.ErrNotFound
	}
	var rec archive.Record
	if err := getJSON(ctx, s.Store, archive.RecordKey(docID), &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// Committed reports whether a document's stamping committed: the
// authorization of every seal it added has a use naming it. Uncommitted
// documents are never served.
func (s *Service) Committed(ctx context.Context, rec *archive.Record) (bool, error) {
	ids := []string{rec.Authorization.ID}
	for _, sg := range rec.Signatures {
		if sg.Document == rec.DocumentID && sg.Authorization != nil && sg.Authorization.ID != rec.Authorization.ID {
			ids = append(ids, sg.Authorization.ID)
		}
	}
	for _, id := range ids {
		if n, err := s.useFor(ctx, id, rec.DocumentID); err != nil || n == 0 {
			return false, err
		}
	}
	return true, nil
}

// useFor returns the number of the authorization's use that names the
// document, or 0.
func (s *Service) useFor(ctx context.Context, authzID, docID string) (int, error) {
	st, err := s.Registry.Authorization(ctx, authzID)
	if err != nil {
		return 0, err
	}
	for _, u := range st.Uses {
		if u.DocumentID == docID {
			return u.N, nil
		}
	}
	return 0, nil
}

// ByRetrievalCode finds the committed document a citizen's code opens.
func (s *Service) ByRetrievalCode(ctx context.Context, code string) (*archive.Record, error) {
	n := normalizeCode(code)
	if len(n) != retrievalCodeLen {
		return nil, archive.ErrNotFound
	}
	var ce codeEntry
	if err := getJSON(ctx, s.Store, codePrefix+hashHex(n)+".json", &ce); err != nil {
		return nil, err
	}
	rec, err := s.Record(ctx, ce.DocumentID)
	if err != nil {
		return nil, err
	}
	if ok, err := s.Committed(ctx, rec); err != nil || !ok {
		return nil, archive.ErrNotFound
	}
	return rec, nil
}

// Recover finishes or removes stampings a crash interrupted: a pending entry
// whose authorization use names it is locked and completed; one without,
// older than the grace period, is discarded. It runs at start-up. A pending
// entry it cannot handle is logged and left for the next sweep, so one
// damaged stamping does not keep the service from starting; err reports only
// a store that cannot be listed.
func (s *Service) Recover(ctx context.Context) (completed, discarded int, err error) {
	var pending []string
	if err := s.Store.List(ctx, pendingPrefix, func(o archive.ObjectInfo) error {
		pending = append(pending, o.Key)
		return nil
	}); err != nil {
		return 0, 0, err
	}
	for _, k := range pending {
		done, dropped, err := s.recoverOne(ctx, k)
		if err != nil {
			s.log().Error("recovery sweep: leaving a pending stamping for later", "key", k, "err", err)
			continue
		}
		if done {
			completed++
		}
		if dropped {
			discarded++
		}
	}
	return completed, discarded, nil
}

func (s *Service) recoverOne(ctx context.Context, key string) (completed, discarded bool, err error) {
	var p pendingEntry
	if err := getJSON(ctx, s.Store, key, &p); err != nil {
		if errors.Is(err, archive.ErrNotFound) {
			return false, false, nil // finished meanwhile
		}
		return false, false, err
	}
	ids := p.AuthorizationIDs
	if len(ids) == 0 {
		ids = []string{p.AuthorizationID}
	}
	uses := make([]int, len(ids))
	all := true
	for i, id := range ids {
		if uses[i], err = s.useFor(ctx, id, p.DocumentID); err != nil {
			return false, false, err
		}
		all = all && uses[i] > 0
	}
	switch {
	case all:
		var rec archive.Record
		if err := getJSON(ctx, s.Store, archive.RecordKey(p.DocumentID), &rec); err != nil {
			return false, false, fmt.Errorf("committed document %s: %w", p.DocumentID, err)
		}
		return true, false, s.complete(ctx, p, &rec, uses[0])
	case s.now().Sub(p.Started) > recoveryGrace:
		// A multi-seal commit cut half-way: give the uses it took back.
		for i, id := range ids {
			if uses[i] > 0 {
				if err := s.Registry.releaseUse(ctx, id, uses[i], p.DocumentID); err != nil {
					return false, false, err
				}
			}
		}
		s.discard(ctx, p)
		return false, true, nil
	}
	return false, false, nil
}

type codeEntry struct {
	DocumentID string `json:"document_id"`
}

func validateRecord(r *RecordInput) error {
	r.Title = strings.TrimSpace(r.Title)
	switch {
	case r.Title == "" || utf8.RuneCountInString(r.Title) > 200:
		return &InputError{"record.title", "1–200 characters"}
	case utf8.RuneCountInString(r.DocumentNo) > 64:
		return &InputError{"record.document_no", "at most 64 characters"}
	case r.ItemCode != "" && !archive.ValidItemCode(r.ItemCode):
		return &InputError{"record.item_code", "letters, digits and ._-, at most 64"}
	case r.CaseNo != "" && !ValidCaseNo(r.CaseNo):
		return &InputError{"record.case_no", "1–64 letters, digits and -_/.#:〔〕()"}
	case utf8.RuneCountInString(r.Applicant) > 200:
		return &InputError{"record.applicant", "at most 200 characters"}
	case utf8.RuneCountInString(r.FileName) > 200 || strings.ContainsAny(r.FileName, "/\\\x00"):
		return &InputError{"record.file_name", "a plain file name of at most 200 characters"}
	}
	return nil
}

func newDocumentID() string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "doc-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// retrievalCodeLen is the length of a normalised retrieval code: 20 base32
// characters, 100 random bits, printed as five groups of four.
const retrievalCodeLen = 20

func newRetrievalCode() string {
	var b [13]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	s := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])[:retrievalCodeLen]
	var out strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			out.WriteByte('-')
		}
		out.WriteString(s[i : i+4])
	}
	return out.String()
}

// normalizeCode drops separators and case so people can type codes loosely.
func normalizeCode(code string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(code) {
		switch {
		case r == '-' || r == ' ':
		case (r >= 'A' && r <= 'Z') || (r >= '2' && r <= '7'):
			b.WriteRune(r)
		default:
			return ""
		}
	}
	return b.String()
}

func codeKey(code string) string { return codePrefix + hashHex(normalizeCode(code)) + ".json" }

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// HoldEvent records a legal hold set or released on a document.
type HoldEvent struct {
	On     bool      `json:"on"`
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	Time   time.Time `json:"time"`
}

// SetLegalHold puts a committed document (its PDF and record) on legal hold
// or releases it. While held nothing can delete it, whatever its retention.
// Each change is kept as a hold event beside the document.
func (s *Service) SetLegalHold(ctx context.Context, docID string, on bool, reason, by string) (*HoldEvent, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > 512 {
		return nil, &InputError{"reason", "a legal hold needs a reason of 1–512 characters"}
	}
	rec, err := s.Record(ctx, docID)
	if err != nil {
		return nil, err
	}
	if ok, err := s.Committed(ctx, rec); err != nil {
		return nil, err
	} else if !ok {
		return nil, archive.ErrNotFound
	}
	for _, k := range []string{archive.DocumentKey(docID), archive.RecordKey(docID)} {
		if err := s.Store.SetLegalHold(ctx, k, on); err != nil {
			return nil, err
		}
	}
	ev := &HoldEvent{On: on, Reason: reason, By: by, Time: s.now().UTC()}
	action := audit.LegalHoldCleared
	if on {
		action = audit.LegalHoldSet
	}

	n := 0
	if err := s.Store.List(ctx, "docs/"+docID+"/holds/", func(archive.ObjectInfo) error { n++; return nil }); err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 5; attempt++ {
		err := putJSON(ctx, s.Store, fmt.Sprintf("docs/%s/holds/%06d.json", docID, n+1+attempt), ev)
		if err == nil {
			s.audit(ctx, AuditEvent{Action: action, Subject: docID, Actor: by, Details: map[string]string{"reason": reason}})
		}
		if !errors.Is(err, archive.ErrExists) {
			return ev, err
		}
	}
	return nil, fmt.Errorf("document %s: hold events written concurrently too often", docID)
}

type stagedObject struct {
	key  string
	data []byte
}

func stagedKeys(objs []stagedObject) []string {
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.key)
	}
	return keys
}
