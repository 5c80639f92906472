package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"eseal/keys/cms"
	"eseal/pdf"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// pdfboxClasspath is Debian's PDFBox 2 (libpdfbox2-java, with fontbox and
// commons-logging) and Bouncy Castle.
func pdfboxClasspath(t testing.TB) string {
	t.Helper()
	jars := []string{bcClasspath(t)}
	for _, name := range []string{"pdfbox2", "fontbox2", "commons-logging"} {
		p := "/usr/share/java/" + name + ".jar"
		if m, _ := filepath.Glob("/usr/share/java/" + name + "-[0-9]*.jar"); len(m) > 0 {
			sort.Strings(m)
			p = m[len(m)-1]
		}
		if _, err := os.Stat(p); err != nil {
			missingTool(t, "%s not found in /usr/share/java (Debian libpdfbox2-java)", name)
		}
		jars = append(jars, p)
	}
	return strings.Join(jars, string(os.PathListSeparator))
}

// TestPDFBoxForeignSignature: a PDF signed by another SM2 system — PDFBox
// writing the revision, Bouncy Castle the CMS in BER — then stamped by
// eseal. The foreign signature verifies mathematically but carries no
// seal and chains to no trusted root: INDETERMINATE, saying so, never
// INVALID. eseal's seal after it is VALID, and the document stays clean for
// qpdf with both signatures listed by pdfsig.
func TestPDFBoxForeignSignature(t *testing.T) {
	ts := needTools(t, "javac", "java", "qpdf", "pdfsig")
	cp := pdfboxClasspath(t)
	dir := t.TempDir()
	src, err := filepath.Abs(filepath.Join("testdata", "bc", "PdfBoxSignSM2.java"))
	if err != nil {
		t.Fatal(err)
	}
	classes := filepath.Join(dir, "classes")
	if r := runProcess(ts["javac"], "-nowarn", "-cp", cp, "-d", classes, src); r.code != 0 {
		t.Fatalf("javac PdfBoxSignSM2.java: %s", r)
	}
	in, foreign, both := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "pdfbox.pdf"), filepath.Join(dir, "both.pdf")
	if err := os.WriteFile(in, pdftest.Document(pdftest.Options{}), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runProcess(ts["java"], "-cp", classes+string(os.PathListSeparator)+cp, "PdfBoxSignSM2", in, foreign)
	if r.code != 0 || !strings.Contains(r.stdout, "OK") {
		t.Fatalf("PdfBoxSignSM2: %s", r)
	}
	if !strings.Contains(r.stdout, "BER") {
		t.Fatalf("Bouncy Castle wrote DER: this test is about BER: %s", r)
	}

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
	if out, code := esealCLI("stamp", "--dir", data, "--seal", sl.ID, "--in", foreign, "--out", both, "--x", "100", "--y", "150"); code != 0 {
		t.Fatalf("stamp over the PDFBox signature: %s", out)
	}
	if msg := qpdfCheck(ts, both); msg != "" {
		t.Error(msg)
	}
	if ranges, err := pdfsigRanges(ts, both); err != nil || len(ranges) != 2 {
		t.Errorf("pdfsig: %v %v", ranges, err)
	}

	out, code := esealCLI("verify", "--dir", data, "--json", both)
	var rep seal.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	if code != 2 || rep.Verdict != seal.Indeterminate || len(rep.Signatures) != 2 {
		t.Fatalf("exit %d, %s, %d signatures: %v", code, rep.Verdict, len(rep.Signatures), rep.Reasons)
	}
	pdfbox, ours := rep.Signatures[0], rep.Signatures[1]
	if pdfbox.Verdict != seal.Indeterminate || pdfbox.Seal != nil {
		t.Errorf("PDFBox signature: %s %v", pdfbox.Verdict, pdfbox.Reasons)
	}
	results := map[string]seal.CheckResult{}
	for _, c := range pdfbox.Checks {
		results[c.Name] = c.Result
	}
	for name, want := range map[string]seal.CheckResult{"CMS encoding": seal.Pass, "signature value": seal.Pass, "seal": seal.Unknown, "signer certificate": seal.Unknown} {
		if results[name] != want {
			t.Errorf("PDFBox signature, check %q: %q, want %q (%v)", name, results[name], want, pdfbox.Reasons)
		}
	}
	if !strings.Contains(strings.Join(pdfbox.Reasons, "; "), "no GB/T 38540 seal") {
		t.Errorf("the reason does not say there is no seal: %v", pdfbox.Reasons)
	}
	if ours.Verdict != seal.Valid || ours.Seal == nil {
		t.Errorf("eseal's seal: %s %v", ours.Verdict, ours.Reasons)
	}

	// The same bytes with one bit of the PDFBox signature value changed:
	// now its mathematics fails, and that is INVALID.
	b, err := os.ReadFile(foreign)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := pdf.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := doc.Signatures()
	if err != nil || len(sigs) != 1 {
		t.Fatalf("signatures of the PDFBox file: %v", err)
	}
	sd, err := cms.Parse(sigs[0].Contents)
	if err != nil || !sd.BER {
		t.Fatalf("PDFBox CMS: BER %v, %v", sd != nil && sd.BER, err)
	}
	value := []byte(hex.EncodeToString(sd.SignerInfos[0].Signature))
	i := bytes.Index(bytes.ToLower(b), value)
	if i < 0 {
		t.Fatal("signature value not found in /Contents")
	}
	i += len(value) - 1
	const digits = "0123456789abcdef"
	b[i] = digits[strings.IndexByte(digits, b[i]|0x20)^1] // one bit of the value

	broken := filepath.Join(dir, "broken.pdf")
	if err := os.WriteFile(broken, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = esealCLI("verify", "--dir", data, "--json", broken)
	rep = seal.Report{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.Verdict != seal.Invalid {
		t.Errorf("changed PDFBox signature: exit %d %s %v", code, rep.Verdict, err)
	}
}
