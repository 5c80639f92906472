package lifecycle

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"eseal/archive"
	"eseal/archive/audit"
)

// Disposal (销毁) of records whose fixed retention has ended. The archives
// law allows it only after appraisal and approval; eseal asks for the
// approval's id and two distinct witnesses, deletes the stored versions, and
// keeps a tombstone per document and a disposal register — both permanent.

const (
	tombstonePrefix = "tombstones/"
	disposalPrefix  = "disposals/"
	// registerRetention keeps tombstones and disposal registers for good.
	registerRetention = archive.Permanent
)

// TombstoneKey is where the tombstone of a destroyed document is kept.
func TombstoneKey(docID string) string { return tombstonePrefix + docID + ".json" }

// DisposalRequest asks to destroy documents.
type DisposalRequest struct {
	DocumentIDs []string
	ApprovalID  string    // the appraisal committee's approval (鉴定销毁审批)
	Witnesses   [2]string // two distinct people present (监销人)
	By          string
}

// Tombstone is what remains of a destroyed document: enough to prove it
// existed, what it was, and who destroyed it on whose approval.
type Tombstone struct {
	DocumentID string         `json:"document_id"`
	Record     archive.Record `json:"record"`
	DisposalID string         `json:"disposal_id"`
	ApprovalID string         `json:"approval_id"`
	Witnesses  [2]string      `json:"witnesses"`
	By         string         `json:"by"`
	Time       time.Time      `json:"time"`
}

// DisposalRegister lists one disposal; it is kept permanently.
type DisposalRegister struct {
	ID         string    `json:"id"`
	ApprovalID string    `json:"approval_id"`
	Witnesses  [2]string `json:"witnesses"`
	By         string    `json:"by"`
	Time       time.Time `json:"time"`
	Documents  []string  `json:"documents"`
	Bytes      int64     `json:"bytes"`
}

// DisposalError says why a document cannot be destroyed; nothing was deleted.
type DisposalError struct {
	DocumentID string
	Reason     string
}

func (e *DisposalError) Error() string {
	return fmt.Sprintf("document %s cannot be destroyed: %s", e.DocumentID, e.Reason)
}

// DueForDisposal lists committed documents whose retention has ended and that
// are not on legal hold, each as its commit stored it.
func (d *Documents) DueForDisposal(ctx context.Context) ([]*archive.Record, error) {
	now := d.now()
	var due []*archive.Record
	err := d.EachCommitted(ctx, archive.AllUnits, func(rec *archive.Record) error {
		if rec.RetainUntil.After(now) {
			return nil
		}
		info, err := d.Store.Head(ctx, archive.DocumentKey(rec.DocumentID))
		if err != nil {
			return err
		}
		if !info.LegalHold {
			due = append(due, rec)
		}
		return nil
	})
	return due, err
}

