// Package lifecycle is what happens to an archived document after its
// stamping committed: it is read as its commit stored it, found by the
// citizen's retrieval code, put on legal hold and released, listed when its
// retention ends, and destroyed on an appraisal's approval, leaving a
// tombstone.
//
// Whether a stamping committed is decided by its authorization's use
// markers, which are seal's (seal.Registry.CommittedUses); this package
// takes that answer as a function (UsesFunc), so that archive does not
// import seal. Every read of a record or PDF goes through the pins the
// commit kept (archive.ReadPinned): a version put in front of a committed
// object, or an object edited behind the store's back, is never returned.
package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"eseal/archive"
	"eseal/archive/audit"
)

// Use is what a stamping's commit left of one authorization: the use that
// names the document, and the pin of the record the commit stored (nil in
// commits made before pins were kept).
type Use struct {
	N      int
	Record *archive.Pin
}

// UsesFunc returns the committed uses of an authorization by the document
// each names. A document it does not name did not commit under it: the
// stamping never committed, a revoke ruled it out, or its use marker is
// gone.
type UsesFunc func(ctx context.Context, authzID string) (map[string]Use, error)

// Documents is the lifecycle of the documents in one store.
type Documents struct {
	Store archive.Store
	// Uses answers whether a stamping committed; required.
	Uses UsesFunc
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Audit appends an entry to the audit log for every hold and disposal;
	// nil records nothing. A change the log could not record is not made:
	// a hold is set back, a disposal not begun, and Audit's error returned.
	Audit func(ctx context.Context, e audit.Entry) error
	// UnitTags gives the tags of the units whose UnitHint is hint (""
	// for the first unit's), for ByRetrievalCode; nil knows the first
	// unit only.
	UnitTags func(ctx context.Context, hint string) ([]string, error)
}

// InputError is a malformed request (a reason, witnesses, document list):
// nothing was changed.
type InputError struct{ Field, Reason string }

func (e *InputError) Error() string { return e.Field + ": " + e.Reason }

// maxRecord bounds a record read back: records are small JSON objects.
const maxRecord = 1 << 20

func (d *Documents) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Documents) audit(ctx context.Context, action audit.Action, subject, actor string, details map[string]string) error {
	if d.Audit == nil {
		return nil
	}
	return d.Audit(ctx, audit.Entry{Action: action, Subject: subject, Actor: actor, Details: details})
}

// CommittedRecord reads the record of a committed document as its commit
// stored it: the use of its authorization pins the record's version and
// SM3, so a record version put in front of it, or a record edited on disk,
// is never returned (archive.ErrAltered). A document that did not commit —
// staged, or whose use marker is gone — is archive.ErrNotFound, unless the
// record standing in front names another authorization than the committed
// one: that is ErrAltered too. Records committed before pins were kept
// are read as they are.
func (d *Documents) CommittedRecord(ctx context.Context, docID string) (*archive.Record, error) {
	if !archive.ValidDocumentID(docID) {
		return nil, archive.ErrNotFound
	}
	key := archive.RecordKey(docID)
	latestBytes, err := readSmall(ctx, d.Store, key)
	if err != nil {
		return nil, err
	}
	latest, err := parseRecord(key, docID, latestBytes)
	if err != nil {
		return nil, err
	}
	uses, err := d.Uses(ctx, latest.Authorization.ID)
	if err != nil {
		return nil, err
	}
	use, ok := uses[docID]
	if !ok {
		if err := d.checkVersions(ctx, docID, archive.RecordKey(docID)); err != nil {
			return nil, err
		}
		return nil, archive.ErrNotFound
	}
	rec := latest
	// The record standing at the key holds the committed bytes (their SM3
	// is the pin's) unless something was put in front of them: only then
	// is the pinned version read (on S3 a listing of versions and a GET).
	// A version in front with the same bytes serves the same record;
	// fixity reports it.
	if use.Record != nil && archive.PinOf("", latestBytes).SM3 != use.Record.SM3 {
		if rec, err = d.PinnedRecord(ctx, docID, use.Record); err != nil {
			return nil, err
		}
	}
	if rec.Authorization.ID != latest.Authorization.ID {
		return nil, fmt.Errorf("%s: the pinned record names another authorization: %w", archive.RecordKey(docID), archive.ErrAltered)
	}
	if ok, err := d.committed(ctx, rec, rec.Authorization.ID); err != nil {
		return nil, err
	} else if !ok {
		return nil, archive.ErrNotFound
	}
	return rec, nil
}

// PinnedRecord reads a document's record pinned to pin (archive.ReadPinned),
// or as it stands when pin is nil. A record that does not parse or names
// another document is archive.ErrAltered.
func (d *Documents) PinnedRecord(ctx context.Context, docID string, pin *archive.Pin) (*archive.Record, error) {
	key := archive.RecordKey(docID)
	var b []byte
	var err error
	if pin != nil {
		b, _, err = archive.ReadPinned(ctx, d.Store, key, *pin, maxRecord)
	} else {
		b, err = readSmall(ctx, d.Store, key)
	}
	if err != nil {
		return nil, err
	}
	return parseRecord(key, docID, b)
}

