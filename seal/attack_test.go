package seal_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"eseal/pdf/attack"
	"eseal/seal"
)

// TestAttackCorpus runs the published attack classes (package attack)
// against a document eseal stamped: every tampered file is INVALID with a
// reason naming what gives it away, every allowed addition is "VALID, with
// changes after signing" and named, and poppler shows that each content
// attack really changed what a reader sees.
func TestAttackCorpus(t *testing.T) {
	fx := newFixture(t)
	signed := fx.stamp(t, attack.Input(), 1)
	if rep := fx.verify(t, signed); rep.Summary != "VALID" {
		t.Fatalf("the signed document: %s %v", rep.Summary, rep.Reasons)
	}
	cases, err := attack.Build(signed)
	if err != nil {
		t.Fatal(err)
	}
	// A later seal by eseal itself is the allowed addition every verifier
	// must accept.
	cases = append(cases, attack.Case{Name: "second-seal", Class: "allowed: a second seal", PDF: fx.stamp(t, signed, 1),
		Want: attack.Allowed, Reason: "/Widget (field \"Seal2\") on page 1"})
	dir := artifactDir(t, "attack-corpus")
	writeFile(t, filepath.Join(dir, "signed.pdf"), signed)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			writeFile(t, filepath.Join(dir, c.Name+".pdf"), c.PDF)
			rep := fx.verify(t, c.PDF)
			checkAttackVerdict(t, c, rep)
			// The broken signature field itself is reported too.
			if want, ok := fieldProblems[c.Name]; ok && !strings.Contains(allReasons(rep), want) {
				t.Fatalf("%s: no reason says %q:\n%s", c.Name, want, allReasons(rep))
			}
			if c.Want == attack.Tampered {
				provePoppler(t, c, signed)
			}
		})
	}
}

// fieldProblems: what the verifier says of the signature field an attack
// broke, besides naming the object a later revision changed.
var fieldProblems = map[string]string{
	"swa-contents-gap":      "is not exactly this signature's /Contents",
	"usf-strip-byterange":   "the signature dictionary has no /ByteRange",
	"usf-value-elsewhere":   "/V has /Type /Font",
	"usf-contents-empty":    "byte range",
	"usf-byterange-zero":    "ByteRange is out of order or beyond the file",
	"usf-byterange-null":    "the signature dictionary has no /ByteRange",
	"sneaky-fake-signature": "the signature dictionary has no /ByteRange",
}

// checkAttackVerdict checks a report against what the corpus expects.
func checkAttackVerdict(t *testing.T, c attack.Case, rep *seal.Report) {
	t.Helper()
	switch c.Want {
	case attack.Tampered:
		if rep.Verdict != seal.Invalid {
			t.Fatalf("%s (%s): %s, want INVALID: %v", c.Name, c.Class, rep.Summary, allReasons(rep))
		}
		if r := allReasons(rep); !strings.Contains(r, c.Reason) {
			t.Fatalf("%s: INVALID, but no reason names %q:\n%s", c.Name, c.Reason, r)
		}
	case attack.Allowed:
		if rep.Verdict != seal.Valid || rep.Summary != "VALID, with changes after signing" {
			t.Fatalf("%s (%s): %q, want VALID with changes: %v", c.Name, c.Class, rep.Summary, allReasons(rep))
		}
		found := false
		for _, lc := range rep.Signatures[0].LaterChanges {
			if lc.Allowed && strings.Contains(lc.Detail, c.Reason) {
				found = true
			}
		}
		if !found {
			t.Fatalf("%s: no later change names %q: %+v", c.Name, c.Reason, rep.Signatures[0].LaterChanges)
		}
	}
}

func allReasons(rep *seal.Report) string {
	parts := append([]string{}, rep.Reasons...)
	for _, s := range rep.Signatures {
		parts = append(parts, s.Reasons...)
	}
	return strings.Join(parts, "\n")
}

