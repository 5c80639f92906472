package index_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"eseal/archive/index"
)

// BenchmarkSearch measures searches over 2,000 records: a trigram
// substring, a two-character term (instr), an exact filter, and a page
// deep into the results. BenchmarkRebuild measures the rebuild of the same.
func BenchmarkSearch(b *testing.B) {
	ix := benchIndex(b, 2000)
	deep, err := ix.Search(context.Background(), index.Query{Limit: 500})
	if err != nil || deep.NextCursor == "" {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		q    index.Query
	}{
		{"q=科技有限", index.Query{Q: "科技有限"}},
		{"q=科技", index.Query{Q: "科技"}},
		{"case_no", index.Query{CaseNo: "XK-2026-1234"}},
		{"cursor", index.Query{Cursor: deep.NextCursor}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := ix.Search(context.Background(), c.q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRebuild(b *testing.B) {
	ix := benchIndex(b, 2000)
	for b.Loop() {
		if err := ix.Rebuild(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
	}
}

var benchApplicants = []string{"杭州某某科技有限公司", "宁波某某建设集团有限公司", "温州某某信息科技有限公司", "绍兴某某纺织有限公司", "嘉兴某某食品有限公司"}

func benchIndex(b *testing.B, n int) *index.Index {
	b.Helper()
	e := newArchiveEnv(b, "node-a")
	for i := range n {
		e.add(record(i, "食品经营许可证", benchApplicants[i%len(benchApplicants)], fmt.Sprintf("XK-2026-%04d", i)))
	}
	ix, err := index.Open(context.Background(), filepath.Join(e.dir, "index.db"), e.store, index.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ix.Close() })
	return ix
}
