package api_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"eseal/api"
	"eseal/archive"
	"eseal/archive/audit"
	"eseal/archive/fs"
	"eseal/keys"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// newEnvWith is newEnv with the store wrapped by wrap, the service's
// recovery grace set, and failed audit appends counted in the metrics, as
// `eseal serve` sets them up.
func newEnvWith(t *testing.T, wrap func(archive.Store) archive.Store, grace time.Duration) (*env, *seal.Service) {
	t.Helper()
	ctx := context.Background()
	root := t.TempDir()
	fsStore, err := fs.New(root, fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	metrics := api.NewMetrics()
	store := archive.Instrument(fsStore, metrics.ObserveStore)
	if wrap != nil {
		store = wrap(store)
	}
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
	reg.SetAuditor(seal.LogAuditor{Log: alog, Failed: metrics.AuditAppendFailed})
	s, err := reg.CreateSeal(ctx, seal.CreateSpec{Name: "测试市行政审批服务局行政审批专用章", Type: seal.TypeApproval, Policy: seal.PolicyKey})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	t.Cleanup(hs.Close)
	url := "http://" + hs.Listener.Addr().String()
	svc := &seal.Service{Registry: reg, Store: store, Application: "eseal test", PublicURL: url, RecoveryGrace: grace}
	srv, err := api.New(api.Options{Metrics: metrics, Registry: reg, Store: store, Service: svc, PublicURL: url,
		Limits: api.Limits{MaxPDFBytes: 2 << 20, MaxJSONBytes: 64 << 10, CodeAttemptsPerMinute: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = srv.Handler()
	hs.Start()
	e := &env{t: t, srv: srv, root: root, audit: alog, url: url, sealID: s.ID, store: store, reg: reg, clock: c, keys: map[string]string{}}
	e.key(api.RoleAuthorizer, s.ID)
	e.key(api.RoleStamper, s.ID)
	return e, svc
}

// TestAuditUnwritable: with the audit log's shard made unwritable (its
// directory replaced by a file), a grant and a stamping are refused with the
// audit-unavailable problem and nothing of them is left in the store but
// the stamping's use marker and its release, which gives the use back: no
// grant, no document, no use of the authorization, no pending entry. The
// metric counts both failures. Made writable again, the log verifies (no
// entry was half-written) and the same authorization still stamps, in the
// next slot. A legal hold the log cannot record is set back.
func TestAuditUnwritable(t *testing.T) {
	e, _ := newEnvWith(t, nil, 0)
	ctx := context.Background()
	authz := e.grant(e.sealID, map[string]any{"case_no": "AU-1"})
	keys := func() map[string]bool {
		m := map[string]bool{}
		if err := e.store.List(ctx, "", func(o archive.ObjectInfo) error { m[o.Key] = true; return nil }); err != nil {
			t.Fatal(err)
		}
		return m
	}
	before := keys()

	restore := auditOutage(t, e)
	r := e.postJSON("/v1/seals/"+e.sealID+"/authorizations", e.key(api.RoleAuthorizer, e.sealID), map[string]any{"case_no": "AU-2"})
	if r.status != http.StatusServiceUnavailable || !strings.HasSuffix(problemType(t, r), "/audit-unavailable") {
		t.Fatalf("grant with the audit log unwritable: %d %s", r.status, r.body)
	}
	r = e.stamp(pdftest.Document(pdftest.Options{}), stampReq(e.sealID, authz, "AU-1"))
	if r.status != http.StatusServiceUnavailable || !strings.HasSuffix(problemType(t, r), "/audit-unavailable") {
		t.Fatalf("stamp with the audit log unwritable: %d %s", r.status, r.body)
	}
	m := e.do("GET", "/metrics", "", "", nil)
	if !strings.Contains(string(m.body), "eseal_audit_append_failures_total 2") {
		t.Errorf("metrics do not count the two failed appends:\n%s", grepLines(string(m.body), "eseal_audit"))
	}

	restore()
	var added []string
	for k := range keys() {
		if !before[k] {
			added = append(added, k)
		}
	}
	sort.Strings(added)
	if want := []string{"authz/" + authz + "/release/0001.json", "authz/" + authz + "/use/0001.json"}; !slices.Equal(added, want) {
		t.Fatalf("objects added by the refused grant and stamping: %v; want only %v", added, want)
	}
	if st, err := e.reg.Authorization(ctx, authz); err != nil || len(st.Uses) != 0 || st.Remaining != 1 {
		t.Fatalf("authorization after the refused stamping: %+v, %v", st, err)
	}
	r = e.stamp(pdftest.Document(pdftest.Options{}), stampReq(e.sealID, authz, "AU-1"))
	if r.status != http.StatusCreated {
		t.Fatalf("stamp with the audit log writable again: %d %s", r.status, r.body)
	}
	if st, err := e.reg.Authorization(ctx, authz); err != nil || len(st.Uses) != 1 || st.Uses[0].N != 2 {
		t.Fatalf("authorization after the stamping: %+v, %v; want its use in slot 2", st, err)
	}

	// A legal hold the log cannot record is set back: 503, and neither the
	// PDF nor the record is held.
	docID := r.json(t)["document_id"].(string)
	archivist := e.key(api.RoleArchivist) // a key too is made only while the log records it
	restore = auditOutage(t, e)
	r = e.postJSON("/v1/documents/"+docID+"/hold", archivist, map[string]any{"on": true, "reason": "诉讼保全"})
	if r.status != http.StatusServiceUnavailable || !strings.HasSuffix(problemType(t, r), "/audit-unavailable") {
		t.Fatalf("hold with the audit log unwritable: %d %s", r.status, r.body)
	}
	for _, k := range []string{archive.DocumentKey(docID), archive.RecordKey(docID)} {
		if info, err := e.store.Head(ctx, k); err != nil || info.LegalHold {
			t.Fatalf("%s after the refused hold: %+v, %v", k, info, err)
		}
	}
	restore()
	cert, err := e.reg.AuditCertificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.audit.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(ctx, e.store, cert.PublicKey)
	if err != nil || !rep.OK() {
		t.Fatalf("audit log after the failures: %+v, %v", rep, err)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// blockingPut holds the first put of a use marker (the commit) until the
// request that makes it is cancelled: a client that disconnects
// mid-stamping, after the stamping was staged and before it committed.
type blockingPut struct {
	archive.Store
	once    sync.Once
	reached chan struct{}
}

func (b *blockingPut) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) (archive.ObjectInfo, error) {
	hold := false
	if strings.Contains(key, "/use/") {
		b.once.Do(func() { hold = true })
	}
	if !hold {
		return b.Store.PutIfAbsent(ctx, key, r, size)
	}
	close(b.reached)
	<-ctx.Done()
	return archive.ObjectInfo{}, ctx.Err()
}

// TestDisconnectedStampingSwept: a client disconnects while its stamping is
// staged; the pending entry it leaves is reported by /readyz once older
// than the grace period, and the periodic sweep of the running service
// removes it, without a restart. The authorization is still usable.
func TestDisconnectedStampingSwept(t *testing.T) {
	gate := &blockingPut{reached: make(chan struct{})}
	const grace = time.Second
	e, svc := newEnvWith(t, func(s archive.Store) archive.Store { gate.Store = s; return gate }, grace)
	authz := e.grant(e.sealID, map[string]any{"case_no": "DC-1"})

	ctx, cancel := context.WithCancel(context.Background())
	ct, body := stampBody(t, pdftest.Document(pdftest.Options{}), stampReq(e.sealID, authz, "DC-1"))
	req, err := http.NewRequestWithContext(ctx, "POST", e.url+"/v1/stamps", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+e.key(api.RoleStamper, e.sealID))
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-gate.reached
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the client's request: %v, want it cancelled", err)
	}
	pending := func() int {
		n := 0
		if err := e.store.List(context.Background(), "pending/", func(archive.ObjectInfo) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The server finishes the handler after the disconnect; wait for its
	// pending entry to be older than the grace period.
	waitFor(t, "the stale pending entry on /readyz", func() bool {
		r := e.do("GET", "/readyz", "", "", nil)
		return strings.Contains(string(r.body), "1 stampings pending longer than 1s")
	})
	if pending() != 1 {
		t.Fatalf("%d pending entries, want the disconnected stamping's", pending())
	}

	sweeps, stop := context.WithCancel(context.Background())
	defer stop()
	go svc.RunSweeps(sweeps)
	waitFor(t, "the periodic sweep to remove the pending entry", func() bool { return pending() == 0 })
	r := e.do("GET", "/readyz", "", "", nil)
	if r.status != http.StatusOK || r.json(t)["checks"].(map[string]any)["recovery"] != "ok" {
		t.Errorf("/readyz after the sweep: %d %s", r.status, r.body)
	}
	if r := e.stamp(pdftest.Document(pdftest.Options{}), stampReq(e.sealID, authz, "DC-1")); r.status != http.StatusCreated {
		t.Fatalf("the authorization after the swept stamping: %d %s", r.status, r.body)
	}
}

// waitFor polls cond until it holds, failing the test after a generous
// bound (a bound on a hang, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestChangesNeedTheAuditLog: with the audit log unwritable, every change
// an administrator or archivist makes over REST, and every archivist read
// of a record (利用登记), is refused 503 audit-unavailable and leaves the
// store as it was: the seal stays active, its policy unchanged, no key or
// unit appears, no key is revoked, no schedule is set, nothing is served.
func TestChangesNeedTheAuditLog(t *testing.T) {
	e, _ := newEnvWith(t, nil, 0)
	ctx := context.Background()
	admin := e.key(api.RoleAdmin)
	_, platform, err := api.Keyring{Store: e.store, Registry: e.reg}.Create(ctx, api.KeySpec{Name: "平台", Role: api.RolePlatform, By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	r := e.postJSON("/v1/keys", admin, map[string]any{"name": "将被吊销", "role": "stamper", "seals": []string{e.sealID}})
	if r.status != http.StatusCreated {
		t.Fatalf("key: %d %s", r.status, r.body)
	}
	victim := r.json(t)["id"].(string)
	archivist := e.key(api.RoleArchivist)
	authz := e.grant(e.sealID, map[string]any{"case_no": "AL-1"})
	r = e.stamp(pdftest.Document(pdftest.Options{}), stampReq(e.sealID, authz, "AL-1"))
	if r.status != http.StatusCreated {
		t.Fatalf("stamp: %d %s", r.status, r.body)
	}
	docID := r.json(t)["document_id"].(string)
	firstUnit, err := e.reg.FirstUnit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pc, err := keys.SelfSignedPersonCertificate("王五", pk, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	personCert := keys.EncodeCertificatesPEM(pc)
	before := e.objects()

	restore := auditOutage(t, e)
	for _, c := range []struct {
		name string
		r    response
	}{
		{"suspend the seal", e.postJSON("/v1/seals/"+e.sealID+"/suspend", admin, map[string]any{"reason": "保管人变更"})},
		{"revoke the seal", e.postJSON("/v1/seals/"+e.sealID+"/revoke", admin, map[string]any{"reason": "印章遗失"})},
		{"set its policy", e.postJSON("/v1/seals/"+e.sealID+"/policy", admin, map[string]any{"policy": "person"})},
		{"enrol a person", e.postJSON("/v1/seals/"+e.sealID+"/persons", admin, map[string]any{"name": "王五", "certificate": string(personCert)})},
		{"create a key", e.postJSON("/v1/keys", admin, map[string]any{"name": "新系统", "role": "stamper", "seals": []string{e.sealID}})},
		{"revoke a key", e.postJSON("/v1/keys/"+victim+"/revoke", admin, map[string]any{"reason": "系统下线"})},
		{"create a unit", e.postJSON("/v1/units", platform, map[string]any{"name": "测试市气象局", "code": "11330200MB7654321B", "fonds": "B001"})},
		{"set a schedule", e.do("POST", "/v1/units/"+firstUnit.ID+"/schedule", admin, "application/yaml", strings.NewReader("items:\n  \"330000-XK-001\": 30y\n"))},
		{"archivist reads a record", e.do("GET", "/v1/documents/"+docID+"?purpose=查档", archivist, "", nil)},
		{"archivist downloads a PDF", e.do("GET", "/v1/documents/"+docID+"/pdf?purpose=查档", archivist, "", nil)},
	} {
		if c.r.status != http.StatusServiceUnavailable || !strings.HasSuffix(problemType(t, c.r), "/audit-unavailable") {
			t.Errorf("%s with the audit log unwritable: %d %s", c.name, c.r.status, c.r.body)
		}
	}
	restore()
	if n := e.objects(); n != before {
		t.Errorf("%d objects after the refused changes, %d before", n, before)
	}
	s, err := e.reg.Get(ctx, e.sealID)
	if err != nil || s.Status != seal.Active {
		t.Errorf("seal after the refused changes: %+v, %v", s, err)
	}
	if p, err := e.reg.Policy(ctx, e.sealID); err != nil || p != seal.PolicyKey {
		t.Errorf("policy after the refused change: %q, %v", p, err)
	}
	if r := e.postJSON("/v1/keys/"+victim+"/revoke", admin, map[string]any{"reason": "系统下线"}); r.status != http.StatusOK {
		t.Errorf("revoking the key with the log writable again: %d %s", r.status, r.body)
	}
}

// auditOutage makes the audit log's shard unwritable — a file where its
// directory was — until the returned function puts the shard back.
func auditOutage(t *testing.T, e *env) (restore func()) {
	t.Helper()
	shard := filepath.Join(e.root, "audit~", "test~")
	aside := shard + ".aside"
	if err := os.Rename(shard, aside); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shard, nil, 0o400); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if err := os.Remove(shard); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(aside, shard); err != nil {
			t.Fatal(err)
		}
	}
}

// discardWriter is a ResponseWriter that keeps the status and counts the
// body, so that what a handler allocates can be measured alone.
type discardWriter struct {
	h      http.Header
	status int
	n      int64
}

func (d *discardWriter) Header() http.Header { return d.h }
func (d *discardWriter) WriteHeader(s int)   { d.status = s }
func (d *discardWriter) Write(b []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	d.n += int64(len(b))
	return len(b), nil
}

// TestDownloadMemoryBounded: sending an archived PDF of 1.8 MB (the test
// server's limit is 2 MB; the code does not depend on the size) — checked
// against its record's SM3 first — allocates a small fraction of it: the
// file is hashed and then sent from the store, never held whole in memory.
// A PDF altered behind the store's back, same size, is refused before a
// byte is sent.
func TestDownloadMemoryBounded(t *testing.T) {
	e, _ := newEnvWith(t, nil, 0)
	authz := e.grant(e.sealID, map[string]any{"case_no": "DL-1"})
	r := e.stamp(pdftest.Document(pdftest.Options{Size: 1800 << 10}), stampReq(e.sealID, authz, "DL-1"))
	if r.status != http.StatusCreated {
		t.Fatalf("stamp: %d %s", r.status, r.body)
	}
	docID := r.json(t)["document_id"].(string)
	size := int64(r.json(t)["record"].(map[string]any)["size"].(float64))
	stamper := e.key(api.RoleStamper, e.sealID)
	get := func() (*discardWriter, uint64) {
		req := httptest.NewRequest("GET", "/v1/documents/"+docID+"/pdf", nil)
		req.Header.Set("Authorization", "Bearer "+stamper)
		w := &discardWriter{h: http.Header{}}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		e.srv.Handler().ServeHTTP(w, req)
		runtime.ReadMemStats(&after)
		return w, after.TotalAlloc - before.TotalAlloc
	}
	w, alloc := get()
	if w.status != http.StatusOK || w.n != size {
		t.Fatalf("download: %d, %d bytes of %d", w.status, w.n, size)
	}
	t.Logf("sending %d bytes allocated %d", size, alloc)
	if alloc > uint64(size)/4 {
		t.Errorf("sending %d bytes allocated %d: the document was held in memory", size, alloc)
	}

	// Same size, other bytes: refused, nothing sent.
	path := filepath.Join(e.root, "docs~", docID+"~", "document.pdf")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	os.Chmod(path, 0o644)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if w, _ := get(); w.status < 400 || w.n > 1<<10 {
		t.Errorf("download of an altered document: %d, %d bytes sent", w.status, w.n)
	}
}
