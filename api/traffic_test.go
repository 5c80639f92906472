package api_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"eseal/api"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// serverWith builds a second server over the env's store and registry with
// other options, called in-process so tests choose the peer address.
func (e *env) serverWith(t *testing.T, change func(*api.Options)) *api.Server {
	t.Helper()
	opt := api.Options{Registry: e.reg, Store: e.store, Service: e.srv.Service, PublicURL: e.url}
	change(&opt)
	s, err := api.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// call sends one request to h from peer, with X-Forwarded-For when xff is set.
func call(h http.Handler, method, path, peer, xff string, body io.Reader, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, body)
	req.RemoteAddr = peer + ":40000"
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// wrongCode is the i-th of a series of well-formed retrieval codes that
// open nothing, starting with prefix (4 characters).
func wrongCode(prefix string, i int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var g [4]byte
	for j := range g {
		g[j] = alphabet[i%32]
		i /= 32
	}
	groups := append(strings.Split(prefix, "-"), string(g[:]))
	for len(groups) < 5 {
		groups = append(groups, "AAAA")
	}
	return strings.Join(groups, "-")
}

// stampedCode stamps a document and returns its retrieval code and id.
func (e *env) stampedCode(t *testing.T, caseNo string) (code, docID string) {
	t.Helper()
	authz := e.grant(e.sealID, map[string]any{"case_no": caseNo})
	r := e.stamp(testPDF("取件码"), stampReq(e.sealID, authz, caseNo))
	if r.status != 201 {
		t.Fatalf("stamp: %d %s", r.status, r.body)
	}
	m := r.json(t)
	return m["retrieval_code"].(string), m["document_id"].(string)
}

// TestRetrievalCodeLimits: wrong codes are limited per client — the peer,
// or behind a trusted proxy the address it forwards for — and per code
// prefix, and a correct code is never refused however many wrong ones came
// first.
func TestRetrievalCodeLimits(t *testing.T) {
	e := newEnv(t)
	code, docID := e.stampedCode(t, "ZJ-CODE-1")
	proxy := netip.MustParsePrefix("10.0.0.0/8")
	s := e.serverWith(t, func(o *api.Options) {
		o.TrustedProxies = []netip.Prefix{proxy}
		o.Limits = api.Limits{CodeAttemptsPerMinute: 20, CodePrefixAttemptsPerMinute: 1000}
	})
	h := s.Handler()
	wrong := func(peer, xff string, n int, prefix string) map[int]int {
		got := map[int]int{}
		for i := range n {
			got[call(h, "GET", "/d/"+wrongCode(prefix, i), peer, xff, nil).Code]++
		}
		return got
	}

	// One client, 200 wrong codes: 20 answered 404, the rest 429 — then its
	// own code opens, page and file.
	if got := wrong("203.0.113.7", "", 200, "QQQQ"); got[404] != 20 || got[429] != 180 {
		t.Fatalf("200 wrong codes from one client: %v, want 20×404 and 180×429", got)
	}
	for _, path := range []string{"/d/" + code, "/d/" + code + "/pdf", "/d/" + strings.ToLower(strings.ReplaceAll(code, "-", ""))} {
		if r := call(h, "GET", path, "203.0.113.7", "", nil); r.Code != 200 {
			t.Errorf("the limited client's correct code %s: %d", path, r.Code)
		}
	}
	if r := call(h, "GET", "/d/"+wrongCode("QQQQ", 1), "203.0.113.7", "", nil); r.Code != 429 || r.Header().Get("Retry-After") == "" {
		t.Errorf("still limited after its correct code: %d, Retry-After %q", r.Code, r.Header().Get("Retry-After"))
	}

	// Behind the trusted proxy: two citizens, two buckets.
	if got := wrong("10.0.0.1", "198.51.100.1", 60, "RRRR"); got[429] != 40 {
		t.Fatalf("first citizen behind the proxy: %v", got)
	}
	if r := call(h, "GET", "/d/"+wrongCode("RRRR", 0), "10.0.0.1", "198.51.100.2", nil); r.Code != 404 {
		t.Errorf("second citizen behind the proxy is limited with the first: %d", r.Code)
	}
	if r := call(h, "GET", "/d/"+code, "10.0.0.1", "198.51.100.1", nil); r.Code != 200 {
		t.Errorf("the limited citizen's correct code through the proxy: %d", r.Code)
	}
	// A client that writes its own X-Forwarded-For through the proxy gets
	// only the address the proxy appended.
	if r := call(h, "GET", "/d/"+wrongCode("RRRR", 2), "10.0.0.1", "198.51.100.2, 198.51.100.1", nil); r.Code != 429 {
		t.Errorf("a forged first hop chose the bucket: %d", r.Code)
	}

	// An untrusted peer's X-Forwarded-For is ignored: a fresh address in it
	// every time does not reset the limit.
	got := map[int]int{}
	for i := range 40 {
		got[call(h, "GET", "/d/"+wrongCode("SSSS", i), "203.0.113.9", fmt.Sprintf("192.0.2.%d", i), nil).Code]++
	}
	if got[404] != 20 || got[429] != 20 {
		t.Errorf("untrusted peer rotating X-Forwarded-For: %v, want 20×404 and 20×429", got)
	}

	// Many addresses guessing behind one code's known beginning share the
	// prefix's bucket; the code itself still opens.
	p := e.serverWith(t, func(o *api.Options) {
		o.Limits = api.Limits{CodeAttemptsPerMinute: 1000, CodePrefixAttemptsPerMinute: 10}
	})
	prefix := strings.ToUpper(code[:9]) // the unit's hint and the first four random characters
	got = map[int]int{}
	for i := range 30 {
		got[call(p.Handler(), "GET", "/d/"+wrongCode(prefix, i), fmt.Sprintf("192.0.2.%d", i+1), "", nil).Code]++
	}
	if got[404] != 10 || got[429] != 20 {
		t.Errorf("30 addresses guessing one prefix: %v, want 10×404 and 20×429", got)
	}
	if r := call(p.Handler(), "GET", "/d/"+code, "192.0.2.200", "", nil); r.Code != 200 {
		t.Errorf("the correct code under a limited prefix: %d", r.Code)
	}
	if r := call(p.Handler(), "GET", "/v/"+docID, "192.0.2.200", "", nil); r.Code != 200 {
		t.Errorf("verify page: %d", r.Code)
	}
}

// TestApprovalRoutesLimited: the public approval routes are limited per
// client as the retrieval codes are, behind trusted proxies too.
func TestApprovalRoutesLimited(t *testing.T) {
	e := newEnv(t)
	s := e.serverWith(t, func(o *api.Options) {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		o.Limits = api.Limits{ApprovalRequestsPerMinute: 5}
	})
	h := s.Handler()
	paths := []struct{ method, path string }{
		{"GET", "/v1/authorization-requests/req-x/challenge"},
		{"POST", "/v1/authorization-requests/req-x/approve"},
		{"POST", "/v1/authorization-requests/req-x/refuse"},
		{"POST", "/v1/authorization-requests/req-x/passkey-approve"},
		{"POST", "/v1/authorization-requests/req-x/refusal-options"},
		{"POST", "/v1/authorization-requests/req-x/passkey-refuse"},
		{"POST", "/v1/enrolments/tok-x"},
		{"GET", "/approve/req-x"},
		{"GET", "/enrol/tok-x"},
	}
	for i, p := range paths {
		t.Run(p.method+" "+p.path, func(t *testing.T) {
			client, other := fmt.Sprintf("198.51.100.%d", i), fmt.Sprintf("198.51.100.%d", 100+i)
			for i := range 5 {
				if r := call(h, p.method, p.path, "10.0.0.1", client, strings.NewReader("{}"), "Content-Type", "application/json"); r.Code == 429 {
					t.Fatalf("request %d limited already", i+1)
				}
			}
			r := call(h, p.method, p.path, "10.0.0.1", client, strings.NewReader("{}"), "Content-Type", "application/json")
			if r.Code != 429 || r.Header().Get("Retry-After") == "" || !strings.Contains(r.Body.String(), "/problems/rate-limited") {
				t.Fatalf("sixth request: %d %s", r.Code, r.Body)
			}
			if r := call(h, p.method, p.path, "10.0.0.1", other, strings.NewReader("{}"), "Content-Type", "application/json"); r.Code == 429 {
				t.Errorf("another client behind the proxy is limited too")
			}
		})
	}
}

// TestIdempotencyKeyBoundToRequest: a retry with the same key and the same
// request gets the same document; the same key with another PDF or another
// title is refused 422 naming the conflict, and stores nothing.
func TestIdempotencyKeyBoundToRequest(t *testing.T) {
	e := newEnv(t)
	authz := e.grant(e.sealID, map[string]any{"case_no": "ZJ-IDEM-2"})
	in := testPDF("幂等绑定")
	req := stampReq(e.sealID, authz, "ZJ-IDEM-2")
	first := e.stamp(in, req, "Idempotency-Key", "order-7")
	if first.status != 201 {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	docID := first.json(t)["document_id"]
	again := e.stamp(in, req, "Idempotency-Key", "order-7")
	if again.status != 201 || again.json(t)["document_id"] != docID || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("same body: %d %s", again.status, again.body)
	}
	otherTitle := stampReq(e.sealID, authz, "ZJ-IDEM-2")
	otherTitle["record"].(map[string]any)["title"] = "另一份决定书"
	before := e.objects()
	for name, c := range map[string]struct {
		pdf []byte
		req map[string]any
	}{
		"another PDF":   {testPDF("另一份文件"), req},
		"another title": {in, otherTitle},
	} {
		r := e.stamp(c.pdf, c.req, "Idempotency-Key", "order-7")
		if r.status != 422 || problemType(t, r) != "/problems/idempotency-key-reused" {
			t.Fatalf("%s: %d %s", name, r.status, r.body)
		}
		if d := r.json(t)["detail"].(string); !strings.Contains(d, docID.(string)) || !strings.Contains(d, "another request") {
			t.Errorf("%s: the problem does not name the conflict: %s", name, d)
		}
	}
	if n := e.objects(); n != before {
		t.Errorf("refused requests changed the store: %d objects, were %d", n, before)
	}
}

// metricSum adds up the samples of a counter family in the server's metrics.
func metricSum(t *testing.T, h http.Handler, name, label string) float64 {
	t.Helper()
	rec := call(h, "GET", "/metrics", "127.0.0.1", "", nil)
	var sum float64
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") || !strings.Contains(line, label) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatal(err)
		}
		sum += v
	}
	return sum
}