// Dispose destroys the requested documents after checking every one of them
// first: all or none are eligible. The stored PDF, record and retrieval-code
// objects are deleted; a tombstone per document, holding the record as its
// commit stored it, and the disposal register remain, retention-locked for
// good, and the audit log gets an entry each. A document with a foreign
// version in front of one of its objects is refused: deleting the current
// version would remove that one and leave the committed one.
func (d *Documents) Dispose(ctx context.Context, req DisposalRequest) (*DisposalRegister, error) {
	w0, w1 := strings.TrimSpace(req.Witnesses[0]), strings.TrimSpace(req.Witnesses[1])
	switch {
	case !archive.ValidReference(req.ApprovalID):
		return nil, &InputError{"approval_id", "the approval's id: 1–64 letters, digits and -_/.#:〔〕()"}
	case w0 == "" || w1 == "" || utf8.RuneCountInString(w0) > 64 || utf8.RuneCountInString(w1) > 64:
		return nil, &InputError{"witnesses", "two witnesses, 1–64 characters each"}
	case w0 == w1:
		return nil, &InputError{"witnesses", "the two witnesses must be different people"}
	case len(req.DocumentIDs) == 0 || len(req.DocumentIDs) > 10000:
		return nil, &InputError{"documents", "1–10000 documents"}
	}
	seen := map[string]bool{}
	for _, id := range req.DocumentIDs {
		if seen[id] {
			return nil, &InputError{"documents", "document " + id + " is listed twice"}
		}
		seen[id] = true
	}
	now := d.now().UTC()
	recs := make([]*archive.Record, 0, len(req.DocumentIDs))
	for _, id := range req.DocumentIDs {
		rec, err := d.CommittedRecord(ctx, id)
		switch {
		case errors.Is(err, archive.ErrNotFound):
			return nil, &DisposalError{id, "no such document"}
		case errors.Is(err, archive.ErrAltered):
			return nil, &DisposalError{id, err.Error()}
		case err != nil:
			return nil, err
		}
		if rec.RetainUntil.After(now) {
			return nil, &DisposalError{id, "retained until " + rec.RetainUntil.Format(time.RFC3339)}
		}
		if err := d.checkVersions(ctx, id); err != nil {
			if errors.Is(err, archive.ErrAltered) {
				return nil, &DisposalError{id, err.Error()}
			}
			return nil, err
		}
		for _, k := range []string{archive.DocumentKey(id), archive.RecordKey(id)} {
			info, err := d.Store.Head(ctx, k)
			if err != nil {
				return nil, err
			}
			if info.LegalHold {
				return nil, &DisposalError{id, "on legal hold"}
			}
			if info.RetainUntil.After(now) {
				return nil, &DisposalError{id, "the store still retains " + k}
			}
		}
		recs = append(recs, rec)
	}

	reg := &DisposalRegister{ID: "dsp-" + randomID(), ApprovalID: req.ApprovalID,
		Witnesses: [2]string{w0, w1}, By: req.By, Time: now}
	until := registerRetention.Until(now)
	for _, rec := range recs {
		// The audit entry first: a disposal the log cannot record is not
		// begun. Then the tombstone: if the deletion is interrupted, the
		// tombstone already says what happened, and a retry finishes the
		// deletion (and logs it again).
		if err := d.audit(ctx, audit.RecordDisposed, rec.DocumentID, req.By,
			map[string]string{"disposal": reg.ID, "approval": req.ApprovalID, "witnesses": w0 + ", " + w1, "sm3": rec.SM3}); err != nil {
			return nil, err
		}
		ts := Tombstone{DocumentID: rec.DocumentID, Record: *rec, DisposalID: reg.ID, ApprovalID: req.ApprovalID,
			Witnesses: reg.Witnesses, By: req.By, Time: now}
		key := TombstoneKey(rec.DocumentID)
		if err := putJSON(ctx, d.Store, key, ts); err != nil && !errors.Is(err, archive.ErrExists) {
			return nil, err
		}
		if err := d.Store.SetRetention(ctx, key, until); err != nil {
			return nil, err
		}
		for _, k := range []string{codesPrefix + rec.RetrievalCodeHash + ".json", archive.RefNumberKey(rec.DocumentID), archive.RecordKey(rec.DocumentID), archive.DocumentKey(rec.DocumentID)} {
			if err := d.Store.Delete(ctx, k); err != nil && !errors.Is(err, archive.ErrNotFound) {
				return nil, fmt.Errorf("destroying %s: %w", k, err)
			}
		}
		reg.Documents = append(reg.Documents, rec.DocumentID)
		reg.Bytes += rec.Size
	}
	key := disposalPrefix + now.Format("20060102T150405Z") + "-" + reg.ID + ".json"
	if err := putJSON(ctx, d.Store, key, reg); err != nil {
		return nil, err
	}
	if err := d.Store.SetRetention(ctx, key, until); err != nil {
		return nil, err
	}
	return reg, nil
}

// randomID is 16 random lower-case base32 letters, as in document ids.
func randomID() string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}
