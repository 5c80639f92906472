package api

// The console's search page: a form over the search index, read the way
// GET /v1/documents reads it (parseSearchQuery), scoped to the session's
// unit, newest first, a page at a time.

import (
	"net/http"
	"net/url"

	"eseal/archive"
)

// searchForm is the search form as typed; its fields are the query
// parameters of GET /v1/documents.
type searchForm struct {
	Q, CaseNo, Applicant, ItemCode, Retention, From, To string
}

func searchFormOf(v url.Values) searchForm {
	return searchForm{Q: v.Get("q"), CaseNo: v.Get("case_no"), Applicant: v.Get("applicant"), ItemCode: v.Get("item_code"),
		Retention: v.Get("retention"), From: v.Get("from"), To: v.Get("to")}
}

// link is the console URL of the search with cursor ("" the first page),
// empty fields left out.
func (f searchForm) link(cursor string) string {
	v := url.Values{}
	for k, x := range map[string]string{"q": f.Q, "case_no": f.CaseNo, "applicant": f.Applicant, "item_code": f.ItemCode,
		"retention": f.Retention, "from": f.From, "to": f.To, "cursor": cursor} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if len(v) == 0 {
		return "/console/?searched=1"
	}
	return "/console/?" + v.Encode()
}

type consoleSearchView struct {
	Form     searchForm
	Searched bool
	Records  []*archive.Record
	Problem  string
	// Cursor is the page shown's; First and Next link to the first and
	// the next page ("" when there is none).
	Cursor, First, Next string
}

// consoleSearchPage is the page size of the console's search.
const consoleSearchPage = 20

// consoleSearch shows the search form and, once a search was asked for
// (any parameter given), a page of its results.
func (s *Server) consoleSearch(w http.ResponseWriter, r *http.Request, cr *consoleRequest) {
	params := r.URL.Query()
	v := consoleSearchView{Form: searchFormOf(params)}
	if len(params) == 0 {
		s.consolePage(w, http.StatusOK, "search", cr, v)
		return
	}
	v.Searched = true
	params.Del("searched") // the marker of a search with every field empty
	if s.Index == nil {
		v.Searched, v.Problem = false, "本服务器未配置检索索引。"
		s.consolePage(w, http.StatusNotFound, "search", cr, v)
		return
	}
	q, p := parseSearchQuery(params)
	if p != nil {
		v.Searched, v.Problem = false, "检索条件有误："+p.Detail
		s.consolePage(w, http.StatusBadRequest, "search", cr, v)
		return
	}
	unit, err := s.Registry.Unit(r.Context(), cr.key.Unit)
	if err != nil {
		s.consoleFail(w, r, err)
		return
	}
	q.Units, q.Limit = []string{unit.Tag()}, consoleSearchPage
	if err := s.Index.CatchUp(r.Context()); err != nil {
		s.Log.Warn("search index: catching up before a console search", "err", err)
	}
	page, err := s.Index.Search(r.Context(), q)
	if err != nil {
		if pr := problemFor(err); pr.Status < 500 {
			v.Searched, v.Problem = false, "检索条件有误："+pr.Detail
			s.consolePage(w, pr.Status, "search", cr, v)
			return
		}
		s.consoleFail(w, r, err)
		return
	}
	v.Records, v.Cursor = page.Records, q.Cursor
	v.First = v.Form.link("")
	if page.NextCursor != "" {
		v.Next = v.Form.link(page.NextCursor)
	}
	s.consolePage(w, http.StatusOK, "search", cr, v)
}