// parseRecord reads the record of docID stored at key: one that does not
// parse or names another document is archive.ErrAltered.
func parseRecord(key, docID string, b []byte) (*archive.Record, error) {
	var rec archive.Record
	if err := json.Unmarshal(b, &rec); err != nil || rec.DocumentID != docID {
		return nil, fmt.Errorf("%s: not a record of %s: %w", key, docID, archive.ErrAltered)
	}
	return &rec, nil
}

// CommittedPDF reads a committed document's record and PDF, both pinned to
// what its commit stored.
func (d *Documents) CommittedPDF(ctx context.Context, docID string) (*archive.Record, []byte, error) {
	rec, err := d.CommittedRecord(ctx, docID)
	if err != nil {
		return nil, nil, err
	}
	b, _, err := archive.ReadDocument(ctx, d.Store, rec)
	if err != nil {
		return nil, nil, err
	}
	return rec, b, nil
}

// Committed reports whether rec's stamping committed: the authorization of
// every seal it added has a use naming the document. Uncommitted documents
// are never served.
func (d *Documents) Committed(ctx context.Context, rec *archive.Record) (bool, error) {
	return d.committed(ctx, rec, "")
}

// committed is Committed for the authorizations other than checked.
func (d *Documents) committed(ctx context.Context, rec *archive.Record, checked string) (bool, error) {
	ids := []string{rec.Authorization.ID}
	for _, sg := range rec.Signatures {
		if sg.Document == rec.DocumentID && sg.Authorization != nil && sg.Authorization.ID != rec.Authorization.ID {
			ids = append(ids, sg.Authorization.ID)
		}
	}
	for _, id := range ids {
		if id == checked {
			continue
		}
		uses, err := d.Uses(ctx, id)
		if err != nil {
			return false, err
		}
		if _, ok := uses[rec.DocumentID]; !ok {
			return false, nil
		}
	}
	return true, nil
}

// EachCommitted calls fn with the committed record (CommittedRecord) of
// every document of the unit with tag ("" the first unit, archive.AllUnits
// every unit), in the order of archive.DocumentIDs. Documents that did not
// commit are left out; one whose record cannot be read as committed stops
// the walk with an error naming it, never a silent omission. The walk
// reads each authorization's uses once: it lists the commits as they stood
// when it read them.
func (d *Documents) EachCommitted(ctx context.Context, tag string, fn func(*archive.Record) error) error {
	ids, err := archive.DocumentIDs(ctx, d.Store, tag)
	if err != nil {
		return err
	}
	walk := *d
	seen := map[string]map[string]Use{}
	walk.Uses = func(ctx context.Context, authzID string) (map[string]Use, error) {
		if uses, ok := seen[authzID]; ok {
			return uses, nil
		}
		uses, err := d.Uses(ctx, authzID)
		if err == nil {
			seen[authzID] = uses
		}
		return uses, err
	}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := walk.CommittedRecord(ctx, id)
		if errors.Is(err, archive.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("document %s: %w", id, err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}

// checkVersions returns an error wrapping archive.ErrAltered when another
// version stands in front of one of the document's objects (keys, or every
// object under its prefix when none is given): each is written once, so on
// a versioned store (S3) any other version was put around the service. The
// store's Get returns that foreign version, so what acts on the current
// object — a legal hold, a deletion — would act on the wrong one.
func (d *Documents) checkVersions(ctx context.Context, docID string, keys ...string) error {
	prefixes := keys
	if len(prefixes) == 0 {
		prefixes = []string{archive.DocumentPrefix(docID)}
	}
	for _, p := range prefixes {
		var bad string
		err := d.Store.ListVersions(ctx, p, func(o archive.ObjectInfo) error {
			if o.Noncurrent && bad == "" {
				bad = o.Key
			}
			return nil
		})
		if err != nil {
			return err
		}
		if bad != "" {
			return fmt.Errorf("%s: another version stands in front of the committed one (fixity reports it): %w", bad, archive.ErrAltered)
		}
	}
	return nil
}

// readSmall reads a small object (a record, an index entry), refusing one
// larger than maxRecord.
func readSmall(ctx context.Context, s archive.Store, key string) ([]byte, error) {
	b, _, err := archive.GetBytesMax(ctx, s, key, maxRecord)
	return b, err
}

// putJSON writes v once as indented JSON, readable by people browsing the
// store; an existing object is archive.ErrExists.
func putJSON(ctx context.Context, s archive.Store, key string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = archive.PutBytesIfAbsent(ctx, s, key, append(b, '\n'))
	return err
}
