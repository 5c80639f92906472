package seal

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"eseal/archive"
)

// Documents are stored under docs/<id>/ (archive.DocumentKey, RecordKey);
// one is served only once its stamping committed.

// A document id is doc-<16 letters> for the first unit (and every document
// stamped before units), doc-<unit tag>-<16 letters> for another unit's: the
// id says where its record is kept (archive.DocumentPrefix).
var docIDPattern = regexp.MustCompile(`^doc-(?:[a-z2-7]{8}-)?[a-z2-7]{16}$`)

// ValidDocumentID reports whether s has the form of a document id.
func ValidDocumentID(s string) bool { return docIDPattern.MatchString(s) }

func newDocumentID(unitTag string) string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	id := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	if unitTag != "" {
		return "doc-" + unitTag + "-" + id
	}
	return "doc-" + id
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
		if u.DocumentID == docID && !u.MarkerMissing {
			return u.N, nil
		}
	}
	return 0, nil
}

// CommittedRecord reads the record of a committed document as its commit
// stored it: the use marker of its first authorization pins the record's
// version and SM3 (archive.Pin), so a record version put in front of it, or
// a record edited on disk, is never returned (archive.ErrAltered). A
// document not committed — staged, or whose use marker is gone — is
// archive.ErrNotFound. Records committed before pins were kept are read as
// they are.
func (s *Service) CommittedRecord(ctx context.Context, docID string) (*archive.Record, error) {
	rec, err := s.Record(ctx, docID)
	if err != nil {
		return nil, err
	}
	st, err := s.Registry.Authorization(ctx, rec.Authorization.ID)
	if err != nil {
		return nil, err
	}
	var use *AuthorizationUse
	for i, u := range st.Uses {
		if u.DocumentID == docID && !u.MarkerMissing {
			use = &st.Uses[i]
		}
	}
	if use == nil {
		return nil, archive.ErrNotFound
	}
	if use.Record != nil {
		b, _, err := archive.ReadPinned(ctx, s.Store, archive.RecordKey(docID), *use.Record, maxMetaObject)
		if err != nil {
			return nil, err
		}
		var pinned archive.Record
		if err := json.Unmarshal(b, &pinned); err != nil || pinned.DocumentID != docID {
			return nil, fmt.Errorf("%s: %w", archive.RecordKey(docID), archive.ErrAltered)
		}
		rec = &pinned
	}
	if ok, err := s.Committed(ctx, rec); err != nil {
		return nil, err
	} else if !ok {
		return nil, archive.ErrNotFound
	}
	return rec, nil
}

// committedPDF reads a committed document's record and PDF, both pinned to
// what the commit stored.
func (s *Service) committedPDF(ctx context.Context, docID string) (*archive.Record, []byte, error) {
	rec, err := s.CommittedRecord(ctx, docID)
	if err != nil {
		return nil, nil, err
	}
	b, _, err := archive.ReadDocument(ctx, s.Store, rec)
	if err != nil {
		return nil, nil, err
	}
	return rec, b, nil
}