// TestVerifyOncePerTrustState: many views of one document — in a row and at
// once — verify it once; a change of the trust state (the seal suspended)
// makes the next view verify again, once.
func TestVerifyOncePerTrustState(t *testing.T) {
	e := newEnv(t)
	code, docID := e.stampedCode(t, "ZJ-CACHE-1")
	h := e.srv.Handler()
	verifications := func() float64 { return metricSum(t, h, "eseal_verifications_total", "verdict=") }
	base := verifications()
	var wg sync.WaitGroup
	codes := make(chan int, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := "/v/" + docID
			if i%2 == 1 {
				path = "/d/" + code
			}
			codes <- call(h, "GET", path, "192.0.2.1", "", nil).Code
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Fatalf("a view answered %d", c)
		}
	}
	if n := verifications() - base; n != 1 {
		t.Fatalf("40 views verified the document %v times, want once", n)
	}
	if _, err := e.reg.SetStatus(context.Background(), e.sealID, seal.Suspended, "test", "test"); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if r := call(h, "GET", "/v/"+docID, "192.0.2.1", "", nil); r.Code != 200 {
			t.Fatalf("view after the suspension: %d", r.Code)
		}
	}
	if n := verifications() - base; n != 2 {
		t.Fatalf("after a status change: %v verifications, want 2", n)
	}
	if hits := metricSum(t, h, "eseal_verify_cache_total", `result="hit"`) + metricSum(t, h, "eseal_verify_cache_total", `result="shared"`); hits != 43 {
		t.Errorf("cache hits and shared verifications: %v, want 43", hits)
	}
}

