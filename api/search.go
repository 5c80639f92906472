package api

// GET /v1/documents: finding records through the search index
// (archive/index), scoped to what the key may read.

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"eseal/archive/index"
	"eseal/archive/transfer"
)

// searchParams are the query parameters GET /v1/documents accepts.
var searchParams = map[string]bool{
	"q": true, "case_no": true, "applicant": true, "item_code": true, "retention": true,
	"from": true, "to": true, "limit": true, "cursor": true,
}

// searchResponse is the answer of GET /v1/documents.
type searchResponse struct {
	Documents  any    `json:"documents"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// searchDocuments answers GET /v1/documents: the committed records that
// match, newest first, a page at a time. Stamper keys find the documents of
// their seals, archivist keys those of their unit. The index first reads
// what the audit log gained, so a stamping this replica just made is found.
func (s *Server) searchDocuments(w http.ResponseWriter, r *http.Request) {
	if s.Index == nil {
		writeProblem(w, r, newProblem("not-found", "search is not configured on this server"))
		return
	}
	q, p := parseSearchQuery(r.URL.Query())
	if p != nil {
		writeProblem(w, r, p)
		return
	}
	k := apiKeyFrom(r)
	if k.Role.scoped() {
		q.Seals = append([]string{}, k.Seals...)
	} else {
		unit, err := s.Registry.Unit(r.Context(), k.Unit)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		q.Units = []string{unit.Tag()}
	}
	if err := s.Index.CatchUp(r.Context()); err != nil {
		// The index answers as far as it got; the follower retries.
		s.Log.Warn("search index: catching up before a search", "err", err)
	}
	page, err := s.Index.Search(r.Context(), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, searchResponse{Documents: page.Records, NextCursor: page.NextCursor})
}

// parseSearchQuery reads the query parameters strictly: an unknown or
// repeated parameter, a date that is not one, a limit out of range are
// invalid-query problems naming the parameter. What only the index can
// judge (a cursor, a retention class, the length of q) it judges in Search.
func parseSearchQuery(v url.Values) (index.Query, *Problem) {
	bad := func(field, reason string) (index.Query, *Problem) {
		p := newProblem("invalid-query", field+": "+reason)
		p.Field = field
		return index.Query{}, p
	}
	for name, vals := range v {
		if !searchParams[name] {
			return bad(name, "not a parameter of this search (q, case_no, applicant, item_code, retention, from, to, limit, cursor)")
		}
		if len(vals) != 1 {
			return bad(name, "given more than once")
		}
	}
	q := index.Query{Q: v.Get("q"), CaseNo: v.Get("case_no"), Applicant: v.Get("applicant"), ItemCode: v.Get("item_code"),
		Retention: v.Get("retention"), Cursor: v.Get("cursor")}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > index.MaxLimit {
			return bad("limit", fmt.Sprintf("a number from 1 to %d", index.MaxLimit))
		}
		q.Limit = n
	}
	var err error
	if q.From, _, err = parseSearchDate(v.Get("from")); err != nil {
		return bad("from", err.Error())
	}
	to, day, err := parseSearchDate(v.Get("to"))
	if err != nil {
		return bad("to", err.Error())
	}
	// to includes the day, or the instant, it names.
	switch {
	case day:
		q.To = to.AddDate(0, 0, 1)
	case !to.IsZero():
		q.To = to.Add(time.Nanosecond)
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return bad("to", "before from")
	}
	return q, nil
}

// parseSearchDate reads a day (2026-03-01, in China time, as records are
// dated) or an instant (RFC 3339); day reports the first. "" is the zero
// time. Years 1970 to 2199 only: the index keeps times as nanoseconds
// since 1970.
func parseSearchDate(s string) (t time.Time, day bool, err error) {
	if s == "" {
		return time.Time{}, false, nil
	}
	if t, err = time.ParseInLocation(time.DateOnly, s, transfer.China); err == nil {
		day = true
	} else if t, err = time.Parse(time.RFC3339, s); err != nil {
		return time.Time{}, false, fmt.Errorf("%q is neither a day (2026-03-01) nor a time (2026-03-01T09:30:00+08:00)", s)
	}
	if t.Year() < 1970 || t.Year() >= 2200 {
		return time.Time{}, false, fmt.Errorf("%q lies outside 1970–2199", s)
	}
	return t, day, nil
}
