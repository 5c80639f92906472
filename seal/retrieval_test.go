package seal_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"eseal/archive"
	"eseal/archive/lifecycle"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// TestRetrievalCodeNamesItsDocument: a code begins with its unit's hint and
// derives its document's id, for the first unit and for another; it opens
// its document on a replica that never saw the unit before, and no index
// object is written. A code differing in one random character, or another
// unit's hint on the same random part, opens nothing.
func TestRetrievalCodeNamesItsDocument(t *testing.T) {
	ctx := context.Background()
	e := newServiceEnv(t, "items: {}\n")
	first := e.stamp(t, "330000-XK-01")

	unit, err := e.svc.Registry.CreateUnit(ctx, seal.UnitSpec{Name: "测试市市场监督管理局", Code: "TEST-SCJG", Fonds: "Z002", By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.svc.Registry.CreateSeal(ctx, seal.CreateSpec{Name: "测试市市场监督管理局行政审批专用章", Unit: unit.ID, Policy: seal.PolicyKey})
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: s.ID, CaseNo: "U-1", GrantedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.svc.Stamp(ctx, seal.StampRequest{SealID: s.ID, AuthorizationID: a.ID, Unit: unit.ID, Placement: seal.Placement{Page: 1, XMM: 100, YMM: 100},
		Record: seal.RecordInput{Title: "食品经营许可证", CaseNo: "U-1"}, PDF: pdftest.Document(pdftest.Options{})})
	if err != nil {
		t.Fatal(err)
	}

	fresh := replica(t, e, e.store, e.clock, "node-2")
	for _, c := range []struct {
		d   *seal.Stamped
		tag string
	}{{first, ""}, {other, unit.Tag()}} {
		n := lifecycle.NormalizeCode(c.d.RetrievalCode)
		if !strings.HasPrefix(n, lifecycle.UnitHint(c.tag)) || c.d.DocumentID != lifecycle.DocumentIDFor(c.tag, n) {
			t.Errorf("code %s, document %s: want the hint of unit %q and the id it derives", c.d.RetrievalCode, c.d.DocumentID, c.tag)
		}
		for _, svc := range []*seal.Service{e.svc, fresh} {
			if rec, err := svc.Documents().ByRetrievalCode(ctx, c.d.RetrievalCode); err != nil || rec.DocumentID != c.d.DocumentID {
				t.Errorf("code %s: %v %+v, want %s", c.d.RetrievalCode, err, rec, c.d.DocumentID)
			}
		}
		flip := []byte(n)
		flip[len(flip)-1] ^= 'A' ^ 'B'
		if flip[len(flip)-1] == n[len(n)-1] {
			flip[len(flip)-1] = 'C'
		}
		if rec, err := e.svc.Documents().ByRetrievalCode(ctx, string(flip)); !errors.Is(err, archive.ErrNotFound) {
			t.Errorf("a code one character off: %v %+v, want not found", err, rec)
		}
	}
	swapped := lifecycle.UnitHint(unit.Tag()) + lifecycle.NormalizeCode(first.RetrievalCode)[lifecycle.UnitHintLen:]
	if rec, err := e.svc.Documents().ByRetrievalCode(ctx, swapped); !errors.Is(err, archive.ErrNotFound) {
		t.Errorf("the first unit's code under the other unit's hint: %v %+v, want not found", err, rec)
	}
	if n := countPrefix(t, e.store, "codes/"); n != 0 {
		t.Errorf("%d code index objects written", n)
	}
}
