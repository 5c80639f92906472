package seal_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/archive/fs"
	"eseal/archive/s3"
	"eseal/archive/s3/miniotest"
	"eseal/keys"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// replicas opens n Services on one store, as n replicas of `eseal serve`
// share it: each its own registry and audit shard.
func replicas(t testing.TB, store archive.Store, n int) ([]*seal.Service, string) {
	t.Helper()
	ctx := context.Background()
	kek, _, err := keys.NewKEK()
	if err != nil {
		t.Fatal(err)
	}
	first, err := seal.InitOrg(ctx, store, kek, "测试档案馆", seal.Options{Fonds: "Z001"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := first.CreateSeal(ctx, seal.CreateSpec{Name: "测试专用章", Policy: seal.PolicyKey})
	if err != nil {
		t.Fatal(err)
	}
	var svcs []*seal.Service
	for i := range n {
		reg := first
		if i > 0 {
			if reg, err = seal.OpenRegistry(ctx, store, kek, seal.Options{}); err != nil {
				t.Fatal(err)
			}
		}
		signer, err := reg.AuditSigner(ctx)
		if err != nil {
			t.Fatal(err)
		}
		alog, err := audit.Open(ctx, store, fmt.Sprintf("r%d", i), audit.Options{Signer: signer})
		if err != nil {
			t.Fatal(err)
		}
		reg.SetAuditor(seal.LogAuditor{Log: alog})
		svcs = append(svcs, &seal.Service{Registry: reg, Store: store, Schedule: &archive.Schedule{}, Application: "test"})
	}
	return svcs, s.ID
}

// stampConcurrently has each replica stamp perReplica documents of one
// series (same item code) at the same time, and returns their numbers.
func stampConcurrently(t *testing.T, svcs []*seal.Service, sealID string, perReplica int) map[string]*archive.RefNumber {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	docs := map[string]*archive.RefNumber{}
	var wg sync.WaitGroup
	for _, svc := range svcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perReplica {
				a, err := svc.Registry.Grant(ctx, seal.GrantRequest{SealID: sealID, CaseNo: "N-1", GrantedBy: "test"})
				if err != nil {
					t.Error(err)
					return
				}
				st, err := svc.Stamp(ctx, seal.StampRequest{SealID: sealID, AuthorizationID: a.ID,
					Placement: seal.Placement{Page: 1, XMM: 100, YMM: 100},
					Record:    seal.RecordInput{Title: "许可决定", ItemCode: "330000-XK-01", CaseNo: "N-1"},
					PDF:       pdftest.Document(pdftest.Options{})})
				if err != nil {
					t.Error(err)
					return
				}
				n, err := archive.ReadRefNumber(ctx, svc.Store, st.DocumentID)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				docs[st.DocumentID] = n
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return docs
}

// checkSeries fails unless the numbers are 1..len(docs), each once, all of
// one series.
func checkSeries(t *testing.T, docs map[string]*archive.RefNumber) {
	t.Helper()
	var seqs []int
	year := time.Now().In(archive.RefYearZone).Year()
	for id, n := range docs {
		if n.DocumentID != id || n.Fonds != "Z001" || n.Item != "330000XK01" || n.Retention != archive.Permanent || n.Year != year {
			t.Errorf("%s: number %+v, not of the series Z001-%d-permanent-330000XK01", id, n, year)
		}
		seqs = append(seqs, n.Seq)
	}
	sort.Ints(seqs)
	for i, s := range seqs {
		if s != i+1 {
			t.Fatalf("numbers %v: want 1..%d, each once", seqs, len(seqs))
		}
	}
}

// TestRefNumbersUniqueAcrossReplicas: two replicas stamping one series at
// the same time give its records the numbers 1..n, each once (filesystem).
func TestRefNumbersUniqueAcrossReplicas(t *testing.T) {
	store, err := fs.New(t.TempDir(), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svcs, sealID := replicas(t, store, 2)
	docs := stampConcurrently(t, svcs, sealID, 6)
	if len(docs) != 12 {
		t.Fatalf("%d documents stamped, want 12", len(docs))
	}
	checkSeries(t, docs)

	// Numbering again (the recovery sweep finishing a stamping twice) keeps
	// the number.
	for id, n := range docs {
		again, err := archive.AssignRefNumber(context.Background(), store, archive.RefNumber{DocumentID: id, Fonds: n.Fonds,
			Year: n.Year, Retention: n.Retention, Item: n.Item}, time.Now().Add(time.Hour), time.Now(), true)
		if err != nil || again.Seq != n.Seq {
			t.Fatalf("numbering %s again: %+v, %v; want %d", id, again, err, n.Seq)
		}
		break
	}
}

// TestRefNumbersUniqueAcrossReplicasMinIO is the same on MinIO, whose
// put-if-absent is If-None-Match: *.
func TestRefNumbersUniqueAcrossReplicasMinIO(t *testing.T) {
	if testing.Short() {
		t.Skip("MinIO")
	}
	endpoint, access, secret := miniotest.Start(t)
	store, err := s3.New(context.Background(), s3.Config{Endpoint: endpoint, Bucket: "eseal-refnumbers", AccessKey: access, SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	svcs, sealID := replicas(t, store, 2)
	checkSeries(t, stampConcurrently(t, svcs, sealID, 4))
}
