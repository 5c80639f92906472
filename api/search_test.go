package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"eseal/api"
	"eseal/archive"
	"eseal/archive/index"
	"eseal/archive/transfer"
	"eseal/seal"
)

// replica is a second api.Server on the env's store, with a search index
// of its own: what another eseal replica is.
type replica struct {
	url string
	ix  *index.Index
}

func (e *env) replica(t *testing.T, path string) *replica {
	t.Helper()
	ix, err := index.Open(context.Background(), path, e.store, index.Options{ReadRecord: e.srv.Service.IndexedRecord})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	opt := e.srv.Options
	opt.Index, opt.Metrics = ix, nil
	srv, err := api.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &replica{url: hs.URL, ix: ix}
}

func (rp *replica) get(t *testing.T, key, rawQuery string) response {
	t.Helper()
	req, err := http.NewRequest("GET", rp.url+"/v1/documents?"+rawQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

type searchPage struct {
	Documents  []archive.Record `json:"documents"`
	NextCursor *string          `json:"next_cursor"`
}

// searchAll pages through a search with the cursor and returns the ids in
// the order given, failing on a record seen twice or out of order.
func (rp *replica) searchAll(t *testing.T, key string, params url.Values, limit int) []string {
	t.Helper()
	params = copyValues(params)
	params.Set("limit", fmt.Sprint(limit))
	var ids []string
	seen := map[string]bool{}
	var last *archive.Record
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("more than 1000 pages")
		}
		r := rp.get(t, key, params.Encode())
		if r.status != 200 {
			t.Fatalf("search %s: %d %s", params.Encode(), r.status, r.body)
		}
		var p searchPage
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		if len(p.Documents) > limit {
			t.Fatalf("page of %d, limit %d", len(p.Documents), limit)
		}
		for i := range p.Documents {
			rec := &p.Documents[i]
			if seen[rec.DocumentID] {
				t.Fatalf("search %s: %s on two pages", params.Encode(), rec.DocumentID)
			}
			seen[rec.DocumentID] = true
			if last != nil && (rec.Date.After(last.Date) || rec.Date.Equal(last.Date) && rec.DocumentID > last.DocumentID) {
				t.Fatalf("search %s: %s (%s) after %s (%s): not newest first", params.Encode(), rec.DocumentID, rec.Date, last.DocumentID, last.Date)
			}
			last = rec
			ids = append(ids, rec.DocumentID)
		}
		if p.NextCursor == nil {
			return ids
		}
		if *p.NextCursor == "" || len(p.Documents) != limit {
			t.Fatalf("search %s: next_cursor %q after a page of %d", params.Encode(), *p.NextCursor, len(p.Documents))
		}
		params.Set("cursor", *p.NextCursor)
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func copyValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string{}, vs...)
	}
	return out
}

// stamped is what the test asked to be archived, the truth searches are
// checked against.
type stampedDoc struct {
	id, title, applicant, caseNo, itemCode, retention, seal string
	date                                                    time.Time
}

var (
	searchTitles = []string{"食品经营许可证", "建设工程规划许可证", "排污许可决定书", "药品经营许可证", "公共场所卫生许可证", "道路运输经营许可证", "营业执照变更登记通知书"}
	// Applicants, four of which have 科技 in their name.
	searchApplicants = []string{"杭州某某科技有限公司", "宁波甬江信息科技有限公司", "温州瓯海建设集团有限公司", "绍兴柯桥纺织印染有限公司",
		"嘉兴南湖科技发展有限公司", "湖州某某餐饮管理有限公司", "金华义乌小商品贸易有限公司", "台州某某医药股份有限公司", "丽水市莲都区张三", "舟山某某海洋科技有限公司", "衢州某某农业开发有限公司"}
	searchItems      = []string{"330000-XK-001", "330000-XK-002", "330000-QT-017"}
	searchRetentions = []string{"permanent", "30y", "10y"}
)

