package seal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/fs"
	"eseal/pdf/pdftest"
	"eseal/seal"
	"eseal/seal/sealtest"
)

// TestGivenBackUseLeavesMarkerAndRelease: a stamping that took a use and
// then does not commit gives it back without deleting its marker, which is
// locked from its put: a release is put beside it, locked too, naming the
// document and why. The authorization keeps its use; the stamping that
// comes next takes the next slot and commits; fixity finds nothing wrong.
// Two ways to give a use back: the audit entry cannot be appended, and a
// joint approval loses its second seal's authorization to another stamping
// between its check and its commit.
func TestGivenBackUseLeavesMarkerAndRelease(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		reason string
		// arm makes the stamping under authz, with the seal of e and the
		// second seal other (its authorization shared), fail after its
		// first use marker; it returns the request.
		arm func(t *testing.T, e *serviceEnv, fault *atomic.Value, authz, other, shared string) seal.StampRequest
		// want says whether the failed stamping's error is the one expected.
		want func(error) bool
	}{
		{"audit append fails", "audit-failed",
			func(t *testing.T, e *serviceEnv, fault *atomic.Value, authz, _, _ string) seal.StampRequest {
				fault.Store(func(op, key string) error {
					if strings.HasPrefix(key, "audit/") {
						return errors.New("audit shard unwritable")
					}
					return nil
				})
				return stampRequest(e.sealID, authz)
			},
			func(err error) bool { var ae *seal.AuditError; return errors.As(err, &ae) }},
		{"joint approval loses its second seal", "lost-commit",
			func(t *testing.T, e *serviceEnv, fault *atomic.Value, authz, other, shared string) seal.StampRequest {
				// Just before the first seal's use marker is put, another
				// stamping uses the second seal's authorization.
				fault.Store(func(op, key string) error {
					if strings.Contains(key, authz+"/use/") {
						fault.Store(func(string, string) error { return nil })
						if err := stampWith(ctx, e.svc, other, shared); err != nil {
							t.Errorf("the stamping that takes the shared authorization: %v", err)
						}
					}
					return nil
				})
				req := stampRequest(e.sealID, authz)
				req.Seals = []seal.SealUse{
					{SealID: e.sealID, AuthorizationID: authz, Placement: seal.Placement{Page: 1, XMM: 20, YMM: 20}},
					{SealID: other, AuthorizationID: shared, Placement: seal.Placement{Page: 1, XMM: 90, YMM: 20}},
				}
				req.SealID, req.AuthorizationID = "", ""
				return req
			},
			func(err error) bool {
				var ae *seal.AuthzError
				return errors.As(err, &ae) && ae.Reason == seal.AuthzConsumed
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			clock := sealtest.NewClock(time.Now().UTC().Truncate(time.Second))
			base, err := fs.New(t.TempDir(), fs.Options{Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			var fault atomic.Value
			fault.Store(func(string, string) error { return nil })
			e := newServiceEnvOn(t, "items: {}\n", clock, &writeHook{Store: base, before: func(op, key string) error {
				return fault.Load().(func(string, string) error)(op, key)
			}})
			other, err := e.svc.Registry.CreateSeal(ctx, seal.CreateSpec{Name: "第二枚章", Policy: seal.PolicyKey})
			if err != nil {
				t.Fatal(err)
			}
			grant := func(sealID string) string {
				a, err := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: sealID, CaseNo: "R-1", GrantedBy: "test"})
				if err != nil {
					t.Fatal(err)
				}
				return a.ID
			}
			authz, shared := grant(e.sealID), grant(other.ID)

			req := c.arm(t, e, &fault, authz, other.ID, shared)
			_, err = e.svc.Stamp(ctx, req)
			fault.Store(func(string, string) error { return nil })
			if !c.want(err) {
				t.Fatalf("the stamping that gives its use back: %v", err)
			}

			// Marker and release, both locked; the release names the
			// marker's document and why.
			marker, err := e.svc.Registry.UseOf(ctx, authz, 1)
			if err != nil {
				t.Fatalf("the marker of the use given back: %v", err)
			}
			p := "authz/" + authz + "/"
			b, _, err := archive.GetBytes(ctx, base, p+"release/0001.json")
			if err != nil {
				t.Fatalf("the release: %v", err)
			}
			var rel struct {
				N          int    `json:"n"`
				DocumentID string `json:"document_id"`
				Reason     string `json:"reason"`
			}
			if err := json.Unmarshal(b, &rel); err != nil || rel.N != 1 || rel.DocumentID != marker.DocumentID || rel.Reason != c.reason {
				t.Errorf("release %s (%v); want slot 1, %s, %s", b, err, marker.DocumentID, c.reason)
			}
			for _, k := range []string{p + "use/0001.json", p + "release/0001.json"} {
				var le *archive.LockedError
				if err := base.Delete(ctx, k); !errors.As(err, &le) {
					t.Errorf("delete %s: %v, want it locked", k, err)
				}
			}
			if _, err := e.svc.Documents().CommittedRecord(ctx, marker.DocumentID); err == nil {
				t.Errorf("the document of the use given back is served")
			}
			if n := countPrefix(t, base, archive.DocumentPrefix(marker.DocumentID)); n != 0 {
				t.Errorf("%d objects of the discarded document left", n)
			}

			// The use is still there; the next stamping takes slot 2.
			st, err := e.svc.Registry.Authorization(ctx, authz)
			if err != nil || st.Remaining != 1 || len(st.Uses) != 0 {
				t.Fatalf("authorization after the use was given back: %+v, %v", st, err)
			}
			if err := stampWith(ctx, e.svc, e.sealID, authz); err != nil {
				t.Fatalf("the next stamping: %v", err)
			}
			st, err = e.svc.Registry.Authorization(ctx, authz)
			if err != nil || st.Remaining != 0 || len(st.Uses) != 1 || st.Uses[0].N != 2 {
				t.Fatalf("authorization after the next stamping: %+v, %v; want its use in slot 2", st, err)
			}
			if _, err := e.svc.Documents().CommittedRecord(ctx, st.Uses[0].DocumentID); err != nil {
				t.Errorf("the next stamping's document: %v", err)
			}
			// The slot given back is no use more than the grant's one.
			err = stampWith(ctx, e.svc, e.sealID, authz)
			if ae := (*seal.AuthzError)(nil); !errors.As(err, &ae) || ae.Reason != seal.AuthzConsumed {
				t.Errorf("a third stamping under the one-use authorization: %v, want consumed", err)
			}
			rep, err := e.svc.Fixity(ctx, nil)
			if err != nil || !rep.OK() {
				t.Errorf("fixity: %v %+v", err, rep)
			}
		})
	}
}

