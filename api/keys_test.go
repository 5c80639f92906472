package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"eseal/api"
	"eseal/archive"
	"eseal/archive/fs"
	"eseal/keys"
	"eseal/seal"
)

// TestKeyRolesAndSeals: each key does its own job and nothing else. Every
// refusal is a precise problem and changes nothing in the store.
func TestKeyRolesAndSeals(t *testing.T) {
	e := newEnv(t)
	sealA := e.sealID
	sealB := e.postJSON("/v1/seals", e.admin, map[string]any{"name": "测试市市场监督管理局", "policy": "key"}).json(t)["id"].(string)
	var (
		admin       = e.admin
		authorizerA = e.key(api.RoleAuthorizer, sealA)
		stamperA    = e.key(api.RoleStamper, sealA)
		stamperB    = e.key(api.RoleStamper, sealB)
		archivist   = e.key(api.RoleArchivist)
	)
	authzA := e.grant(sealA, map[string]any{"case_no": "K-1"})
	authzB := e.grant(sealB, map[string]any{"case_no": "K-1"})
	r := e.stampAs(stamperB, testPDF("乙章文件"), stampReq(sealB, e.grant(sealB, map[string]any{"case_no": "K-1"}), "K-1"))
	if r.status != 201 {
		t.Fatalf("stamper B stamps with seal B: %d %s", r.status, r.body)
	}
	docB := r.json(t)["document_id"].(string)
	// A key revoked over REST, and the key creation the refusals try.
	revokedA := e.key(api.RoleStamper, sealA, sealB)
	newKey := map[string]any{"name": "另一个审批系统", "role": "stamper", "seals": []string{sealA}}
	cases := []struct {
		name   string
		send   func() response
		status int
		typ    string
	}{
		{"stamper cannot grant", func() response {
			return e.postJSON("/v1/seals/"+sealA+"/authorizations", stamperA, map[string]any{"case_no": "K-1"})
		}, 403, "forbidden"},
		{"stamper cannot create keys", func() response { return e.postJSON("/v1/keys", stamperA, newKey) }, 403, "forbidden"},
		{"stamper cannot list keys", func() response { return e.do("GET", "/v1/keys", stamperA, "", nil) }, 403, "forbidden"},
		{"stamper cannot revoke authorizations", func() response {
			return e.postJSON("/v1/authorizations/"+authzA+"/revoke", stamperA, map[string]any{})
		}, 403, "forbidden"},
		{"stamper cannot stamp with another seal", func() response {
			return e.stampAs(stamperA, testPDF("越权"), stampReq(sealB, authzB, "K-1"))
		}, 403, "seal-out-of-scope"},
		{"stamper cannot use another seal's authorization", func() response {
			return e.stampAs(stamperA, testPDF("越权"), stampReq(sealA, authzB, "K-1"))
		}, 403, "seal-out-of-scope"},
		{"stamper cannot see another seal's authorization", func() response {
			return e.do("GET", "/v1/authorizations/"+authzB, stamperA, "", nil)
		}, 403, "seal-out-of-scope"},
		{"stamper cannot see another seal's document", func() response {
			return e.do("GET", "/v1/documents/"+docB, stamperA, "", nil)
		}, 403, "seal-out-of-scope"},
		{"stamper cannot download another seal's document", func() response {
			return e.do("GET", "/v1/documents/"+docB+"/pdf", stamperA, "", nil)
		}, 403, "seal-out-of-scope"},
		{"stamper cannot add its seal to another seal's document", func() response {
			return e.laterSeal(stamperA, docB, sealA, authzA)
		}, 403, "seal-out-of-scope"},
		{"stamper cannot see another seal", func() response { return e.do("GET", "/v1/seals/"+sealB, stamperA, "", nil) }, 403, "seal-out-of-scope"},
		{"admin cannot stamp", func() response {
			return e.stampAs(admin, testPDF("管理员盖章"), stampReq(sealA, authzA, "K-1"))
		}, 403, "forbidden"},
		{"admin cannot grant", func() response {
			return e.postJSON("/v1/seals/"+sealA+"/authorizations", admin, map[string]any{"case_no": "K-1"})
		}, 403, "forbidden"},
		{"admin cannot read documents", func() response { return e.do("GET", "/v1/documents/"+docB, admin, "", nil) }, 403, "forbidden"},
		{"authorizer for A cannot grant for B", func() response {
			return e.postJSON("/v1/seals/"+sealB+"/authorizations", authorizerA, map[string]any{"case_no": "K-1"})
		}, 403, "seal-out-of-scope"},
		{"authorizer for A cannot revoke B's authorization", func() response {
			return e.postJSON("/v1/authorizations/"+authzB+"/revoke", authorizerA, map[string]any{"reason": "x"})
		}, 403, "seal-out-of-scope"},
		{"authorizer cannot stamp", func() response {
			return e.stampAs(authorizerA, testPDF("授权人盖章"), stampReq(sealA, authzA, "K-1"))
		}, 403, "forbidden"},
		{"archivist cannot stamp", func() response {
			return e.stampAs(archivist, testPDF("档案员盖章"), stampReq(sealA, authzA, "K-1"))
		}, 403, "forbidden"},
		{"archivist cannot create keys", func() response { return e.postJSON("/v1/keys", archivist, newKey) }, 403, "forbidden"},
		{"revoked key", func() response {
			return e.stampAs(revokedA, testPDF("已吊销"), stampReq(sealA, authzA, "K-1"))
		}, 401, "key-revoked"},
	}
	if r := e.postJSON("/v1/keys/"+keyID(t, e, revokedA)+"/revoke", admin, map[string]any{"reason": "系统下线"}); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.objects()
			r := c.send()
			if got := problemType(t, r); r.status != c.status || got != "/problems/"+c.typ {
				t.Fatalf("got %d %s, want %d /problems/%s: %s", r.status, got, c.status, c.typ, r.body)
			}
			if after := e.objects(); after != before {
				t.Fatalf("store changed: %d → %d objects", before, after)
			}
		})
	}

	// What each key may do, it does: nothing above spent authzA.
	if r := e.stampAs(stamperA, testPDF("本章文件"), stampReq(sealA, authzA, "K-1")); r.status != 201 {
		t.Fatalf("stamper A with seal A: %d %s", r.status, r.body)
	}
	for _, key := range []string{stamperB, archivist} {
		if r := e.do("GET", "/v1/documents/"+docB, key, "", nil); r.status != 200 {
			t.Fatalf("reading document B: %d %s", r.status, r.body)
		}
	}
	var seals []map[string]any
	json.Unmarshal(e.do("GET", "/v1/seals", stamperA, "", nil).body, &seals)
	if len(seals) != 1 || seals[0]["id"] != sealA {
		t.Fatalf("stamper A lists %v, want only its seal %s", seals, sealA)
	}
}

