package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunStatus: run gives the exit status of the package comment, the
// output on stdout and the error, once, on stderr.
func TestRunStatus(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name       string
		args       []string
		code       int
		out, error string
	}{
		{"help", []string{"--help"}, 0, "eseal stamps approval PDFs", ""},
		{"unknown command", []string{"unseal"}, 1, "", `eseal: unknown command "unseal"`},
		{"no data", []string{"seal", "list", "--dir", dir}, 1, "", "eseal: no data in " + dir},
		{"verify cannot read", []string{"verify", "--roots", filepath.Join(dir, "none.pem"), "none.pdf"}, 3, "", "eseal: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), c.args, &stdout, &stderr)
			quiet := c.error == "" && stderr.Len() == 0
			if code != c.code || !strings.Contains(stdout.String(), c.out) || !(quiet || c.error != "" && strings.HasPrefix(stderr.String(), c.error)) {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, stdout.String(), stderr.String())
			}
			if c.error != "" && strings.Count(stderr.String(), "eseal:") != 1 {
				t.Errorf("the error is not printed once: %s", stderr.String())
			}
		})
	}
}
