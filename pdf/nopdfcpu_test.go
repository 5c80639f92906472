//go:build !pdfcpu

package pdf

import "testing"

// pdfcpuValidate is a no-op without -tags pdfcpu (see pdfcpu_test.go);
// with ESEAL_REQUIRE_TOOLS=1 its absence fails the test.
func pdfcpuValidate(t *testing.T, _ []byte) {
	t.Helper()
	if requireTools() {
		t.Fatal("pdfcpu validation not compiled in: run with -tags pdfcpu")
	}
	t.Log("pdfcpu validation skipped (build with -tags pdfcpu)")
}
