package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"eseal/api"
)

// TestKeyCLI: init makes an admin key and, for the demo seal, an authorizer
// and a stamper key; `eseal key` creates, lists and revokes keys.
func TestKeyCLI(t *testing.T) {
	dir := t.TempDir()
	cli := func(args ...string) (string, int) { return esealCLI(append([]string{"--dir", dir}, args...)...) }
	out, code := cli("init", "--org", "测试市行政审批服务局", "--json")
	// The demo-mode notice on stderr comes first in the combined output.
	out = out[max(strings.Index(out, "{"), 0):]
	var org initResult
	if err := json.Unmarshal([]byte(out), &org); code != 0 || err != nil {
		t.Fatalf("init: exit %d, %v\n%s", code, err, out)
	}
	ctx := context.Background()
	g := &globals{dir: dir}
	reg, store, err := g.openRegistryReadOnly(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kr := api.Keyring{Store: store, Registry: reg}
	for _, c := range []struct {
		secret string
		role   api.Role
		seals  []string
	}{
		{org.AdminKey, api.RoleAdmin, []string{}},
		{org.AuthorizerKey, api.RoleAuthorizer, []string{org.SealID}},
		{org.StamperKey, api.RoleStamper, []string{org.SealID}},
		{org.ArchivistKey, api.RoleArchivist, []string{}},
	} {
		k, err := kr.Lookup(ctx, c.secret)
		if err != nil || k.Role != c.role || !slices.Equal(k.Seals, c.seals) || k.Revoked != nil {
			t.Fatalf("init's %s key: %v %+v", c.role, err, k)
		}
	}

	out, code = cli("key", "create", "--role", "stamper", "--seal", org.SealID, "--name", "某区审批系统", "--json")
	var created map[string]any
	if err := json.Unmarshal([]byte(out), &created); code != 0 || err != nil {
		t.Fatalf("key create: exit %d, %v\n%s", code, err, out)
	}
	var fields []string
	for f := range created {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	// unit: every key but a platform key belongs to one (here the first).
	if !slices.Equal(fields, []string{"id", "key", "name", "role", "seals", "unit"}) || created["role"] != "stamper" ||
		!strings.HasPrefix(fmt.Sprint(created["unit"]), "u-") ||
		created["name"] != "某区审批系统" || len(created["seals"].([]any)) != 1 || created["seals"].([]any)[0] != org.SealID {
		t.Fatalf("key create --json: %s", out)
	}
	id, secret := created["id"].(string), created["key"].(string)

	for _, c := range []struct {
		name string
		args []string
		says string
	}{
		{"stamper without a seal", []string{"--role", "stamper", "--name", "x"}, "names the seals"},
		{"admin with a seal", []string{"--role", "admin", "--seal", org.SealID, "--name", "x"}, "not limited to seals"},
		{"unknown seal", []string{"--role", "authorizer", "--seal", "seal-aaaaaaaaaaaaa", "--name", "x"}, "no seal"},
		{"unknown role", []string{"--role", "superuser", "--name", "x"}, "want one of"},
		{"no name", []string{"--role", "archivist"}, "name"},
	} {
		if out, code := cli(append([]string{"key", "create"}, c.args...)...); code == 0 || !strings.Contains(out, c.says) {
			t.Errorf("key create %s: exit %d, want a refusal saying %q:\n%s", c.name, code, c.says, out)
		}
	}

	if out, code := cli("key", "revoke", id, "--reason", "系统下线"); code != 0 || !strings.Contains(out, id+" (stamper key") {
		t.Fatalf("key revoke: exit %d\n%s", code, out)
	}
	if k, err := kr.Lookup(ctx, secret); err != nil || k.Revoked == nil || k.Revoked.Reason != "系统下线" {
		t.Fatalf("the revoked key: %v %+v", err, k)
	}
	if out, code := cli("key", "revoke", "k-aaaaaaaaaaaaaaaa"); code == 0 || !strings.Contains(out, "not found") {
		t.Fatalf("revoking an unknown key: exit %d\n%s", code, out)
	}

	out, code = cli("key", "list", "--json")
	var keys []api.APIKey
	if err := json.Unmarshal([]byte(out), &keys); code != 0 || err != nil || len(keys) != 5 {
		t.Fatalf("key list --json: exit %d, %v\n%s", code, err, out)
	}
	for _, k := range keys {
		if (k.ID == id) != (k.Revoked != nil) {
			t.Errorf("key list: %s revoked %v", k.ID, k.Revoked)
		}
	}
	out, code = cli("key", "list")
	if code != 0 || strings.Count(out, "\n") != 6 || strings.Contains(out, secret) || !strings.Contains(out, "authorizer") {
		t.Fatalf("key list:\n%s", out)
	}
}

// TestServeQuickStart is the README's quick start: `eseal serve` on an empty
// directory prints an admin, an authorizer and a stamper key and the demo
// responsible person; the stamper key asks for an authorization, the person
// approves it with `eseal approve` and their SM2 key, the stamper key stamps
// under it and the record names the person. The admin key neither grants
// nor stamps, and the authorizer key's direct grant is refused: the demo
// seal's policy is person.
func TestServeQuickStart(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	p := startServe(t, childEnv(), "--dir", dir)
	printed := p.out.String()
	var org initResult
	for _, f := range []struct {
		out  *string
		line string
	}{
		{&org.SealID, `demo seal (seal-[a-z2-7]+)`},
		{&org.AdminKey, `Admin key: +(esk_\w+)`},
		{&org.AuthorizerKey, `Authorizer key: +(esk_\w+)`},
		{&org.StamperKey, `Stamper key: +(esk_\w+)`},
		{&org.ArchivistKey, `Archivist key: +(esk_\w+)`},
		{&org.PersonID, `Demo responsible person: (p-[a-z2-7]+)`},
		{&org.PersonKey, `Demo responsible person: p-[a-z2-7]+, SM2 key (\S+demo-person\.key)`},
	} {
		m := regexp.MustCompile(f.line).FindStringSubmatch(printed)
		if m == nil {
			t.Fatalf("serve on an empty directory does not print %q:\n%s", f.line, clip(printed))
		}
		*f.out = m[1]
	}
	if fi, err := os.Stat(org.PersonKey); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the demo person's key file: %v %v", fi, err)
	}
	c := newRESTClient(org)
	admin := newRESTClient(initResult{StamperKey: org.AdminKey, AuthorizerKey: org.AdminKey})
	if _, r, err := admin.grant(ctx, p.url, org.SealID, "QS-1"); err != nil || r.status != 403 || r.problem() != "/problems/forbidden" {
		t.Fatalf("the admin key grants: %v %s", err, r)
	}
	if _, r, err := c.grant(ctx, p.url, org.SealID, "QS-1"); err != nil || r.status != 409 || r.problem() != "/problems/authorization-policy" {
		t.Fatalf("the authorizer key grants directly for a seal under policy person: %v %s", err, r)
	}
	body, _ := json.Marshal(map[string]any{"seal_id": org.SealID, "case_no": "QS-1", "title": "准予行政许可决定书", "expires_in": "30m"})
	r, err := c.do(ctx, "POST", p.url+"/v1/authorization-requests", "application/json", body)
	if err != nil || r.status != 201 {
		t.Fatalf("the stamper key asks: %v %s", err, r)
	}
	var req struct{ ID string }
	json.Unmarshal(r.body, &req)
	out, code := esealCLI("approve", "--url", p.url, "--request", req.ID, "--person", org.PersonID, "--key", org.PersonKey)
	authz := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
	if code != 0 || !strings.HasPrefix(authz, "az-") {
		t.Fatalf("eseal approve: exit %d\n%s", code, out)
	}
	job := newStampJob(authz, "QS-1", 1)
	if _, r, err := admin.stamp(ctx, p.url, org.SealID, job); err != nil || r.status != 403 || r.problem() != "/problems/forbidden" {
		t.Fatalf("the admin key stamps: %v %s", err, r)
	}
	st, r, err := c.stamp(ctx, p.url, org.SealID, job)
	if err != nil || r.status != 201 || st.DocumentID == "" {
		t.Fatalf("the stamper key stamps: %v %s", err, r)
	}
	r, err = c.do(ctx, "GET", p.url+"/v1/documents/"+st.DocumentID, "", nil)
	if err != nil || r.status != 200 {
		t.Fatalf("the stamper key reads its document: %v %s", err, r)
	}
	var rec struct {
		Authorization struct {
			Method   string `json:"method"`
			PersonID string `json:"person_id"`
		} `json:"authorization"`
	}
	json.Unmarshal(r.body, &rec)
	if rec.Authorization.Method != "sm2" || rec.Authorization.PersonID != org.PersonID {
		t.Fatalf("the record does not name the person who approved:\n%s", r.body)
	}
	// The archivist key finds the document in the search index; it cannot
	// stamp.
	archivist := newRESTClient(initResult{StamperKey: org.ArchivistKey, AuthorizerKey: org.ArchivistKey})
	r, err = archivist.do(ctx, "GET", p.url+"/v1/documents?case_no=QS-1", "", nil)
	if err != nil || r.status != 200 || !strings.Contains(string(r.body), st.DocumentID) {
		t.Fatalf("the archivist key searches for QS-1: %v %s", err, r)
	}
	if _, r, err := archivist.stamp(ctx, p.url, org.SealID, newStampJob(authz, "QS-1", 2)); err != nil || r.status != 403 {
		t.Fatalf("the archivist key stamps: %v %s", err, r)
	}
}
