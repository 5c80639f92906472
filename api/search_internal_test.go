package api

import (
	"net/url"
	"testing"

	"eseal/archive/index"
)

// FuzzParseSearchQuery: any raw query string is either a 400 invalid-query
// problem naming a parameter, or a query whose limit and dates the index
// can hold.
func FuzzParseSearchQuery(f *testing.F) {
	for _, s := range []string{
		"", "q=%E7%A7%91%E6%8A%80", "case_no=XK-1&applicant=a&item_code=b&retention=30y",
		"from=2026-03-01&to=2026-03-31", "from=2026-03-01T09:30:00%2B08:00", "to=1969-12-31", "to=2199-12-31",
		"limit=500", "limit=0", "limit=-1", "cursor=YzEuMTIzLmRvYy0x", "q=1&q=2", "x=1", "%zz", "from=2026-02-30",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return // net/http answers such a query itself
		}
		q, p := parseSearchQuery(v)
		if p != nil {
			if p.Status != 400 || p.Type != problemBase+"invalid-query" || p.Field == "" {
				t.Fatalf("%q: %+v", raw, p)
			}
			return
		}
		if q.Limit < 0 || q.Limit > index.MaxLimit {
			t.Fatalf("%q: limit %d", raw, q.Limit)
		}
		for _, d := range []struct {
			name string
			y    int
			zero bool
		}{{"from", q.From.Year(), q.From.IsZero()}, {"to", q.To.Year(), q.To.IsZero()}} {
			if !d.zero && (d.y < 1969 || d.y > 2200) {
				t.Fatalf("%q: %s in year %d", raw, d.name, d.y)
			}
		}
		if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
			t.Fatalf("%q: from %s not before to %s", raw, q.From, q.To)
		}
	})
}