func stampRequest(sealID, authz string) seal.StampRequest {
	return seal.StampRequest{SealID: sealID, AuthorizationID: authz,
		Placement: seal.Placement{Page: 1, XMM: 100, YMM: 100},
		Record:    seal.RecordInput{Title: "许可决定书", CaseNo: "R-1"}, PDF: pdftest.Document(pdftest.Options{})}
}

// oldMarkerStore puts use markers as a version before markers were locked
// at put did — unlocked, without retain_until — and then dies once the
// stamping's audit entry is stored (its own writes go on): the stamping is
// committed and logged, and its finish never runs.
type oldMarkerStore struct {
	writeHook
	armed, logged atomic.Bool
}

func (s *oldMarkerStore) PutRetained(ctx context.Context, key string, r io.Reader, size int64, until time.Time) (archive.ObjectInfo, error) {
	if !strings.Contains(key, "/use/") {
		info, err := s.writeHook.PutRetained(ctx, key, r, size, until)
		if err == nil && s.armed.Load() && strings.HasPrefix(key, "audit/") {
			s.logged.Store(true)
		}
		return info, err
	}
	var m map[string]any
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return archive.ObjectInfo{}, err
	}
	delete(m, "retain_until")
	b, _ := json.Marshal(m)
	return s.PutIfAbsent(ctx, key, bytes.NewReader(b), int64(len(b)))
}

