package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifyStandaloneCLI: `eseal verify` on the outside GB/T 38540 test
// vectors (seal/ses/testdata/gbt38540, see its README) gives their
// verdicts with the exit codes of PDFs: nothing made elsewhere is trusted
// here (2), the seal whose maker signature does not verify is INVALID (1),
// as is a changed signed file; misuse is an error (3).
func TestVerifyStandaloneCLI(t *testing.T) {
	fx := filepath.Join("..", "..", "seal", "ses", "testdata", "gbt38540")
	dir := t.TempDir()
	// A root that issued none of them.
	roots := filepath.Join("..", "..", "seal", "testdata", "oid", "root.pem")
	xml, err := os.ReadFile(filepath.Join(fx, "v4_Signature.xml"))
	if err != nil {
		t.Fatal(err)
	}
	xml[len(xml)/3] ^= 1
	changed := filepath.Join(dir, "Signature.xml")
	if err := os.WriteFile(changed, xml, 0o644); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.dat")
	if err := os.WriteFile(junk, []byte{0x30, 0x03, 0x02, 0x01, 0x04}, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		says []string
	}{
		{[]string{filepath.Join(fx, "v4_SignedValue.dat"), "--data", filepath.Join(fx, "v4_Signature.xml")}, 2,
			[]string{"ok   signature value", "ok   seal maker signature", "ok   document digest", "dataHash is SM3 of the protected data"}},
		{[]string{filepath.Join(fx, "v4_SignedValue.dat")}, 2, []string{"ok   signature value", "the signed data was not given"}},
		{[]string{filepath.Join(fx, "v4_SignedValue.dat"), "--data", changed}, 1, []string{"FAIL document digest"}},
		{[]string{filepath.Join(fx, "SignedValueV4.dat")}, 2, []string{"ok   signature value", "ok   seal maker signature"}},
		{[]string{filepath.Join(fx, "SESealData.DER")}, 1, []string{"FAIL seal maker signature", "测试单位名称 合同专用章"}},
		{[]string{filepath.Join(fx, "UserV1.esl")}, 2, []string{"GB/T 38540 V1 seal", "ok   seal maker signature"}},
		{[]string{filepath.Join(fx, "UserV1.esl"), "--at", "2021-01-01"}, 2, []string{"ok   seal validity"}},
		{[]string{filepath.Join(fx, "UserV5_ts.esl")}, 2, []string{"GB/T 38540 V5 seal", "ok   seal maker signature"}},
		{[]string{junk}, 1, []string{"not a PDF, nor a GB/T 38540 SES_Signature"}},
		{[]string{filepath.Join(fx, "UserV1.esl"), "--data", changed}, 3, []string{"signs no data"}},
		{[]string{filepath.Join(fx, "SESealData.DER"), "--signed-revision", "1", "--out", filepath.Join(dir, "x")}, 3, []string{"for PDFs"}},
	} {
		out, code := esealCLI(append([]string{"verify", "--roots", roots}, c.args...)...)
		if code != c.code {
			t.Errorf("verify %s: exit %d, want %d\n%s", strings.Join(c.args, " "), code, c.code, out)
			continue
		}
		for _, s := range c.says {
			if !strings.Contains(out, s) {
				t.Errorf("verify %s: output lacks %q:\n%s", strings.Join(c.args, " "), s, out)
			}
		}
	}
}
