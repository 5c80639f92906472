package seal_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/fs"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// TestRetentionScheduleDecides: the schedule's class for the item code, or
// its default (permanent, the longest) for an unlisted or missing code; a
// request may lengthen, never shorten. The stored objects are locked for
// the class the record names.
func TestRetentionScheduleDecides(t *testing.T) {
	e := newServiceEnv(t, "items:\n  ITEM-10: 10y\n  ITEM-30: 30y\n  ITEM-P: permanent\n")
	ctx := context.Background()
	for _, tc := range []struct {
		item, asked string
		want        archive.RetentionClass
	}{
		{"", "10y", archive.Permanent}, // no item code: the default, not the request
		{"", "", archive.Permanent},
		{"UNLISTED", "10y", archive.Permanent},
		{"ITEM-10", "", archive.Years10},
		{"ITEM-10", "30y", archive.Years30}, // lengthened
		{"ITEM-30", "10y", archive.Years30}, // not shortened
		{"ITEM-P", "10y", archive.Permanent},
	} {
		a, err := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: e.sealID, CaseNo: "R-1", GrantedBy: "test"})
		if err != nil {
			t.Fatal(err)
		}
		st, err := e.svc.Stamp(ctx, seal.StampRequest{SealID: e.sealID, AuthorizationID: a.ID,
			Placement: seal.Placement{Page: 1, XMM: 100, YMM: 100},
			Record:    seal.RecordInput{Title: "许可决定", ItemCode: tc.item, CaseNo: "R-1", Retention: tc.asked},
			PDF:       pdftest.Document(pdftest.Options{})})
		if err != nil {
			t.Fatalf("item %q asking %q: %v", tc.item, tc.asked, err)
		}
		if st.Record.Retention != tc.want {
			t.Errorf("item %q asking %q: archived %s, want %s", tc.item, tc.asked, st.Record.Retention, tc.want)
		}
		info, err := e.store.Head(ctx, archive.DocumentKey(st.DocumentID))
		if err != nil {
			t.Fatal(err)
		}
		if want := tc.want.Until(st.Record.Date); info.RetainUntil.Before(want.Add(-time.Second)) {
			t.Errorf("item %q asking %q: PDF locked until %v, want %v", tc.item, tc.asked, info.RetainUntil, want)
		}
	}
}

// pastRetention is a view of a filesystem store from beyond every
// retention, where locked objects can be deleted: it stands in for a crash
// that came before they were written.
func pastRetention(t *testing.T, s archive.Store) archive.Store {
	t.Helper()
	past, err := fs.New(s.(*fs.Store).Root(), fs.Options{Now: func() time.Time { return time.Now().AddDate(101, 0, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	return past
}

// TestMeaningfulObjectsLocked: the objects whose loss would change what the
// log and the records mean are retention-locked once written or committed —
// a person, an approval's decision, grant and evidence, a key grant, a use
// marker (as long as its document), a revocation and its closing marker —
// so the store refuses to delete any of them.
func TestMeaningfulObjectsLocked(t *testing.T) {
	ctx := context.Background()
	f, sealID, pc, personID := personFixture(t)
	rq, err := f.reg.RequestAuthorization(ctx, seal.RequestSpec{SealID: sealID, CaseNo: "L-1", Title: "许可", ExpiresIn: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.Approve(ctx, rq.RequestID, personID, pc.sign(t, rq.Challenge)); err != nil {
		t.Fatal(err)
	}
	wantLocked(t, f.store, "persons/"+personID+"/", "requests/"+rq.RequestID+"/decision.json", "authz/"+rq.AuthorizationID+"/")

	e := newServiceEnv(t, "items: {}\n")
	a, err := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: e.sealID, CaseNo: "L-2", MaxUses: 3, GrantedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.svc.Stamp(ctx, seal.StampRequest{SealID: e.sealID, AuthorizationID: a.ID,
		Placement: seal.Placement{Page: 1, XMM: 100, YMM: 100},
		Record:    seal.RecordInput{Title: "许可决定", CaseNo: "L-2"}, PDF: pdftest.Document(pdftest.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Registry.RevokeAuthorization(ctx, a.ID, "撤回", "负责人"); err != nil {
		t.Fatal(err)
	}
	keys := wantLocked(t, e.store, "authz/"+a.ID+"/")
	if len(keys) != 4 { // grant, revoked, the stamping's use, the closing marker
		t.Errorf("authorization objects: %v; want grant, revocation, use and closing marker", keys)
	}
	use, err := e.store.Head(ctx, "authz/"+a.ID+"/use/0001.json")
	if err != nil || !use.RetainUntil.Equal(st.Record.RetainUntil) {
		t.Errorf("use marker retained until %v (%v), want the document's %v", use.RetainUntil, err, st.Record.RetainUntil)
	}
}

// wantLocked checks that every object under each prefix (or the key itself)
// is retained and cannot be deleted; it returns the keys it checked.
func wantLocked(t *testing.T, s archive.Store, prefixes ...string) []string {
	t.Helper()
	ctx := context.Background()
	var keys []string
	for _, p := range prefixes {
		n := 0
		if err := s.List(ctx, p, func(o archive.ObjectInfo) error {
			n++
			keys = append(keys, o.Key)
			return nil
		}); err != nil || n == 0 {
			t.Fatalf("list %s: %d objects, %v", p, n, err)
		}
	}
	for _, k := range keys {
		var le *archive.LockedError
		if err := s.Delete(ctx, k); !errors.As(err, &le) {
			t.Errorf("delete %s: err = %v, want *archive.LockedError", k, err)
		}
	}
	return keys
}