// TestSweepLocksMarkerPutUnlocked: the recovery sweep finishing a stamping
// whose use marker was put unlocked (by a version before markers were
// locked at put) locks the marker until the document's retention ends, as
// finish did then.
func TestSweepLocksMarkerPutUnlocked(t *testing.T) {
	ctx := context.Background()
	var old *oldMarkerStore
	c := newFaultCase(t, pdftest.Document(pdftest.Options{}), "", func(s archive.Store) archive.Store {
		old = &oldMarkerStore{writeHook: writeHook{Store: s}}
		old.before = func(_, key string) error {
			if old.logged.Load() && !strings.HasPrefix(key, "audit/") {
				return errCrashed
			}
			return nil
		}
		return old
	})
	old.armed.Store(true)
	if _, err := c.e.svc.Stamp(ctx, c.req); err != nil {
		t.Fatalf("the stamping, committed and logged: %v", err)
	}
	key := "authz/" + c.authz + "/use/0001.json"
	if info, err := c.base.Head(ctx, key); err != nil || !info.RetainUntil.IsZero() {
		t.Fatalf("the marker before the sweep: %+v, %v; want it stored unlocked", info, err)
	}
	c.clock.Advance(time.Hour)
	svc := replica(t, c.e, c.base, c.clock, "test")
	if done, _, err := svc.Recover(ctx); err != nil || done != 1 {
		t.Fatalf("sweep: %d completed, %v", done, err)
	}
	doc := settled(t, "after the sweep", svc, c.base, c.authz)
	rec, err := svc.Documents().CommittedRecord(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := c.base.Head(ctx, key); err != nil || !info.RetainUntil.Equal(rec.RetainUntil) {
		t.Fatalf("the marker after the sweep: retained until %v (%v), want the document's %v", info.RetainUntil, err, rec.RetainUntil)
	}
}

// TestUseSlotsEnd: slots have four digits and a slot given back is never
// taken again, so an authorization whose slot 9999 is taken stamps no more,
// however many uses it has left, and says why.
func TestUseSlotsEnd(t *testing.T) {
	ctx := context.Background()
	e, _ := newFsServiceEnv(t)
	g, err := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: e.sealID, CaseNo: "R-1", MaxUses: 2, GrantedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	release := `{"n": 9999, "document_id": "doc-aaaaaaaaaaaaaaaa", "reason": "lost-commit", "time": "2026-01-01T00:00:00Z"}`
	if _, err := archive.PutBytesIfAbsent(ctx, e.store, "authz/"+g.ID+"/release/9999.json", []byte(release)); err != nil {
		t.Fatal(err)
	}
	err = stampWith(ctx, e.svc, e.sealID, g.ID)
	var ae *seal.AuthzError
	if !errors.As(err, &ae) || ae.Reason != seal.AuthzConsumed || !strings.Contains(ae.Detail, "9999 use slots") {
		t.Fatalf("stamping with every slot taken: %v, want consumed, every slot taken", err)
	}
	if n := countPrefix(t, e.store, "authz/"+g.ID+"/use/"); n != 0 {
		t.Fatalf("%d use markers written", n)
	}
}

// TestConcurrentUsesWithGiveBacks: stampings race for a three-use
// authorization while joint approvals that take one of its uses lose their
// second seal's (one use, shared) and give theirs back. However the race
// goes, at most three stampings commit under the authorization and exactly
// those are its uses, at most one under the shared one, every use given
// back is a released slot, and fixity finds nothing wrong.
func TestConcurrentUsesWithGiveBacks(t *testing.T) {
	ctx := context.Background()
	e := newServiceEnv(t, "items: {}\n")
	other, err := e.svc.Registry.CreateSeal(ctx, seal.CreateSpec{Name: "第二枚章", Policy: seal.PolicyKey})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		main, err := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: e.sealID, CaseNo: "R-1", MaxUses: 3, GrantedBy: "test"})
		if err != nil {
			t.Fatal(err)
		}
		shared, err := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: other.ID, CaseNo: "R-1", GrantedBy: "test"})
		if err != nil {
			t.Fatal(err)
		}
		const n = 8
		errs := make(chan error, n)
		for i := range n {
			req := stampRequest(e.sealID, main.ID)
			if i%2 == 1 {
				req.SealID, req.AuthorizationID = "", ""
				req.Seals = []seal.SealUse{
					{SealID: e.sealID, AuthorizationID: main.ID, Placement: seal.Placement{Page: 1, XMM: 20, YMM: 20}},
					{SealID: other.ID, AuthorizationID: shared.ID, Placement: seal.Placement{Page: 1, XMM: 90, YMM: 20}},
				}
			}
			go func() { _, err := e.svc.Stamp(ctx, req); errs <- err }()
		}
		ok := 0
		for range n {
			err := <-errs
			var ae *seal.AuthzError
			switch {
			case err == nil:
				ok++
			case !errors.As(err, &ae) || ae.Reason != seal.AuthzConsumed:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		st, err := e.svc.Registry.Authorization(ctx, main.ID)
		if err != nil {
			t.Fatal(err)
		}
		ss, err := e.svc.Registry.Authorization(ctx, shared.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ok == 0 || ok > 3 || len(st.Uses) != ok || st.Remaining != 3-ok || len(ss.Uses) > 1 {
			t.Fatalf("round %d: %d stampings committed; the authorization has %d uses, %d left; the shared one %d", round, ok, len(st.Uses), st.Remaining, len(ss.Uses))
		}
		markers := countPrefix(t, e.store, "authz/"+main.ID+"/use/")
		released := countPrefix(t, e.store, "authz/"+main.ID+"/release/")
		if markers != ok+released {
			t.Fatalf("round %d: %d markers, %d released, %d uses", round, markers, released, ok)
		}
		t.Logf("round %d: %d committed, %d given back", round, ok, released)
	}
	if err := e.svc.FlushPending(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countPrefix(t, e.store, "pending/"); n != 0 {
		t.Fatalf("%d pending entries left", n)
	}
	if rep, err := e.svc.Fixity(ctx, nil); err != nil || !rep.OK() {
		t.Fatalf("fixity: %v %+v", err, rep)
	}
}

// TestForgedReleaseGivesNothingBack: a release put around the service (a
// new key, which no lock stops) beside a committed use frees nothing: the
// authorization stays used, its document served, and fixity reports the
// release.
func TestForgedReleaseGivesNothingBack(t *testing.T) {
	ctx := context.Background()
	e := newServiceEnv(t, "items: {}\n")
	a, err := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: e.sealID, CaseNo: "FR-1", GrantedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	req := seal.StampRequest{SealID: e.sealID, AuthorizationID: a.ID, Placement: seal.Placement{Page: 1, XMM: 100, YMM: 100},
		Record: seal.RecordInput{Title: "许可决定书", CaseNo: "FR-1"}, PDF: pdftest.Document(pdftest.Options{})}
	d, err := e.svc.Stamp(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := json.Marshal(map[string]any{"authorization_id": a.ID, "n": 1, "document_id": d.DocumentID, "reason": "audit-failed", "time": time.Now().UTC()})
	if _, err := archive.PutBytesIfAbsent(ctx, e.store, "authz/"+a.ID+"/release/0001.json", forged); err != nil {
		t.Fatal(err)
	}
	var ae *seal.AuthzError
	if _, err := e.svc.Stamp(ctx, req); !errors.As(err, &ae) || ae.Reason != seal.AuthzConsumed {
		t.Fatalf("a second stamping beside a forged release: %v, want consumed", err)
	}
	if ok, err := e.svc.Documents().Committed(ctx, d.Record); err != nil || !ok {
		t.Fatalf("the document after a forged release: committed %v, %v", ok, err)
	}
	rep, err := e.svc.Fixity(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantProblem(t, rep, archive.FixityUnexpectedObject, "authz/"+a.ID+"/release/0001.json")
}
