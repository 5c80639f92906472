package seal_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"eseal/archive"
	"eseal/archive/fs"
	"eseal/archive/s3"
	"eseal/archive/s3/miniotest"
	"eseal/pdf/pdftest"
	"eseal/seal"
	"eseal/seal/sealtest"

	"github.com/minio/minio-go/v7"
)

// fsPath is where the filesystem backend keeps key under root: every
// segment but the last is a directory with a "~" suffix.
func fsPath(root, key string) string {
	segs := strings.Split(key, "/")
	for i := range segs[:len(segs)-1] {
		segs[i] += "~"
	}
	return filepath.Join(append([]string{root}, segs...)...)
}

// rmObject deletes an object behind the store's back, lock and all, as an
// rm on the data directory does.
func rmObject(t *testing.T, root, key string) {
	t.Helper()
	p := fsPath(root, key)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	os.Remove(p + "~lock")
}

func newFsServiceEnv(t *testing.T) (*serviceEnv, string) {
	t.Helper()
	clock := sealtest.NewClock(time.Now().UTC().Truncate(time.Second))
	root := t.TempDir()
	store, err := fs.New(root, fs.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return newServiceEnvOn(t, "items: {}\n", clock, store), root
}

// wantProblem fails unless the report has a problem of kind about key.
func wantProblem(t *testing.T, rep *archive.FixityReport, kind, key string) {
	t.Helper()
	for _, p := range rep.Problems {
		if p.Kind == kind && p.Key == key {
			return
		}
	}
	t.Errorf("no %s problem for %s; problems: %+v", kind, key, rep.Problems)
}

// TestFixityReconcilesStoreRecordsAndLog damages a filesystem archive in
// each way an rm or an editor can — a use marker deleted, a document's
// directory deleted, a record deleted, a grant edited, an object added to a
// document's folder, the audit log's last entry deleted after a checkpoint —
// and shows that fixity reports each by kind and that none of the damaged
// documents is served. The authorization whose use marker is gone has its
// use back (an rm bypasses the filesystem's locks: docs/architecture.md,
// weaknesses), and fixity still reports the stamping's marker once the slot
// is taken again.
func TestFixityReconcilesStoreRecordsAndLog(t *testing.T) {
	e, root := newFsServiceEnv(t)
	ctx := context.Background()
	var docs []*seal.Stamped
	for range 6 {
		docs = append(docs, e.stamp(t, ""))
	}
	if _, err := e.log.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := e.svc.Fixity(ctx, nil)
	if err != nil || !rep.OK() || rep.Documents != 6 {
		t.Fatalf("clean archive: %v %+v", err, rep)
	}

	useMarker := func(d *seal.Stamped) string {
		return "authz/" + d.Record.Authorization.ID + "/use/0001.json"
	}
	// 0: its use marker deleted.
	rmObject(t, root, useMarker(docs[0]))
	// 1: its whole directory deleted.
	if err := os.RemoveAll(strings.TrimSuffix(fsPath(root, archive.DocumentPrefix(docs[1].DocumentID)+"x"), string(filepath.Separator)+"x")); err != nil {
		t.Fatal(err)
	}
	// 2: its record deleted.
	rmObject(t, root, archive.RecordKey(docs[2].DocumentID))
	// 3: its grant edited (the case number changed).
	grant := fsPath(root, "authz/"+docs[3].Record.Authorization.ID+"/grant.json")
	os.Chmod(grant, 0o644)
	b, err := os.ReadFile(grant)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(grant, []byte(strings.Replace(string(b), `"D-1"`, `"D-2"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	// 4: an object put into its folder behind the service's back.
	extra := archive.DocumentPrefix(docs[4].DocumentID) + "extra.pdf"
	if _, err := archive.PutBytesIfAbsent(ctx, e.store, extra, []byte("%PDF-1.7")); err != nil {
		t.Fatal(err)
	}
	// 5: the audit log's last entry (its document.stamped) deleted.
	last := ""
	if err := e.store.List(ctx, "audit/test/", func(o archive.ObjectInfo) error { last = o.Key; return nil }); err != nil {
		t.Fatal(err)
	}
	rmObject(t, root, last)

	// A fresh service, as `eseal archive fixity` is, so no cached grant.
	fresh := &seal.Service{Registry: reopen(t, e), Store: e.store, Schedule: e.svc.Schedule, Application: "test"}
	rep, err = fresh.Fixity(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantProblem(t, rep, archive.FixityMissingUseMarker, useMarker(docs[0]))
	wantProblem(t, rep, archive.FixityMissingDocument, archive.DocumentKey(docs[1].DocumentID))
	wantProblem(t, rep, archive.FixityMissingRecord, archive.RecordKey(docs[1].DocumentID))
	wantProblem(t, rep, archive.FixityOrphanUseMarker, useMarker(docs[1]))
	wantProblem(t, rep, archive.FixityMissingRecord, archive.RecordKey(docs[2].DocumentID))
	wantProblem(t, rep, archive.FixityEvidenceInvalid, "authz/"+docs[3].Record.Authorization.ID+"/evidence/")
	wantProblem(t, rep, archive.FixityAuditShardShort, last)
	wantProblem(t, rep, archive.FixityMissingAudit, archive.RecordKey(docs[5].DocumentID))
	wantProblem(t, rep, archive.FixityUnexpectedObject, extra)
	for _, p := range rep.Problems {
		if p.DocumentID == docs[4].DocumentID && p.Key != extra || p.Kind == "" {
			t.Errorf("problem for an untouched object, or without a kind: %+v", p)
		}
	}

	// None of the damaged documents is served.
	for i, d := range docs[:4] {
		if rec, err := fresh.Documents().CommittedRecord(ctx, d.DocumentID); err == nil {
			t.Errorf("document %d is served after its damage: %+v", i, rec)
		}
	}
	if _, err := fresh.Documents().CommittedRecord(ctx, docs[4].DocumentID); err != nil {
		t.Errorf("the document with an extra object beside it is not served: %v", err)
	}

	// The authorization whose use marker is gone stamps again, into the
	// same slot; the audit log still says whose the slot was.
	st, err := fresh.Registry.Authorization(ctx, docs[0].Record.Authorization.ID)
	if err != nil || st.Remaining != 1 {
		t.Fatalf("authorization after its marker was deleted: %+v, %v; want its use back", st, err)
	}
	if _, err = fresh.Stamp(ctx, seal.StampRequest{SealID: e.sealID, AuthorizationID: docs[0].Record.Authorization.ID,
		Placement: seal.Placement{Page: 1, XMM: 100, YMM: 100},
		Record:    seal.RecordInput{Title: "再次使用", CaseNo: "D-1"},
		PDF:       pdftest.Document(pdftest.Options{})}); err != nil {
		t.Fatalf("stamping again with the authorization whose marker is gone: %v", err)
	}
	if rep, err = fresh.Fixity(ctx, nil); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, rep, archive.FixityUseMismatch, useMarker(docs[0]))
}

// reopen opens the env's registry afresh (no cached grants), with its audit log.
func reopen(t *testing.T, e *serviceEnv) *seal.Registry {
	t.Helper()
	reg, err := seal.OpenRegistry(context.Background(), e.store, e.kek, seal.Options{Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	reg.SetAuditor(seal.LogAuditor{Log: e.log})
	return reg
}

// TestForeignVersionNotServedMinIO: on a real MinIO, a PUT with the
// service's own credentials puts a new version in front of a document's
// COMPLIANCE-locked PDF and record. Fixity reports both as foreign-version;
// the committed record and PDF are still what is read (pinned to the
// version ids the commit recorded), never the foreign bytes.
func TestForeignVersionNotServedMinIO(t *testing.T) {
	if testing.Short() {
		t.Skip("MinIO")
	}
	endpoint, access, secret := miniotest.Start(t)
	ctx := context.Background()
	store, err := s3.New(ctx, s3.Config{Endpoint: endpoint, Bucket: "eseal-foreign-version", AccessKey: access, SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	e := newServiceEnvOn(t, "items: {}\n", sealtest.NewClock(time.Now().UTC().Truncate(time.Second)), store)
	// The PDF is written after the commit, so its record pins it by SM3,
	// with no version id: the pinned read takes the key's first version.
	d := e.stamp(t, "")
	orig, _, err := archive.GetBytes(ctx, store, archive.DocumentKey(d.DocumentID))
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := e.svc.Fixity(ctx, nil); err != nil || !rep.OK() {
		t.Fatalf("clean archive: %v %+v", err, rep)
	}

	foreignPDF := pdftest.Document(pdftest.Options{})
	foreignRec := *d.Record
	foreignRec.Title = "伪造"
	foreignRec.SM3 = archive.PinOf("", foreignPDF).SM3
	foreignRec.Size = int64(len(foreignPDF))
	rb, _ := json.Marshal(foreignRec)
	for key, b := range map[string][]byte{archive.DocumentKey(d.DocumentID): foreignPDF, archive.RecordKey(d.DocumentID): rb} {
		if _, err := store.Client().PutObject(ctx, store.Bucket(), key, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if cur, _, _ := archive.GetBytes(ctx, store, archive.DocumentKey(d.DocumentID)); !bytes.Equal(cur, foreignPDF) {
		t.Fatal("the foreign PDF is not the current version")
	}

	rep, err := e.svc.Fixity(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantProblem(t, rep, archive.FixityForeignVersion, archive.DocumentKey(d.DocumentID))

	rec, err := e.svc.Documents().CommittedRecord(ctx, d.DocumentID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Title != d.Record.Title || rec.SM3 != d.Record.SM3 {
		t.Fatalf("the committed record read is the foreign one: %q %s", rec.Title, rec.SM3)
	}
	b, _, err := archive.ReadDocument(ctx, store, rec)
	if err != nil || !bytes.Equal(b, orig) {
		t.Fatalf("the PDF read is not the committed one (%d bytes, %v)", len(b), err)
	}
	// The foreign record, read as it stands, does not open the foreign PDF.
	if _, _, err := archive.ReadDocument(ctx, store, &foreignRec); !errors.Is(err, archive.ErrAltered) {
		t.Fatalf("reading by the foreign record: %v, want ErrAltered", err)
	}
	// A backup to the filesystem keeps the committed (first) version at
	// its key and the foreign one under archive.VersionKey.
	bak, err := fs.New(t.TempDir(), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := archive.Backup(ctx, store, bak, archive.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, _, err := archive.ReadDocument(ctx, bak, rec); err != nil || !bytes.Equal(b, orig) {
		t.Fatalf("the PDF read from the backup is not the committed one (%d bytes, %v)", len(b), err)
	}
}

// TestHiddenUseMarkerMinIO: on a real MinIO, a DELETE without version id
// on a committed use marker — what a client with the service's credentials
// can always do, COMPLIANCE lock or not — adds a delete marker that hides
// the locked version from a plain listing and read. The use stays spent: a
// second stamping under the single-use authorization is refused and puts
// no marker; the document is still served (the marker is read by its
// version); fixity reports the delete marker.
func TestHiddenUseMarkerMinIO(t *testing.T) {
	if testing.Short() {
		t.Skip("MinIO")
	}
	endpoint, access, secret := miniotest.Start(t)
	ctx := context.Background()
	store, err := s3.New(ctx, s3.Config{Endpoint: endpoint, Bucket: "eseal-hidden-marker", AccessKey: access, SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	e := newServiceEnvOn(t, "items: {}\n", sealtest.NewClock(time.Now().UTC().Truncate(time.Second)), store)
	g, err := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: e.sealID, CaseNo: "R-1", GrantedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := stampWith(ctx, e.svc, e.sealID, g.ID); err != nil {
		t.Fatal(err)
	}
	u, err := e.svc.Registry.UseOf(ctx, g.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	key := "authz/" + g.ID + "/use/0001.json"
	if err := store.Client().RemoveObject(ctx, store.Bucket(), key, minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Head(ctx, key); !errors.Is(err, archive.ErrNotFound) {
		t.Fatalf("the marker after a DELETE without version id: %v; want it hidden", err)
	}

	st, err := e.svc.Registry.Authorization(ctx, g.ID)
	if err != nil || st.Remaining != 0 || len(st.Uses) != 1 || st.Uses[0].DocumentID != u.DocumentID {
		t.Fatalf("authorization with its marker hidden: %+v, %v; want its one use spent by %s", st, err, u.DocumentID)
	}
	err = stampWith(ctx, e.svc, e.sealID, g.ID)
	var ae *seal.AuthzError
	if !errors.As(err, &ae) || ae.Reason != seal.AuthzConsumed {
		t.Fatalf("a second stamping under the single-use authorization: %v, want consumed", err)
	}
	versions := 0
	if err := store.ListVersions(ctx, "authz/"+g.ID+"/use/", func(archive.ObjectInfo) error { versions++; return nil }); err != nil || versions != 1 {
		t.Fatalf("%d versions in the use slots (%v); want the hidden marker alone", versions, err)
	}

	rec, err := e.svc.Documents().CommittedRecord(ctx, u.DocumentID)
	if err != nil {
		t.Fatalf("the document whose marker is hidden: %v", err)
	}
	if _, _, err := archive.ReadDocument(ctx, store, rec); err != nil {
		t.Fatalf("its PDF: %v", err)
	}

	rep, err := e.svc.Fixity(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantProblem(t, rep, archive.FixityForeignVersion, key)
	for _, p := range rep.Problems {
		if p.Key != key {
			t.Errorf("a problem besides the hidden marker: %+v", p)
		}
	}
}

// TestEditedPDFNotServed: on the filesystem, where there are no versions,
// a PDF edited on disk is refused by the pinned read (its SM3), not served.
func TestEditedPDFNotServed(t *testing.T) {
	e, root := newFsServiceEnv(t)
	ctx := context.Background()
	d := e.stamp(t, "")
	p := fsPath(root, archive.DocumentKey(d.DocumentID))
	os.Chmod(p, 0o644)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	rec, err := e.svc.Documents().CommittedRecord(ctx, d.DocumentID)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := archive.ReadDocument(ctx, e.store, rec); !errors.Is(err, archive.ErrAltered) {
		t.Fatalf("edited PDF: %v, want ErrAltered", err)
	}
	// The record edited on disk is refused too: its SM3 is in the use marker.
	rp := fsPath(root, archive.RecordKey(d.DocumentID))
	os.Chmod(rp, 0o644)
	rb, _ := os.ReadFile(rp)
	if err := os.WriteFile(rp, bytes.Replace(rb, []byte(d.Record.Title), []byte("伪造"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Documents().CommittedRecord(ctx, d.DocumentID); !errors.Is(err, archive.ErrAltered) {
		t.Fatalf("edited record: %v, want ErrAltered", err)
	}
}

// BenchmarkFixity measures one fixity run — re-hash, evidence, the audit
// log and the use markers reconciled, the log verified — over 50 documents
// on the filesystem backend.
func BenchmarkFixity(b *testing.B) {
	clock := sealtest.NewClock(time.Now().UTC().Truncate(time.Second))
	store, err := fs.New(b.TempDir(), fs.Options{Now: clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	svcs, sealID := replicas(b, store, 1)
	svc := svcs[0]
	ctx := context.Background()
	for range 50 {
		a, err := svc.Registry.Grant(ctx, seal.GrantRequest{SealID: sealID, CaseNo: "B-1", GrantedBy: "test"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.Stamp(ctx, seal.StampRequest{SealID: sealID, AuthorizationID: a.ID,
			Placement: seal.Placement{Page: 1, XMM: 100, YMM: 100},
			Record:    seal.RecordInput{Title: "基准", CaseNo: "B-1"}, PDF: pdftest.Document(pdftest.Options{})}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		rep, err := svc.Fixity(ctx, nil)
		if err != nil || !rep.OK() || rep.Documents != 50 {
			b.Fatalf("%v %+v", err, rep)
		}
	}
}

// TestFixityChecksTheApprovedDocument: a grant for one document names its
// SM3; fixity checks that the record's stamping sealed that input (the
// record's input_sm3), so a record edited to name another input — or a
// grant for another document — is evidence-invalid.
func TestFixityChecksTheApprovedDocument(t *testing.T) {
	e, root := newFsServiceEnv(t)
	ctx := context.Background()
	in := pdftest.Document(pdftest.Options{Title: "许可决定书"})
	sum := sm3.Sum(in)
	a, err := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: e.sealID, CaseNo: "D-9", DocumentSM3: hex.EncodeToString(sum[:]),
		GrantedBy: "负责人", MaxUses: 1, ExpiresIn: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.svc.Stamp(ctx, seal.StampRequest{SealID: e.sealID, AuthorizationID: a.ID, Placement: seal.Placement{Page: 1, XMM: 100, YMM: 100},
		Record: seal.RecordInput{Title: "许可决定书", CaseNo: "D-9"}, PDF: in})
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := e.svc.Fixity(ctx, nil); err != nil || !rep.OK() {
		t.Fatalf("clean archive: %v %+v", err, rep)
	}
	p := fsPath(root, archive.RecordKey(d.DocumentID))
	os.Chmod(p, 0o644)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	other := sm3.Sum([]byte("another document"))
	b = []byte(strings.Replace(string(b), hex.EncodeToString(sum[:]), hex.EncodeToString(other[:]), 1))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := e.svc.Fixity(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantProblem(t, rep, archive.FixityEvidenceInvalid, "authz/"+a.ID+"/evidence/")
	for _, p := range rep.Problems {
		if p.Kind == archive.FixityEvidenceInvalid && !strings.Contains(p.Reason, "sealed "+hex.EncodeToString(other[:])) {
			t.Errorf("evidence-invalid, but not for the input: %s", p.Reason)
		}
	}
}
