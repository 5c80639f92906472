package seal_test

import (
	"context"
	"testing"
	"time"

	"eseal/archive"
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
