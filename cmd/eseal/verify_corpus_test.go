package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"eseal/api"
	"eseal/pdf/attack"
	"eseal/seal"
)

// TestVerifyAttackCorpus: `eseal verify` and POST /v1/verify give the same
// verdict, summary and later changes for every file of the attack corpus
// (package attack) made from a document `eseal stamp` sealed; the text
// report names what changed; --signed-revision writes the signed bytes.
func TestVerifyAttackCorpus(t *testing.T) {
	dir := t.TempDir()
	if out, code := esealCLI("init", "--dir", dir, "--org", "测试市行政审批服务局"); code != 0 {
		t.Fatalf("init: %s", out)
	}
	ctx := context.Background()
	reg, _, err := (&globals{dir: dir}).openRegistry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sl, err := reg.CreateSeal(ctx, seal.CreateSpec{Name: "行政审批专用章", Type: seal.TypeApproval})
	if err != nil {
		t.Fatal(err)
	}
	in, signedPath := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "signed.pdf")
	if err := os.WriteFile(in, attack.Input(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := esealCLI("stamp", "--dir", dir, "--seal", sl.ID, "--in", in, "--out", signedPath, "--page", "1", "--x", "100", "--y", "150"); code != 0 {
		t.Fatalf("stamp: %s", out)
	}
	signed, err := os.ReadFile(signedPath)
	if err != nil {
		t.Fatal(err)
	}
	cases, err := attack.Build(signed)
	if err != nil {
		t.Fatal(err)
	}
	// The allowed addition every verifier must accept: a second seal.
	twice := filepath.Join(dir, "twice.pdf")
	if out, code := esealCLI("stamp", "--dir", dir, "--seal", sl.ID, "--in", signedPath, "--out", twice, "--page", "1", "--x", "20", "--y", "200"); code != 0 {
		t.Fatalf("stamp again: %s", out)
	}
	b, err := os.ReadFile(twice)
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, attack.Case{Name: "second-seal", Class: "allowed: a second seal", PDF: b, Want: attack.Allowed,
		Reason: `/Widget (field "Seal2") on page 1`})
	ro, store, err := (&globals{dir: dir}).openRegistryReadOnly(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Options{Registry: ro, Store: store, Service: &seal.Service{Registry: ro, Store: store},
		Limits: api.Limits{MaxPDFBytes: 8 << 20, MaxJSONBytes: 64 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			file := filepath.Join(dir, c.Name+".pdf")
			if err := os.WriteFile(file, c.PDF, 0o644); err != nil {
				t.Fatal(err)
			}
			out, code := esealCLI("verify", "--dir", dir, "--json", file)
			var cli seal.Report
			if err := json.Unmarshal([]byte(out), &cli); err != nil {
				t.Fatalf("verify --json: %v\n%s", err, out)
			}
			rest := postVerify(t, hs.URL, c.PDF)
			if cli.Verdict != rest.Verdict || cli.Summary != rest.Summary || !reflect.DeepEqual(laterChanges(&cli), laterChanges(rest)) ||
				!reflect.DeepEqual(cli.Reasons, rest.Reasons) {
				t.Fatalf("CLI and REST differ:\nCLI  %s %v %+v\nREST %s %v %+v", cli.Summary, cli.Reasons, laterChanges(&cli), rest.Summary, rest.Reasons, laterChanges(rest))
			}
			text, _ := esealCLI("verify", "--dir", dir, file)
			switch c.Want {
			case attack.Tampered:
				if cli.Verdict != seal.Invalid || code != 1 {
					t.Fatalf("%s: exit %d, %s; want INVALID, exit 1\n%s", c.Class, code, cli.Summary, text)
				}
			case attack.Allowed:
				if cli.Summary != "VALID, with changes after signing" || code != 0 {
					t.Fatalf("%s: exit %d, %s; want VALID with changes, exit 0\n%s", c.Class, code, cli.Summary, text)
				}
			}
			if !strings.Contains(text, cli.Summary) || !strings.Contains(text, c.Reason) {
				t.Fatalf("the text report does not say %q and %q:\n%s", cli.Summary, c.Reason, text)
			}
			for _, s := range cli.Signatures {
				for _, lc := range s.LaterChanges {
					if !strings.Contains(text, lc.Detail) {
						t.Fatalf("the text report lacks the later change %q:\n%s", lc.Detail, text)
					}
				}
			}
		})
	}

	// The signed bytes of revision 2 are exactly what eseal stamp wrote.
	out := filepath.Join(dir, "as-signed.pdf")
	if res, code := esealCLI("verify", "--dir", dir, "--signed-revision", "2", "--out", out, filepath.Join(dir, cases[0].Name+".pdf")); code != 1 {
		t.Fatalf("verify --signed-revision: exit %d\n%s", code, res)
	}
	if b, err := os.ReadFile(out); err != nil || !bytes.Equal(b, signed) {
		t.Fatalf("--signed-revision 2 wrote %d bytes (%v), want the %d signed bytes", len(b), err, len(signed))
	}
	if res, code := esealCLI("verify", "--dir", dir, "--signed-revision", "9", "--out", filepath.Join(dir, "x.pdf"), signedPath); code != 3 {
		t.Fatalf("verify --signed-revision 9 of 2: exit %d, want 3\n%s", code, res)
	}
}

func postVerify(t *testing.T, url string, b []byte) *seal.Report {
	t.Helper()
	resp, err := http.Post(url+"/v1/verify", "application/pdf", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var rep seal.Report
	if resp.StatusCode != 200 || json.Unmarshal(body, &rep) != nil {
		t.Fatalf("POST /v1/verify: %d %s", resp.StatusCode, body)
	}
	return &rep
}

func laterChanges(rep *seal.Report) [][]seal.LaterChange {
	var out [][]seal.LaterChange
	for _, s := range rep.Signatures {
		out = append(out, s.LaterChanges)
	}
	return out
}
