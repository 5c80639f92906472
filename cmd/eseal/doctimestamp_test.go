package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"eseal/keys"
	"eseal/keys/cms"
	"eseal/keys/tsa"
	"eseal/pdf"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// TestDocTimestampCLI: `eseal ltv --archive-timestamp` after `stamp
// --timestamp` (B-LTA), then a second document timestamp added by another
// system — PDFBox writing the revision, Bouncy Castle as the TSA (SHA-256
// imprint, SM2 signature). eseal verify reports and checks both; qpdf and
// pdfsig read the file; one bit changed in the foreign token is INVALID.
func TestDocTimestampCLI(t *testing.T) {
	ts := needTools(t, "javac", "java", "qpdf", "pdfsig")
	cp := pdfboxClasspath(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if out, code := esealCLI("init", "--dir", data, "--org", "测试市行政审批服务局"); code != 0 {
		t.Fatalf("init: %s", out)
	}
	ctx := context.Background()
	reg, _, err := (&globals{dir: data}).openRegistry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sl, err := reg.CreateSeal(ctx, seal.CreateSpec{Name: "行政审批专用章", Type: seal.TypeApproval})
	if err != nil {
		t.Fatal(err)
	}
	in, stamped, lta, foreign := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "stamped.pdf"), filepath.Join(dir, "lta.pdf"), filepath.Join(dir, "foreign-ts.pdf")
	if err := os.WriteFile(in, pdftest.Document(pdftest.Options{}), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := esealCLI("stamp", "--dir", data, "--seal", sl.ID, "--in", in, "--out", stamped, "--timestamp"); code != 0 {
		t.Fatalf("stamp: %s", out)
	}
	if out, code := esealCLI("ltv", "--dir", data, "--in", stamped, "--out", lta, "--archive-timestamp"); code != 0 {
		t.Fatalf("ltv --archive-timestamp: %s", out)
	}
	for _, args := range [][]string{
		{"--in", stamped, "--out", filepath.Join(dir, "x.pdf"), "--tsa", "http://127.0.0.1:1/"}, // --tsa without --archive-timestamp
		{"--in", in, "--out", filepath.Join(dir, "x.pdf"), "--archive-timestamp"},               // nothing of ours signed it
		{"--in", stamped, "--out", stamped, "--archive-timestamp"},                              // rewriting in place
		{"--in", stamped, "--out", lta, "--archive-timestamp"},                                  // the output exists
		{"--in", filepath.Join(dir, "missing.pdf"), "--out", filepath.Join(dir, "x.pdf")},
	} {
		before, _ := os.ReadFile(stamped)
		if out, code := esealCLI(append([]string{"ltv", "--dir", data}, args...)...); code == 0 {
			t.Errorf("ltv %v accepted: %s", args, out)
		}
		if _, err := os.Stat(filepath.Join(dir, "x.pdf")); err == nil {
			t.Errorf("ltv %v wrote an output", args)
		}
		if after, _ := os.ReadFile(stamped); !bytes.Equal(before, after) {
			t.Errorf("ltv %v changed its input", args)
		}
	}

	src, err := filepath.Abs(filepath.Join("testdata", "bc", "PdfBoxDocTimeStamp.java"))
	if err != nil {
		t.Fatal(err)
	}
	classes := filepath.Join(dir, "classes")
	if r := runProcess(ts["javac"], "-nowarn", "-cp", cp, "-d", classes, src); r.code != 0 {
		t.Fatalf("javac PdfBoxDocTimeStamp.java: %s", r)
	}
	bcRoot := filepath.Join(dir, "bc-root.pem")
	if r := runProcess(ts["java"], "-cp", classes+string(os.PathListSeparator)+cp, "PdfBoxDocTimeStamp", lta, foreign, bcRoot); r.code != 0 || !strings.Contains(r.stdout, "OK") {
		t.Fatalf("PdfBoxDocTimeStamp: %s", r)
	}
	for _, f := range []string{lta, foreign} {
		if msg := qpdfCheck(ts, f); msg != "" {
			t.Error(msg)
		}
	}
	if r := runProcess(ts["pdfsig"], foreign); strings.Count(r.stdout, "\nSignature #") != 3 || strings.Count(r.stdout, "Timestamp1") != 1 {
		t.Errorf("pdfsig does not list the seal and both document timestamps: %s", r)
	}

	// Trust: the organisation's root and the outside TSA's.
	bcPEM, err := os.ReadFile(bcRoot)
	if err != nil {
		t.Fatal(err)
	}
	roots := filepath.Join(dir, "roots.pem")
	if err := os.WriteFile(roots, append(keys.EncodeCertificatesPEM(reg.Roots()...), bcPEM...), 0o644); err != nil {
		t.Fatal(err)
	}
	verify := func(file string) (int, seal.Report) {
		t.Helper()
		out, code := esealCLI("verify", "--roots", roots, "--json", file)
		var rep seal.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("verify %s: %v\n%s", filepath.Base(file), err, out)
		}
		return code, rep
	}
	code, rep := verify(foreign)
	if code != 0 || rep.Verdict != seal.Valid || len(rep.Signatures) != 3 {
		t.Fatalf("exit %d %s, %d signatures: %v", code, rep.Verdict, len(rep.Signatures), rep.Reasons)
	}
	for i, want := range []string{"page", seal.KindDocTimestamp, seal.KindDocTimestamp} {
		if s := rep.Signatures[i]; s.Kind != want || s.Verdict != seal.Valid {
			t.Errorf("signature %d (%s): kind %q %s %v", i, s.Field, s.Kind, s.Verdict, s.Reasons)
		}
	}
	var detail string
	for _, c := range rep.Signatures[2].Checks {
		detail += c.Detail + "; "
	}
	if !strings.Contains(detail, "SHA-256") || !strings.Contains(detail, "Bouncy Castle test TSA") {
		t.Errorf("the outside document timestamp's checks do not say what they checked: %s", detail)
	}
	if out, _ := esealCLI("verify", "--roots", roots, foreign); !strings.Contains(out, "document timestamp") {
		t.Errorf("the text report does not name the document timestamps:\n%s", out)
	}

	// One bit of the outside token's TSTInfo changed.
	b, err := os.ReadFile(foreign)
	if err != nil {
		t.Fatal(err)
	}
	d, err := pdf.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	sigs, _ := d.Signatures()
	sd, err := cms.Parse(sigs[len(sigs)-1].Contents)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tsa.ParseToken(sd.Raw)
	if err != nil {
		t.Fatal(err)
	}
	info := []byte(hex.EncodeToString(tok.RawInfo))
	i := bytes.Index(b, info)
	if i < 0 {
		info = []byte(strings.ToUpper(string(info)))
		i = bytes.Index(b, info)
	}
	if i < 0 {
		t.Fatal("TSTInfo not found in /Contents")
	}
	i += len(info) - 5
	const digits = "0123456789abcdef"
	b[i] = digits[strings.IndexByte(digits, b[i]|0x20)^1]
	broken := filepath.Join(dir, "broken.pdf")
	if err := os.WriteFile(broken, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, rep = verify(broken)
	if code != 1 || rep.Verdict != seal.Invalid || rep.Signatures[2].Verdict != seal.Invalid || rep.Signatures[0].Verdict != seal.Valid {
		t.Errorf("changed outside token: exit %d %s %v", code, rep.Verdict, rep.Reasons)
	}
}
