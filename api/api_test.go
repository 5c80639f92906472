package api_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/gorilla/mux"

	"eseal/api"
	"eseal/archive"
	"eseal/archive/audit"
	"eseal/archive/fs"
	"eseal/archive/transfer"
	"eseal/keys"
	"eseal/keys/tsa"
	"eseal/pdf/pdftest"
	"eseal/seal"
	"eseal/seal/ses"
)

// env is one eseal server on loopback with its own store and clock.
type env struct {
	t      testing.TB
	srv    *api.Server
	root   string
	audit  *audit.Log
	url    string
	admin  string
	sealID string
	// keys holds the API keys made for the test, by role and seals.
	keys  map[string]string
	store archive.Store
	reg   *seal.Registry
	clock *clock
}

type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

func newEnv(t testing.TB) *env { return newEnvOn(t, "") }

// newEnvOn is newEnv with the server's public URL naming host instead of
// the listener's address ("localhost": a secure context for WebAuthn).
func newEnvOn(t testing.TB, host string) *env {
	t.Helper()
	root := t.TempDir()
	fsStore, err := fs.New(root, fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvStore(t, host, fsStore)
	e.root = root
	return e
}

// newEnvStore is newEnvOn on a store of the caller's choosing (e.root is
// then empty).
func newEnvStore(t testing.TB, host string, base archive.Store) *env {
	t.Helper()
	ctx := context.Background()
	root := ""
	metrics := api.NewMetrics()
	store := archive.Instrument(base, metrics.ObserveStore)
	kek, _, err := keys.NewKEK()
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{}
	reg, err := seal.InitOrg(ctx, store, kek, "测试市行政审批服务局", seal.Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	auditKey, err := reg.AuditSigner(ctx)
	if err != nil {
		t.Fatal(err)
	}
	alog, err := audit.Open(ctx, store, "test", audit.Options{Signer: auditKey})
	if err != nil {
		t.Fatal(err)
	}
	reg.SetAuditor(seal.LogAuditor{Log: alog})
	s, err := reg.CreateSeal(ctx, seal.CreateSpec{Name: "测试市行政审批服务局行政审批专用章", Type: seal.TypeApproval, Policy: seal.PolicyKey})
	if err != nil {
		t.Fatal(err)
	}
	// The listener comes first: links the server makes name its address.
	hs := httptest.NewUnstartedServer(nil)
	t.Cleanup(hs.Close)
	url := "http://" + hs.Listener.Addr().String()
	if host != "" {
		url = "http://" + net.JoinHostPort(host, strconv.Itoa(hs.Listener.Addr().(*net.TCPAddr).Port))
	}
	srv, err := api.New(api.Options{
		Metrics: metrics, Registry: reg, Store: store, Transfer: &api.TransferConfig{Rule: transfer.Rule{Fonds: "Z001"}},
		Service:   &seal.Service{Registry: reg, Store: store, Application: "eseal test", PublicURL: url},
		Limits:    api.Limits{MaxPDFBytes: 2 << 20, MaxJSONBytes: 64 << 10, CodeAttemptsPerMinute: 1000, CodePrefixAttemptsPerMinute: 1000, ApprovalRequestsPerMinute: 1000},
		PublicURL: url,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(func() { _ = srv.Service.FlushPending(context.Background()) })
	e := &env{t: t, srv: srv, root: root, audit: alog, url: url, sealID: s.ID, store: store, reg: reg, clock: c, keys: map[string]string{}}
	// The keys most tests use are made before any test counts objects.
	e.admin = e.key(api.RoleAdmin)
	e.key(api.RoleAuthorizer, s.ID)
	e.key(api.RoleStamper, s.ID)
	e.key(api.RoleArchivist)
	return e
}

// key returns an API key with the role and seals, made on first use. Keys
// are objects in the store: tests that count objects make theirs first.
func (e *env) key(role api.Role, seals ...string) string {
	e.t.Helper()
	name := string(role) + " " + strings.Join(seals, " ")
	if k, ok := e.keys[name]; ok {
		return k
	}
	_, k, err := api.Keyring{Store: e.store, Registry: e.reg}.Create(context.Background(), api.KeySpec{Name: name, Role: role, Seals: seals, By: "test"})
	if err != nil {
		e.t.Fatalf("key %s: %v", name, err)
	}
	e.keys[name] = k
	return k
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d, body %q: %v", r.status, r.body, err)
	}
	return m
}

func (e *env) do(method, path, key, contentType string, body io.Reader, hdr ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

func (e *env) postJSON(path, key string, v any) response {
	b, _ := json.Marshal(v)
	return e.do("POST", path, key, "application/json", bytes.NewReader(b))
}

func (e *env) grant(sealID string, body map[string]any) string {
	e.t.Helper()
	r := e.postJSON("/v1/seals/"+sealID+"/authorizations", e.key(api.RoleAuthorizer, sealID), body)
	if r.status != 201 {
		e.t.Fatalf("grant: %d %s", r.status, r.body)
	}
	return r.json(e.t)["id"].(string)
}

// stampBody builds a POST /v1/stamps multipart body.
func stampBody(t testing.TB, pdfBytes []byte, req any) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "notice.pdf")
	fw.Write(pdfBytes)
	rw, _ := mw.CreateFormField("request")
	switch v := req.(type) {
	case string:
		rw.Write([]byte(v))
	default:
		json.NewEncoder(rw).Encode(v)
	}
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

func stampReq(sealID, authzID, caseNo string) map[string]any {
	return map[string]any{
		"seal_id": sealID, "authorization_id": authzID,
		"placement": map[string]any{"page": 1, "x_mm": 120, "y_mm": 180},
		"record": map[string]any{"title": "行政许可决定书", "item_code": "330000-XK-001", "case_no": caseNo,
			"applicant": "某某科技有限公司", "retention": "30y"},
	}
}

// stamp stamps with a stamper key for the seals the request names (the
// test seal when it names none).
func (e *env) stamp(pdfBytes []byte, req any, hdr ...string) response {
	e.t.Helper()
	var seals []string
	if m, ok := req.(map[string]any); ok {
		if id, ok := m["seal_id"].(string); ok {
			seals = append(seals, id)
		}
		if uses, ok := m["seals"].([]map[string]any); ok {
			for _, u := range uses {
				seals = append(seals, u["seal_id"].(string))
			}
		}
	}
	if len(seals) == 0 {
		seals = []string{e.sealID}
	}
	return e.stampAs(e.key(api.RoleStamper, seals...), pdfBytes, req, hdr...)
}

func (e *env) stampAs(key string, pdfBytes []byte, req any, hdr ...string) response {
	e.t.Helper()
	ct, body := stampBody(e.t, pdfBytes, req)
	return e.do("POST", "/v1/stamps", key, ct, bytes.NewReader(body), hdr...)
}

// problemType asserts a problem+json answer and returns its type.
func problemType(t *testing.T, r response) string {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d, content type %q, body %s", r.status, ct, r.body)
	}
	m := r.json(t)
	if int(m["status"].(float64)) != r.status {
		t.Fatalf("problem status %v != HTTP status %d", m["status"], r.status)
	}
	return m["type"].(string)
}

// objects counts the objects in the store, to show that refused requests
// change nothing.
// objects counts the store's objects, once the stagings of the stampings
// answered so far are removed (they go after the answer).
func (e *env) objects() int {
	if err := e.srv.Service.FlushPending(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	n := 0
	if err := e.store.List(context.Background(), "", func(archive.ObjectInfo) error { n++; return nil }); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestStampDownloadVerify(t *testing.T) {
	e := newEnv(t)
	// An administrator creates a seal; an authorizer grants one use for a case.
	r := e.postJSON("/v1/seals", e.admin, map[string]any{"name": "测试市市场监督管理局", "type": 1, "policy": "key"})
	if r.status != 201 {
		t.Fatalf("create seal: %d %s", r.status, r.body)
	}
	sealID := r.json(t)["id"].(string)
	authz := e.grant(sealID, map[string]any{"case_no": "ZJ-2026-000123", "expires_in": "10m"})

	in := testPDF("准予行政许可决定书")
	r = e.stamp(in, stampReq(sealID, authz, "ZJ-2026-000123"))
	if r.status != 201 {
		t.Fatalf("stamp: %d %s", r.status, r.body)
	}
	res := r.json(t)
	code := res["retrieval_code"].(string)
	if len(strings.ReplaceAll(code, "-", "")) != 20 {
		t.Errorf("retrieval code %q: want 20 characters (a unit hint and 80 random bits) in groups", code)
	}
	for _, k := range []string{"document_id", "download_url", "verify_url"} {
		if res[k] == "" || res[k] == nil {
			t.Errorf("response lacks %s: %s", k, r.body)
		}
	}

	// The citizen downloads with the code, typed loosely.
	r = e.do("GET", "/d/"+strings.ToLower(code)+"/pdf", "", "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("download: %d %s", r.status, r.header.Get("Content-Type"))
	}
	signed := r.body
	if !bytes.HasPrefix(signed, in) {
		t.Fatal("the input is not a prefix of the signed PDF")
	}
	page := e.do("GET", "/d/"+code, "", "", nil)
	if page.status != 200 || !bytes.Contains(page.body, []byte("VALID")) || !bytes.Contains(page.body, []byte("行政许可决定书")) {
		t.Fatalf("download page: %d\n%s", page.status, page.body)
	}

	// Anyone verifies it.
	r = e.do("POST", "/v1/verify", "", "application/pdf", bytes.NewReader(signed))
	if r.status != 200 {
		t.Fatalf("verify: %d %s", r.status, r.body)
	}
	if v := r.json(t)["verdict"]; v != "VALID" {
		t.Fatalf("verdict %v: %s", v, r.body)
	}
	vp := e.do("GET", "/v/"+res["document_id"].(string), "", "", nil)
	if vp.status != 200 || !bytes.Contains(vp.body, []byte("VALID")) {
		t.Fatalf("verify page: %d", vp.status)
	}

	first, err := e.reg.FirstUnit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := e.do("GET", "/metrics", "", "", nil)
	for _, want := range []string{
		`eseal_stamps_total{result="ok",seal="` + sealID + `",unit="` + first.ID + `"} 1`,
		`eseal_verifications_total{verdict="VALID"}`,
		`eseal_store_operation_duration_seconds_count{op="put_if_absent",result="ok"}`,
		`eseal_http_request_duration_seconds_count{route="stamp",status="201"} 1`,
	} {
		if !bytes.Contains(m.body, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// The same authorization a second time: 409, nothing stored.
	before := e.objects()
	r = e.stamp(in, stampReq(sealID, authz, "ZJ-2026-000123"))
	if r.status != 409 || problemType(t, r) != "/problems/authorization-consumed" {
		t.Fatalf("second use: %d %s", r.status, r.body)
	}
	if after := e.objects(); after != before {
		t.Errorf("a refused stamping changed the store: %d → %d objects", before, after)
	}
	m = e.do("GET", "/metrics", "", "", nil)
	if !bytes.Contains(m.body, []byte(`eseal_authorization_rejections_total{reason="consumed"} 1`)) {
		t.Error("/metrics lacks the rejection by reason")
	}
}

func TestConcurrentStampsOneAuthorization(t *testing.T) {
	e := newEnv(t)
	authz := e.grant(e.sealID, map[string]any{"case_no": "ZJ-RACE-1"})
	in := testPDF("并发盖章")
	const n = 50
	var created, conflicts atomic.Int32
	var wg sync.WaitGroup
	ct, body := stampBody(t, in, stampReq(e.sealID, authz, "ZJ-RACE-1"))
	stamper := e.key(api.RoleStamper, e.sealID)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", e.url+"/v1/stamps", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+stamper)
			req.Header.Set("Content-Type", ct)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch resp.StatusCode {
			case 201:
				created.Add(1)
			case 409:
				conflicts.Add(1)
			default:
				t.Errorf("unexpected status %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	if created.Load() != 1 || conflicts.Load() != n-1 {
		t.Fatalf("%d created, %d conflicts; want exactly 1 and %d", created.Load(), conflicts.Load(), n-1)
	}
	docs := 0
	e.store.List(context.Background(), "docs/", func(o archive.ObjectInfo) error {
		if strings.HasSuffix(o.Key, "/document.pdf") {
			docs++
		}
		return nil
	})
	if docs != 1 {
		t.Fatalf("%d documents stored, want 1", docs)
	}
	if err := e.srv.Service.FlushPending(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := countPrefix(e, "pending/"); n != 0 {
		t.Fatalf("%d pending entries left behind", n)
	}
}

func countPrefix(e *env, prefix string) int {
	n := 0
	e.store.List(context.Background(), prefix, func(archive.ObjectInfo) error { n++; return nil })
	return n
}

func TestIdempotentRetry(t *testing.T) {
	e := newEnv(t)
	authz := e.grant(e.sealID, map[string]any{"case_no": "ZJ-IDEM-1"})
	in := testPDF("幂等重试")
	first := e.stamp(in, stampReq(e.sealID, authz, "ZJ-IDEM-1"), "Idempotency-Key", "req-42")
	if first.status != 201 {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	again := e.stamp(in, stampReq(e.sealID, authz, "ZJ-IDEM-1"), "Idempotency-Key", "req-42")
	if again.status != 201 || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %s", again.status, again.body)
	}
	a, b := first.json(t), again.json(t)
	if a["document_id"] != b["document_id"] || a["retrieval_code"] != b["retrieval_code"] {
		t.Fatalf("retry gave another document: %v / %v", a["document_id"], b["document_id"])
	}
	// The same key with another authorization is a client error.
	other := e.grant(e.sealID, map[string]any{"case_no": "ZJ-IDEM-1"})
	r := e.stamp(in, stampReq(e.sealID, other, "ZJ-IDEM-1"), "Idempotency-Key", "req-42")
	if r.status != 422 || problemType(t, r) != "/problems/idempotency-key-reused" {
		t.Fatalf("reused key: %d %s", r.status, r.body)
	}
}

func TestAuthorizationRejections(t *testing.T) {
	e := newEnv(t)
	in := testPDF("授权检查")
	sum := sm3.Sum(in)
	otherSum := sm3.Sum([]byte("another document"))
	r := e.postJSON("/v1/seals", e.admin, map[string]any{"name": "另一枚印章", "policy": "key"})
	otherSeal := r.json(t)["id"].(string)

	expired := e.grant(e.sealID, map[string]any{"case_no": "C-1", "expires_in": "1m"})
	revoked := e.grant(e.sealID, map[string]any{"case_no": "C-1"})
	if r := e.postJSON("/v1/authorizations/"+revoked+"/revoke", e.key(api.RoleAuthorizer, e.sealID), map[string]any{"reason": "申请撤回"}); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	wrongSeal := e.grant(otherSeal, map[string]any{"case_no": "C-1"})
	wrongDoc := e.grant(e.sealID, map[string]any{"document_sm3": hex.EncodeToString(otherSum[:])})
	wrongCase := e.grant(e.sealID, map[string]any{"case_no": "C-2"})
	rightDoc := e.grant(e.sealID, map[string]any{"document_sm3": hex.EncodeToString(sum[:])})
	e.clock.advance(2 * time.Minute)
	// A key for both seals, so that the service, not the key's scope, is
	// what refuses the other seal's authorization.
	stamper := e.key(api.RoleStamper, e.sealID, otherSeal)

	for _, c := range []struct {
		name, authz, want string
	}{
		{"expired", expired, "/problems/authorization-expired"},
		{"revoked", revoked, "/problems/authorization-revoked"},
		{"wrong seal", wrongSeal, "/problems/authorization-wrong-seal"},
		{"wrong document", wrongDoc, "/problems/authorization-wrong-document"},
		{"wrong case", wrongCase, "/problems/authorization-wrong-case"},
		{"unknown", "az-aaaaaaaaaaaaaaaa", "/problems/authorization-not-found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := e.objects()
			r := e.stampAs(stamper, in, stampReq(e.sealID, c.authz, "C-1"))
			if got := problemType(t, r); got != c.want || r.status/100 != 4 {
				t.Fatalf("got %d %s, want %s", r.status, got, c.want)
			}
			if after := e.objects(); after != before {
				t.Fatalf("store changed: %d → %d objects", before, after)
			}
		})
	}
	// The document-scoped grant works for its own document.
	if r := e.stamp(in, stampReq(e.sealID, rightDoc, "C-1")); r.status != 201 {
		t.Fatalf("document-scoped grant: %d %s", r.status, r.body)
	}
}

// testPDF makes a small one-page PDF with a title in Chinese.
func testPDF(title string) []byte { return pdftest.Document(pdftest.Options{Title: title}) }

func serverRouter(t *testing.T, e *env) *mux.Router { return e.srv.Router() }

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}

type bearer struct{ key string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return http.DefaultTransport.RoundTrip(r)
}

func TestTimestampedStampAndTSAEndpoint(t *testing.T) {
	e := newEnv(t)
	authz := e.grant(e.sealID, map[string]any{"case_no": "TS-1"})
	req := stampReq(e.sealID, authz, "TS-1")
	req["timestamp"] = true
	req["ltv"] = true
	r := e.stamp(testPDF("时间戳"), req)
	if r.status != 201 {
		t.Fatalf("stamp: %d %s", r.status, r.body)
	}
	var res struct {
		Record struct {
			Signatures []struct{ Timestamp *time.Time } `json:"signatures"`
		} `json:"record"`
		Warnings []string `json:"warnings"`
	}
	json.Unmarshal(r.body, &res)
	if len(res.Record.Signatures) != 1 || res.Record.Signatures[0].Timestamp == nil || len(res.Warnings) != 0 {
		t.Fatalf("record without the timestamp: %s", r.body)
	}
	var ids struct {
		DocumentID string `json:"document_id"`
	}
	json.Unmarshal(r.body, &ids)
	stored := e.do("GET", "/v1/documents/"+ids.DocumentID+"/pdf", e.key(api.RoleStamper, e.sealID), "", nil).body
	if !bytes.Contains(stored, []byte("/DSS")) {
		t.Fatal("ltv: no /DSS in the stored PDF")
	}
	if v := e.do("POST", "/v1/verify", "", "application/pdf", bytes.NewReader(stored)).json(t); v["verdict"] != "VALID" {
		t.Fatalf("timestamped LTV document: %v", v["verdict"])
	}
	// The embedded TSA answers RFC 3161 requests over HTTP.
	c := &tsa.Client{URL: e.url + "/v1/tsa", HTTP: &http.Client{Transport: bearer{e.key(api.RoleStamper, e.sealID)}}}
	digest := sm3.Sum([]byte("some signature value"))
	tok, err := c.Timestamp(context.Background(), digest[:])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tsa.ParseToken(tok); err != nil {
		t.Fatal(err)
	}
}

// TestPagesOneClock: the citizen's and the verify page read every time in
// Beijing time, labelled: the stamping date is the signing time's date there.
func TestPagesOneClock(t *testing.T) {
	e := newEnv(t)
	authz := e.grant(e.sealID, map[string]any{"case_no": "CLK-1"})
	r := e.stamp(testPDF("准予行政许可决定书"), stampReq(e.sealID, authz, "CLK-1"))
	if r.status != 201 {
		t.Fatalf("stamp: %d %s", r.status, r.body)
	}
	m := r.json(t)
	rec := m["record"].(map[string]any)
	signed, err := time.Parse(time.RFC3339, rec["date"].(string))
	if err != nil {
		t.Fatal(err)
	}
	beijing := signed.In(time.FixedZone("CST", 8*3600))
	d := e.do("GET", "/d/"+m["retrieval_code"].(string), "", "", nil)
	if d.status != 200 || !strings.Contains(string(d.body), `<dd id="date">`+beijing.Format("2006-01-02")+`</dd>`) ||
		!strings.Contains(string(d.body), "北京时间") {
		t.Fatalf("download page: stamping date is not %s (Beijing) or unlabelled:\n%s", beijing.Format("2006-01-02"), d.body)
	}
	v := e.do("GET", "/v/"+m["document_id"].(string), "", "", nil)
	if v.status != 200 || !strings.Contains(string(v.body), "北京时间") || strings.Contains(string(v.body), " UTC<") {
		t.Fatalf("verify page times are not Beijing time, labelled:\n%s", v.body)
	}

	// A deployment elsewhere (serve's time_zone) reads every time in its
	// zone, labelled with the zone's name and offset.
	for _, bad := range []string{"Mars/Olympus", "Local", "../../etc/passwd", "+08:00"} {
		if err := api.SetTimeZone(bad); err == nil {
			t.Errorf("SetTimeZone(%q) accepted", bad)
		}
	}
	if err := api.SetTimeZone("Asia/Urumqi"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.SetTimeZone("") })
	urumqi := signed.In(time.FixedZone("", 6*3600))
	d = e.do("GET", "/d/"+m["retrieval_code"].(string), "", "", nil)
	if d.status != 200 || !strings.Contains(string(d.body), `<dd id="date">`+urumqi.Format("2006-01-02")+`</dd>`) ||
		!strings.Contains(string(d.body), urumqi.Format("2006-01-02 15:04:05")+" Asia/Urumqi (UTC&#43;06:00)") || strings.Contains(string(d.body), "北京时间") {
		t.Fatalf("download page in Asia/Urumqi: want %s, labelled:\n%s", urumqi.Format("2006-01-02 15:04:05"), d.body)
	}
}

// TestPKIPublished: the root's CRL and certificate are served where the
// certificates say; a revoked seal's signer certificate is on the CRL a
// relying party fetches, which verifies under the root.
func TestPKIPublished(t *testing.T) {
	e := newEnv(t)
	root := e.do("GET", "/pki/root.crt", "", "", nil)
	if root.status != 200 || root.header.Get("Content-Type") != "application/pkix-cert" || !bytes.Equal(root.body, e.reg.Roots()[0].Raw) {
		t.Fatalf("root: %d %s", root.status, root.header.Get("Content-Type"))
	}
	if r := e.postJSON("/v1/seals/"+e.sealID+"/revoke", e.admin, map[string]any{"reason": "遗失"}); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	r := e.do("GET", "/pki/crl.der", "", "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/pkix-crl" || !strings.Contains(r.header.Get("Cache-Control"), "public") {
		t.Fatalf("CRL: %d %v", r.status, r.header)
	}
	ts := keys.NewTrustStore(e.reg.Roots()...)
	if err := ts.AddCRL(r.body); err != nil {
		t.Fatalf("the served CRL does not verify under the served root: %v", err)
	}
	sl, err := e.reg.Get(context.Background(), e.sealID)
	if err != nil {
		t.Fatal(err)
	}
	chain, _ := e.reg.Chain(context.Background(), e.sealID)
	certs, _ := keys.ParseCertificatesPEM(chain)
	if _, err := ts.Verify(certs[0], nil, time.Now(), keys.UsageSign); err == nil {
		t.Fatalf("seal %s (signer %s) revoked, but the served CRL does not list it", sl.ID, sl.SignerSerial)
	}
}

// TestSESignatureSideFile: a stamping that asks for a GB/T 38540
// SES_Signature has it served beside the document, with the timestamp
// asked for, to the stamper of its seal; other seals' keys get 403 and a
// seal without one 404.
func TestSESignatureSideFile(t *testing.T) {
	e := newEnv(t)
	authz := e.grant(e.sealID, map[string]any{"case_no": "SES-1"})
	req := stampReq(e.sealID, authz, "SES-1")
	req["ses_signature"], req["timestamp"] = true, true
	r := e.stamp(testPDF("准予行政许可决定书"), req)
	if r.status != 201 {
		t.Fatalf("stamp: %d %s", r.status, r.body)
	}
	id := r.json(t)["document_id"].(string)
	stamper := e.key(api.RoleStamper, e.sealID)
	got := e.do("GET", "/v1/documents/"+id+"/ses-signatures/1", stamper, "", nil)
	if got.status != 200 {
		t.Fatalf("SES_Signature: %d %s", got.status, got.body)
	}
	sig, err := ses.ParseSignature(got.body)
	if err != nil {
		t.Fatalf("the served SES_Signature does not parse: %v", err)
	}
	if sig.Seal == nil || len(sig.TimeStamp) == 0 {
		t.Fatalf("SES_Signature without its seal or the timestamp asked for: seal %v, %d timestamp bytes", sig.Seal != nil, len(sig.TimeStamp))
	}
	for path, want := range map[string]int{"/ses-signatures/2": 404, "/ses-signatures/0": 404, "/ses-signatures/x": 404} {
		if r := e.do("GET", "/v1/documents/"+id+path, stamper, "", nil); r.status != want {
			t.Errorf("%s: %d, want %d", path, r.status, want)
		}
	}
	other := e.postJSON("/v1/seals", e.admin, map[string]any{"name": "另一枚章"}).json(t)["id"].(string)
	if r := e.do("GET", "/v1/documents/"+id+"/ses-signatures/1", e.key(api.RoleStamper, other), "", nil); r.status != 403 {
		t.Errorf("another seal's stamper: %d", r.status)
	}
}
