package index_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"eseal/archive/audit"
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
	_, ix := benchEnv(b, n)
	return ix
}

// benchEnv is an archive of n stampings and its index.
func benchEnv(b *testing.B, n int) (*archiveEnv, *index.Index) {
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
	return e, ix
}

// BenchmarkTrail is one record's trail in an archive of 2,000 stampings:
// from the index (the blocks naming it) against a walk of the whole log.
func BenchmarkTrail(b *testing.B) {
	ctx := context.Background()
	e, ix := benchEnv(b, 2000)
	doc := docID(1000)
	b.Run("index", func(b *testing.B) {
		for b.Loop() {
			if es, doubts, err := ix.Trail(ctx, doc); err != nil || len(es) != 1 || len(doubts) != 0 {
				b.Fatal(len(es), err)
			}
		}
	})
	b.Run("walk", func(b *testing.B) {
		for b.Loop() {
			n := 0
			if err := audit.Entries(ctx, e.store, func(e audit.Entry) error {
				if e.Subject == doc {
					n++
				}
				return nil
			}); err != nil || n != 1 {
				b.Fatal(n, err)
			}
		}
	})
}
