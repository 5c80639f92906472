package seal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm3"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/archive/lifecycle"
)

// Service is the stamping desk of the REST path: it checks the authorization,
// stamps, archives the signed PDF and its record, and commits the use of the
// authorization exactly once. What it does for archived documents
// afterwards has files of its own: document.go (wiring archive/lifecycle,
// which reads them, holds and disposes of them), retrieval.go (citizens'
// codes), idempotency.go (retried requests) and recovery.go (the sweep).
type Service struct {
	Registry *Registry
	// Timestamps is the TSA used when a request asks for a timestamp (nil:
	// the organisation's embedded TSA); RequireTimestamp refuses to stamp
	// without one instead of degrading.
	Timestamps       TimestampSource
	RequireTimestamp bool
	Store            archive.Store
	Schedule         *archive.Schedule
	// Application names the creating application in records.
	Application string
	// Fonds is the fonds code (全宗号) that numbers the first unit's records
	// when the organisation was made without one (the config's `fonds`);
	// a unit's own code always comes first.
	Fonds string
	// PublicURL is the service's external base URL, for QR codes.
	PublicURL string
	// Now is the clock; nil means the registry's.
	Now func() time.Time
	// Log receives the recovery sweep's and commit's notes; nil means slog.Default().
	Log *slog.Logger
	// RecoveryGrace is how old an unfinished stamping must be before the
	// recovery sweep touches it (default 10 minutes); a stamping gives up
	// before its commit when it has taken half of it.
	RecoveryGrace time.Duration
	// RetryFinish is how long a stamping whose finish failed twice waits
	// before this replica tries it again in the background (refinish.go;
	// default 1 s, then doubling, for up to half the grace period); a
	// negative value leaves it to the recovery sweep.
	RetryFinish time.Duration

	// refinish counts the stampings being finished again in the
	// background (refinish.go).
	refinish refinishing
	// removals are the finished stampings' pending markers waiting for
	// their removal (pending.go).
	removals pendingRemovals
	// refs hands out reference numbers (archive.RefCounter).
	refs archive.RefCounter
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

// StampRequest asks the Service for one stamping over the REST path: one or
// more seals (SealUse) on one document, each under its own authorization,
// and the record to archive the result with. One seal's signature alone, with
// no authorization and nothing stored, is a SignRequest to the Stamper.
type StampRequest struct {
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
	// Profile is the signature format of every seal; empty means ProfileCMS.
	Profile Profile
	// IdempotencyKey makes a retried request return the same document.
	// Callers pass a value unique to the client (e.g. prefixed with its key).
	IdempotencyKey string
	// PDF is the input document.
	PDF []byte
	// Unit is the unit whose record the document becomes (the stamper key's;
	// "" the first unit). A later seal on an archived document stays in that
	// document's unit.
	Unit string
}

// Stamped is the outcome of a stamping: the stamped, archived document.
type Stamped struct {
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

// InputError is a malformed request: the REST layer answers 400/422.
type InputError struct{ Field, Reason string }

func (e *InputError) Error() string { return e.Field + ": " + e.Reason }

// pendingPrefix holds one marker per stamping between stage and finish: what
// the recovery sweep needs to finish or discard a stamping a crash cut short.
const pendingPrefix = "pending/"

type pendingEntry struct {
	DocumentID      string `json:"document_id"`
	AuthorizationID string `json:"authorization_id"`
	// AuthorizationIDs lists every authorization of a multi-seal stamping.
	AuthorizationIDs []string `json:"authorization_ids,omitempty"`
	// Extra lists further staged objects (SES_Signatures); for a stamping
	// staged in place (before the staging object), locked and discarded
	// with the document.
	Extra []string `json:"extra,omitempty"`
	// CodeKey is the retrieval code's index object, for a stamping staged
	// before 2026-12-02; a later code names its document by itself
	// (lifecycle.DocumentIDFor).
	CodeKey        string    `json:"code_key,omitempty"`
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	Started        time.Time `json:"started"`
	// Audit is where the stamping's audit entry will be, if it is
	// appended (absent in entries written before audit marks were kept):
	// the recovery sweep looks there before it appends one.
	Audit *auditMark `json:"audit,omitempty"`

	// key is where the entry is kept: a staging object (stagingKey), or a
	// pending marker of the earlier layout (markerSuffix).
	key string
	// version is its version id, where the store keeps versions, as its
	// put returned it: the removal names it.
	version string
}

// authorizationIDs are the stamping's authorizations, one per seal.
func (p pendingEntry) authorizationIDs() []string {
	if len(p.AuthorizationIDs) == 0 {
		return []string{p.AuthorizationID}
	}
	return p.AuthorizationIDs
}

// grace is the recovery sweep's grace period.
func (s *Service) grace() time.Duration {
	if s.RecoveryGrace > 0 {
		return s.RecoveryGrace
	}
	return defaultRecoveryGrace
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

// MaxSealsPerRequest bounds the seals of one request (联合审批 rarely needs
// more than a handful of departments).
const MaxSealsPerRequest = 10

// SealUse is one seal of a stamp request, under its own authorization.
type SealUse struct {
	SealID          string    `json:"seal_id"`
	AuthorizationID string    `json:"authorization_id"`
	Placement       Placement `json:"placement"`
}

// Stamp performs one authorized stamping: every seal of the request, each under
// its own authorization, as successive incremental revisions of one document.
// Nothing is visible — and the authorizations stay usable — until the use
// markers of all of them are written; after that, the document is complete
// and retrievable. The steps are those of every stamping: authorize, stamp
// the PDF, stage, commit, finish.
func (s *Service) Stamp(ctx context.Context, req StampRequest) (*Stamped, error) {
	started := s.now()
	uses, err := req.checkedUses()
	if err != nil {
		return nil, err
	}
	var fingerprint string
	var first *AuthorizationState
	if req.IdempotencyKey != "" {
		fingerprint = req.fingerprint()
		var stamped *Stamped
		if stamped, first, err = s.replay(ctx, req.IdempotencyKey, uses[0].AuthorizationID, fingerprint); stamped != nil || err != nil {
			return stamped, err
		}
	}
	job, err := s.authorize(ctx, req, uses, first)
	if err != nil {
		return nil, err
	}
	job.fingerprint = fingerprint
	if err := s.stampPDF(ctx, job); err != nil {
		return nil, err
	}
	if err := s.stage(ctx, job); err != nil {
		return nil, err
	}
	return s.commit(ctx, job, started)
}

// stamping is one stamping on its way through Stamp's steps.
type stamping struct {
	req  StampRequest
	uses []SealUse
	// idem is the hash of the request's Idempotency-Key; "" without one.
	idem string
	// fingerprint is the request's as it came (StampRequest.fingerprint),
	// with an Idempotency-Key.
	fingerprint string
	// base is the archived document the seals are added to, if any.
	base      *archive.Record
	retention archive.RetentionClass
	inSM3     [sm3.Size]byte
	// seals and grants are the request's seals and their authorizations,
	// index for index with uses.
	seals  []*Seal
	grants []*AuthorizationState
	// unit is the unit the document belongs to; sealUnits the unit of each
	// seal (a joint approval joins seals of several units).
	unit      *Unit
	sealUnits []*Unit

	docID, code string
	// signed is the PDF with every seal applied so far.
	signed     []byte
	revision   int
	sigs       []archive.SignatureElement
	warnings   []string
	sesObjects []stagedObject
	// staged are the objects the staging holds, written at the finish.
	staged []stagedObject

	// rec and pend are what stage stored: the record and the pending marker.
	rec  *archive.Record
	pend pendingEntry
	// recPin is the record's SM3, kept in the use markers (no version: the
	// record is written after the commit, and its first version is the pin).
	recPin archive.Pin
}

// checkedUses returns the request's seals — Seals, or the single
// SealID/AuthorizationID — refusing a request that gives both, too many seals,
// or one authorization for two seals: each use of a seal is authorized on
// its own (一章一授权).
func (req *StampRequest) checkedUses() ([]SealUse, error) {
	uses := req.Seals
	if len(uses) == 0 {
		uses = []SealUse{{SealID: req.SealID, AuthorizationID: req.AuthorizationID, Placement: req.Placement}}
	}
	switch {
	case len(uses) > MaxSealsPerRequest:
		return nil, &InputError{"seals", fmt.Sprintf("at most %d seals in one request", MaxSealsPerRequest)}
	case len(req.Seals) > 0 && (req.SealID != "" || req.AuthorizationID != ""):
		return nil, &InputError{"seals", "give either seals or seal_id/authorization_id"}
	}
	seen := map[string]bool{}
	for _, u := range uses {
		if seen[u.AuthorizationID] {
			return nil, &InputError{"seals", "each seal needs its own authorization"}
		}
		seen[u.AuthorizationID] = true
	}
	return uses, nil
}

// authorize checks everything the request may be refused for before any work
// is done or anything is written: the archived document it extends, the
// record metadata and retention, and for every seal that it may stamp now and
// that its authorization covers this document and case — so that a refused
// request changes no state. Authorizations are only checked here; they are
// consumed at commit, once the document is staged. first, if not nil, is
// the first seal's authorization as the replay check read it a moment ago:
// it is checked as read, not read again (the commit reads it again anyway).
func (s *Service) authorize(ctx context.Context, req StampRequest, uses []SealUse, first *AuthorizationState) (*stamping, error) {
	job := &stamping{uses: uses}
	if req.IdempotencyKey != "" {
		job.idem = hashHex(req.IdempotencyKey)
	}
	// A later seal on an archived document starts from its stored PDF.
	if req.BaseDocumentID != "" {
		if req.PDF != nil {
			return nil, &InputError{"document_id", "a later seal on an archived document takes no file"}
		}
		var err error
		if job.base, req.PDF, err = s.committedPDF(ctx, req.BaseDocumentID); err != nil {
			return nil, err
		}
		if req.Record.Title == "" {
			b := job.base
			req.Record = RecordInput{Title: b.Title, DocumentNo: b.DocumentNo, ItemCode: b.ItemCode,
				CaseNo: b.CaseNo, Applicant: b.Applicant, FileName: b.FileName}
		}
	}
	if err := validateRecord(&req.Record); err != nil {
		return nil, err
	}
	var err error
	if job.base != nil {
		job.unit, err = s.Registry.DocumentUnit(ctx, job.base.DocumentID)
	} else {
		job.unit, err = s.Registry.Unit(ctx, req.Unit)
	}
	if err != nil {
		return nil, err
	}
	schedule, _, err := s.Registry.UnitSchedule(ctx, job.unit)
	if err != nil {
		return nil, err
	}
	if schedule == nil {
		schedule = s.Schedule
	}
	if job.retention, err = retentionFor(schedule, req.Record, job.base); err != nil {
		return nil, err
	}
	job.req = req

	// For every seal: the seal (active, valid), then its authorization, for
	// the document as the request gave it.
	job.inSM3 = sm3.Sum(req.PDF)
	job.seals = make([]*Seal, len(uses))
	job.grants = make([]*AuthorizationState, len(uses))
	job.sealUnits = make([]*Unit, len(uses))
	for i, u := range uses {
		// One listing gives the seal's status and its policy, checked with
		// the authorization below.
		sl, events, err := s.Registry.getSeal(ctx, u.SealID)
		if err != nil {
			return nil, err
		}
		if job.sealUnits[i], err = s.Registry.UnitOf(ctx, sl); err != nil {
			return nil, err
		}
		if err := usable(sl, s.now()); err != nil {
			return nil, err
		}
		var read *AuthorizationState
		if i == 0 && first != nil && first.ID == u.AuthorizationID {
			read = first
		}
		az, err := s.Registry.checkAuthorization(ctx, u.AuthorizationID, Scope{SealID: u.SealID, DocumentSM3: job.inSM3[:], CaseNo: req.Record.CaseNo}, events, read)
		if err != nil {
			return nil, err
		}
		job.seals[i], job.grants[i] = sl, az
	}
	return job, nil
}

// retentionFor is the class a new document is kept under: the document's
// unit's schedule, else the deployment's (Service.Schedule). The schedule
// decides: its class for the item code, or its default — the longest — for
// an item it does not list or a request that names none. A request may ask
// for longer (an office may keep a record longer), never shorter, and a
// document is kept no shorter than the one it extends. Without a schedule
// the request's class stands, permanent if it names none.
func retentionFor(schedule *archive.Schedule, r RecordInput, base *archive.Record) (archive.RetentionClass, error) {
	retention := archive.Permanent
	if schedule != nil {
		retention = schedule.ClassFor(r.ItemCode)
	}
	if r.Retention != "" {
		c, err := archive.ParseRetentionClass(r.Retention)
		if err != nil {
			return "", &InputError{"record.retention", err.Error()}
		}
		if schedule != nil {
			c = archive.Longer(c, retention)
		}
		retention = c
	}
	if base != nil {
		retention = archive.Longer(retention, base.Retention)
	}
	return retention, nil
}

// stampPDF applies the seals in order, each a new incremental revision of the
// previous one, all in memory: nothing is stored yet, so a seal that fails
// leaves no trace.
func (s *Service) stampPDF(ctx context.Context, job *stamping) error {
	req := job.req
	st := &Stamper{Registry: s.Registry, Now: s.Now}
	tsrc, err := s.timestampSource(ctx, req.Timestamp)
	if err != nil {
		return err
	}
	job.code = newRetrievalCode(job.unit.Tag())
	job.docID = lifecycle.DocumentIDFor(job.unit.Tag(), job.code)
	job.revision = 1
	if job.base != nil {
		job.revision = job.base.Revision + 1
		if job.base.Revision == 0 {
			job.revision = 2
		}
		job.sigs = append(job.sigs, job.base.Signatures...)
	}
	job.signed = req.PDF
	for i, u := range job.uses {
		sign := SignRequest{
			SealID: u.SealID, Placement: u.Placement, Reason: req.Record.Title, Location: job.sealUnits[i].Name,
			Timestamps: tsrc, RequireTimestamp: s.RequireTimestamp, SESignature: req.SESignature,
			LTV: req.LTV && i == len(job.uses)-1, Profile: req.Profile,
		}
		if req.QR && i == 0 {
			if s.PublicURL == "" {
				return &InputError{"qr", "this service has no public URL configured for QR codes"}
			}
			sign.QRText = s.PublicURL + "/v/" + job.docID
		}
		res, err := st.stamp(ctx, job.seals[i], bytes.NewReader(job.signed), int64(len(job.signed)), sign)
		if err != nil {
			if len(job.uses) > 1 {
				return fmt.Errorf("seal %d of %d (%s): %w", i+1, len(job.uses), u.SealID, err)
			}
			return err
		}
		next := make([]byte, 0, len(job.signed)+len(res.Update))
		job.signed = append(append(next, job.signed...), res.Update...)
		job.warnings = append(job.warnings, res.Warnings...)
		var tsTime *time.Time
		if !res.Timestamp.IsZero() {
			t := res.Timestamp.UTC()
			tsTime = &t
		}
		sesKey := ""
		if res.SESignature != nil {
			sesKey = fmt.Sprintf("%sses-%d.der", archive.DocumentPrefix(job.docID), len(job.sigs)+1)
			job.sesObjects = append(job.sesObjects, stagedObject{key: sesKey, data: res.SESignature})
		}
		job.sigs = append(job.sigs, archive.SignatureElement{
			SESignatureKey: sesKey,
			Rule:           "GB/T 38540 seal; CMS SignedData adbe.pkcs7.detached", Time: res.SigningTime,
			Signer: res.Signer, SealID: res.SealID, SealName: res.SealName, CertSerial: res.SignerSerial,
			Algorithm: "SM2-with-SM3 (1.2.156.10197.1.501)", ByteRange: res.ByteRange,
			SignedSM3: hex.EncodeToString(res.ContentSM3), Page: res.Page, Timestamp: tsTime,
			PlacementMM: [2]float64{u.Placement.XMM, u.Placement.YMM},
			Document:    job.docID, Revision: job.revision,
			Authorization: ptr(job.grants[i].element()),
		})
	}
	return nil
}

// timestampSource is the TSA a stamping uses: none unless the request asks
// for a timestamp or the service requires one; the configured one, else the
// organisation's embedded TSA.
func (s *Service) timestampSource(ctx context.Context, asked bool) (TimestampSource, error) {
	if !asked && !s.RequireTimestamp {
		return nil, nil
	}
	if s.Timestamps != nil {
		return s.Timestamps, nil
	}
	srv, err := s.Registry.TSA(ctx)
	if err != nil {
		return nil, err
	}
	return EmbeddedTSA{Server: srv}, nil
}

// stage stores the stamping's staging object (staging.go) in one write:
// the pending entry with the signed PDF, its SES_Signatures and its record,
// none of it under docs/ yet. The recovery sweep finds a stamping a crash
// cut short through it; a stamping that does not commit removes it and
// leaves no other trace. The record carries no PDF version: the PDF is
// written after the commit, so the record pins it by its SM3 alone (on S3
// the pin is the key's first version, archive.OpenPinned, so a version put
// in front of it is passed over). The retrieval code needs no index
// object: it derives the document's id (lifecycle.DocumentIDFor).
func (s *Service) stage(ctx context.Context, job *stamping) error {
	req := job.req
	now := s.now().UTC()
	sum3, sum256 := sm3.Sum(job.signed), sha256.Sum256(job.signed)
	fileName := req.Record.FileName
	if fileName == "" {
		fileName = job.docID + ".pdf"
	}
	authzIDs := make([]string, len(job.grants))
	for i, g := range job.grants {
		authzIDs[i] = g.ID
	}
	first := job.grants[0]
	rec := &archive.Record{
		DocumentID: job.docID, Title: req.Record.Title, DocumentNo: req.Record.DocumentNo,
		ResponsibleParty: job.unit.Name, Unit: job.unit.ID, Date: now, Retention: job.retention,
		RetainUntil: job.retention.Until(now), Format: "PDF", FileName: fileName, Size: int64(len(job.signed)),
		CreatingApplication: s.Application, ItemCode: req.Record.ItemCode, CaseNo: req.Record.CaseNo,
		Applicant: req.Record.Applicant, SM3: hex.EncodeToString(sum3[:]), SHA256: hex.EncodeToString(sum256[:]),
		InputSize: int64(len(req.PDF)), InputSM3: hex.EncodeToString(job.inSM3[:]),
		Revision: job.revision, Signatures: job.sigs,
		Authorization:     first.element(),
		RetrievalCodeHash: lifecycle.CodeHash(job.code),
	}
	if job.base != nil {
		rec.Previous = job.base.DocumentID
	}
	job.rec = rec
	job.pend = pendingEntry{DocumentID: job.docID, AuthorizationID: first.ID, AuthorizationIDs: authzIDs, Extra: stagedKeys(job.sesObjects),
		IdempotencyKey: job.idem, Started: now, Audit: s.Registry.auditMark()}

	recBytes := jsonObject(rec)
	job.staged = append(append([]stagedObject{{key: archive.DocumentKey(job.docID), data: job.signed, sm3: rec.SM3}}, job.sesObjects...),
		stagedObject{key: archive.RecordKey(job.docID), data: recBytes})
	r, size := stagingReader(job.pend, job.staged)
	job.pend.key = stagingKey(job.docID)
	marker, err := s.Store.PutIfAbsent(ctx, job.pend.key, r, size)
	if err != nil {
		return err
	}
	job.pend.version = marker.VersionID
	job.recPin = archive.PinOf("", recBytes)
	return nil
}

// commit consumes every authorization — revocation and expiry read again,
// then the put-if-absent of its next use marker, which happens exactly once
// cluster-wide (commit.go: how it races a revoke) — and then finishes. It
// gives up first if the stamping took so long that another replica's
// recovery sweep may already be discarding its staged objects. If another
// stamping takes one of the authorizations first, the uses this one took are
// given back and its staged objects discarded; a retry that lost that race
// to its own first attempt gets that attempt's document.
func (s *Service) commit(ctx context.Context, job *stamping, started time.Time) (*Stamped, error) {
	if s.now().Sub(started) > s.grace()/2 {
		s.discard(ctx, job.pend)
		return nil, fmt.Errorf("stamping took longer than %s; abandoned before commit", s.grace()/2)
	}
	u := AuthorizationUse{DocumentID: job.docID, Time: job.pend.Started, IdempotencyKey: job.idem, Record: &job.recPin, RetainUntil: job.rec.RetainUntil}
	if job.idem != "" {
		u.RequestSM3 = job.fingerprint
		var err error
		if u.SealedCode, err = sealCode(job.req.IdempotencyKey, job.code); err != nil {
			return nil, err
		}
	}
	var made []*AuthorizationUse
	for i, az := range job.grants {
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
		// Another stamping took this authorization first, or it was revoked
		// or expired meanwhile: give back the uses this one took, then its
		// staged objects.
		for j, m := range made {
			if rerr := s.Registry.releaseUse(ctx, job.grants[j].ID, m.N, job.docID, releaseLostCommit); rerr != nil {
				s.log().Error("releasing an authorization use after a lost commit; the recovery sweep will", "authorization", job.grants[j].ID, "err", rerr)
				return nil, err
			}
		}
		s.discard(ctx, job.pend)
		if i == 0 && ae.Reason == AuthzConsumed && job.idem != "" {
			if stamped, _, rerr := s.replay(ctx, job.req.IdempotencyKey, job.grants[0].ID, job.fingerprint); stamped != nil || rerr != nil {
				return stamped, rerr
			}
		}
		return nil, err
	}
	uses := make([]int, len(made))
	for i, m := range made {
		uses[i] = m.N
	}
	if err := s.logStamped(ctx, job.pend, job.rec, uses[0]); err != nil {
		// A stamping the audit log does not hold must not have happened:
		// give the uses back and discard it. Nothing but the use markers is
		// locked yet, and the recovery sweep leaves stampings younger than
		// its grace alone.
		for j, n := range uses {
			if rerr := s.Registry.releaseUse(ctx, job.grants[j].ID, n, job.docID, releaseAuditFailed); rerr != nil {
				s.log().Error("giving back a use the audit log did not record; the recovery sweep will finish the stamping", "authorization", job.grants[j].ID, "err", rerr)
				return nil, err
			}
		}
		s.discard(ctx, job.pend)
		return nil, err
	}
	if err := s.finish(ctx, job.pend, job.rec, job.staged, uses, false); err != nil {
		// Committed and logged: the document exists, but until it is
		// finished it is only in its staging object, served by nothing.
		// One more try at once, as the recovery sweep would make it
		// (resumed: what the first try wrote is accepted, a number it
		// claimed kept): a store node lost for a moment, or one write's
		// answer lost, need not leave the document unserved for the
		// sweep's grace period.
		if err := s.finish(ctx, job.pend, job.rec, job.staged, uses, true); err != nil {
			if s.finishLater(job.pend, job.rec, job.staged, uses) {
				s.log().Warn("stamping committed; finishing it again in the background", "document", job.docID, "err", err)
			} else {
				s.log().Warn("stamping committed; finishing deferred to the recovery sweep", "document", job.docID, "err", err)
			}
		}
	}
	return &Stamped{DocumentID: job.docID, RetrievalCode: job.code, Record: job.rec, Warnings: job.warnings}, nil
}

// logStamped appends the stamping to the audit log. One entry records both
// the consumption of the authorization (its use number) and the stamped
// document: they are one commit. An append that fails is an *AuditError.
func (s *Service) logStamped(ctx context.Context, p pendingEntry, rec *archive.Record, use int) error {
	e := AuditEvent{Action: audit.DocumentStamped, Subject: p.DocumentID, Actor: "service", Details: map[string]string{
		"authorization": rec.Authorization.ID, "use": fmt.Sprint(use), "seal": rec.Signatures[len(rec.Signatures)-1].SealID, "sm3": rec.SM3,
		"size": fmt.Sprint(rec.Size), "retention": string(rec.Retention), "retain_until": rec.RetainUntil.Format(time.RFC3339)}}
	return s.Registry.LogChange(ctx, e)
}

// finish makes a committed, logged stamping final in one batch of writes
// that do not depend on each other (archive.Batch: made at once): it puts
// the staged objects (staged: the PDF, its SES_Signatures, its record),
// each locked in its put until the document's retention ends — or, for a
// stamping staged in place before the staging object existed (staged nil),
// locks them where they are; puts, locked as it is written, the
// retrieval-code index; numbers the record in its reference-code series
// (assignRefNumber); and keeps the idempotency marker. The use markers
// (uses: one per authorization, in the order of p.AuthorizationIDs) were
// locked in their put. The recovery sweep calls it too, so a stamping
// interrupted after its commit is still finished (resumed: it may have run
// part-way before, so what exists already is accepted, if it holds the
// same bytes, and locked — and so is a use marker put unlocked, by a
// version before markers were locked at put). The sweep removes the
// pending marker before it goes on; a stamping's own finish leaves the
// removal to the queue (removePending), off its reply.
func (s *Service) finish(ctx context.Context, p pendingEntry, rec *archive.Record, staged []stagedObject, uses []int, resumed bool) error {
	until := rec.RetainUntil
	var b archive.Batch
	for _, o := range staged {
		b.Puts = append(b.Puts, archive.Put{Key: o.key, Data: o.data, RetainUntil: until, Existing: true})
	}
	if staged == nil {
		for _, k := range append([]string{archive.DocumentKey(p.DocumentID), archive.RecordKey(p.DocumentID)}, p.Extra...) {
			b.Locks = append(b.Locks, archive.Lock{Key: k, Until: until})
		}
	}
	if p.CodeKey != "" { // a stamping of before 2026-12-02, whose code needs its index object
		b.Puts = append(b.Puts, archive.Put{Key: p.CodeKey, Data: jsonObject(codeEntry{DocumentID: p.DocumentID}), RetainUntil: until, Existing: true})
	}
	for i, id := range p.authorizationIDs() {
		if resumed { // a marker put unlocked, before markers were locked at put
			key := useKey(id, uses[i])
			b.Also = append(b.Also, func(ctx context.Context) error { return lockUnlocked(ctx, s.Store, key, until) })
		}
	}
	if p.IdempotencyKey != "" {
		b.Also = append(b.Also, func(ctx context.Context) error { return s.putIdempotencyMarker(ctx, p) })
	}
	b.Also = append(b.Also, func(ctx context.Context) error { return s.assignRefNumber(ctx, rec, resumed, p.Started) })
	if _, err := b.Write(ctx, s.Store); err != nil {
		return err
	}
	if resumed || p.version == "" && archive.Versioned(s.Store) {
		if err := s.Store.Delete(ctx, p.key); err != nil && !errors.Is(err, archive.ErrNotFound) {
			return err
		}
		return nil
	}
	s.removePending(archive.ObjectInfo{Key: p.key, VersionID: p.version})
	return nil
}

// putIdempotencyMarker keeps the idempotency marker of a finished
// stamping. One naming another document (a later request under the same
// key, answered while this finish was failing: the use marker is what
// names this document meanwhile) is left as it is and logged: it is not
// this document's, and refusing to finish over it would keep the
// document unfinished for good.
func (s *Service) putIdempotencyMarker(ctx context.Context, p pendingEntry) error {
	key := idemPrefix + p.IdempotencyKey + ".json"
	_, err := archive.Batch{Puts: []archive.Put{{Key: key, Data: jsonObject(codeEntry{DocumentID: p.DocumentID}), Existing: true}}}.Write(ctx, s.Store)
	if errors.Is(err, archive.ErrAltered) {
		s.log().Warn("the idempotency marker names another document; left as it is", "key", key, "document", p.DocumentID)
		return nil
	}
	return err
}

// discard removes what a stamping that did not commit stored: its staging
// object — or, for a stamping staged in place before the staging object
// existed, the staged objects and then its pending marker.
func (s *Service) discard(ctx context.Context, p pendingEntry) {
	// The pending marker goes only once every staged object is gone: one
	// whose delete failed (a store node lost mid-way) is then found by the
	// next sweep instead of staying behind with nothing left to name it.
	gone := true
	if strings.HasSuffix(p.key, markerSuffix) {
		for _, k := range append(append([]string{p.CodeKey}, p.Extra...), archive.RecordKey(p.DocumentID), archive.DocumentKey(p.DocumentID)) {
			if err := s.Store.Delete(ctx, k); err != nil && !errors.Is(err, archive.ErrNotFound) {
				s.log().Warn("discarding an uncommitted stamping; the next sweep tries again", "key", k, "err", err)
				gone = false
			}
		}
	}
	if !gone {
		return
	}
	if err := s.Store.Delete(ctx, p.key); err != nil && !errors.Is(err, archive.ErrNotFound) {
		s.log().Warn("discarding an uncommitted stamping", "key", p.key, "err", err)
	}
}

type stagedObject struct {
	key  string
	data []byte
	// sm3 is the hex SM3 of data when it is known already (the PDF's, from
	// its record), so the staging's header need not hash it again.
	sm3 string
}

func stagedKeys(objs []stagedObject) []string {
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.key)
	}
	return keys
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

// assignRefNumber gives a committed record its number in its fonds-year-
// retention-item series, with the replica's counter (archive.RefCounter:
// no listing of the series). A resumed finish looks for a number it may
// have claimed before among the claims made since the stamping began
// (started). A unit without a fonds code numbers nothing: its transfers
// number their records as before.
func (s *Service) assignRefNumber(ctx context.Context, rec *archive.Record, resumed bool, started time.Time) error {
	u, err := s.Registry.DocumentUnit(ctx, rec.DocumentID)
	if err != nil {
		return err
	}
	fonds := u.Fonds
	if fonds == "" && u.First {
		fonds = s.Fonds
	}
	if fonds == "" {
		return nil
	}
	n := archive.RefNumber{DocumentID: rec.DocumentID, Fonds: fonds, Year: rec.Date.In(archive.RefYearZone).Year(),
		Retention: rec.Retention, Item: archive.RefItem(rec.ItemCode)}
	if resumed {
		_, err = s.refs.AssignSince(ctx, s.Store, n, rec.RetainUntil, s.now(), started)
	} else {
		_, err = s.refs.Assign(ctx, s.Store, n, rec.RetainUntil, s.now(), false)
	}
	return err
}
