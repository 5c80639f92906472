package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"eseal/archive"
	"eseal/archive/lifecycle"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// TestLegalHoldAndDisposalCLI drives `eseal archive hold|release|due|dispose`
// on a data directory: a hold is kept and released, a held (and permanent)
// document is neither due nor destroyed, and every bad request exits
// non-zero with a clear message and changes nothing.
func TestLegalHoldAndDisposalCLI(t *testing.T) {
	dir := t.TempDir()
	if out, code := esealCLI("init", "--dir", dir, "--org", "测试市行政审批服务局"); code != 0 {
		t.Fatalf("init: exit %d\n%s", code, out)
	}
	ctx := context.Background()
	g := &globals{dir: dir}
	svc, err := g.openService(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sl, err := svc.Registry.CreateSeal(ctx, seal.CreateSpec{Name: "行政审批专用章", Type: seal.TypeApproval, Policy: seal.PolicyKey})
	if err != nil {
		t.Fatal(err)
	}
	az, err := svc.Registry.Grant(ctx, seal.GrantRequest{SealID: sl.ID, CaseNo: "H-1", GrantedBy: "负责人"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := svc.Stamp(ctx, seal.StampRequest{SealID: sl.ID, AuthorizationID: az.ID, Placement: seal.Placement{Page: 1, XMM: 100, YMM: 150},
		Record: seal.RecordInput{Title: "决定书", CaseNo: "H-1"}, PDF: pdftest.Document(pdftest.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) (string, int) { return transferCLI(t, dir, args...) }

	out, code := cli("archive", "hold", d.DocumentID, "--reason", "诉讼保全", "--json")
	var ev lifecycle.HoldEvent
	if err := json.Unmarshal([]byte(out), &ev); code != 0 || err != nil || !ev.On || ev.Reason != "诉讼保全" || ev.By != "cli" {
		t.Fatalf("hold: exit %d, %v\n%s", code, err, out)
	}
	if info, err := svc.Store.Head(ctx, archive.DocumentKey(d.DocumentID)); err != nil || !info.LegalHold {
		t.Fatalf("not held: %v %+v", err, info)
	}
	if out, code := cli("archive", "due", "--json"); code != 0 || strings.TrimSpace(out) != "null" {
		t.Fatalf("due: exit %d\n%s", code, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"archive", "hold", d.DocumentID}, "reason"},
		{[]string{"archive", "hold", d.DocumentID, "--reason", "  "}, "reason"},
		{[]string{"archive", "hold", "doc-aaaaaaaaaaaaaaaa", "--reason", "诉讼"}, "not found"},
		{[]string{"archive", "hold", "../authz", "--reason", "诉讼"}, "not found"},
		{[]string{"archive", "dispose", d.DocumentID, "--approval", "销审-1", "--witness", "张三"}, "two --witness"},
		{[]string{"archive", "dispose", d.DocumentID, "--approval", "销审-1", "--witness", "张三", "--witness", "张三"}, "different people"},
		{[]string{"archive", "dispose", d.DocumentID, "--approval", "销审 1", "--witness", "张三", "--witness", "李四"}, "approval"},
		{[]string{"archive", "dispose", d.DocumentID, "--approval", "销审-1", "--witness", "张三", "--witness", "李四"}, "cannot be destroyed"},
	} {
		if out, code := cli(c.args...); code == 0 || !strings.Contains(out, c.want) {
			t.Errorf("%v: exit %d, want an error about %q\n%s", c.args, code, c.want, out)
		}
	}
	if out, code := cli("archive", "release", d.DocumentID, "--reason", "诉讼结束"); code != 0 || !strings.Contains(out, "legal hold false") {
		t.Fatalf("release: exit %d\n%s", code, out)
	}
	if info, err := svc.Store.Head(ctx, archive.DocumentKey(d.DocumentID)); err != nil || info.LegalHold {
		t.Fatalf("still held: %v %+v", err, info)
	}
	if _, err := svc.Documents().CommittedRecord(ctx, d.DocumentID); err != nil {
		t.Fatalf("the document after the refused disposals: %v", err)
	}
}
