package index_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"eseal/archive/index"
)

// FuzzSearch: whatever a caller puts in a query's text fields, cursor and
// limit, Search answers a page no larger than the limit or a *QueryError —
// never an SQL or FTS5 syntax error, never a panic.
func FuzzSearch(f *testing.F) {
	f.Add("科技", "", "", "", "", 0)
	f.Add("xk-2026 许可", "XK-2026-0001", "杭州某某科技有限公司", "30y", "", 2)
	f.Add(`"科技" OR NOT * NEAR(a b) title:x ^`, "", "", "", "YzEuMTIzLmRvYy0x", 1)
	f.Add(`"""`, "'", `\`, "永久", "%", -1)
	f.Add("a\x00b", "", "", "", "!!!", 501)
	e := newArchiveEnv(f, "node-a")
	e.add(record(1, "食品经营许可证", "杭州某某科技有限公司", "XK-2026-0001"))
	e.add(record(2, "建设工程规划许可证", "宁波某某建设集团", "XK-2026-0002"))
	e.add(record(3, "排污许可决定书", "温州某某化工科技有限公司", "XK-2026-0003"))
	ix, err := index.Open(context.Background(), filepath.Join(f.TempDir(), "index.db"), e.store, index.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer ix.Close()
	f.Fuzz(func(t *testing.T, q, caseNo, applicant, retention, cursor string, limit int) {
		p, err := ix.Search(context.Background(), index.Query{Q: q, CaseNo: caseNo, Applicant: applicant, Retention: retention, Cursor: cursor, Limit: limit})
		var qe *index.QueryError
		switch {
		case err != nil && !errors.As(err, &qe):
			t.Fatalf("%q: %v", q, err)
		case err != nil && qe.Field == "":
			t.Fatalf("a QueryError without a field: %v", err)
		case err == nil && (limit > 0 && len(p.Records) > limit || len(p.Records) > index.DefaultLimit && limit == 0):
			t.Fatalf("%d records for limit %d", len(p.Records), limit)
		}
	})
}
