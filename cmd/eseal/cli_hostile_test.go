//go:build linux

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"eseal/pdf/pdftest"
)

// TestStampHostileCLI: bad input to `eseal stamp` ends with a clear message
// and exit status 1, and no output file.
func TestStampHostileCLI(t *testing.T) {
	dir := t.TempDir()
	env := childEnv()
	res := esealInit(t, env, "--dir", filepath.Join(dir, "data"))
	good := pdftest.Document(pdftest.Options{})
	i := bytes.LastIndex(good, []byte("trailer\n<<"))
	encrypted := append(append(append([]byte{}, good[:i+10]...), []byte(" /Encrypt << /Filter /Standard /V 1 /R 2 /P -4 >>")...), good[i+10:]...)
	files := map[string][]byte{
		"good.pdf": good, "image.pdf": []byte("\x89PNG\r\n\x1a\n not a pdf"), "empty.pdf": nil,
		"truncated.pdf": good[:len(good)/2], "encrypted.pdf": encrypted,
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "exists.pdf"), []byte("keep me"), 0o644)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"not a PDF", []string{"--in", "image.pdf"}, "malformed file"},
		{"empty", []string{"--in", "empty.pdf"}, "malformed file"},
		{"truncated", []string{"--in", "truncated.pdf"}, "malformed file"},
		{"encrypted", []string{"--in", "encrypted.pdf"}, "encrypted"},
		{"missing input", []string{"--in", "nothing.pdf"}, "no such file"},
		{"page out of range", []string{"--in", "good.pdf", "--page", "9"}, "out of range"},
		{"off the page", []string{"--in", "good.pdf", "--x", "900"}, "outside the visible page"},
		{"absent keyword", []string{"--in", "good.pdf", "--keyword", "不存在"}, "not found"},
		{"unknown seal", []string{"--in", "good.pdf", "--seal", "seal-aaaaaaaaaaaaa"}, "not found"},
		{"path trick seal", []string{"--in", "good.pdf", "--seal", "../../pki/root.key"}, "not found"},
		{"pages without cross-page", []string{"--in", "good.pdf", "--pages", "1-2"}, "--pages goes with --cross-page"},
		{"cross-page on one page", []string{"--in", "good.pdf", "--cross-page"}, "at least two pages"},
		{"output exists", []string{"--in", "good.pdf", "--out", "exists.pdf"}, "not overwriting"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := "out-" + strings.ReplaceAll(c.name, " ", "-") + ".pdf"
			args := []string{"--dir", filepath.Join(dir, "data"), "stamp", "--seal", res.SealID, "--out", out}
			args = append(args, c.args...) // later flags win
			cmd := exec.Command(esealBinary(t), args...)
			cmd.Dir, cmd.Env = dir, env
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, stderr %q", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), c.want) {
				t.Fatalf("stderr %q does not say %q", stderr.String(), c.want)
			}
			if _, err := os.Stat(filepath.Join(dir, out)); err == nil && c.name != "output exists" {
				t.Fatal("an output file was written")
			}
		})
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "exists.pdf")); string(b) != "keep me" {
		t.Fatal("an existing file was overwritten")
	}
}
