package seal

import (
	"context"
	"errors"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/archive/lifecycle"
)

// Documents are stored under docs/<id>/ (archive.DocumentKey, RecordKey);
// one is served only once its stamping committed. What happens to them
// after the commit — committed reads, retrieval codes, legal hold, disposal —
// is archive/lifecycle's; seal tells it which stampings committed
// (Registry.CommittedUses).

// Documents is the lifecycle of the service's archived documents, wired to
// the registry's use markers, the service's clock and the audit log.
func (s *Service) Documents() *lifecycle.Documents {
	return &lifecycle.Documents{Store: s.Store, Uses: s.Registry.CommittedUses, Now: s.now, Audit: s.Registry.auditEntry,
		UnitTags: s.Registry.unitTagsByHint}
}

// CommittedUses returns the committed uses of an authorization whose
// markers are present, by the document each names: lifecycle.Documents'
// commit check.
func (r *Registry) CommittedUses(ctx context.Context, authzID string) (map[string]lifecycle.Use, error) {
	st, err := r.Authorization(ctx, authzID)
	if err != nil {
		return nil, err
	}
	uses := make(map[string]lifecycle.Use, len(st.Uses))
	for _, u := range st.Uses {
		if _, dup := uses[u.DocumentID]; !dup && !u.MarkerMissing {
			uses[u.DocumentID] = lifecycle.Use{N: u.N, Record: u.Record}
		}
	}
	return uses, nil
}

// auditEntry appends an entry made in archive/lifecycle (a hold, a
// disposal); a failure is an *AuditError, and the lifecycle does not make
// (or sets back) the change.
func (r *Registry) auditEntry(ctx context.Context, e audit.Entry) error {
	return r.LogChange(ctx, AuditEvent{Action: e.Action, Subject: e.Subject, Actor: e.Actor, Details: e.Details})
}

// useFor returns the number of the authorization's use that names the
// document, or 0.
func (s *Service) useFor(ctx context.Context, authzID, docID string) (int, error) {
	uses, err := s.Registry.CommittedUses(ctx, authzID)
	return uses[docID].N, err
}

// committedPDF reads a committed document's record and PDF, both pinned to
// what the commit stored.
func (s *Service) committedPDF(ctx context.Context, docID string) (*archive.Record, []byte, error) {
	return s.Documents().CommittedPDF(ctx, docID)
}

// UnfinishedError says a document's stamping is committed but not finished:
// its record and PDF are still only in its staging object, written under
// docs/ by the finish in a moment (or by the recovery sweep).
type UnfinishedError struct{ DocumentID string }

func (e *UnfinishedError) Error() string {
	return "document " + e.DocumentID + ": its stamping is not finished yet"
}

// Unwrap makes an UnfinishedError an archive.ErrUnfinished.
func (e *UnfinishedError) Unwrap() error { return archive.ErrUnfinished }

// IndexedRecord is the record the search index keeps of a document
// (index.Options.ReadRecord): the committed record, or an *UnfinishedError
// while the stamping that the audit log already holds is still finishing
// — the index tries again later instead of taking the document for one
// never committed or disposed of.
//
// The staging is looked for first: a finish writes the record before the
// staging goes, so once the staging is gone the record read after it is
// the one the stamping stored — the other order could read the record as
// missing, then the staging as gone, and drop a document being finished.
func (s *Service) IndexedRecord(ctx context.Context, docID string) (*archive.Record, error) {
	switch _, err := s.Store.Head(ctx, stagingKey(docID)); {
	case err == nil:
		return nil, &UnfinishedError{DocumentID: docID}
	case !errors.Is(err, archive.ErrNotFound):
		return nil, err // tried again by the index, never taken for a document gone
	}
	return s.Documents().CommittedRecord(ctx, docID)
}
