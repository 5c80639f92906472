package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayers keeps the import arrows of docs/architecture.md true: api → seal → {pdf, keys,
// archive}; pdf, keys and archive import neither each other nor seal or api.
func TestLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "eseal/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	layer := func(pkg string) string {
		for _, l := range []string{"api", "seal", "pdf", "keys", "archive", "cmd"} {
			if pkg == "eseal/"+l || strings.HasPrefix(pkg, "eseal/"+l+"/") {
				return l
			}
		}
		return ""
	}
	forbidden := map[string][]string{
		"pdf":     {"keys", "archive", "seal", "api"},
		"keys":    {"pdf", "archive", "seal", "api"},
		"archive": {"pdf", "keys", "seal", "api"},
		"seal":    {"api"},
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		from := layer(f[0])
		for _, imp := range f[1:] {
			for _, bad := range forbidden[from] {
				if layer(imp) == bad {
					t.Errorf("%s imports %s: %s must not depend on %s", f[0], imp, from, bad)
				}
			}
		}
	}
}
