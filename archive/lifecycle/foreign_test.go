package lifecycle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"eseal/archive"
	"eseal/archive/lifecycle"
	"eseal/archive/s3"
	"eseal/archive/s3/miniotest"
	"eseal/archive/transfer"
	"eseal/pdf/pdftest"
	"eseal/seal"
	"eseal/seal/sealtest"
)

// forged is a record as someone with the store's credentials would put it
// in front of a committed one: another title and case, a retention already
// ended.
func forged(t *testing.T, d *seal.Stamped, pdf []byte) []byte {
	t.Helper()
	r := *d.Record
	r.Title, r.CaseNo, r.Retention = "伪造", "F-9", archive.Years10
	r.RetainUntil = r.Date.Add(-time.Hour)
	if pdf != nil {
		r.SM3, r.Size = archive.PinOf("", pdf).SM3, int64(len(pdf))
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func codeEntry(docID string) []byte { return []byte(`{"document_id": "` + docID + `"}`) }

// oldCode is a retrieval code of the kind issued before 2026-12-02 (100
// random bits, no unit hint), which only an index object names.
const oldCode = "Z7Z7-Z7Z7-Z7Z7-Z7Z7-Z7Z7"

// TestForeignRecordNotServedFS: on the filesystem, which keeps one version
// per key, a record edited behind the store's back (lock and all) is the
// foreign version. No lifecycle path returns it: committed reads and code
// look-ups report it (archive.ErrAltered), the disposal-due list and
// transfer selection stop on it naming the document, a hold and a disposal
// are refused and change nothing. A code index entry pointed at another
// document opens nothing.
func TestForeignRecordNotServedFS(t *testing.T) {
	e, root := newFsEnv(t, "items:\n  SHORT-1: 1h\n")
	ctx := context.Background()
	a := e.stamp(t, "SHORT-1", "F-1")
	b := e.stamp(t, "", "F-2")
	c := e.stamp(t, "", "F-3")
	e.clock.Advance(2 * time.Hour) // a's retention has ended

	overwrite(t, root, archive.RecordKey(a.DocumentID), forged(t, a, nil))
	// A code of the kind issued before 2026-12-02, found through its index
	// object: one put around the service, naming another document.
	if _, err := archive.PutBytesIfAbsent(ctx, e.store, lifecycle.CodeKey(oldCode), codeEntry(c.DocumentID)); err != nil {
		t.Fatal(err)
	}

	if rec, err := e.docs.CommittedRecord(ctx, a.DocumentID); !errors.Is(err, archive.ErrAltered) {
		t.Errorf("committed record: %v %+v, want ErrAltered", err, rec)
	}
	if rec, err := e.docs.ByRetrievalCode(ctx, a.RetrievalCode); !errors.Is(err, archive.ErrAltered) {
		t.Errorf("code of the altered document: %v %+v, want ErrAltered", err, rec)
	}
	if rec, err := e.docs.ByRetrievalCode(ctx, oldCode); !errors.Is(err, archive.ErrNotFound) {
		t.Errorf("a code whose index names another document: %v %+v, want not found", err, rec)
	}
	if rec, err := e.docs.ByRetrievalCode(ctx, b.RetrievalCode); err != nil || rec.DocumentID != b.DocumentID {
		t.Errorf("a code that names its document: %v %+v", err, rec)
	}
	if rec, err := e.docs.ByRetrievalCode(ctx, c.RetrievalCode); err != nil || rec.DocumentID != c.DocumentID {
		t.Errorf("an untouched code: %v %+v", err, rec)
	}
	if _, err := e.docs.SetLegalHold(ctx, a.DocumentID, true, "诉讼", "archivist"); !errors.Is(err, archive.ErrAltered) {
		t.Errorf("hold: %v, want ErrAltered", err)
	}
	if due, err := e.docs.DueForDisposal(ctx); !errors.Is(err, archive.ErrAltered) || !strings.Contains(err.Error(), a.DocumentID) {
		t.Errorf("due for disposal: %v %v, want ErrAltered naming %s", err, due, a.DocumentID)
	}
	if recs, err := transfer.Select(ctx, e.docs, transfer.Filter{}); !errors.Is(err, archive.ErrAltered) || !strings.Contains(err.Error(), a.DocumentID) {
		t.Errorf("transfer selection: %v (%d records), want ErrAltered naming %s", err, len(recs), a.DocumentID)
	}
	var de *lifecycle.DisposalError
	if _, err := e.docs.Dispose(ctx, lifecycle.DisposalRequest{DocumentIDs: []string{a.DocumentID}, ApprovalID: "销审-1",
		Witnesses: [2]string{"张三", "李四"}, By: "archivist"}); !errors.As(err, &de) || de.DocumentID != a.DocumentID {
		t.Errorf("disposal: %v, want a disposal error", err)
	}
	for _, k := range []string{archive.DocumentKey(a.DocumentID), archive.RecordKey(a.DocumentID)} {
		if info, err := e.store.Head(ctx, k); err != nil || info.LegalHold {
			t.Errorf("%s after the refusals: %v %+v", k, err, info)
		}
	}
	if _, err := e.store.Head(ctx, lifecycle.TombstoneKey(a.DocumentID)); !errors.Is(err, archive.ErrNotFound) {
		t.Errorf("a tombstone for a refused disposal: %v", err)
	}
}

var bucketSeq atomic.Int32

// TestForeignVersionNotServedMinIO: on a real MinIO, PUTs with the
// service's own credentials put new versions in front of committed,
// COMPLIANCE-locked records and a PDF, and point a retrieval code's index
// entry at another document. Every lifecycle path still reads what the
// commits stored — by id, by code, in the disposal-due list, in transfer
// selection — and a hold or disposal, which would act on the current
// (foreign) version, is refused and reported.
func TestForeignVersionNotServedMinIO(t *testing.T) {
	if testing.Short() {
		t.Skip("MinIO")
	}
	endpoint, access, secret := miniotest.StartShared(t)
	ctx := context.Background()
	store, err := s3.New(ctx, s3.Config{Endpoint: endpoint, Bucket: fmt.Sprintf("eseal-lifecycle-%d-%d", time.Now().UnixNano()%1e9, bucketSeq.Add(1)),
		AccessKey: access, SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "items:\n  SHORT-1: 1h\n", sealtest.NewClock(time.Now().UTC().Truncate(time.Second)), store)
	a := e.stamp(t, "SHORT-1", "F-1")
	b := e.stamp(t, "", "F-2")
	c := e.stamp(t, "", "F-3")
	e.clock.Advance(2 * time.Hour) // a's retention has ended (for the lifecycle's clock)
	origB, _, err := archive.GetBytes(ctx, store, archive.DocumentKey(b.DocumentID))
	if err != nil {
		t.Fatal(err)
	}

	foreignPDF := pdftest.Document(pdftest.Options{})
	put := func(key string, body []byte) {
		t.Helper()
		if _, err := store.Client().PutObject(ctx, store.Bucket(), key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put(archive.RecordKey(a.DocumentID), forged(t, a, nil))
	put(archive.RecordKey(b.DocumentID), forged(t, b, foreignPDF))
	put(archive.DocumentKey(b.DocumentID), foreignPDF)
	put(lifecycle.CodeKey(oldCode), codeEntry(c.DocumentID))
	if cur, _, _ := archive.GetBytes(ctx, store, archive.DocumentKey(b.DocumentID)); !bytes.Equal(cur, foreignPDF) {
		t.Fatal("the foreign PDF is not the current version")
	}

	real := func(what string, rec *archive.Record, d *seal.Stamped) {
		t.Helper()
		if rec == nil || rec.DocumentID != d.DocumentID || rec.Title != d.Record.Title || rec.CaseNo != d.Record.CaseNo || rec.SM3 != d.Record.SM3 {
			t.Errorf("%s: %+v, want the committed record of %s", what, rec, d.DocumentID)
		}
	}
	for _, d := range []*seal.Stamped{a, b} {
		rec, err := e.docs.CommittedRecord(ctx, d.DocumentID)
		if err != nil {
			t.Fatal(err)
		}
		real("committed record", rec, d)
	}
	rec, pdf, err := e.docs.CommittedPDF(ctx, b.DocumentID)
	if err != nil || !bytes.Equal(pdf, origB) {
		t.Fatalf("committed PDF: %v, %d bytes, want the committed %d", err, len(pdf), len(origB))
	}
	real("committed PDF's record", rec, b)

	rec, err = e.docs.ByRetrievalCode(ctx, a.RetrievalCode)
	if err != nil {
		t.Fatal(err)
	}
	real("by code", rec, a)
	if rec, err := e.docs.ByRetrievalCode(ctx, oldCode); !errors.Is(err, archive.ErrNotFound) {
		t.Errorf("a code whose index names another document: %v %+v, want not found", err, rec)
	}

	// b's foreign record says its retention ended; the committed one keeps
	// it for good: only a is due, as committed.
	due, err := e.docs.DueForDisposal(ctx)
	if err != nil || len(due) != 1 {
		t.Fatalf("due for disposal: %v %+v", err, due)
	}
	real("due", due[0], a)

	if recs, err := transfer.Select(ctx, e.docs, transfer.Filter{CaseNo: "F-9"}); err != nil || len(recs) != 0 {
		t.Errorf("selection by the foreign case number: %v %d records", err, len(recs))
	}
	recs, err := transfer.Select(ctx, e.docs, transfer.Filter{})
	if err != nil || len(recs) != 3 {
		t.Fatalf("selection: %v, %d records", err, len(recs))
	}
	for _, r := range recs {
		for _, d := range []*seal.Stamped{a, b, c} {
			if r.DocumentID == d.DocumentID {
				real("selected", &r, d)
			}
		}
	}

	if _, err := e.docs.SetLegalHold(ctx, b.DocumentID, true, "诉讼", "archivist"); !errors.Is(err, archive.ErrAltered) {
		t.Errorf("hold over a foreign version: %v, want ErrAltered", err)
	}
	if _, info, err := store.GetVersion(ctx, archive.DocumentKey(b.DocumentID), b.Record.PDFVersion); err != nil || info.LegalHold {
		t.Errorf("the committed PDF after the refused hold: %v %+v", err, info)
	}
	var de *lifecycle.DisposalError
	if _, err := e.docs.Dispose(ctx, lifecycle.DisposalRequest{DocumentIDs: []string{a.DocumentID}, ApprovalID: "销审-1",
		Witnesses: [2]string{"张三", "李四"}, By: "archivist"}); !errors.As(err, &de) || !strings.Contains(de.Reason, "another version") {
		t.Errorf("disposal over a foreign version: %v, want a disposal error naming it", err)
	}
	if _, err := store.Head(ctx, lifecycle.TombstoneKey(a.DocumentID)); !errors.Is(err, archive.ErrNotFound) {
		t.Errorf("a tombstone for a refused disposal: %v", err)
	}
}

// TestCommittedRecordReadsMinIO: the committed read of a record nothing
// was put in front of reads the record once — its bytes hold the pin's SM3
// — without listing the record's versions and reading the first (3
// requests, 5 before); a record put in front
// (TestForeignVersionNotServedMinIO) is what sends it there.
func TestCommittedRecordReadsMinIO(t *testing.T) {
	if testing.Short() {
		t.Skip("MinIO")
	}
	endpoint, access, secret := miniotest.StartShared(t)
	ctx := context.Background()
	base, err := s3.New(ctx, s3.Config{Endpoint: endpoint, Bucket: fmt.Sprintf("eseal-lifecycle-%d-%d", time.Now().UnixNano()%1e9, bucketSeq.Add(1)),
		AccessKey: access, SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	var counting atomic.Bool
	ops := map[string]int{}
	var mu sync.Mutex
	store := archive.Instrument(base, func(op string, _ error, _ time.Duration) {
		if counting.Load() {
			mu.Lock()
			ops[op]++
			mu.Unlock()
		}
	})
	e := newEnv(t, "items:\n  SHORT-1: 1h\n", sealtest.NewClock(time.Now().UTC().Truncate(time.Second)), store)
	d := e.stamp(t, "SHORT-1", "F-1")
	if err := e.svc.FlushPending(ctx); err != nil { // the staging's removal, off the count
		t.Fatal(err)
	}
	counting.Store(true)
	rec, err := e.docs.CommittedRecord(ctx, d.DocumentID)
	counting.Store(false)
	if err != nil || rec.SM3 != d.Record.SM3 {
		t.Fatalf("committed record: %v", err)
	}
	t.Logf("reads: %v", ops)
	// The record (get), the authorization's slots (list_versions) and its
	// use marker (get_version); before, also the record's versions listed
	// and its first read (5 requests).
	if ops["list_versions"] > 1 || ops["get_version"] > 1 || ops["get"] > 1 || len(ops) > 3 {
		t.Errorf("the committed read of an untouched record made %v; want 3 requests: the record, the authorization's slots, its use marker", ops)
	}
}
