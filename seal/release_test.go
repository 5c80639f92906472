package seal_test

import (
	"context"
	"encoding/json"
	"errors"
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
