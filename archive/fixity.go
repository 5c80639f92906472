package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm3"
)

// FixityProblem is one stored document that does not match its record, or
// one authorization of it whose evidence does not verify (AuthorizationID
// set, Key the evidence's folder).
type FixityProblem struct {
	// Kind names the problem for programs (the Fixity* constants).
	Kind            string `json:"kind"`
	DocumentID      string `json:"document_id,omitempty"`
	AuthorizationID string `json:"authorization_id,omitempty"`
	// Key is the object the problem is about (missing, or wrong).
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

// The kinds of fixity problem. Fixity reports the first five from the
// store alone; the others come from reconciling the store with the use
// markers and the audit log (seal.Service.Fixity).
const (
	FixityMissingDocument  = "missing-document"    // a record's, or a logged stamping's, PDF is gone
	FixityMissingRecord    = "missing-record"      // a logged stamping's record is gone
	FixityRecordInvalid    = "record-invalid"      // a record that does not parse or names another document
	FixityHashMismatch     = "hash-mismatch"       // the PDF's size, SM3 or SHA-256 differs from the record
	FixityForeignVersion   = "foreign-version"     // another version of a document's object exists (S3: a PUT in front)
	FixityEvidenceInvalid  = "evidence-invalid"    // an authorization's grant or evidence does not verify
	FixityMissingUseMarker = "missing-use-marker"  // a logged stamping's use marker is gone
	FixityOrphanUseMarker  = "orphan-use-marker"   // a use marker names a document that is not stored
	FixityUseMismatch      = "use-mismatch"        // a use marker names another document than the log
	FixityMissingLock      = "missing-lock"        // a committed object is not retention-locked
	FixityMissingAudit     = "missing-audit-entry" // a committed document has no document.stamped entry
	FixityAuditShardShort  = "audit-shard-short"   // an audit shard holds fewer entries than a checkpoint counted
	FixityAuditInvalid     = "audit-invalid"       // any other problem audit verify finds
	FixityUnreadable       = "unreadable"          // an object that could not be read
	FixityUnexpectedObject = "unexpected-object"   // an object in a document's folder the service never writes
	FixityUnfinished       = "unfinished-stamping" // a stamping pending past the recovery sweep's grace period
)

// EvidenceCheck verifies the stored evidence of one authorization rec
// names: the signature over the approved grant bytes, the certificate the
// one enrolled, the grant the one the record names, and a grant for one
// document granted for the input of rec's stamping when rec's stamping used
// it. archive cannot verify SM2 (it does not import keys): the program
// wires seal's Registry.CheckEvidence.
//
// An error that says the evidence is wrong implements EvidenceVerdict; any
// other (the store failing) is reported as unreadable, not as invalid.
type EvidenceCheck func(ctx context.Context, rec *Record, a AuthorizationElement) error

// EvidenceVerdict is implemented by the errors of an EvidenceCheck that
// judge the evidence (seal.EvidenceError).
type EvidenceVerdict interface {
	error
	EvidenceVerdict()
}

// FixityReport is the result of one fixity run over the archive.
type FixityReport struct {
	Started   time.Time       `json:"started"`
	Finished  time.Time       `json:"finished"`
	Documents int             `json:"documents"`
	Bytes     int64           `json:"bytes"`
	Problems  []FixityProblem `json:"problems"`
}

// OK reports whether every document matched.
func (r *FixityReport) OK() bool { return len(r.Problems) == 0 }

// FixityPrefix is where fixity reports are kept; the newest is the last.
const FixityPrefix = "fixity/"

// Fixity re-reads every stored document and checks its size, SM3 and
// SHA-256 against its record and, when evidence is not nil, the evidence of
// every authorization the record names. progress, if not nil, is called
// after each document with the count done and the total. Documents whose stamping has
// not committed are skipped by the caller's filter, if any.
func Fixity(ctx context.Context, s Store, now func() time.Time, skip func(docID string) bool, evidence EvidenceCheck, progress func(done, total int)) (*FixityReport, error) {
	rep := &FixityReport{Started: now().UTC(), Problems: []FixityProblem{}}
	ids, err := DocumentIDs(ctx, s, AllUnits)
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		if skip != nil && skip(id) {
			continue
		}
		rec, p := checkDocument(ctx, s, id, rep)
		if p != nil {
			rep.Problems = append(rep.Problems, *p)
		}
		if rec != nil && evidence != nil {
			for _, a := range rec.Authorizations() {
				if err := evidence(ctx, rec, a); err != nil {
					kind, what := FixityEvidenceInvalid, "authorization evidence: "
					var v EvidenceVerdict
					if !errors.As(err, &v) {
						kind, what = FixityUnreadable, "authorization evidence unreadable: "
					}
					rep.Problems = append(rep.Problems, FixityProblem{Kind: kind, DocumentID: id, AuthorizationID: a.ID,
						Key: "authz/" + a.ID + "/evidence/", Reason: what + err.Error()})
				}
			}
		}
		rep.Documents++
		if progress != nil {
			progress(i+1, len(ids))
		}
	}
	rep.Finished = now().UTC()
	return rep, nil
}