// provePoppler shows with poppler that the attack changed what a reader
// sees: text that appears or disappears (pdftotext), or the /Title (pdfinfo).
func provePoppler(t *testing.T, c attack.Case, signed []byte) {
	t.Helper()
	if c.Shows == "" && c.Hides == "" && c.Title == "" {
		return
	}
	tool, args := "pdftotext", []string{"-layout", "", "-"}
	if c.Title != "" {
		tool, args = "pdfinfo", []string{""}
	}
	path := lookTool(t, tool)
	run := func(b []byte) string {
		f := filepath.Join(t.TempDir(), "in.pdf")
		writeFile(t, f, b)
		a := append([]string{}, args...)
		for i := range a {
			if a[i] == "" {
				a[i] = f
			}
		}
		out, _ := exec.Command(path, a...).Output() // poppler complains about the attacks but still reads them
		return string(out)
	}
	before, after := run(signed), run(c.PDF)
	switch {
	case c.Shows != "" && (!strings.Contains(after, c.Shows) || strings.Contains(before, c.Shows)):
		t.Fatalf("%s: %s does not show %q only in the attack file:\nsigned:\n%s\nattack:\n%s", c.Name, tool, c.Shows, before, after)
	case c.Hides != "" && (strings.Contains(after, c.Hides) || !strings.Contains(before, c.Hides)):
		t.Fatalf("%s: %s does not lose %q in the attack file:\nsigned:\n%s\nattack:\n%s", c.Name, tool, c.Hides, before, after)
	case c.Title != "" && !strings.Contains(after, c.Title):
		t.Fatalf("%s: pdfinfo does not show the title %q:\n%s", c.Name, c.Title, after)
	}
}

// lookTool finds an outside tool: a skip when missing, a failure under
// ESEAL_REQUIRE_TOOLS=1.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("ESEAL_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s not on PATH (ESEAL_REQUIRE_TOOLS=1)", name)
		}
		t.Skipf("%s not on PATH", name)
	}
	return p
}

// artifactDir is where a test keeps files for people to look at:
// $ESEAL_ARTIFACTS/name when set, else a temporary directory.
func artifactDir(t *testing.T, name string) string {
	t.Helper()
	if a := os.Getenv("ESEAL_ARTIFACTS"); a != "" {
		d := filepath.Join(a, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestUnknownSubFilterIsHashed: a signature whose /SubFilter eseal does not
// know is still checked as a CMS, so changed bytes make it INVALID rather
// than INDETERMINATE.
func TestUnknownSubFilterIsHashed(t *testing.T) {
	fx := newFixture(t)
	signed := fx.stamp(t, attack.Input(), 1)
	old := []byte("/SubFilter/adbe.pkcs7.detached")
	i := bytes.Index(signed, old)
	if i < 0 {
		t.Fatalf("no %s in the stamped file", old)
	}
	bad := append([]byte{}, signed...)
	copy(bad[i:], "/SubFilter/x.vendor.unknown00")
	rep := fx.verify(t, bad)
	if rep.Verdict != seal.Invalid || len(rep.Signatures) != 1 {
		t.Fatalf("%s with %d signatures, want INVALID: %v", rep.Summary, len(rep.Signatures), allReasons(rep))
	}
	if r := allReasons(rep); !strings.Contains(r, "not supported; its /Contents was checked") || !strings.Contains(r, "signature value") {
		t.Fatalf("reasons: %s", r)
	}
}

// TestStrictReadingAcceptsWhatEsealWrites: reading strictly costs nothing
// on honest files — every shape of the pdf fixtures (classic, hybrid,
// cross-reference streams, object streams, linearized, LibreOffice), stamped
// once, is plain VALID, and stamped twice, VALID with the second seal named.
func TestStrictReadingAcceptsWhatEsealWrites(t *testing.T) {
	fx := newFixture(t)
	files, err := filepath.Glob(filepath.Join("..", "pdf", "testdata", "*.pdf"))
	if err != nil || len(files) < 10 {
		t.Fatalf("fixtures: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			stamp := func(b []byte, x float64) []byte {
				_, out, err := fx.stampAt(t, b, seal.Placement{Page: 1, XMM: x, YMM: 10})
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
			once := stamp(in, 10)
			if rep := fx.verify(t, once); rep.Summary != "VALID" {
				t.Fatalf("stamped once: %s: %s", rep.Summary, allReasons(rep))
			}
			rep := fx.verify(t, stamp(once, 60))
			if rep.Summary != "VALID, with changes after signing" {
				t.Fatalf("stamped twice: %s: %s", rep.Summary, allReasons(rep))
			}
			lcs := rep.Signatures[0].LaterChanges
			if len(lcs) == 0 || lcs[0].Kind != "signature" || lcs[0].Revision != rep.Signatures[1].Revision {
				t.Fatalf("the second seal is not the later change of the first: %+v", lcs)
			}
		})
	}
}
