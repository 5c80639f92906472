package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm3"

	"eseal/keys/cms"
	"eseal/pdf"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// TestPAdESProfileCLI: `stamp --profile pades --timestamp --ltv` then `ltv
// --archive-timestamp` is PAdES B-LTA. Outside tools agree: qpdf finds the
// file clean, pdfsig lists the signature and the document timestamp,
// Bouncy Castle verifies the CMS and finds signing-certificate-v2 and no
// signingTime, and validates the document timestamp's token over the
// bytes its /ByteRange covers (with the TSA policy as one UUID arc).
func TestPAdESProfileCLI(t *testing.T) {
	ts := needTools(t, "qpdf", "pdfsig", "javac", "java")
	dir := t.TempDir()
	bc := bouncyCastle(t, ts, filepath.Join(dir, "bc"))
	data := filepath.Join(dir, "data")
	if out, code := esealCLI("init", "--dir", data, "--org", "测试市行政审批服务局"); code != 0 {
		t.Fatalf("init: %s", out)
	}
	reg, _, err := (&globals{dir: data}).openRegistry(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sl, err := reg.CreateSeal(context.Background(), seal.CreateSpec{Name: "行政审批专用章", Type: seal.TypeApproval})
	if err != nil {
		t.Fatal(err)
	}
	in, blt, blta := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "b-lt.pdf"), filepath.Join(dir, "b-lta.pdf")
	if err := os.WriteFile(in, pdftest.Document(pdftest.Options{}), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := esealCLI("stamp", "--dir", data, "--seal", sl.ID, "--in", in, "--out", blt, "--profile", "pades", "--timestamp", "--ltv"); code != 0 {
		t.Fatalf("stamp --profile pades: %s", out)
	}
	if out, code := esealCLI("stamp", "--dir", data, "--seal", sl.ID, "--in", in, "--out", filepath.Join(dir, "x.pdf"), "--profile", "cades"); code == 0 || !strings.Contains(out, `profile "cades"`) {
		t.Errorf("unknown profile: exit %d %s", code, out)
	}
	if out, code := esealCLI("ltv", "--dir", data, "--in", blt, "--out", blta, "--archive-timestamp"); code != 0 {
		t.Fatalf("ltv --archive-timestamp: %s", out)
	}
	for _, f := range []string{blt, blta} {
		if msg := qpdfCheck(ts, f); msg != "" {
			t.Error(msg)
		}
	}
	if r := runProcess(ts["pdfsig"], blta); strings.Count(r.stdout, "\nSignature #") != 2 || !strings.Contains(r.stdout, "ETSI.CAdES.detached") {
		t.Errorf("pdfsig: %s", r)
	}
	r := bc(blt)
	if r.code != 0 || !strings.Contains(r.stdout, "OK "+blt+" 1\n") || !strings.Contains(r.stdout, "ATTRS "+blt+" 1 signing-certificate-v2=yes signing-time=no\n") {
		t.Errorf("Bouncy Castle on the PAdES signature: %s", r)
	}

	// The document timestamp's token, checked by Bouncy Castle's TSP
	// classes against the SM3 of the bytes its /ByteRange covers.
	b, err := os.ReadFile(blta)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := pdf.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := doc.Signatures()
	if err != nil || len(sigs) != 2 || sigs[1].SubFilter != pdf.SubFilterRFC3161 {
		t.Fatalf("signatures: %v %+v", err, sigs)
	}
	sd, err := cms.Parse(sigs[1].Contents)
	if err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(dir, "token.der")
	if err := os.WriteFile(token, sd.Raw, 0o644); err != nil {
		t.Fatal(err)
	}
	br := sigs[1].ByteRange
	imprint := sm3.Sum(append(append([]byte{}, b[br[0]:br[0]+br[1]]...), b[br[2]:br[2]+br[3]]...))
	tsp := verifyTSP(t, ts, filepath.Join(dir, "tsp"))
	r = tsp("token", token, hex.EncodeToString(imprint[:]))
	if r.code != 0 || !regexp.MustCompile(`^OK .* policy=2\.25\.64693171627294065741459426975091645977\.1\n?$`).MatchString(r.stdout) {
		t.Errorf("Bouncy Castle on the document timestamp: %s", r)
	}

	out, code := esealCLI("verify", "--dir", data, "--json", blta)
	var rep seal.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	if code != 0 || rep.Verdict != seal.Valid || rep.Signatures[0].Profile != "pades" || rep.Signatures[0].PAdESLevel != seal.PAdESBLTA ||
		rep.Signatures[1].Kind != seal.KindDocTimestamp {
		t.Errorf("verify: exit %d %s, %+v", code, rep.Verdict, rep.Signatures)
	}
	if out, _ := esealCLI("verify", "--dir", data, blta); !strings.Contains(out, "PAdES baseline B-LTA") {
		t.Errorf("the text report does not name the level:\n%s", out)
	}
}

// verifyTSP compiles keys/tsa/testdata/VerifyTSP.java (Bouncy Castle's TSP
// classes) into dir and returns a function that runs it.
func verifyTSP(t testing.TB, ts tools, dir string) func(args ...string) result {
	t.Helper()
	cp := bcClasspath(t)
	src, err := filepath.Abs(filepath.Join("..", "..", "keys", "tsa", "testdata", "VerifyTSP.java"))
	if err != nil {
		t.Fatal(err)
	}
	if r := runProcess(ts["javac"], "-nowarn", "-cp", cp, "-d", dir, src); r.code != 0 {
		t.Fatalf("javac VerifyTSP.java: %s", r)
	}
	classpath := dir + string(os.PathListSeparator) + cp
	return func(args ...string) result {
		return runProcess(ts["java"], append([]string{"-cp", classpath, "VerifyTSP"}, args...)...)
	}
}

// TestSESProfileCLI: `stamp --profile ses --timestamp` puts the
// SES_Signature itself in /Contents; qpdf finds the file clean, pdfsig
// lists the signature, eseal verify says VALID with profile ses and the
// timestamp.
func TestSESProfileCLI(t *testing.T) {
	ts := needTools(t, "qpdf", "pdfsig")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if out, code := esealCLI("init", "--dir", data, "--org", "测试市行政审批服务局"); code != 0 {
		t.Fatalf("init: %s", out)
	}
	reg, _, err := (&globals{dir: data}).openRegistry(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sl, err := reg.CreateSeal(context.Background(), seal.CreateSpec{Name: "行政审批专用章", Type: seal.TypeApproval})
	if err != nil {
		t.Fatal(err)
	}
	in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "ses.pdf")
	if err := os.WriteFile(in, pdftest.Document(pdftest.Options{}), 0o644); err != nil {
		t.Fatal(err)
	}
	if res, code := esealCLI("stamp", "--dir", data, "--seal", sl.ID, "--in", in, "--out", out, "--profile", "ses", "--timestamp", "--require-timestamp"); code != 0 {
		t.Fatalf("stamp --profile ses: %s", res)
	}
	if msg := qpdfCheck(ts, out); msg != "" {
		t.Error(msg)
	}
	if r := runProcess(ts["pdfsig"], out); strings.Count(r.stdout, "\nSignature #") != 1 {
		t.Errorf("pdfsig: %s", r)
	}
	res, code := esealCLI("verify", "--dir", data, "--json", out)
	var rep seal.Report
	if err := json.Unmarshal([]byte(res), &rep); err != nil {
		t.Fatalf("verify: %v\n%s", err, res)
	}
	if s := rep.Signatures[0]; code != 0 || rep.Verdict != seal.Valid || s.Profile != "ses" || s.SubFilter != pdf.SubFilterGBT38540 || s.Timestamp == nil {
		t.Errorf("verify: exit %d %s %+v", code, rep.Verdict, rep.Signatures)
	}
}
