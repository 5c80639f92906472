package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/transfer"
	"eseal/keys"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// TestEvidenceCLI: documents stamped under a responsible person's SM2
// approval go into a transfer package with the evidence, which `eseal
// archive check` verifies offline; one flipped byte of the evidence in the
// package, or of the stored grant, is reported by `archive check` and by
// `archive fixity`, naming the item, the authorization and the document.
func TestEvidenceCLI(t *testing.T) {
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
	sl, err := svc.Registry.CreateSeal(ctx, seal.CreateSpec{Name: "行政审批专用章", Type: seal.TypeApproval})
	if err != nil {
		t.Fatal(err)
	}
	key, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := keys.SelfSignedPersonCertificate("王五", key, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Registry.EnrolPerson(ctx, seal.PersonSpec{SealID: sl.ID, Name: "王五", CertPEM: keys.EncodeCertificatesPEM(cert), By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	rq, err := svc.Registry.RequestAuthorization(ctx, seal.RequestSpec{SealID: sl.ID, CaseNo: "EV-1", Title: "许可决定", ExpiresIn: time.Hour, MaxUses: 2, By: "审批系统"})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := keys.SignSM2(key, rq.Challenge)
	if err != nil {
		t.Fatal(err)
	}
	az, err := svc.Registry.Approve(ctx, rq.RequestID, p.ID, sig)
	if err != nil {
		t.Fatal(err)
	}
	var docs []string
	for i := 0; i < 2; i++ {
		st, err := svc.Stamp(ctx, seal.StampRequest{SealID: sl.ID, AuthorizationID: az.ID, Placement: seal.Placement{Page: 1, XMM: 100, YMM: 150},
			Record: seal.RecordInput{Title: "决定书", CaseNo: "EV-1", Retention: "30y"}, PDF: pdftest.Document(pdftest.Options{})})
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, st.DocumentID)
	}
	pkg := filepath.Join(dir, "pkg.zip")
	if out, code := transferCLI(t, dir, "archive", "transfer", "--case-no", "EV-1", "--fonds", "Z001", "--out", pkg); code != 0 {
		t.Fatalf("transfer: exit %d\n%s", code, out)
	}
	// Offline: no data directory, no roots; the evidence still checks.
	out, code := transferCLI(t, filepath.Join(dir, "nowhere"), "archive", "check", pkg, "--json")
	var rep transfer.CheckReport
	if err := json.Unmarshal([]byte(jsonPart(out)), &rep); err != nil || code != 0 {
		t.Fatalf("check: exit %d, %v\n%s", code, err, out)
	}
	if got := rep.Result(transfer.CheckAuthorization); got != transfer.Pass {
		t.Fatalf("%s offline: %s, want pass\n%s", transfer.CheckAuthorization, got, out)
	}

	// One byte of one item's grant.bin flipped in the package.
	b, err := os.ReadFile(pkg)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var flipped string
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/evidence/"+az.ID+"/grant.bin") {
			off, err := f.DataOffset()
			if err != nil {
				t.Fatal(err)
			}
			b[off+int64(f.UncompressedSize64)-3] ^= 1
			_, flipped, _ = strings.Cut(f.Name, "/")
			break
		}
	}
	if flipped == "" {
		t.Fatal("no evidence in the package")
	}
	bad := filepath.Join(dir, "bad.zip")
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = transferCLI(t, filepath.Join(dir, "nowhere"), "archive", "check", bad, "--json")
	rep = transfer.CheckReport{}
	if err := json.Unmarshal([]byte(jsonPart(out)), &rep); err != nil || code != 1 {
		t.Fatalf("damaged evidence: exit %d, %v\n%s", code, err, out)
	}
	item := strings.Split(flipped, "/")[1]
	var named bool
	for _, r := range rep.Findings(transfer.CheckAuthorization) {
		if r.Result == transfer.Fail && r.DocRef == flipped && strings.Contains(r.Detail, item) {
			named = true
		}
	}
	if !named {
		t.Fatalf("no evidence fail row naming %s:\n%s", flipped, out)
	}

	// Fixity: clean, then one byte of the stored grant flipped.
	if out, code := transferCLI(t, dir, "archive", "fixity"); code != 0 {
		t.Fatalf("fixity on a clean archive: exit %d\n%s", code, out)
	}
	var victim string
	_ = filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && fi.Name() == "grant.bin" && strings.Contains(path, az.ID) && strings.Contains(path, "evidence") {
			victim = path
		}
		return nil
	})
	if victim == "" {
		t.Fatal("no stored grant.bin")
	}
	_ = os.Chmod(victim, 0o644)
	gb, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	gb[len(gb)-3] ^= 1
	if err := os.WriteFile(victim, gb, 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = transferCLI(t, dir, "archive", "fixity")
	if code != 1 {
		t.Fatalf("fixity after a flipped grant byte: exit %d\n%s", code, out)
	}
	for _, d := range docs {
		if !strings.Contains(out, "FAIL "+d+" authorization "+az.ID) {
			t.Errorf("fixity does not report %s under %s:\n%s", d, az.ID, out)
		}
	}
	out, code = transferCLI(t, dir, "archive", "fixity", "--json")
	var fix archive.FixityReport
	if err := json.Unmarshal([]byte(jsonPart(out)), &fix); code != 1 || err != nil {
		t.Fatalf("fixity --json after a flipped grant byte: exit %d, %v\n%s", code, err, out)
	}
	for _, p := range fix.Problems {
		if p.Kind != archive.FixityEvidenceInvalid || p.AuthorizationID != az.ID || p.Key != "authz/"+az.ID+"/evidence/" {
			t.Errorf("fixity --json problem %+v, want evidence-invalid of %s", p, az.ID)
		}
	}
	if len(fix.Problems) != len(docs) {
		t.Errorf("fixity --json: %d problems, want one per document (%d)", len(fix.Problems), len(docs))
	}
}

// jsonPart drops what the CLI said on standard error before its JSON (the
// in-process runner merges the two).
func jsonPart(out string) string {
	if i := strings.Index(out, "\n{"); i >= 0 && !strings.HasPrefix(out, "{") {
		return out[i+1:]
	}
	return out
}
