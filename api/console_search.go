package api

// The console's search page: a form over the search index.

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

type consoleSearchView struct {
	Form       searchForm
	Retentions []archive.RetentionClass
	Searched   bool
	Records    []*archive.Record
	Problem    string
	// Cursor is the page shown's; First and Next link to the first and
	// the next page ("" when there is none).
	Cursor, First, Next string
}

func (s *Server) consoleSearch(w http.ResponseWriter, r *http.Request, cr *consoleRequest) {
	v := consoleSearchView{Form: searchFormOf(r.URL.Query()), Retentions: []archive.RetentionClass{archive.Permanent, archive.Years30, archive.Years10}}
	s.consolePage(w, http.StatusOK, "search", cr, v)
}
