package pdf

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

func pdfcpuValidate(t *testing.T, pdf []byte) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "out.pdf")
	if err := os.WriteFile(f, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationStrict
	if err := api.ValidateFile(f, conf); err != nil {
		t.Logf("pdfcpu strict: %v (trying relaxed)", err)
		conf.ValidationMode = model.ValidationRelaxed
		if err := api.ValidateFile(f, conf); err != nil {
			t.Fatalf("pdfcpu relaxed: %v", err)
		}
	}
}