// laterSeal adds a seal to an archived document (no file part).
func (e *env) laterSeal(key, docID, sealID, authzID string) response {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	rw, _ := mw.CreateFormField("request")
	json.NewEncoder(rw).Encode(map[string]any{"document_id": docID, "seal_id": sealID, "authorization_id": authzID,
		"placement": map[string]any{"page": 1, "x_mm": 60, "y_mm": 220}})
	mw.Close()
	return e.do("POST", "/v1/stamps", key, mw.FormDataContentType(), &buf)
}

// keyID is the id of the key with this secret.
func keyID(t *testing.T, e *env, secret string) string {
	t.Helper()
	k, err := api.Keyring{Store: e.store, Registry: e.reg}.Lookup(context.Background(), secret)
	if err != nil {
		t.Fatal(err)
	}
	return k.ID
}

// TestKeysOverREST: an admin creates a stamper key for a seal, the key
// stamps, the admin revokes it, and it no longer does; each step is in the
// audit log.
func TestKeysOverREST(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"stamper without seals", map[string]any{"name": "审批系统", "role": "stamper"}, "seals"},
		{"authorizer without seals", map[string]any{"name": "审批系统", "role": "authorizer", "seals": []string{}}, "seals"},
		{"admin with seals", map[string]any{"name": "管理员", "role": "admin", "seals": []string{e.sealID}}, "seals"},
		{"unknown seal", map[string]any{"name": "审批系统", "role": "stamper", "seals": []string{"seal-aaaaaaaaaaaaa"}}, "seals"},
		{"path trick in seal", map[string]any{"name": "审批系统", "role": "stamper", "seals": []string{"../../pki/root.key"}}, "seals"},
		{"seal twice", map[string]any{"name": "审批系统", "role": "stamper", "seals": []string{e.sealID, e.sealID}}, "seals"},
		{"two roles", map[string]any{"name": "审批系统", "role": "admin,stamper"}, "role"},
		{"no role", map[string]any{"name": "审批系统"}, "role"},
		{"no name", map[string]any{"role": "archivist"}, "name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := e.objects()
			r := e.postJSON("/v1/keys", e.admin, c.body)
			if problemType(t, r) != "/problems/invalid-field" || r.status != 422 || r.json(t)["field"] != c.field {
				t.Fatalf("got %d %s, want 422 invalid-field on %s", r.status, r.body, c.field)
			}
			if e.objects() != before {
				t.Fatal("a refused key creation changed the store")
			}
		})
	}

	r := e.postJSON("/v1/keys", e.admin, map[string]any{"name": "某区审批系统", "role": "stamper", "seals": []string{e.sealID}})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var created struct {
		ID, Key, Name string
		Role          api.Role
		Seals         []string
	}
	json.Unmarshal(r.body, &created)
	if !api.ValidKeyID(created.ID) || !strings.HasPrefix(created.Key, "esk_") || created.Role != api.RoleStamper ||
		!slices.Equal(created.Seals, []string{e.sealID}) || created.Name != "某区审批系统" {
		t.Fatalf("created key: %s", r.body)
	}
	if r.header.Get("Location") != "/v1/keys/"+created.ID {
		t.Errorf("Location %q", r.header.Get("Location"))
	}
	if r := e.stampAs(created.Key, testPDF("新密钥"), stampReq(e.sealID, e.grant(e.sealID, map[string]any{"case_no": "K-2"}), "K-2")); r.status != 201 {
		t.Fatalf("the new key stamps: %d %s", r.status, r.body)
	}

	listed := listKeys(t, e)
	i := slices.IndexFunc(listed, func(k api.APIKey) bool { return k.ID == created.ID })
	if i < 0 || listed[i].Revoked != nil || bytes.Contains(e.do("GET", "/v1/keys", e.admin, "", nil).body, []byte(created.Key)) {
		t.Fatalf("list: the new key is missing, revoked, or shown with its secret: %+v", listed)
	}

	r = e.postJSON("/v1/keys/"+created.ID+"/revoke", e.admin, map[string]any{"reason": "系统下线"})
	if r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	var revoked api.APIKey
	json.Unmarshal(r.body, &revoked)
	if revoked.Revoked == nil || revoked.Revoked.Reason != "系统下线" {
		t.Fatalf("revoked key: %s", r.body)
	}
	authz := e.grant(e.sealID, map[string]any{"case_no": "K-2"})
	r = e.stampAs(created.Key, testPDF("已吊销"), stampReq(e.sealID, authz, "K-2"))
	if problemType(t, r) != "/problems/key-revoked" || r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("revoked key: %d %s %q", r.status, r.body, r.header.Get("WWW-Authenticate"))
	}
	// Revoking again changes nothing; an unknown id is a precise 404.
	before := e.objects()
	r = e.postJSON("/v1/keys/"+created.ID+"/revoke", e.admin, map[string]any{"reason": "again"})
	var again api.APIKey
	json.Unmarshal(r.body, &again)
	if r.status != 200 || again.Revoked == nil || again.Revoked.Reason != "系统下线" || e.objects() != before {
		t.Fatalf("second revoke: %d %s", r.status, r.body)
	}
	for _, id := range []string{"k-aaaaaaaaaaaaaaaa", "..%2f..%2fpki"} {
		r = e.postJSON("/v1/keys/"+id+"/revoke", e.admin, map[string]any{})
		if r.status != 404 || (problemType(t, r) != "/problems/key-not-found" && problemType(t, r) != "/problems/not-found") {
			t.Fatalf("revoke %s: %d %s", id, r.status, r.body)
		}
	}

	var log []byte
	e.store.List(context.Background(), "audit/", func(o archive.ObjectInfo) error {
		b, _, _ := archive.GetBytes(context.Background(), e.store, o.Key)
		log = append(log, b...)
		return nil
	})
	for _, want := range []string{"apikey.created", "apikey.revoked", created.ID} {
		if !bytes.Contains(log, []byte(want)) {
			t.Errorf("the audit log lacks %s", want)
		}
	}
}