// TestVerifyUploadBounded: an uploaded PDF larger than the in-memory part is
// verified from its spooled copy; bodies over the limit are refused; and
// past VerifyUploads at once the next upload is answered 503 with
// Retry-After once it has waited BusyWait, before its body is read.
func TestVerifyUploadBounded(t *testing.T) {
	e := newEnv(t)
	signed := e.signedPDF(t, "ZJ-VERIFY-1")
	s := e.serverWith(t, func(o *api.Options) {
		o.Limits = api.Limits{VerifyUploads: 1, SpoolBytes: 4096, MaxPDFBytes: int64(len(signed)) + 10, BusyWait: time.Millisecond}
	})
	h := s.Handler()
	r := call(h, "POST", "/v1/verify", "192.0.2.1", "", bytes.NewReader(signed), "Content-Type", "application/pdf")
	if r.Code != 200 || !strings.Contains(r.Body.String(), `"verdict": "VALID"`) {
		t.Fatalf("spooled verify: %d %s", r.Code, r.Body)
	}
	big := append(append([]byte{}, signed...), bytes.Repeat([]byte(" "), 100)...)
	for name, body := range map[string]io.Reader{"declared length": bytes.NewReader(big), "unknown length": io.MultiReader(bytes.NewReader(big))} {
		if r := call(h, "POST", "/v1/verify", "192.0.2.1", "", body, "Content-Type", "application/pdf"); r.Code != 413 {
			t.Errorf("%s over the limit: %d %s", name, r.Code, r.Body)
		}
	}
	if r := call(h, "POST", "/v1/verify", "192.0.2.1", "", strings.NewReader(strings.Repeat("x", 8000)), "Content-Type", "application/pdf"); r.Code != 422 {
		t.Errorf("not a PDF: %d %s", r.Code, r.Body)
	}

	// The first upload holds the only slot while its body trickles in: the
	// handler reads from the pipe itself, so once a write returns, it runs.
	pr, pw := io.Pipe()
	done := make(chan *httptest.ResponseRecorder)
	go func() {
		req := httptest.NewRequest("POST", "/v1/verify", pr)
		req.Header.Set("Content-Type", "application/pdf")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		done <- rec
	}()
	if _, err := pw.Write(signed[:1000]); err != nil {
		t.Fatal(err)
	}
	busy := call(h, "POST", "/v1/verify", "192.0.2.2", "", bytes.NewReader(signed), "Content-Type", "application/pdf")
	if busy.Code != 503 || busy.Header().Get("Retry-After") == "" || !strings.Contains(busy.Body.String(), "/problems/server-busy") {
		t.Errorf("second upload while the first holds the slot: %d %q %s", busy.Code, busy.Header().Get("Retry-After"), busy.Body)
	}
	if _, err := pw.Write(signed[1000:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if first := <-done; first.Code != 200 {
		t.Errorf("the first upload: %d %s", first.Code, first.Body)
	}
	if r := call(h, "POST", "/v1/verify", "192.0.2.2", "", bytes.NewReader(signed), "Content-Type", "application/pdf"); r.Code != 200 {
		t.Errorf("after the slot is free again: %d", r.Code)
	}
}

// TestVerifyPageChecksStoredBytes: a stored document whose bytes were
// replaced behind the service's back (here: on the filesystem store's disk)
// is not verified and shown as what was committed: the page fails instead.
func TestVerifyPageChecksStoredBytes(t *testing.T) {
	e := newEnv(t)
	_, docID := e.stampedCode(t, "ZJ-FIXITY-1")
	var file string
	filepath.WalkDir(e.root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "document.pdf" && strings.Contains(p, docID) {
			file = p
		}
		return nil
	})
	if file == "" {
		t.Fatal("the stored document is not on disk")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x20
	if err := os.Chmod(file, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r := call(e.srv.Handler(), "GET", "/v/"+docID, "192.0.2.1", "", nil)
	if r.Code != 500 || strings.Contains(r.Body.String(), "VALID") {
		t.Fatalf("a replaced document: %d %s", r.Code, r.Body)
	}
}

// TestStampingSlots: with limits.stampings at 1, a stamping whose body is
// still arriving holds the one slot; another waits StampWait, its body
// unread, and is answered 503 server-busy with Retry-After, changing
// nothing; once the first ends, the next stamping gets the slot and 201.
func TestStampingSlots(t *testing.T) {
	e := newEnv(t)
	h := e.serverWith(t, func(o *api.Options) {
		o.Limits = api.Limits{MaxPDFBytes: 2 << 20, Stampings: 1, StampWait: 200 * time.Millisecond}
	}).Handler()
	stamper := e.key(api.RoleStamper, e.sealID)
	authz := e.grant(e.sealID, map[string]any{"case_no": "SL-1"})
	ct, body := stampBody(t, pdftest.Document(pdftest.Options{}), stampReq(e.sealID, authz, "SL-1"))

	// The first request's body stops half-way until the pipe is closed.
	pr, pw := io.Pipe()
	first := make(chan int)
	go func() {
		rec := call(h, "POST", "/v1/stamps", "10.1.1.1", "", pr, "Content-Type", ct, "Authorization", "Bearer "+stamper)
		first <- rec.Code
	}()
	if _, err := pw.Write(body[:len(body)/2]); err != nil { // read by the handler: it holds the slot
		t.Fatal(err)
	}
	before := e.objects()
	rec := call(h, "POST", "/v1/stamps", "10.1.1.2", "", bytes.NewReader(body), "Content-Type", ct, "Authorization", "Bearer "+stamper)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "/problems/server-busy") {
		t.Fatalf("second stamping while the slot is held: %d %s %s", rec.Code, rec.Header(), rec.Body)
	}
	if n := e.objects(); n != before {
		t.Errorf("%d objects after the refused stamping, %d before", n, before)
	}
	pw.CloseWithError(errors.New("client gone"))
	if code := <-first; code < 400 {
		t.Errorf("first stamping, its body cut: %d", code)
	}
	rec = call(h, "POST", "/v1/stamps", "10.1.1.2", "", bytes.NewReader(body), "Content-Type", ct, "Authorization", "Bearer "+stamper)
	if rec.Code != http.StatusCreated {
		t.Fatalf("stamping once the slot is free: %d %s", rec.Code, rec.Body)
	}
}
