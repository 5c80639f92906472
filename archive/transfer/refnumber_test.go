package transfer_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/fs"
	"eseal/archive/transfer"
	"eseal/keys"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// TestTransfersCarryKeptNumbers: records numbered when archived (the
// organisation has a fonds code) keep their 档号 from one transfer to the
// next: a package of the whole series and a later one of its last records
// give those records the same codes, and the partial package passes its
// check (its numbers run on without gap). --fonds overrides only the fonds.
func TestTransfersCarryKeptNumbers(t *testing.T) {
	ctx := context.Background()
	store, err := fs.New(t.TempDir(), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	kek, _, err := keys.NewKEK()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := seal.InitOrg(ctx, store, kek, "测试市行政审批服务局", seal.Options{Fonds: "Z001"})
	if err != nil {
		t.Fatal(err)
	}
	sl, err := reg.CreateSeal(ctx, seal.CreateSpec{Name: "行政审批专用章", Type: seal.TypeApproval, Policy: seal.PolicyKey})
	if err != nil {
		t.Fatal(err)
	}
	svc := &seal.Service{Registry: reg, Store: store, Schedule: &archive.Schedule{}, Application: "eseal-test"}
	az, err := reg.Grant(ctx, seal.GrantRequest{SealID: sl.ID, CaseNo: "K-1", MaxUses: 6, GrantedBy: "负责人"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		if _, err := svc.Stamp(ctx, seal.StampRequest{SealID: sl.ID, AuthorizationID: az.ID, Placement: seal.Placement{Page: 1, XMM: 120, YMM: 200},
			Record: seal.RecordInput{Title: fmt.Sprintf("决定书%d", i+1), ItemCode: "330000-XK-0001", CaseNo: "K-1"},
			PDF:    pdftest.Document(pdftest.Options{})}); err != nil {
			t.Fatal(err)
		}
	}
	signer, err := orgSigner(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := reg.TrustStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: store, reg: reg, svc: svc, kek: kek, signer: signer, ts: ts}
	recs, err := transfer.Select(ctx, svc.Documents(), transfer.Filter{Year: time.Now().In(transfer.China).Year()})
	if err != nil || len(recs) != 6 {
		t.Fatalf("select: %d records, %v", len(recs), err)
	}
	write := func(recs []archive.Record, fonds string) (*transfer.Package, []byte) {
		t.Helper()
		opts := e.writeOptions()
		opts.Rule.Fonds = fonds
		var buf bytes.Buffer
		pkg, err := transfer.Write(ctx, &buf, recs, opts)
		if err != nil {
			t.Fatal(err)
		}
		return pkg, buf.Bytes()
	}
	series := "Z001-" + fmt.Sprint(time.Now().In(transfer.China).Year()) + "-Y-330000XK0001-"
	all, _ := write(recs, "Z001")
	if all.First != series+"0001" || all.Last != series+"0006" {
		t.Fatalf("whole series: %s … %s", all.First, all.Last)
	}
	part, b := write(recs[3:], "Z001")
	if part.First != series+"0004" || part.Last != series+"0006" {
		t.Fatalf("a later transfer of the last three: %s … %s, want the kept 0004 … 0006", part.First, part.Last)
	}
	if rep := e.check(t, b); !rep.OK() {
		t.Fatalf("the partial package fails its check:\n%s", dump(rep))
	}
	over, _ := write(recs[3:], "Z009")
	if over.First != "Z009"+series[4:]+"0004" {
		t.Fatalf("--fonds Z009: %s", over.First)
	}
}