// TestSearchDocuments stamps 200 records with Chinese titles and applicants
// over REST, in four months, with two seals, and shows: each filter alone
// and combined returns exactly the expected set; q=科技 finds every applicant
// containing 科技; paging visits each record once, newest first; keys see
// only their scope; a second replica's index catches up by following the
// log; a deleted index file is rebuilt with the same answers.
func TestSearchDocuments(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	seal2, err := e.reg.CreateSeal(ctx, seal.CreateSpec{Name: "测试市行政审批服务局审批专用章（二）", Type: seal.TypeApproval, Policy: seal.PolicyKey})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r1 := e.replica(t, filepath.Join(dir, "replica-1.db"))
	// The keys the stamping goroutines use are made first (e.key is not
	// safe for concurrent use).
	for _, id := range []string{e.sealID, seal2.ID} {
		e.key(api.RoleAuthorizer, id)
		e.key(api.RoleStamper, id)
	}

	const n, batches = 200, 4
	docs := make([]stampedDoc, n)
	for b := range batches {
		if b > 0 {
			e.clock.advance(31 * 24 * time.Hour)
		}
		var wg sync.WaitGroup
		work := make(chan int)
		for range 6 {
			wg.Go(func() {
				for i := range work {
					d := stampedDoc{title: searchTitles[i%len(searchTitles)], applicant: searchApplicants[i%len(searchApplicants)],
						caseNo: fmt.Sprintf("XK-2026-%04d", i), itemCode: searchItems[i%len(searchItems)],
						retention: searchRetentions[(i/3)%len(searchRetentions)], seal: e.sealID}
					if i%5 == 0 {
						d.seal = seal2.ID
					}
					g := e.postJSON("/v1/seals/"+d.seal+"/authorizations", e.key(api.RoleAuthorizer, d.seal), map[string]any{"case_no": d.caseNo})
					if g.status != 201 {
						t.Errorf("grant %d: %d %s", i, g.status, g.body)
						continue
					}
					var grant struct{ ID string }
					if err := json.Unmarshal(g.body, &grant); err != nil {
						t.Error(err)
						continue
					}
					req := stampReq(d.seal, grant.ID, d.caseNo)
					req["record"] = map[string]any{"title": d.title, "applicant": d.applicant, "case_no": d.caseNo, "item_code": d.itemCode,
						"retention": d.retention, "document_no": fmt.Sprintf("测审批〔2026〕%d号", i)}
					ct, body := stampBody(t, testPDF(d.title), req)
					r := e.do("POST", "/v1/stamps", e.key(api.RoleStamper, d.seal), ct, strings.NewReader(string(body)))
					if r.status != 201 {
						t.Errorf("stamp %d: %d %s", i, r.status, r.body)
						continue
					}
					var resp struct {
						DocumentID string         `json:"document_id"`
						Record     archive.Record `json:"record"`
					}
					if err := json.Unmarshal(r.body, &resp); err != nil {
						t.Error(err)
						continue
					}
					d.id, d.date = resp.DocumentID, resp.Record.Date
					docs[i] = d
				}
			})
		}
		for i := b * n / batches; i < (b+1)*n/batches; i++ {
			work <- i
		}
		close(work)
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
	}

	archivist, stamper1, stamper2 := e.key(api.RoleArchivist), e.key(api.RoleStamper, e.sealID), e.key(api.RoleStamper, seal2.ID)
	// want lists, newest first, the documents pred selects.
	want := func(pred func(d stampedDoc) bool) []string {
		var sel []stampedDoc
		for _, d := range docs {
			if pred(d) {
				sel = append(sel, d)
			}
		}
		slices.SortFunc(sel, func(a, b stampedDoc) int {
			if c := b.date.Compare(a.date); c != 0 {
				return c
			}
			return strings.Compare(b.id, a.id)
		})
		out := []string{}
		for _, d := range sel {
			out = append(out, d.id)
		}
		return out
	}
	contains := func(s string) func(d stampedDoc) bool {
		return func(d stampedDoc) bool {
			return strings.Contains(d.title, s) || strings.Contains(d.applicant, s) || strings.Contains(d.caseNo, s)
		}
	}
	and := func(ps ...func(stampedDoc) bool) func(stampedDoc) bool {
		return func(d stampedDoc) bool {
			for _, p := range ps {
				if !p(d) {
					return false
				}
			}
			return true
		}
	}
	china := func(d stampedDoc) string { return d.date.In(transfer.China).Format(time.DateOnly) }
	month1, month3 := china(docs[0]), china(docs[2*n/batches])
	cases := []struct {
		name   string
		params url.Values
		pred   func(stampedDoc) bool
	}{
		{"all", url.Values{}, func(stampedDoc) bool { return true }},
		{"q=科技", url.Values{"q": {"科技"}}, func(d stampedDoc) bool { return strings.Contains(d.applicant, "科技") }},
		{"q=科技有限", url.Values{"q": {"科技有限"}}, contains("科技有限")},
		{"q=许可证", url.Values{"q": {"许可证"}}, contains("许可证")},
		{"q=瓯海", url.Values{"q": {"瓯海"}}, contains("瓯海")},
		{"q=case number part", url.Values{"q": {"xk-2026-01"}}, contains("XK-2026-01")},
		{"q=document number", url.Values{"q": {"〔2026〕17号"}}, func(d stampedDoc) bool { return d.caseNo == "XK-2026-0017" }},
		{"q two terms", url.Values{"q": {"科技 食品"}}, and(contains("科技"), contains("食品"))},
		{"case_no", url.Values{"case_no": {"XK-2026-0123"}}, func(d stampedDoc) bool { return d.caseNo == "XK-2026-0123" }},
		{"case_no is exact", url.Values{"case_no": {"XK-2026-012"}}, func(stampedDoc) bool { return false }},
		{"applicant", url.Values{"applicant": {"杭州某某科技有限公司"}}, func(d stampedDoc) bool { return d.applicant == "杭州某某科技有限公司" }},
		{"applicant is exact", url.Values{"applicant": {"杭州某某科技"}}, func(stampedDoc) bool { return false }},
		{"item_code", url.Values{"item_code": {"330000-QT-017"}}, func(d stampedDoc) bool { return d.itemCode == "330000-QT-017" }},
		{"retention", url.Values{"retention": {"10y"}}, func(d stampedDoc) bool { return d.retention == "10y" }},
		{"retention in Chinese", url.Values{"retention": {"永久"}}, func(d stampedDoc) bool { return d.retention == "permanent" }},
		{"from", url.Values{"from": {month3}}, func(d stampedDoc) bool { return china(d) >= month3 }},
		{"to", url.Values{"to": {month1}}, func(d stampedDoc) bool { return china(d) <= month1 }},
		{"from and to", url.Values{"from": {month1}, "to": {month3}}, func(d stampedDoc) bool { return china(d) >= month1 && china(d) <= month3 }},
		{"applicant and retention", url.Values{"applicant": {"宁波甬江信息科技有限公司"}, "retention": {"30y"}},
			func(d stampedDoc) bool {
				return d.applicant == "宁波甬江信息科技有限公司" && d.retention == "30y"
			}},
		{"q, item_code, from", url.Values{"q": {"科技"}, "item_code": {"330000-XK-001"}, "from": {month3}},
			func(d stampedDoc) bool {
				return strings.Contains(d.applicant, "科技") && d.itemCode == "330000-XK-001" && china(d) >= month3
			}},
		{"everything", url.Values{"q": {"许可"}, "applicant": {"温州瓯海建设集团有限公司"}, "item_code": {"330000-XK-002"}, "retention": {"permanent"}, "from": {month1}, "to": {month3}},
			func(d stampedDoc) bool {
				return strings.Contains(d.title, "许可") && d.applicant == "温州瓯海建设集团有限公司" && d.itemCode == "330000-XK-002" &&
					d.retention == "permanent" && china(d) >= month1 && china(d) <= month3
			}},
	}
	answers := map[string][]string{}
	check := func(stage string, rp *replica) {
		t.Helper()
		for _, c := range cases {
			exp := want(c.pred)
			got := rp.searchAll(t, archivist, c.params, 37)
			if !slices.Equal(got, exp) {
				t.Errorf("%s: %s (%s): got %d records, want %d; first difference at %d", stage, c.name, c.params.Encode(), len(got), len(exp), firstDiff(got, exp))
			}
			if prev, ok := answers[c.name]; ok && !slices.Equal(prev, got) {
				t.Errorf("%s: %s answers differently than before", stage, c.name)
			}
			answers[c.name] = got
		}
	}
	if got := want(func(d stampedDoc) bool { return strings.Contains(d.applicant, "科技") }); len(got) < 50 {
		t.Fatalf("only %d applicants with 科技: the test data is too thin", len(got))
	}
	check("replica 1", r1)

	// One page through all 200, and pages of one.
	if got := r1.searchAll(t, archivist, url.Values{}, index.MaxLimit); !slices.Equal(got, answers["all"]) {
		t.Fatalf("one page of %d: %d records", index.MaxLimit, len(got))
	}
	if got := r1.searchAll(t, archivist, url.Values{"q": {"科技"}}, 1); !slices.Equal(got, answers["q=科技"]) {
		t.Fatalf("pages of one: %d records", len(got))
	}
	// Keys find what they may read: a stamper the documents of its seals.
	for _, c := range []struct {
		key  string
		pred func(stampedDoc) bool
	}{
		{stamper1, func(d stampedDoc) bool { return d.seal == e.sealID }},
		{stamper2, func(d stampedDoc) bool { return d.seal == seal2.ID }},
		{e.key(api.RoleStamper, e.sealID, seal2.ID), func(stampedDoc) bool { return true }},
	} {
		if got, exp := r1.searchAll(t, c.key, url.Values{}, 100), want(c.pred); !slices.Equal(got, exp) {
			t.Errorf("stamper scope: %d records, want %d", len(got), len(exp))
		}
	}
	unit, err := e.reg.CreateUnit(ctx, seal.UnitSpec{Name: "测试市市场监督管理局", Code: "TEST-SCJG", Fonds: "Z002", By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	_, other, err := api.Keyring{Store: e.store, Registry: e.reg}.Create(ctx, api.KeySpec{Name: "other archivist", Role: api.RoleArchivist, Unit: unit.ID, By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if got := r1.searchAll(t, other, url.Values{}, 50); len(got) != 0 {
		t.Errorf("another unit's archivist found %d records", len(got))
	}

	// A second replica, its own index file, follows the log: it catches up
	// with the first's stampings by itself, polled here without a search.
	r2 := e.replica(t, filepath.Join(dir, "replica-2.db"))
	followCtx, stop := context.WithCancel(ctx)
	defer stop()
	go r2.ix.Follow(followCtx, 50*time.Millisecond)
	before := 0
	if before, err = r2.ix.Count(ctx); err != nil {
		t.Fatal(err)
	}
	// Opening it rebuilt it from the store: stamp more, on replica 1's
	// side, for the follower to find.
	var more []stampedDoc
	for i := n; i < n+5; i++ {
		d := stampedDoc{title: "食品经营许可证", applicant: "杭州后来科技有限公司", caseNo: fmt.Sprintf("XK-2026-%04d", i), itemCode: searchItems[0], retention: "30y", seal: e.sealID}
		authz := e.grant(d.seal, map[string]any{"case_no": d.caseNo})
		req := stampReq(d.seal, authz, d.caseNo)
		req["record"] = map[string]any{"title": d.title, "applicant": d.applicant, "case_no": d.caseNo, "item_code": d.itemCode, "retention": d.retention}
		r := e.stamp(testPDF(d.title), req)
		if r.status != 201 {
			t.Fatalf("stamp: %d %s", r.status, r.body)
		}
		var resp struct {
			DocumentID string         `json:"document_id"`
			Record     archive.Record `json:"record"`
		}
		if err := json.Unmarshal(r.body, &resp); err != nil {
			t.Fatal(err)
		}
		d.id, d.date = resp.DocumentID, resp.Record.Date
		more = append(more, d)
	}
	for deadline := time.Now().Add(time.Minute); ; {
		p, err := r2.ix.Search(ctx, index.Query{Applicant: "杭州后来科技有限公司"})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Records) == len(more) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica 2 holds %d of the %d new stampings after a minute of following", len(p.Records), len(more))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if before != n {
		t.Errorf("replica 2 opened with %d records, want %d", before, n)
	}
	docs = append(docs, more...)
	answers = map[string][]string{}
	check("replica 2", r2)
	check("replica 1 after", r1)

	// Delete replica 1's index file and start it again: rebuilt from the
	// store, the same answers.
	r1.ix.Close()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(r1.ix.Path() + suffix); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	r1b := e.replica(t, r1.ix.Path())
	check("replica 1 restarted", r1b)
}

// TestSearchHostileParameters: every malformed parameter is a 400
// problem naming it, and changes nothing.
func TestSearchHostileParameters(t *testing.T) {
	e := newEnv(t)
	rp := e.replica(t, filepath.Join(t.TempDir(), "index.db"))
	archivist := e.key(api.RoleArchivist)
	cursor := func(s string) string { return "cursor=" + url.QueryEscape(s) }
	for _, c := range []struct{ query, field string }{
		{"from=2026-02-30", "from"},
		{"from=yesterday", "from"},
		{"from=1969-12-31", "from"},
		{"to=2200-01-01", "to"},
		{"to=99999-01-01", "to"},
		{"from=2026-03-02&to=2026-03-01", "to"},
		{"from=2026-03-01T25:00:00Z", "from"},
		{"limit=0", "limit"},
		{"limit=501", "limit"},
		{"limit=-1", "limit"},
		{"limit=1e3", "limit"},
		{"limit=99999999999999999999", "limit"},
		{cursor("forged"), "cursor"},
		{cursor("YzEuMTIzLi4vZXRj"), "cursor"},
		{cursor(strings.Repeat("A", 300)), "cursor"},
		{"retention=forever", "retention"},
		{"q=" + url.QueryEscape(strings.Repeat("科", index.MaxQueryRunes+1)), "q"},
		{"q=a%00b", "q"},
		{"q=%FF%FE", "q"},
		{"case_no=XK%0A1", "case_no"},
		{"q=a+b+c+d+e+f+g+h+i", "q"},
		{"caseno=XK-1", "caseno"},
		{"q=1&q=2", "q"},
		{"=x", "query"},
	} {
		r := rp.get(t, archivist, c.query)
		if r.status != 400 || problemType(t, r) != "/problems/invalid-query" || r.json(t)["field"] != c.field {
			t.Errorf("%s: %d %s, want 400 invalid-query on %s", c.query, r.status, r.body, c.field)
		}
	}
	// FTS syntax is plain text in q.
	for _, q := range []string{`"科技" OR NOT *`, `"""`, "%_", "NEAR(a b)", "title:x"} {
		if r := rp.get(t, archivist, "q="+url.QueryEscape(q)); r.status != 200 {
			t.Errorf("q=%s: %d %s", q, r.status, r.body)
		}
	}
	if r := rp.get(t, "", ""); r.status != 401 {
		t.Errorf("no key: %d", r.status)
	}
	if r := rp.get(t, e.admin, ""); r.status != 403 {
		t.Errorf("admin key: %d", r.status)
	}
	// Without an index the route says so.
	if r := e.do("GET", "/v1/documents", archivist, "", nil); r.status != 404 || problemType(t, r) != "/problems/not-found" {
		t.Errorf("no index: %d %s", r.status, r.body)
	}
}
