package seal_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"eseal/archive"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// TestJointApprovalThenLaterSeal is 联合审批: three departments' seals on one
// licence in one request, each under its own authorization; then, a month
// later (clock injected), a fourth seal added to the archived document as a
// new revision. All four verify; every revision is kept.
func TestJointApprovalThenLaterSeal(t *testing.T) {
	e := newServiceEnv(t, "items: {}\n")
	ctx := context.Background()
	sealIDs := []string{e.sealID}
	for _, name := range []string{"测试市市场监督管理局", "测试市卫生健康委员会", "测试市消防救援支队"} {
		s, err := e.svc.Registry.CreateSeal(ctx, seal.CreateSpec{Name: name, Policy: seal.PolicyKey})
		if err != nil {
			t.Fatal(err)
		}
		sealIDs = append(sealIDs, s.ID)
	}
	grant := func(sealID string) string {
		a, err := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: sealID, CaseNo: "LH-1", GrantedBy: "负责人"})
		if err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	var uses []seal.SealUse
	for i, id := range sealIDs[:3] {
		uses = append(uses, seal.SealUse{SealID: id, AuthorizationID: grant(id),
			Placement: seal.Placement{Page: 1, XMM: 20 + float64(i)*60, YMM: 180}})
	}
	in := pdftest.Document(pdftest.Options{Title: "联合审批许可证"})
	iss, err := e.svc.Stamp(ctx, seal.StampRequest{Seals: uses, PDF: in, Record: seal.RecordInput{Title: "联合审批许可证", CaseNo: "LH-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(iss.Record.Signatures) != 3 || iss.Record.Revision != 1 {
		t.Fatalf("record: %d signatures, revision %d", len(iss.Record.Signatures), iss.Record.Revision)
	}

	e.clock.Advance(30 * 24 * time.Hour)
	late := grant(sealIDs[3])
	iss2, err := e.svc.Stamp(ctx, seal.StampRequest{BaseDocumentID: iss.DocumentID,
		SealID: sealIDs[3], AuthorizationID: late, Placement: seal.Placement{Page: 1, XMM: 80, YMM: 230}})
	if err != nil {
		t.Fatal(err)
	}
	r2 := iss2.Record
	if r2.Revision != 2 || r2.Previous != iss.DocumentID || len(r2.Signatures) != 4 {
		t.Fatalf("later seal record: revision %d, previous %s, %d signatures", r2.Revision, r2.Previous, len(r2.Signatures))
	}
	first, _, _ := archive.GetBytes(ctx, e.store, archive.DocumentKey(iss.DocumentID))
	second, _, _ := archive.GetBytes(ctx, e.store, archive.DocumentKey(iss2.DocumentID))
	if !bytes.HasPrefix(second, first) || !bytes.HasPrefix(first, in) {
		t.Fatal("a revision is not a prefix of the next")
	}
	ts, err := e.svc.Registry.TrustStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v := &seal.Verifier{Trust: ts, Registry: e.svc.Registry, Now: e.clock.Now}
	rep, err := v.VerifyPDF(ctx, bytes.NewReader(second), int64(len(second)))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != seal.Valid || len(rep.Signatures) != 4 {
		t.Fatalf("%s with %d signatures", rep.Verdict, len(rep.Signatures))
	}
	for _, s := range rep.Signatures {
		if s.Verdict != seal.Valid {
			t.Fatalf("%s: %s %v", s.Field, s.Verdict, s.Reasons)
		}
	}
	// The first revision is still there, unchanged and locked.
	if info, err := e.store.Head(ctx, archive.DocumentKey(iss.DocumentID)); err != nil || info.RetainUntil.IsZero() {
		t.Fatalf("first revision: %v %+v", err, info)
	}
}

// TestMultiSealCommitIsAllOrNothing: when one of a request's authorizations
// is already used, the others are not consumed and nothing is stored.
func TestMultiSealCommitIsAllOrNothing(t *testing.T) {
	e := newServiceEnv(t, "items: {}\n")
	ctx := context.Background()
	other, err := e.svc.Registry.CreateSeal(ctx, seal.CreateSpec{Name: "第二枚章", Policy: seal.PolicyKey})
	if err != nil {
		t.Fatal(err)
	}
	a1, _ := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: e.sealID, CaseNo: "AN-1"})
	a2, _ := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: other.ID, CaseNo: "AN-1"})
	in := pdftest.Document(pdftest.Options{})
	rec := seal.RecordInput{Title: "全有或全无", CaseNo: "AN-1"}
	// Use the second authorization alone first.
	if _, err := e.svc.Stamp(ctx, seal.StampRequest{SealID: other.ID, AuthorizationID: a2.ID, Placement: seal.Placement{Page: 1, XMM: 20, YMM: 20}, PDF: in, Record: rec}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.FlushPending(ctx); err != nil { // the earlier stamping's staging goes first
		t.Fatal(err)
	}
	before := countObjects(t, e.store)
	_, err = e.svc.Stamp(ctx, seal.StampRequest{PDF: in, Record: rec, Seals: []seal.SealUse{
		{SealID: e.sealID, AuthorizationID: a1.ID, Placement: seal.Placement{Page: 1, XMM: 20, YMM: 20}},
		{SealID: other.ID, AuthorizationID: a2.ID, Placement: seal.Placement{Page: 1, XMM: 90, YMM: 20}},
	}})
	var ae *seal.AuthzError
	if !errors.As(err, &ae) || ae.Reason != seal.AuthzConsumed {
		t.Fatalf("joint stamping with a used authorization: %v", err)
	}
	st, _ := e.svc.Registry.Authorization(ctx, a1.ID)
	if st.Remaining != 1 {
		t.Fatalf("the first authorization was consumed: %+v", st.Uses)
	}
	if after := countObjects(t, e.store); after != before {
		t.Fatalf("a refused joint stamping changed the store: %d → %d", before, after)
	}

	// The race: two joint requests share an authorization; both pass the
	// checks, one commits, the loser gives back the use it already took.
	for round := 0; round < 5; round++ {
		x, _ := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: e.sealID, CaseNo: "AN-1"})
		y, _ := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: e.sealID, CaseNo: "AN-1"})
		shared, _ := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: other.ID, CaseNo: "AN-1"})
		errs := make(chan error, 2)
		for _, first := range []string{x.ID, y.ID} {
			go func(first string) {
				_, err := e.svc.Stamp(ctx, seal.StampRequest{PDF: in, Record: rec, Seals: []seal.SealUse{
					{SealID: e.sealID, AuthorizationID: first, Placement: seal.Placement{Page: 1, XMM: 20, YMM: 20}},
					{SealID: other.ID, AuthorizationID: shared.ID, Placement: seal.Placement{Page: 1, XMM: 90, YMM: 20}},
				}})
				errs <- err
			}(first)
		}
		ok := 0
		for i := 0; i < 2; i++ {
			if err := <-errs; err == nil {
				ok++
			} else if !errors.As(err, &ae) || ae.Reason != seal.AuthzConsumed {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		sx, _ := e.svc.Registry.Authorization(ctx, x.ID)
		sy, _ := e.svc.Registry.Authorization(ctx, y.ID)
		ss, _ := e.svc.Registry.Authorization(ctx, shared.ID)
		if ok != 1 || len(ss.Uses) != 1 || len(sx.Uses)+len(sy.Uses) != 1 {
			t.Fatalf("round %d: %d committed; uses x=%d y=%d shared=%d", round, ok, len(sx.Uses), len(sy.Uses), len(ss.Uses))
		}
	}
	if err := e.svc.FlushPending(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countPrefix(t, e.store, "pending/"); n != 0 {
		t.Fatalf("%d pending entries left", n)
	}
}

func countPrefix(t *testing.T, s archive.Store, prefix string) int {
	n := 0
	if err := s.List(context.Background(), prefix, func(archive.ObjectInfo) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func countObjects(t *testing.T, s archive.Store) int {
	n := 0
	if err := s.List(context.Background(), "", func(o archive.ObjectInfo) error {
		if o.Key[:6] != "audit/" {
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}
