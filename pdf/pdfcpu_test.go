package pdf

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The pdfcpu checks run its command (scripts/deps.sh installs it), not its
// library: linked into this test binary, pdfcpu's code multiplied the
// coverage map the fuzzer walks on every input and slowed FuzzOpen from
// ~15,000 to ~10 inputs a second.

// pdfcpuCmd runs the pdfcpu command with a private config directory, or
// skips when it is missing (fails under ESEAL_REQUIRE_TOOLS=1).
func pdfcpuCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("pdfcpu")
	if err != nil {
		if requireTools() {
			t.Fatal("pdfcpu not on PATH (scripts/deps.sh installs it)")
		}
		t.Skip("pdfcpu not on PATH")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+pdfcpuConfig(t))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// pdfcpuConfig is one config (and font) directory per test.
func pdfcpuConfig(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pdfcpu-config")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func pdfcpuValidate(t *testing.T, pdf []byte) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "out.pdf")
	if err := os.WriteFile(f, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := pdfcpuCmd(t, "validate", "-m", "strict", f); err != nil {
		t.Logf("pdfcpu strict: %v %s (trying relaxed)", err, out)
		if out, err := pdfcpuCmd(t, "validate", "-m", "relaxed", f); err != nil {
			t.Fatalf("pdfcpu relaxed: %v\n%s", err, out)
		}
	}
}
