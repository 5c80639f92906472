package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"eseal/keys"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// TestVerifyAtRootsCLI: stamp --timestamp --ltv, then verify with the root
// alone years after the signer certificate has expired.
func TestVerifyAtRootsCLI(t *testing.T) {
	dir := t.TempDir()
	if out, code := esealCLI("init", "--dir", dir, "--org", "测试市行政审批服务局"); code != 0 {
		t.Fatalf("init: %s", out)
	}
	ctx := context.Background()
	g := &globals{dir: dir}
	reg, _, err := g.openRegistry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sl, err := reg.CreateSeal(ctx, seal.CreateSpec{Name: "行政审批专用章", Type: seal.TypeApproval, Policy: seal.PolicyKey})
	if err != nil {
		t.Fatal(err)
	}
	roots := filepath.Join(dir, "roots.pem")
	in := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(roots, keys.EncodeCertificatesPEM(reg.Roots()...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, pdftest.Document(pdftest.Options{}), 0o644); err != nil {
		t.Fatal(err)
	}
	ltv, plain := filepath.Join(dir, "ltv.pdf"), filepath.Join(dir, "plain.pdf")
	for out, extra := range map[string][]string{ltv: {"--ltv"}, plain: nil} {
		args := append([]string{"stamp", "--dir", dir, "--seal", sl.ID, "--in", in, "--out", out, "--timestamp"}, extra...)
		if res, code := esealCLI(args...); code != 0 {
			t.Fatalf("%v: %s", args, res)
		}
	}
	later := fmt.Sprintf("%d-01-01", time.Now().Add(seal.DefaultValidity).Year()+1)
	for _, c := range []struct {
		file, at string
		code     int
	}{
		{ltv, later, 0},
		{plain, later, 2}, // no CRL for an expired certificate
		{ltv, time.Now().Format(time.RFC3339), 0},
		{ltv, "next tuesday", 3},
	} {
		if out, code := esealCLI("verify", "--roots", roots, "--at", c.at, c.file); code != c.code {
			t.Errorf("verify --at %s %s: exit %d, want %d\n%s", c.at, filepath.Base(c.file), code, c.code, out)
		}
	}
}
