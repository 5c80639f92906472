package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"eseal/archive/transfer"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// transferCLI runs eseal in-process on the data directory dir.
func transferCLI(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	return esealCLI(append([]string{"--dir", dir}, args...)...)
}

func TestTransferCLI(t *testing.T) {
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
	az, err := svc.Registry.Grant(ctx, seal.GrantRequest{SealID: sl.ID, CaseNo: "CLI-1", MaxUses: 12, GrantedBy: "负责人"})
	if err != nil {
		t.Fatal(err)
	}
	in := pdftest.Document(pdftest.Options{})
	for i := 0; i < 12; i++ {
		if _, err := svc.Stamp(ctx, seal.StampRequest{SealID: sl.ID, AuthorizationID: az.ID, Placement: seal.Placement{Page: 1, XMM: 100, YMM: 150},
			Record: seal.RecordInput{Title: fmt.Sprintf("决定书 %d", i+1), CaseNo: "CLI-1", Retention: "30y"}, PDF: in}); err != nil {
			t.Fatal(err)
		}
	}
	pkg := filepath.Join(dir, "pkg.zip")
	out, code := transferCLI(t, dir, "archive", "transfer", "--case-no", "CLI-1", "--retention", "30y", "--fonds", "Z001", "--out", pkg, "--json")
	if code != 0 {
		t.Fatalf("transfer: exit %d\n%s", code, out)
	}
	var p transfer.Package
	if err := json.Unmarshal([]byte(out), &p); err != nil || p.Items != 12 {
		t.Fatalf("transfer output: %v\n%s", err, out)
	}
	if _, code := transferCLI(t, dir, "archive", "transfer", "--fonds", "Z001", "--out", pkg); code == 0 {
		t.Fatal("an existing package was overwritten")
	}
	if out, code := transferCLI(t, dir, "archive", "transfer", "--case-no", "NONE", "--fonds", "Z001", "--out", pkg+"2"); code == 0 {
		t.Fatalf("an empty selection made a package:\n%s", out)
	}

	// Offline check with the organisation's roots only.
	roots := filepath.Join(dir, "roots.pem")
	chain, err := svc.Registry.Chain(ctx, sl.ID)
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.SplitAfter(string(chain), "-----END CERTIFICATE-----\n")
	if err := os.WriteFile(roots, []byte(blocks[1]), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = transferCLI(t, filepath.Join(dir, "nowhere"), "archive", "check", pkg, "--roots", roots)
	if code != 0 || !strings.Contains(out, "PASSED") || !strings.Contains(out, "MANUAL") {
		t.Fatalf("check: exit %d\n%s", code, out)
	}
	// With a scanner that finds nothing (cat: exit 0) the virus check runs,
	// and with the data directory the transfer is found in the audit log:
	// every check item passes but the evidence, an API key's grant here
	// (policy key), which is a warning.
	out, code = transferCLI(t, dir, "archive", "check", pkg, "--scanner", "cat", "--json")
	var rep transfer.CheckReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 {
		t.Fatalf("check --scanner: exit %d, %v\n%s", code, err, out)
	}
	if c := rep.Counts(); c[transfer.Pass] != len(transfer.Items)-1 || rep.Result(transfer.CheckAuthorization) != transfer.Warn {
		t.Fatalf("with scanner and audit log, not every item passes: %v\n%s", c, out)
	}
	// A scanner that reports infection (exit 1) fails the package.
	if out, code := transferCLI(t, dir, "archive", "check", pkg, "--scanner", "false"); code != 1 || !strings.Contains(out, "FAIL") {
		t.Fatalf("infected: exit %d\n%s", code, out)
	}
	// A damaged package exits 1.
	b, _ := os.ReadFile(pkg)
	i := bytes.Index(b, []byte("%PDF-"))
	b[i+500] ^= 1
	bad := filepath.Join(dir, "bad.zip")
	_ = os.WriteFile(bad, b, 0o644)
	if out, code := transferCLI(t, dir, "archive", "check", bad); code != 1 || !strings.Contains(out, "FAILED") {
		t.Fatalf("damaged: exit %d\n%s", code, out)
	}
}
