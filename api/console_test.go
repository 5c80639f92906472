package api_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"eseal/api"
	"eseal/archive"
	"eseal/archive/audit"
	"eseal/archive/index"
	"eseal/archive/transfer"
)

// consoleClient is a browser's worth of the console: a cookie jar, no
// redirects followed (tests look at them), and the CSRF token of the last
// page read.
type consoleClient struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func newConsoleClient(t *testing.T, base string) *consoleClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &consoleClient{t: t, base: base, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *consoleClient) do(req *http.Request) response {
	c.t.Helper()
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if m := csrfField.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return response{resp.StatusCode, resp.Header, b}
}

func (c *consoleClient) get(path string) response {
	c.t.Helper()
	req, err := http.NewRequest("GET", c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

// post sends a form with the last CSRF token seen, unless form sets one.
func (c *consoleClient) post(path string, form url.Values) response {
	c.t.Helper()
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", c.csrf)
	}
	req, err := http.NewRequest("POST", c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// signIn signs in with key and expects the redirect to the search page.
func (c *consoleClient) signIn(key string) {
	c.t.Helper()
	c.get("/console/sign-in")
	r := c.post("/console/sign-in", url.Values{"key": {key}})
	if r.status != 303 || r.header.Get("Location") != "/console/" {
		c.t.Fatalf("sign-in: %d %s %s", r.status, r.header.Get("Location"), r.body)
	}
	if r = c.get("/console/"); r.status != 200 {
		c.t.Fatalf("search page after sign-in: %d %s", r.status, r.body)
	}
}

// openRecord states a purpose for a record and returns its page.
func (c *consoleClient) openRecord(docID, purpose string) response {
	c.t.Helper()
	if r := c.get("/console/records/" + docID); r.status != 200 || !bytes.Contains(r.body, []byte(`id="purpose"`)) {
		c.t.Fatalf("record before a purpose: %d %s", r.status, r.body)
	}
	r := c.post("/console/records/"+docID+"/purpose", url.Values{"purpose": {purpose}})
	if r.status != 303 {
		c.t.Fatalf("stating a purpose: %d %s", r.status, r.body)
	}
	return c.get("/console/records/" + docID)
}

func (e *env) stampTitled(t *testing.T, title, caseNo string, applicant ...string) string {
	t.Helper()
	authz := e.grant(e.sealID, map[string]any{"case_no": caseNo})
	req := stampReq(e.sealID, authz, caseNo)
	req["record"].(map[string]any)["title"] = title
	if len(applicant) > 0 {
		req["record"].(map[string]any)["applicant"] = applicant[0]
	}
	r := e.stamp(testPDF("console"), req)
	if r.status != 201 {
		t.Fatalf("stamp: %d %s", r.status, r.body)
	}
	return r.json(t)["document_id"].(string)
}

// consoleServer serves the env's store and registry with a search index
// (a fresh file, built from the store) and the env's clock, on loopback;
// it returns its URL.
func (e *env) consoleServer(t *testing.T) string {
	t.Helper()
	ix, err := index.Open(context.Background(), filepath.Join(t.TempDir(), "index.db"), e.store,
		index.Options{ReadRecord: e.srv.Service.IndexedRecord})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	// Its public URL names its own address, by the env's host name
	// ("localhost" for passkeys).
	hs := httptest.NewUnstartedServer(nil)
	t.Cleanup(hs.Close)
	u, err := url.Parse(e.url)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + net.JoinHostPort(u.Hostname(), strconv.Itoa(hs.Listener.Addr().(*net.TCPAddr).Port))
	srv := e.serverWith(t, func(o *api.Options) {
		o.Index, o.Now, o.PublicURL = ix, e.clock.now, base
		o.Transfer = &api.TransferConfig{Rule: transfer.Rule{Fonds: "Z001"}, TempDir: t.TempDir()}
		o.Limits = api.Limits{CodeAttemptsPerMinute: 1000}
	})
	hs.Config.Handler = srv.Handler()
	hs.Start()
	return base
}

// TestConsoleRecordUse opens a record, downloads it and holds it from the
// console: the page shows the seals verified and who authorized them, and
// every view and download is in the record's trail and the audit log with
// the purpose stated (利用登记).
func TestConsoleRecordUse(t *testing.T) {
	e := newEnv(t)
	docID := e.stampTitled(t, "准予行政许可决定书", "ZJ-CON-1")
	c := newConsoleClient(t, e.url)
	c.signIn(e.key(api.RoleArchivist))

	r := c.openRecord(docID, "答复申请人查询")
	if r.status != 200 {
		t.Fatalf("record page: %d %s", r.status, r.body)
	}
	page := string(r.body)
	for _, want := range []string{"准予行政许可决定书", "ZJ-CON-1", "有效 VALID", "接口授权 API key", "北京时间",
		"盖章归档 document.stamped", "查阅（利用） record.viewed", "purpose: 答复申请人查询", "定期 30 年"} {
		if !strings.Contains(page, want) {
			t.Errorf("record page lacks %q", want)
		}
	}

	// A download needs a purpose; with one it is the stored PDF, logged.
	if r := c.post("/console/records/"+docID+"/pdf", url.Values{"purpose": {" "}}); r.status != 422 {
		t.Fatalf("download without a purpose: %d", r.status)
	}
	if n := len(e.audited(string(audit.RecordDownloaded))); n != 0 {
		t.Fatalf("a refused download was logged (%d)", n)
	}
	r = c.post("/console/records/"+docID+"/pdf", url.Values{"purpose": {"移交前核对"}})
	stored, _, err := archive.GetBytes(context.Background(), e.store, archive.DocumentKey(docID))
	if err != nil {
		t.Fatal(err)
	}
	if r.status != 200 || r.header.Get("Content-Type") != "application/pdf" || !bytes.Equal(r.body, stored) {
		t.Fatalf("download: %d %s, %d bytes", r.status, r.header.Get("Content-Type"), len(r.body))
	}
	en, ok := e.audited(string(audit.RecordDownloaded))[docID]
	if !ok || en.Details["purpose"] != "移交前核对" || en.Details["via"] != "console" || !strings.HasPrefix(en.Details["key"], "k-") || en.Actor == "" {
		t.Fatalf("download entry %+v", en)
	}
	if r = c.get("/console/records/" + docID); !strings.Contains(string(r.body), "下载（利用） record.downloaded") {
		t.Fatalf("the download is not on the record's trail")
	}

	// Legal hold: a reason is required; on, then off.
	if r = c.post("/console/records/"+docID+"/hold", url.Values{"on": {"1"}, "reason": {""}}); r.status != 422 {
		t.Fatalf("hold without a reason: %d", r.status)
	}
	if r = c.post("/console/records/"+docID+"/hold", url.Values{"on": {"1"}, "reason": {"行政复议"}}); r.status != 303 {
		t.Fatalf("hold: %d %s", r.status, r.body)
	}
	if !held(t, e, docID) || !strings.Contains(string(c.get("/console/records/"+docID).body), "保全中 ON HOLD") {
		t.Fatal("not held after the hold")
	}
	if r = c.post("/console/records/"+docID+"/hold", url.Values{"on": {"0"}, "reason": {"复议结束"}}); r.status != 303 {
		t.Fatalf("release: %d %s", r.status, r.body)
	}
	if held(t, e, docID) {
		t.Fatal("still held after the release")
	}
	page = string(c.get("/console/records/" + docID).body)
	for _, want := range []string{"行政复议", "复议结束", "设置法律保全 legalhold.set", "解除法律保全 legalhold.cleared"} {
		if !strings.Contains(page, want) {
			t.Errorf("record page after hold and release lacks %q", want)
		}
	}

	// Sign-out ends the session.
	if r = c.post("/console/sign-out", url.Values{}); r.status != 303 {
		t.Fatalf("sign-out: %d", r.status)
	}
	if r = c.get("/console/"); r.status != 303 || r.header.Get("Location") != "/console/sign-in" {
		t.Fatalf("after sign-out: %d %s", r.status, r.header.Get("Location"))
	}
}

func held(t *testing.T, e *env, docID string) bool {
	t.Helper()
	info, err := e.store.Head(context.Background(), archive.DocumentKey(docID))
	if err != nil {
		t.Fatal(err)
	}
	return info.LegalHold
}

// TestConsoleRESTUseLogged: an archivist's REST reads of a record are in the
// log like the console's; a stamper reading back what it stamped is not 利用.
func TestConsoleRESTUseLogged(t *testing.T) {
	e := newEnv(t)
	docID := e.stampTitled(t, "行政许可决定书", "ZJ-CON-2")
	if r := e.do("GET", "/v1/documents/"+docID+"/pdf", e.key(api.RoleStamper, e.sealID), "", nil); r.status != 200 {
		t.Fatalf("stamper read: %d", r.status)
	}
	if n := len(e.audited(string(audit.RecordDownloaded))); n != 0 {
		t.Fatalf("a stamper's read was logged as 利用 (%d)", n)
	}
	if r := e.do("GET", "/v1/documents/"+docID+"/pdf?purpose="+url.QueryEscape("审计抽查"), e.key(api.RoleArchivist), "", nil); r.status != 200 {
		t.Fatalf("archivist download: %d", r.status)
	}
	if r := e.do("GET", "/v1/documents/"+docID, e.key(api.RoleArchivist), "", nil); r.status != 200 {
		t.Fatalf("archivist read: %d", r.status)
	}
	d := e.audited(string(audit.RecordDownloaded))[docID]
	v := e.audited(string(audit.RecordViewed))[docID]
	if d.Details["purpose"] != "审计抽查" || d.Details["via"] != "api" || v.Details["via"] != "api" || v.Details["purpose"] != "" {
		t.Fatalf("REST use entries: %+v %+v", d, v)
	}
}

// TestConsoleHostile: what a console must refuse.
func TestConsoleHostile(t *testing.T) {
	e := newEnv(t)
	docID := e.stampTitled(t, `<script>alert("t")</script>许可证`, "ZJ-CON-3", `<img src=x onerror=alert(1)>`)

	t.Run("no session", func(t *testing.T) {
		c := newConsoleClient(t, e.url)
		for _, p := range []string{"/console/", "/console/records/" + docID, "/console/transfers", "/console/transfers/t-aaaaaaaaaaaaaaaa",
			"/console/transfers/t-aaaaaaaaaaaaaaaa/package", "/console/disposal", "/console/?q=x"} {
			if r := c.get(p); r.status != 303 || r.header.Get("Location") != "/console/sign-in" {
				t.Errorf("GET %s without a session: %d %s", p, r.status, r.header.Get("Location"))
			}
		}
		before := e.objects()
		for _, p := range []string{"/console/records/" + docID + "/hold", "/console/records/" + docID + "/pdf", "/console/transfers", "/console/sign-out"} {
			r := c.post(p, url.Values{"on": {"1"}, "reason": {"x"}, "purpose": {"x"}, "csrf": {"anything"}})
			if r.status != 303 || r.header.Get("Location") != "/console/sign-in" || len(r.body) > 200 {
				t.Errorf("POST %s without a session: %d %s", p, r.status, r.header.Get("Location"))
			}
		}
		// A forged session cookie is no session.
		u, _ := url.Parse(e.url + "/console/")
		c.c.Jar.SetCookies(u, []*http.Cookie{{Name: "eseal_console", Value: "forged", Path: "/console/"}})
		if r := c.get("/console/"); r.status != 303 {
			t.Errorf("forged session: %d", r.status)
		}
		if e.objects() != before {
			t.Error("requests without a session changed the store")
		}
	})

	t.Run("sign-in refusals", func(t *testing.T) {
		for _, tc := range []struct {
			name, key string
			status    int
		}{
			{"stamper key", e.key(api.RoleStamper, e.sealID), 403},
			{"admin key", e.admin, 403},
			{"unknown key", "esk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 401},
			{"not a key", "<script>", 401},
			{"empty", "", 401},
		} {
			c := newConsoleClient(t, e.url)
			c.get("/console/sign-in")
			r := c.post("/console/sign-in", url.Values{"key": {tc.key}})
			if r.status != tc.status || !bytes.Contains(r.body, []byte(`id="problem"`)) {
				t.Errorf("%s: %d %s", tc.name, r.status, r.body)
			}
			if r = c.get("/console/"); r.status != 303 {
				t.Errorf("%s: a session was opened (%d)", tc.name, r.status)
			}
		}
		// The sign-in form's own token is required: another site's form
		// cannot sign a browser in.
		c := newConsoleClient(t, e.url)
		r := c.post("/console/sign-in", url.Values{"key": {e.key(api.RoleArchivist)}, "csrf": {"guessed"}})
		if r.status != 403 {
			t.Errorf("sign-in without the form's token: %d", r.status)
		}
	})

	t.Run("CSRF", func(t *testing.T) {
		c := newConsoleClient(t, e.url)
		c.signIn(e.key(api.RoleArchivist))
		good := c.csrf
		before := e.objects()
		for _, tok := range []string{"", "wrong", good[:len(good)-1], strings.ToUpper(good)} {
			for _, p := range []string{"/console/records/" + docID + "/hold", "/console/records/" + docID + "/purpose", "/console/transfers", "/console/sign-out"} {
				r := c.post(p, url.Values{"csrf": {tok}, "on": {"1"}, "reason": {"x"}, "purpose": {"x"}})
				if r.status != 403 || !strings.Contains(string(r.body), "CSRF") {
					t.Errorf("POST %s with token %q: %d", p, tok, r.status)
				}
			}
		}
		if r := c.post("/console/records/"+docID+"/pdf", url.Values{"csrf": {"wrong"}, "purpose": {"x"}}); r.status != 403 || bytes.HasPrefix(r.body, []byte("%PDF")) {
			t.Errorf("download with a wrong token: %d", r.status)
		}
		if held(t, e, docID) || e.objects() != before || len(e.audited(string(audit.RecordDownloaded))) != 0 {
			t.Error("a refused form changed something")
		}
		// The session survived (sign-out was refused too).
		if r := c.get("/console/"); r.status != 200 {
			t.Errorf("session after refused forms: %d", r.status)
		}
	})

	t.Run("expired session", func(t *testing.T) {
		c := newConsoleClient(t, e.consoleServer(t))
		c.signIn(e.key(api.RoleArchivist))
		e.clock.advance(29 * time.Minute)
		if r := c.get("/console/"); r.status != 200 {
			t.Fatalf("after 29 idle minutes: %d", r.status)
		}
		e.clock.advance(31 * time.Minute)
		if r := c.get("/console/"); r.status != 303 || r.header.Get("Location") != "/console/sign-in" {
			t.Fatalf("after 31 idle minutes: %d", r.status)
		}
		// However busy, a session ends 8 hours after sign-in.
		c.signIn(e.key(api.RoleArchivist))
		for i := 0; i < 17; i++ {
			e.clock.advance(29 * time.Minute)
			c.get("/console/")
		}
		if r := c.get("/console/"); r.status != 303 {
			t.Fatalf("after 8 hours of use: %d", r.status)
		}
	})

	t.Run("revoked key", func(t *testing.T) {
		_, secret, err := api.Keyring{Store: e.store, Registry: e.reg}.Create(context.Background(), api.KeySpec{Name: "临时档案员", Role: api.RoleArchivist, By: "test"})
		if err != nil {
			t.Fatal(err)
		}
		c := newConsoleClient(t, e.url)
		c.signIn(secret)
		keys, _ := api.Keyring{Store: e.store, Registry: e.reg}.List(context.Background())
		for _, k := range keys {
			if k.Name == "临时档案员" {
				if _, err := (api.Keyring{Store: e.store, Registry: e.reg}).Revoke(context.Background(), k.ID, "left", "test"); err != nil {
					t.Fatal(err)
				}
			}
		}
		if r := c.get("/console/"); r.status != 303 {
			t.Fatalf("session of a revoked key: %d", r.status)
		}
	})

	t.Run("other unit", func(t *testing.T) {
		_, platform, err := api.Keyring{Store: e.store, Registry: e.reg}.Create(context.Background(), api.KeySpec{Name: "平台", Role: api.RolePlatform, By: "test"})
		if err != nil {
			t.Fatal(err)
		}
		r := e.postJSON("/v1/units", platform, map[string]any{"name": "测试市气象局", "code": "11330200MB7654321B", "fonds": "B001"})
		if r.status != 201 {
			t.Fatalf("unit: %d %s", r.status, r.body)
		}
		r = e.postJSON("/v1/keys", platform, map[string]any{"name": "气象局档案室", "role": "archivist", "unit": r.json(t)["id"]})
		if r.status != 201 {
			t.Fatalf("key: %d %s", r.status, r.body)
		}
		c := newConsoleClient(t, e.url)
		c.signIn(r.json(t)["key"].(string))
		if r := c.get("/console/records/" + docID); r.status != 403 || bytes.Contains(r.body, []byte("许可证")) {
			t.Errorf("another unit's record: %d", r.status)
		}
		for _, p := range []string{"/purpose", "/pdf", "/hold"} {
			if r := c.post("/console/records/"+docID+p, url.Values{"purpose": {"x"}, "on": {"1"}, "reason": {"x"}}); r.status != 403 {
				t.Errorf("POST %s on another unit's record: %d", p, r.status)
			}
		}
		if held(t, e, docID) || len(e.audited(string(audit.RecordDownloaded))) != 0 || len(e.audited(string(audit.RecordViewed))) != 0 {
			t.Error("another unit's archivist used the record")
		}
		for _, id := range []string{"doc-zzzzzzzz-aaaaaaaaaaaaaaaa", "doc-aaaaaaaaaaaaaaaa", "doc-<b>", "doc-aaaaaaaaaaaaaaa%2F"} {
			if r := c.get("/console/records/" + url.PathEscape(id)); r.status != 404 && r.status != 403 {
				t.Errorf("record %q: %d", id, r.status)
			}
		}
	})

	t.Run("markup in records is escaped", func(t *testing.T) {
		c := newConsoleClient(t, e.url)
		c.signIn(e.key(api.RoleArchivist))
		page := string(c.openRecord(docID, `<b>目的</b>`).body)
		for _, bad := range []string{"<script>alert", "<img src=x", "<b>目的"} {
			if strings.Contains(page, bad) {
				t.Errorf("record page carries %q unescaped", bad)
			}
		}
		if !strings.Contains(html.UnescapeString(page), `<script>alert("t")</script>许可证`) {
			t.Error("record page lacks the escaped title")
		}
	})
}

// TestConsoleTransfer makes a transfer package from the console: a bad
// filter is shown on the form, a good one is written in the background,
// its page shows the progress, and the package downloads when done — to
// its unit only.
func TestConsoleTransfer(t *testing.T) {
	e := newEnv(t)
	other := e.stampTitled(t, "行政许可决定书", "ZJ-TR-1")
	docID := e.stampTitled(t, "行政许可决定书", "ZJ-TR-2")
	c := newConsoleClient(t, e.url)
	c.signIn(e.key(api.RoleArchivist))
	before := e.objects()
	for _, tc := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"year": {"twenty"}}, "四位数"},
		{url.Values{"year": {"-1"}}, "四位数"},
		{url.Values{"retention": {"forever"}}, "retention"},
		{url.Values{"case_no": {"ZJ-NONE"}}, "no committed record matches"},
	} {
		if r := c.post("/console/transfers", tc.form); r.status != 422 || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("transfer %v: %d, want a problem with %q", tc.form, r.status, tc.want)
		}
	}
	if e.objects() != before {
		t.Error("refused transfers changed the store")
	}
	r := c.post("/console/transfers", url.Values{"case_no": {"ZJ-TR-2"}})
	if r.status != 303 || !strings.HasPrefix(r.header.Get("Location"), "/console/transfers/t-") {
		t.Fatalf("transfer: %d %s", r.status, r.body)
	}
	job := r.header.Get("Location")
	// The job runs in the background; its page says when it is done.
	var page string
	for i := 0; i < 600 && !strings.Contains(page, `id="download-package"`); i++ {
		if i > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		r = c.get(job)
		page = string(r.body)
		if strings.Contains(page, "失败") {
			t.Fatalf("transfer failed: %s", page)
		}
	}
	if !strings.Contains(page, `id="package-items">1<`) || !strings.Contains(page, "1 / 1") {
		t.Fatalf("finished job page: %s", page)
	}
	r = c.get(job + "/package")
	if r.status != 200 || r.header.Get("Content-Type") != "application/zip" || !bytes.HasPrefix(r.body, []byte("PK")) {
		t.Fatalf("package: %d %s", r.status, r.header.Get("Content-Type"))
	}
	if text := zipText(t, r.body); !strings.Contains(text, docID) || strings.Contains(text, other) {
		t.Fatalf("the package does not hold exactly the record selected")
	}
	if _, ok := e.audited(string(audit.RecordTransferred))[docID]; !ok {
		t.Error("the transfer is not in the audit log")
	}
	if !strings.Contains(string(c.get("/console/transfers").body), job) {
		t.Error("the job is not listed")
	}

	// Another session of the same unit sees it; one of another unit does not.
	c2 := newConsoleClient(t, e.url)
	c2.signIn(e.key(api.RoleArchivist))
	if r := c2.get(job + "/package"); r.status != 200 {
		t.Errorf("same unit, other session: %d", r.status)
	}
	_, platform, err := api.Keyring{Store: e.store, Registry: e.reg}.Create(context.Background(), api.KeySpec{Name: "平台", Role: api.RolePlatform, By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	r = e.postJSON("/v1/units", platform, map[string]any{"name": "测试市气象局", "code": "11330200MB7654321B", "fonds": "B001"})
	r = e.postJSON("/v1/keys", platform, map[string]any{"name": "气象局档案室", "role": "archivist", "unit": r.json(t)["id"]})
	c3 := newConsoleClient(t, e.url)
	c3.signIn(r.json(t)["key"].(string))
	if r := c3.get(job + "/package"); r.status != 404 {
		t.Errorf("other unit's package: %d", r.status)
	}
	if strings.Contains(string(c3.get("/console/transfers").body), job) {
		t.Error("another unit lists the job")
	}
}

// TestConsoleSearch: the search page finds by each field, newest first, a
// page at a time, only in the session's unit, and says what is wrong with
// a bad query.
func TestConsoleSearch(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := 0; i < 23; i++ {
		applicant := "某某餐饮店"
		if i%2 == 0 {
			applicant = "测试市某某科技有限公司"
		}
		ids = append(ids, e.stampTitled(t, "食品经营许可证", "ZJ-S-"+string(rune('A'+i)), applicant))
	}
	xss := e.stampTitled(t, `<script>alert(1)</script>决定书`, "ZJ-S-X", `<img src=x onerror=alert(1)>`)
	base := e.consoleServer(t)
	c := newConsoleClient(t, base)
	c.signIn(e.key(api.RoleArchivist))
	found := func(r response) []string {
		t.Helper()
		if r.status != 200 {
			t.Fatalf("search: %d %s", r.status, r.body)
		}
		var out []string
		for _, m := range regexp.MustCompile(`/console/records/(doc-[a-z0-9-]+)"`).FindAllStringSubmatch(string(r.body), -1) {
			out = append(out, m[1])
		}
		return out
	}
	if got := found(c.get("/console/?case_no=ZJ-S-C")); len(got) != 1 || got[0] != ids[2] {
		t.Errorf("case_no: %v", got)
	}
	if got := found(c.get("/console/?q=" + url.QueryEscape("科技") + "&case_no=&applicant=&item_code=&retention=&from=&to=")); len(got) != 12 {
		t.Errorf("q=科技 (empty fields too): %d records", len(got))
	}
	if got := found(c.get("/console/?applicant=" + url.QueryEscape("某某餐饮店"))); len(got) != 11 {
		t.Errorf("applicant: %d records", len(got))
	}
	// Paging through everything visits each record once, newest first.
	seen := map[string]bool{}
	next := "/console/?retention=30y"
	pages := 0
	for next != "" && pages < 5 {
		r := c.get(next)
		got := found(r)
		for _, id := range got {
			if seen[id] {
				t.Fatalf("%s seen twice", id)
			}
			seen[id] = true
		}
		pages++
		next = ""
		if m := regexp.MustCompile(`id="next" class="btn" href="([^"]+)"`).FindSubmatch(r.body); m != nil {
			next = html.UnescapeString(string(m[1]))
		}
		if pages == 1 && (len(got) != 20 || got[0] != xss) {
			t.Fatalf("first page: %d records, first %v", len(got), got[:1])
		}
	}
	if len(seen) != 24 || pages != 2 {
		t.Errorf("paging: %d records in %d pages", len(seen), pages)
	}
	// Markup in titles and applicants is shown, not run.
	r := c.get("/console/?case_no=ZJ-S-X")
	if strings.Contains(string(r.body), "<script>alert") || strings.Contains(string(r.body), "<img src=x") || !strings.Contains(string(r.body), "&lt;script&gt;") {
		t.Error("search results carry markup unescaped")
	}
	for _, tc := range []struct{ query, field string }{
		{"from=yesterday", "from"}, {"from=2026-03-01&to=2026-01-01", "to"}, {"retention=forever", "retention"},
		{"cursor=xyz", "cursor"}, {"bogus=1", "bogus"}, {"case_no=a&case_no=b", "case_no"},
	} {
		r := c.get("/console/?" + tc.query)
		if r.status != 400 || !strings.Contains(string(r.body), `id="problem"`) || !strings.Contains(string(r.body), tc.field) {
			t.Errorf("%s: %d", tc.query, r.status)
		}
	}
	// Another unit's archivist finds none of them.
	_, platform, err := api.Keyring{Store: e.store, Registry: e.reg}.Create(context.Background(), api.KeySpec{Name: "平台", Role: api.RolePlatform, By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	r = e.postJSON("/v1/units", platform, map[string]any{"name": "测试市气象局", "code": "11330200MB7654321B", "fonds": "B001"})
	r = e.postJSON("/v1/keys", platform, map[string]any{"name": "气象局档案室", "role": "archivist", "unit": r.json(t)["id"]})
	c2 := newConsoleClient(t, base)
	c2.signIn(r.json(t)["key"].(string))
	if got := found(c2.get("/console/?retention=30y")); len(got) != 0 {
		t.Errorf("another unit finds %d records", len(got))
	}
}

// TestConsoleDisposal lists the unit's records past retention and not on
// hold — from the index, and by reading the store on a server without one.
func TestConsoleDisposal(t *testing.T) {
	e := newEnv(t)
	authz := e.grant(e.sealID, map[string]any{"case_no": "ZJ-D-10"})
	req := stampReq(e.sealID, authz, "ZJ-D-10")
	req["record"].(map[string]any)["retention"] = "10y"
	r := e.stamp(testPDF("十年"), req)
	if r.status != 201 {
		t.Fatalf("stamp: %d %s", r.status, r.body)
	}
	ten := r.json(t)["document_id"].(string)
	thirty := e.stampTitled(t, "三十年", "ZJ-D-30")
	held10 := func() string {
		authz := e.grant(e.sealID, map[string]any{"case_no": "ZJ-D-H"})
		req := stampReq(e.sealID, authz, "ZJ-D-H")
		req["record"].(map[string]any)["retention"] = "10y"
		r := e.stamp(testPDF("保全"), req)
		if r.status != 201 {
			t.Fatalf("stamp: %d %s", r.status, r.body)
		}
		return r.json(t)["document_id"].(string)
	}()
	if r := e.postJSON("/v1/documents/"+held10+"/hold", e.key(api.RoleArchivist), map[string]any{"on": true, "reason": "诉讼"}); r.status != 200 {
		t.Fatalf("hold: %d %s", r.status, r.body)
	}
	withIndex := e.consoleServer(t)
	e.clock.advance(11 * 365 * 24 * time.Hour)
	for name, base := range map[string]string{"index": withIndex, "store": e.url} {
		c := newConsoleClient(t, base)
		c.signIn(e.key(api.RoleArchivist))
		r := c.get("/console/disposal")
		page := string(r.body)
		if r.status != 200 || !strings.Contains(page, ten) || strings.Contains(page, thirty) || strings.Contains(page, held10) {
			t.Errorf("%s: disposal list %d: 10y %v, 30y %v, held %v", name, r.status,
				strings.Contains(page, ten), strings.Contains(page, thirty), strings.Contains(page, held10))
		}
	}
}

// TestConsoleCookie: the session cookie is HttpOnly, SameSite=Strict, for
// /console/ only, and Secure when the request came over TLS — directly or
// through a trusted proxy that says so; an untrusted peer cannot claim it.
func TestConsoleCookie(t *testing.T) {
	e := newEnv(t)
	srv := e.serverWith(t, func(o *api.Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	h := srv.Handler()
	signIn := func(peer string, tls bool, hdr ...string) *http.Cookie {
		t.Helper()
		get := call(h, "GET", "/console/sign-in", peer, "", nil, hdr...)
		var form *http.Cookie
		for _, c := range get.Result().Cookies() {
			if c.Name == "eseal_console_signin" {
				form = c
			}
		}
		m := csrfField.FindSubmatch(get.Body.Bytes())
		if form == nil || m == nil || !form.HttpOnly || form.SameSite != http.SameSiteStrictMode {
			t.Fatalf("sign-in form cookie %+v", form)
		}
		body := url.Values{"key": {e.key(api.RoleArchivist)}, "csrf": {string(m[1])}}.Encode()
		req := httptest.NewRequest("POST", "/console/sign-in", strings.NewReader(body))
		req.RemoteAddr = peer + ":40000"
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(form)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		if tls {
			req.TLS = &tlsState
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 303 {
			t.Fatalf("sign-in: %d %s", rec.Code, rec.Body)
		}
		for _, c := range rec.Result().Cookies() {
			if c.Name == "eseal_console" {
				return c
			}
		}
		t.Fatal("no session cookie")
		return nil
	}
	for _, tc := range []struct {
		name   string
		peer   string
		tls    bool
		hdr    []string
		secure bool
	}{
		{"plain HTTP", "192.0.2.1", false, nil, false},
		{"TLS", "192.0.2.1", true, nil, true},
		{"trusted proxy says https", "10.1.2.3", false, []string{"X-Forwarded-Proto", "https"}, true},
		{"untrusted peer says https", "192.0.2.1", false, []string{"X-Forwarded-Proto", "https"}, false},
	} {
		c := signIn(tc.peer, tc.tls, tc.hdr...)
		if c.Secure != tc.secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/console/" || len(c.Value) < 50 {
			t.Errorf("%s: cookie %+v", tc.name, c)
		}
	}
}

var tlsState = tls.ConnectionState{}

// TestConsoleSignInLimit: wrong keys are limited per client; the right key
// still opens (its 80 random bits protect it, not the limit).
func TestConsoleSignInLimit(t *testing.T) {
	e := newEnv(t)
	srv := e.serverWith(t, func(o *api.Options) { o.Limits = api.Limits{CodeAttemptsPerMinute: 3} })
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	c := newConsoleClient(t, hs.URL)
	var got []int
	for i := 0; i < 5; i++ {
		c.get("/console/sign-in")
		got = append(got, c.post("/console/sign-in", url.Values{"key": {"esk_wrong"}}).status)
	}
	if want := []int{401, 401, 401, 429, 429}; !slices.Equal(got, want) {
		t.Errorf("wrong keys: %v, want %v", got, want)
	}
	c.signIn(e.key(api.RoleArchivist))
}

// TestConsolePasskeyHostile: what the passkey routes refuse, and that a
// refusal changes nothing.
func TestConsolePasskeyHostile(t *testing.T) {
	e := newEnvOn(t, "localhost")
	base := e.consoleServer(t)
	postJSON := func(c *consoleClient, path, tok string, body []byte) response {
		t.Helper()
		req, err := http.NewRequest("POST", base+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if tok != "" {
			req.Header.Set("X-Csrf-Token", tok)
		}
		return c.do(req)
	}
	before := e.objects()

	// Sign-in: the form's token and a sign-in begun on that form are needed.
	c := newConsoleClient(t, base)
	if r := postJSON(c, "/console/sign-in/passkey", "x", []byte(`{}`)); r.status != 403 {
		t.Errorf("without the form's cookie: %d %s", r.status, r.body)
	}
	r := c.get("/console/sign-in")
	if !bytes.Contains(r.body, []byte(`id="passkey"`)) || !strings.Contains(r.header.Get("Content-Security-Policy"), "script-src 'nonce-") {
		t.Fatalf("sign-in page on localhost offers no passkey: %s", r.header.Get("Content-Security-Policy"))
	}
	if r := postJSON(c, "/console/sign-in/passkey", "wrong", []byte(`{}`)); r.status != 403 {
		t.Errorf("with another token: %d", r.status)
	}
	for _, body := range []string{`{}`, `not json`, `{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"authenticatorData":"AAAA","clientDataJSON":"AAAA","signature":"AAAA","userHandle":"ay1hYWFhYWFhYWFhYWFhYWFh"}}`} {
		c.get("/console/sign-in")
		if r := postJSON(c, "/console/sign-in/passkey", c.csrf, []byte(body)); r.status != 401 || problemType(t, r) != "/problems/unauthenticated" {
			t.Errorf("assertion %.20q: %d %s", body, r.status, r.body)
		}
	}
	// Each begun sign-in is answered once.
	if r := postJSON(c, "/console/sign-in/passkey", c.csrf, []byte(`{}`)); r.status != 401 || !strings.Contains(string(r.body), "no passkey sign-in was begun") {
		t.Errorf("the same sign-in again: %d %s", r.status, r.body)
	}
	if r := c.get("/console/"); r.status != 303 {
		t.Errorf("a refused passkey opened a session: %d", r.status)
	}

	// Registration: a session, its token, and a registration begun in it.
	c2 := newConsoleClient(t, base)
	if r := postJSON(c2, "/console/passkey", "x", []byte(`{}`)); r.status != 303 {
		t.Errorf("registration without a session: %d", r.status)
	}
	c2.signIn(e.key(api.RoleArchivist))
	good := c2.csrf
	if r := postJSON(c2, "/console/passkey", "", []byte(`{}`)); r.status != 403 {
		t.Errorf("registration without the token: %d", r.status)
	}
	if r := postJSON(c2, "/console/passkey", good, []byte(`{}`)); r.status != 403 || problemType(t, r) != "/problems/passkey-invalid" {
		t.Errorf("registration never begun: %d %s", r.status, r.body)
	}
	c2.get("/console/passkey")
	if r := postJSON(c2, "/console/passkey", good, []byte(`{"id":"x"}`)); r.status != 403 || problemType(t, r) != "/problems/passkey-invalid" {
		t.Errorf("a broken registration: %d %s", r.status, r.body)
	}
	if r := postJSON(c2, "/console/passkey", good, bytes.Repeat([]byte("x"), 20<<10)); r.status != 413 {
		t.Errorf("an oversize registration: %d", r.status)
	}
	if e.objects() != before {
		t.Error("refused passkey requests changed the store")
	}

	// A server whose public URL names an IP address offers no passkey.
	ip := e.serverWith(t, func(o *api.Options) { o.PublicURL = "http://127.0.0.1:8080" })
	if r := call(ip.Handler(), "GET", "/console/sign-in", "127.0.0.1", "", nil); bytes.Contains(r.Body.Bytes(), []byte(`id="passkey"`)) ||
		strings.Contains(r.Header().Get("Content-Security-Policy"), "script-src") {
		t.Error("passkey sign-in offered on an IP address")
	}
}