func listKeys(t *testing.T, e *env) []api.APIKey {
	t.Helper()
	r := e.do("GET", "/v1/keys", e.admin, "", nil)
	var keys []api.APIKey
	if err := json.Unmarshal(r.body, &keys); r.status != 200 || err != nil {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	return keys
}

// TestStoredKeysBeforeOneRole: keys stored with a list of roles still load.
// The admin key of an old `eseal init` is an admin key (it manages seals,
// and no longer stamps); a one-role key keeps its role and seals; a key
// with two roles has no single role and is refused.
func TestStoredKeysBeforeOneRole(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	authz := e.grant(e.sealID, map[string]any{"case_no": "OLD-1"})
	old := func(secret, desc string) string {
		sum := sha256.Sum256([]byte(secret))
		if _, err := archive.PutBytesIfAbsent(ctx, e.store, "apikeys/"+hex.EncodeToString(sum[:])+".json", []byte(desc)); err != nil {
			t.Fatal(err)
		}
		return secret
	}
	admin := old("esk_oldadminkeyoldadminkeyoldadminkey", `{"name":"admin (eseal init)","roles":["admin"],"created":"2026-03-01T08:00:00Z"}`)
	stamper := old("esk_oldstamperkeyoldstamperkeyoldstamp", `{"name":"审批系统","roles":["stamper"],"seals":["`+e.sealID+`"],"created":"2026-03-01T08:00:00Z"}`)
	mixed := old("esk_oldmixedkeyoldmixedkeyoldmixedkeyx", `{"name":"万能钥匙","roles":["authorizer","stamper"],"created":"2026-03-01T08:00:00Z"}`)

	if r := e.postJSON("/v1/seals", admin, map[string]any{"name": "旧管理员建的章"}); r.status != 201 {
		t.Fatalf("old admin key creates a seal: %d %s", r.status, r.body)
	}
	if r := e.stampAs(admin, testPDF("旧管理员"), stampReq(e.sealID, authz, "OLD-1")); r.status != 403 || problemType(t, r) != "/problems/forbidden" {
		t.Fatalf("old admin key stamps: %d %s", r.status, r.body)
	}
	r := e.stampAs(mixed, testPDF("两种角色"), stampReq(e.sealID, authz, "OLD-1"))
	if r.status != 403 || problemType(t, r) != "/problems/forbidden" || !strings.Contains(r.json(t)["detail"].(string), "one role") {
		t.Fatalf("old two-role key: %d %s", r.status, r.body)
	}
	if r := e.stampAs(stamper, testPDF("旧盖章密钥"), stampReq(e.sealID, authz, "OLD-1")); r.status != 201 {
		t.Fatalf("old stamper key: %d %s", r.status, r.body)
	}

	byName := map[string]api.APIKey{}
	for _, k := range listKeys(t, e) {
		byName[k.Name] = k
	}
	if k := byName["admin (eseal init)"]; k.Role != api.RoleAdmin || !api.ValidKeyID(k.ID) || len(k.Seals) != 0 {
		t.Fatalf("old admin key listed as %+v", k)
	}
	if k := byName["审批系统"]; k.Role != api.RoleStamper || !slices.Equal(k.Seals, []string{e.sealID}) {
		t.Fatalf("old stamper key listed as %+v", k)
	}
	if k := byName["万能钥匙"]; k.Role != "" || len(k.LegacyRoles) != 2 {
		t.Fatalf("old two-role key listed as %+v", k)
	}
	// An old key is revoked by the id it is listed with.
	if r := e.postJSON("/v1/keys/"+byName["admin (eseal init)"].ID+"/revoke", e.admin, map[string]any{}); r.status != 200 {
		t.Fatalf("revoke the old admin key: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/seals", admin, "", nil); r.status != 401 || problemType(t, r) != "/problems/key-revoked" {
		t.Fatalf("revoked old admin key: %d %s", r.status, r.body)
	}
}

// FuzzCreateKey: whatever name, role and seals are asked for, a key is
// either refused with a KeySpecError and nothing stored, or stored with
// exactly one known role and seals that fit it, and reads back as created.
func FuzzCreateKey(f *testing.F) {
	ctx := context.Background()
	store, err := fs.New(f.TempDir(), fs.Options{})
	if err != nil {
		f.Fatal(err)
	}
	kek, _, err := keys.NewKEK()
	if err != nil {
		f.Fatal(err)
	}
	reg, err := seal.InitOrg(ctx, store, kek, "测试市行政审批服务局", seal.Options{})
	if err != nil {
		f.Fatal(err)
	}
	sl, err := reg.CreateSeal(ctx, seal.CreateSpec{Name: "测试市行政审批服务局行政审批专用章", Type: seal.TypeApproval, Policy: seal.PolicyKey})
	if err != nil {
		f.Fatal(err)
	}
	kr := api.Keyring{Store: store, Registry: reg}
	count := func() (n int) {
		store.List(ctx, "", func(archive.ObjectInfo) error { n++; return nil })
		return n
	}
	for _, seed := range [][3]string{
		{"某区审批系统", "stamper", sl.ID}, {"负责人", "authorizer", sl.ID + "," + sl.ID}, {"管理员", "admin", ""},
		{"档案员", "archivist", sl.ID}, {"", "stamper", sl.ID}, {"x", "admin,stamper", ""}, {"x", "stamper", "../../pki/root.key"},
		{"x", "stamper", "seal-aaaaaaaaaaaaa"}, {"\xff", "archivist", ""}, {strings.Repeat("名", 101), "admin", ""},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, name, role, seals string) {
		var list []string
		if seals != "" {
			list = strings.Split(seals, ",")
		}
		before := count()
		k, secret, err := kr.Create(ctx, api.KeySpec{Name: name, Role: api.Role(role), Seals: list, By: "fuzz"})
		if err != nil {
			var se *api.KeySpecError
			if !errors.As(err, &se) {
				t.Fatalf("refused with %T %v, want a KeySpecError", err, err)
			}
			if count() != before {
				t.Fatal("a refused key changed the store")
			}
			return
		}
		scoped := k.Role == api.RoleStamper || k.Role == api.RoleAuthorizer
		if !slices.Contains(api.Roles, k.Role) || string(k.Role) != role || scoped != (len(k.Seals) > 0) ||
			(scoped && !slices.Equal(k.Seals, []string{sl.ID})) {
			t.Fatalf("stored %+v for role %q, seals %q", k, role, seals)
		}
		got, err := kr.Lookup(ctx, secret)
		if err != nil || got.ID != k.ID || got.Role != k.Role || !slices.Equal(got.Seals, k.Seals) || got.Name != k.Name {
			t.Fatalf("read back %+v, %v; created %+v", got, err, k)
		}
	})
}

// descriptionReads counts the reads of API key descriptions (not of their
// revocations).
type descriptionReads struct {
	archive.Store
	n atomic.Int64
}

func (d *descriptionReads) Get(ctx context.Context, key string) (io.ReadCloser, archive.ObjectInfo, error) {
	if strings.HasPrefix(key, "apikeys/") && !strings.HasPrefix(key, "apikeys/revoked/") {
		d.n.Add(1)
	}
	return d.Store.Get(ctx, key)
}

// TestKeyDescriptionCachedRevocationNot: a replica reads a key's
// description once and keeps it (it never changes), but reads the key's
// revocation at every request: a key revoked on another replica is refused
// on this one at once.
func TestKeyDescriptionCachedRevocationNot(t *testing.T) {
	base, err := fs.New(t.TempDir(), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	counted := &descriptionReads{Store: base}
	e := newEnvStore(t, "", counted)
	rp := e.replica(t, filepath.Join(t.TempDir(), "index.db"))
	key := e.key(api.RoleArchivist)
	for range 3 {
		if r := rp.get(t, key, "q="); r.status != 200 {
			t.Fatalf("search with the archivist key: %d %s", r.status, r.body)
		}
	}
	if n := counted.n.Load(); n != 1 {
		t.Errorf("the key's description was read %d times for three requests, want once", n)
	}
	var id string
	for _, k := range mustList(t, e) {
		if k.Role == api.RoleArchivist {
			id = k.ID
		}
	}
	if r := e.postJSON("/v1/keys/"+id+"/revoke", e.admin, map[string]any{"reason": "leaked"}); r.status != 200 {
		t.Fatalf("revoke on the first replica: %d %s", r.status, r.body)
	}
	if r := rp.get(t, key, "q="); r.status != 401 {
		t.Fatalf("the revoked key on the other replica: %d %s, want 401", r.status, r.body)
	}
}

func mustList(t *testing.T, e *env) []*api.APIKey {
	t.Helper()
	keys, err := api.Keyring{Store: e.store, Registry: e.reg}.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
