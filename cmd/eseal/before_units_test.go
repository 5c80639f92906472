//go:build linux

package main

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// beforeUnits is what testdata/before-units holds: a data directory written
// before units existed (see its README).
type beforeUnits struct {
	Org, SealID, PersonID, DocumentID, RetrievalCode, StamperKey, AdminKey string
}

// copyFixture copies testdata/before-units to a new directory: the fixture
// itself is never changed.
func copyFixture(t *testing.T) (string, beforeUnits) {
	t.Helper()
	src := filepath.Join("testdata", "before-units")
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]string
	b, err := os.ReadFile(filepath.Join(dst, "fixture.json"))
	if err != nil || json.Unmarshal(b, &raw) != nil {
		t.Fatalf("fixture.json: %v", err)
	}
	return dst, beforeUnits{Org: raw["org"], SealID: raw["seal_id"], PersonID: raw["person_id"], DocumentID: raw["document_id"],
		RetrievalCode: raw["retrieval_code"], StamperKey: raw["stamper_key"], AdminKey: raw["admin_key"]}
}

// TestStoreBeforeUnits: a data directory written before units opens as a
// deployment whose first unit is its organisation: its document verifies
// and downloads as before, its keys work in the first unit, it stamps a new
// document (untagged id, under docs/) after a person's approval, fixity and
// the audit log are clean, and a new unit can be added beside it.
func TestStoreBeforeUnits(t *testing.T) {
	dir, fx := copyFixture(t)
	env := childEnv()
	c := cli{bin: esealBinary(t)}
	var units []struct {
		ID, Name string
		First    bool
	}
	c.mustJSON(t, &units, "--dir", dir, "--node", "legacy", "unit", "list", "--json")
	if len(units) != 1 || !units[0].First || units[0].Name != fx.Org {
		t.Fatalf("units of the old store: %+v", units)
	}
	srv := startServe(t, env, "--dir", dir, "--node", "legacy")
	ctx := context.Background()
	rc := &restClient{hc: http.DefaultClient, stamper: fx.StamperKey}

	// The old document: its page, its download, its verification.
	r, err := rc.do(ctx, "GET", srv.url+"/v/"+fx.DocumentID, "", nil)
	if err != nil || r.status != 200 || !strings.Contains(string(r.body), "VALID") {
		t.Fatalf("verify page of the old document: %v %s", err, r)
	}
	pdf, err := rc.do(ctx, "GET", srv.url+"/d/"+fx.RetrievalCode+"/pdf", "", nil)
	if err != nil || pdf.status != 200 {
		t.Fatalf("download of the old document: %v %s", err, pdf)
	}
	if v, err := rc.verdict(ctx, srv.url, pdf.body); err != nil || v != "VALID" {
		t.Fatalf("the old document verifies %q, %v", v, err)
	}
	// The old stamper key reads it: it is the first unit's.
	if r, err := rc.do(ctx, "GET", srv.url+"/v1/documents/"+fx.DocumentID, "", nil); err != nil || r.status != 200 {
		t.Fatalf("old stamper key reading the old document: %v %s", err, r)
	}

	// A new stamping under the old seal after the old person's approval.
	body, _ := json.Marshal(map[string]any{"seal_id": fx.SealID, "case_no": "YY-2026-0002", "title": "食品经营许可证（延续）", "expires_in": "10m"})
	r, err = rc.do(ctx, "POST", srv.url+"/v1/authorization-requests", "application/json", body)
	if err != nil || r.status != 201 {
		t.Fatalf("request: %v %s", err, r)
	}
	var req struct{ ID string }
	_ = json.Unmarshal(r.body, &req)
	out := c.mustRun(t, "approve", "--url", srv.url, "--request", req.ID, "--person", fx.PersonID, "--key", filepath.Join(dir, "demo-person.key"), "--json")
	var approved struct {
		AuthorizationID string `json:"authorization_id"`
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):strings.LastIndex(out, "}")+1]), &approved); err != nil || approved.AuthorizationID == "" {
		t.Fatalf("approve: %v\n%s", err, out)
	}
	st, r, err := rc.stamp(ctx, srv.url, fx.SealID, newStampJob(approved.AuthorizationID, "YY-2026-0002", 1))
	if err != nil || r.status != 201 {
		t.Fatalf("stamp in the old store: %v %s", err, r)
	}
	if strings.Count(st.DocumentID, "-") != 1 {
		t.Fatalf("the first unit's new document %s carries a unit tag", st.DocumentID)
	}
	if _, err := os.Stat(filepath.Join(dir, "store", "docs~", st.DocumentID+"~", "record.json")); err != nil {
		t.Fatalf("the new document is not under docs/: %v", err)
	}
	// The old admin key is the first unit's admin: it sees its seal.
	r, err = rc.doAs(ctx, fx.AdminKey, "GET", srv.url+"/v1/seals/"+fx.SealID, "", nil)
	if err != nil || r.status != 200 {
		t.Fatalf("old admin key: %v %s", err, r)
	}
	srv.stop()

	// Fixity and the audit log, then a second unit beside the first.
	for _, args := range [][]string{{"archive", "fixity"}, {"archive", "audit", "verify"}} {
		c.mustRun(t, append([]string{"--dir", dir, "--node", "legacy"}, args...)...)
	}
	c.mustJSON(t, &struct{}{}, "--dir", dir, "--node", "legacy", "unit", "create", "--name", "余姚市气象局", "--code", "11330281MB0000000X", "--fonds", "Q001", "--json")
	c.mustJSON(t, &units, "--dir", dir, "--node", "legacy", "unit", "list", "--json")
	if len(units) != 2 || !units[0].First || units[1].Name != "余姚市气象局" {
		t.Fatalf("units after adding one: %+v", units)
	}
}
