package s3_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/s3/miniotest"
)

// BenchmarkRequestCost measures what each kind of request a stamping makes
// costs MinIO itself — the server's CPU time per request, as
// minio-cpu-ms/op, beside the request's wall time — on the shared loopback
// server, one request at a time. The REST path on MinIO is bound by it on a
// machine whose cores MinIO shares (docs/performance.md):
//
//	go test -run '^$' -bench RequestCost -benchtime 200x ./archive/s3/
func BenchmarkRequestCost(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	small := []byte(`{"document_id":"d","n":1}`)
	pdf := bytes.Repeat([]byte("%PDF-1.7 "), 124<<10/9) // a stamped 3-page document's size
	until := time.Now().Add(time.Hour)
	for i := range 20 {
		if _, err := archive.PutRetained(ctx, s, fmt.Sprintf("dir/%03d.json", i), small, until); err != nil {
			b.Fatal(err)
		}
	}
	var seq int
	key := func(p string) string { seq++; return fmt.Sprintf("%s/%d", p, seq) }
	for _, op := range []struct {
		name string
		do   func() error
	}{
		{"put=small", func() error {
			_, err := s.PutIfAbsent(ctx, key("p"), bytes.NewReader(small), int64(len(small)))
			return err
		}},
		{"put=small,locked", func() error { _, err := archive.PutRetained(ctx, s, key("pl"), small, until); return err }},
		{"put=124KB", func() error {
			_, err := s.PutIfAbsent(ctx, key("b"), bytes.NewReader(pdf), int64(len(pdf)))
			return err
		}},
		{"put=124KB,locked", func() error { _, err := archive.PutRetained(ctx, s, key("bl"), pdf, until); return err }},
		{"head", func() error { _, err := s.Head(ctx, "dir/001.json"); return err }},
		{"get=small", func() error { _, _, err := archive.GetBytes(ctx, s, "dir/001.json"); return err }},
		{"list=20", func() error { return s.List(ctx, "dir/", func(archive.ObjectInfo) error { return nil }) }},
		{"list-versions=20", func() error { return s.ListVersions(ctx, "dir/", func(archive.ObjectInfo) error { return nil }) }},
		{"delete", func() error {
			k := key("d")
			if _, err := s.PutIfAbsent(ctx, k, bytes.NewReader(small), int64(len(small))); err != nil {
				return err
			}
			return s.Delete(ctx, k) // less the put, measured above
		}},
	} {
		b.Run(op.name, func(b *testing.B) {
			before, err := miniotest.SharedCPUTime()
			if err != nil {
				b.Skip(err)
			}
			for range b.N {
				if err := op.do(); err != nil {
					b.Fatal(err)
				}
			}
			after, err := miniotest.SharedCPUTime()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(after-before)/float64(time.Millisecond)/float64(b.N), "minio-cpu-ms/op")
		})
	}
}