// checkDocument checks one document against its record; it returns the
// record when it could be read.
func checkDocument(ctx context.Context, s Store, id string, rep *FixityReport) (*Record, *FixityProblem) {
	b, _, err := GetBytes(ctx, s, RecordKey(id))
	if errors.Is(err, ErrNotFound) {
		return nil, &FixityProblem{Kind: FixityMissingRecord, DocumentID: id, Key: RecordKey(id), Reason: "the document's record is missing"}
	}
	if err != nil {
		return nil, &FixityProblem{Kind: FixityUnreadable, DocumentID: id, Key: RecordKey(id), Reason: "record unreadable: " + err.Error()}
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil || rec.DocumentID != id {
		return nil, &FixityProblem{Kind: FixityRecordInvalid, DocumentID: id, Key: RecordKey(id), Reason: "record is not a well-formed record of this document"}
	}
	if p := foreignVersion(ctx, s, id); p != nil {
		rep.Problems = append(rep.Problems, *p)
	}
	return &rec, documentFixity(ctx, s, id, &rec, rep)
}

// documentObject matches the objects a document's folder holds: its PDF,
// record, reference number, SES_Signatures and legal-hold events.
var documentObject = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(document\.pdf|record\.json|refcode\.json|ses-[0-9]+\.der|holds/[0-9]{6}\.json)$`)
})

// foreignVersion reports an object of the document that has more than one
// version: each is written once, so any other version was put around the
// service (on S3, a PUT with its credentials puts one in front of a locked
// object) or the current one was deleted (a delete marker in front).
func foreignVersion(ctx context.Context, s Store, id string) *FixityProblem {
	var p *FixityProblem
	err := s.ListVersions(ctx, DocumentPrefix(id), func(o ObjectInfo) error {
		if !documentObject().MatchString(strings.TrimPrefix(o.Key, DocumentPrefix(id))) && p == nil {
			p = &FixityProblem{Kind: FixityUnexpectedObject, DocumentID: id, Key: o.Key,
				Reason: "an object the service never writes in a document's folder"}
		}
		if o.Noncurrent && p == nil {
			p = &FixityProblem{Kind: FixityForeignVersion, DocumentID: id, Key: o.Key,
				Reason: "another version stands in front of version " + o.VersionID + " (written once: the others are foreign)"}
		}
		return nil
	})
	if err != nil {
		return &FixityProblem{Kind: FixityUnreadable, DocumentID: id, Key: DocumentPrefix(id), Reason: "listing versions: " + err.Error()}
	}
	return p
}

func documentFixity(ctx context.Context, s Store, id string, rec *Record, rep *FixityReport) *FixityProblem {
	rc, info, err := OpenPinned(ctx, s, DocumentKey(id), rec.PDFVersion) // the committed version
	if errors.Is(err, ErrNotFound) {
		return &FixityProblem{Kind: FixityMissingDocument, DocumentID: id, Key: DocumentKey(id), Reason: "the record's PDF is missing"}
	}
	if err != nil {
		return &FixityProblem{Kind: FixityUnreadable, DocumentID: id, Key: DocumentKey(id), Reason: "PDF unreadable: " + err.Error()}
	}
	defer rc.Close()
	h3, h256 := sm3.New(), sha256.New()
	n, err := io.Copy(io.MultiWriter(h3, h256), rc)
	rep.Bytes += n
	switch {
	case err != nil:
		return &FixityProblem{Kind: FixityUnreadable, DocumentID: id, Key: DocumentKey(id), Reason: "reading the PDF: " + err.Error()}
	case n != rec.Size || info.Size != rec.Size:
		return &FixityProblem{Kind: FixityHashMismatch, DocumentID: id, Key: DocumentKey(id), Reason: fmt.Sprintf("size %d, the record says %d", n, rec.Size)}
	case hex.EncodeToString(h3.Sum(nil)) != rec.SM3:
		return &FixityProblem{Kind: FixityHashMismatch, DocumentID: id, Key: DocumentKey(id), Reason: "SM3 differs from the record"}
	case hex.EncodeToString(h256.Sum(nil)) != rec.SHA256:
		return &FixityProblem{Kind: FixityHashMismatch, DocumentID: id, Key: DocumentKey(id), Reason: "SHA-256 differs from the record"}
	}
	return nil
}

// SaveFixityReport keeps a fixity report in the store (write once), so the
// service can show the last run's result in its metrics.
func SaveFixityReport(ctx context.Context, s Store, rep *FixityReport) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	key := FixityPrefix + rep.Started.UTC().Format("20060102T150405.000000000Z") + ".json"
	_, err = PutBytesIfAbsent(ctx, s, key, b)
	return err
}

// LastFixityReport returns the newest saved fixity report, or nil.
func LastFixityReport(ctx context.Context, s Store) (*FixityReport, error) {
	var last string
	if err := s.List(ctx, FixityPrefix, func(o ObjectInfo) error { last = o.Key; return nil }); err != nil {
		return nil, err
	}
	if last == "" {
		return nil, nil
	}
	b, _, err := GetBytes(ctx, s, last)
	if err != nil {
		return nil, err
	}
	var rep FixityReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", last, err)
	}
	return &rep, nil
}
