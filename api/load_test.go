package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"eseal/api"
	"eseal/archive"
	"eseal/archive/fs"
	"eseal/archive/s3"
	"eseal/archive/s3/miniotest"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// TestLoadHTTP is the bounded loopback load test of `make bench-http`: in one
// run, a fixed number of stampings of a 3-page PDF at concurrency 1, 4, 16
// and 160 through REST on the filesystem store (as the embedded default
// makes it on the filesystem "/" is on: an fsync per file), REST on the
// filesystem store flushed by syncfs (what it does on a volume of its own,
// docs/deploy.md; here on the same disk, which nothing else writes to
// during the run), REST on a real MinIO
// (archive/s3/miniotest, on loopback), the in-process Service on the
// filesystem store (no HTTP) and the bare Stamper (no store), reporting
// stampings/s, p50/p99 latency, the store's durable writes per stamping and
// the ratios. It runs only with ESEAL_BENCH_HTTP=1; it asserts correctness
// (every request 201), not speed.
func TestLoadHTTP(t *testing.T) {
	if os.Getenv("ESEAL_BENCH_HTTP") != "1" {
		t.Skip("set ESEAL_BENCH_HTTP=1 (make bench-http)")
	}
	const perLevel = 160
	ctx := context.Background()
	fsStore, err := fs.New(t.TempDir(), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	syncfsStore, err := fs.New(t.TempDir(), fs.Options{Sync: fs.SyncWholeFS})
	if err != nil {
		t.Fatal(err)
	}
	fsWrites, syncfsWrites, minioWrites := &writeCounter{}, &writeCounter{}, &writeCounter{}
	fsEnv := newEnvStore(t, "", archive.Instrument(fsStore, fsWrites.observe))
	syncfsEnv := newEnvStore(t, "", archive.Instrument(syncfsStore, syncfsWrites.observe))
	minio := miniotest.StartOwn(t)
	s3Store, err := s3.New(ctx, s3.Config{Endpoint: minio.Endpoint, Bucket: "eseal-bench", AccessKey: minio.AccessKey, SecretKey: minio.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	minioEnv := newEnvStore(t, "", archive.Instrument(s3Store, minioWrites.observe))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}

	doc := pdftest.Document(pdftest.Options{Title: "负载测试", Pages: 3})
	fmt.Printf("document: %d bytes, 3 pages; %d stampings per level and path; GOMAXPROCS from the machine\n", len(doc), perLevel)
	fmt.Printf("%-4s | %-32s | %-32s | %-32s | %-23s | %-16s | %s\n", "", "REST, filesystem store", "REST, filesystem, syncfs", "REST, MinIO", "Service, filesystem", "bare Stamper", "Stamper ÷")
	fmt.Printf("%-4s | %7s %7s %7s %8s | %7s %7s %7s %8s | %7s %7s %7s %8s | %7s %7s %7s | %7s %8s | %6s %6s %6s %6s\n", "conc",
		"st/s", "p50", "p99", "writes", "st/s", "p50", "p99", "writes", "st/s", "p50", "p99", "writes", "st/s", "p50", "p99", "st/s", "p50", "REST", "syncfs", "MinIO", "Svc")
	// What bounds each path, printed after the table: the filesystem
	// stores' shared flushes, MinIO's own CPU.
	var bounds []string
	flushes := func(st *fs.Store) func() (int64, time.Duration) {
		return func() (int64, time.Duration) { f := st.Flushes(); return f.Count, f.Time }
	}
	minioCPU := func() (int64, time.Duration) {
		d, err := minio.CPUTime()
		if err != nil {
			t.Fatal(err)
		}
		return 0, d
	}
	for _, conc := range []int{1, 4, 16, 160} {
		rest := func(e *env, writes *writeCounter, probe func() (int64, time.Duration)) result {
			// Authorizations are granted ahead so the run measures stamping only.
			authz := make([]string, perLevel)
			for i := range authz {
				authz[i] = e.grant(e.sealID, map[string]any{"case_no": "LOAD-1"})
			}
			stamper := e.key(api.RoleStamper, e.sealID)
			before, reqs := writes.n.Load(), writes.reqs.Load()
			n0, d0 := probe()
			r := run(conc, perLevel, func(i int) error {
				ct, body := stampBody(t, doc, stampReq(e.sealID, authz[i], "LOAD-1"))
				req, _ := http.NewRequest("POST", e.url+"/v1/stamps", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+stamper)
				req.Header.Set("Content-Type", ct)
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 201 {
					return fmt.Errorf("status %d", resp.StatusCode)
				}
				return nil
			})
			r.writes = float64(writes.n.Load()-before) / perLevel
			r.reqs = float64(writes.reqs.Load()-reqs) / perLevel
			n1, d1 := probe()
			r.flushes, r.busy = float64(n1-n0)/perLevel, d1-d0
			return r
		}
		restFS := rest(fsEnv, fsWrites, flushes(fsStore))
		restSyncfs := rest(syncfsEnv, syncfsWrites, flushes(syncfsStore))
		restMinIO := rest(minioEnv, minioWrites, minioCPU)
		bounds = append(bounds, fmt.Sprintf("%-4d | %9.2f %9.0f%% | %9.2f %9.0f%% | %9.1f %9.1f %9.0f%%", conc,
			restFS.flushes, 100*restFS.busy.Seconds()/restFS.wall.Seconds(),
			restSyncfs.flushes, 100*restSyncfs.busy.Seconds()/restSyncfs.wall.Seconds(),
			restMinIO.reqs, float64(restMinIO.busy.Microseconds())/1000/float64(len(restMinIO.lat)),
			100*restMinIO.busy.Seconds()/restMinIO.wall.Seconds()/float64(runtime.NumCPU())))
		svcAuthz := make([]string, perLevel)
		for i := range svcAuthz {
			svcAuthz[i] = fsEnv.grant(fsEnv.sealID, map[string]any{"case_no": "LOAD-1"})
		}
		svc := run(conc, perLevel, func(i int) error {
			_, err := fsEnv.srv.Service.Stamp(ctx, seal.StampRequest{SealID: fsEnv.sealID, AuthorizationID: svcAuthz[i],
				Placement: seal.Placement{Page: 1, XMM: 120, YMM: 180},
				Record:    seal.RecordInput{Title: "负载测试", ItemCode: "330000-XK-001", CaseNo: "LOAD-1", Retention: "30y"}, PDF: doc})
			return err
		})
		st := &seal.Stamper{Registry: fsEnv.reg}
		bare := run(conc, perLevel, func(int) error {
			_, err := st.Stamp(ctx, bytes.NewReader(doc), int64(len(doc)), seal.SignRequest{
				SealID: fsEnv.sealID, Placement: seal.Placement{Page: 1, XMM: 120, YMM: 180}})
			return err
		})
		for _, r := range []result{restFS, restSyncfs, restMinIO, svc, bare} {
			if r.lat == nil {
				t.Fatal("requests failed")
			}
		}
		fmt.Printf("%-4d | %7.1f %7s %7s %8.1f | %7.1f %7s %7s %8.1f | %7.1f %7s %7s %8.1f | %7.1f %7s %7s | %7.1f %8s | %5.1f× %5.1f× %5.1f× %5.1f×\n", conc,
			restFS.rate(), restFS.pct(50), restFS.pct(99), restFS.writes,
			restSyncfs.rate(), restSyncfs.pct(50), restSyncfs.pct(99), restSyncfs.writes,
			restMinIO.rate(), restMinIO.pct(50), restMinIO.pct(99), restMinIO.writes,
			svc.rate(), svc.pct(50), svc.pct(99), bare.rate(), bare.pct(50),
			bare.rate()/restFS.rate(), bare.rate()/restSyncfs.rate(), bare.rate()/restMinIO.rate(), bare.rate()/svc.rate())
	}
	// Flushes: the filesystem store's shared flushes per stamping (directory
	// fsyncs; with syncfs, syncfs calls) and their time over the run's wall
	// time — with syncfs one runs at a time, so near 100 % the flushes are
	// the limit (directory fsyncs overlap, so theirs can pass 100 %).
	// MinIO: store requests per stamping, the MinIO server's CPU time per
	// stamping, and its share of the machine's cores.
	fmt.Printf("\nwhat bounds each path (REST)\n%-4s | %-20s | %-20s | %-31s\n%-4s | %9s %10s | %9s %10s | %9s %9s %10s\n", "",
		"filesystem store", "filesystem, syncfs", "MinIO", "conc", "flushes", "busy", "flushes", "busy", "requests", "cpu-ms", "of cores")
	for _, b := range bounds {
		fmt.Println(b)
	}
}

// writeCounter counts a store's requests (reqs) and its durable writes
// (n): puts (with or without a lock), retention and hold changes, deletes —
// a removal of many objects in one operation (archive.DeleteMany) as one.
type writeCounter struct{ n, reqs atomic.Int64 }

func (w *writeCounter) observe(op string, _ error, _ time.Duration) {
	w.reqs.Add(1)
	switch op {
	case "put_if_absent", "put_retained", "set_retention", "set_legal_hold", "delete", "delete_many":
		w.n.Add(1)
	}
}

// result is one load run: sorted latencies (nil on any error), wall time
// and, for REST, durable writes and store requests per stamping, and what
// bounds the run: the filesystem store's shared flushes per stamping and
// their time, or the MinIO server's CPU time (busy).
type result struct {
	lat          []time.Duration
	wall         time.Duration
	writes, reqs float64
	flushes      float64
	busy         time.Duration
}

func (r result) rate() float64 { return float64(len(r.lat)) / r.wall.Seconds() }

func (r result) pct(p int) time.Duration {
	i := (len(r.lat)*p + 99) / 100
	if i > 0 {
		i--
	}
	return r.lat[i].Round(100 * time.Microsecond)
}

// run does n calls of f at the given concurrency.
func run(conc, n int, f func(i int) error) result {
	lat := make([]time.Duration, n)
	var failed sync.Once
	ok := true
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				if err := f(i); err != nil {
					failed.Do(func() { ok = false; fmt.Println("error:", err) })
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	wall := time.Since(start)
	if !ok {
		return result{wall: wall}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return result{lat: lat, wall: wall}
}
