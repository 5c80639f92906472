package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"eseal/api"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// TestLoadHTTP is the bounded loopback load test of `make bench-http`: a fixed
// number of stamp requests at concurrency 1, 4 and 16 against a real server
// on the filesystem store, reporting stamps/s and p50/p99 latency, next to the
// in-process Stamper on the same document and concurrency. It runs only with
// ESEAL_BENCH_HTTP=1; it asserts correctness (every request 201), not speed.
func TestLoadHTTP(t *testing.T) {
	if os.Getenv("ESEAL_BENCH_HTTP") != "1" {
		t.Skip("set ESEAL_BENCH_HTTP=1 (make bench-http)")
	}
	const perLevel = 160
	e := newEnv(t)
	doc := pdftest.Document(pdftest.Options{Title: "负载测试"})
	fmt.Printf("document: %d bytes, %d requests per level\n", len(doc), perLevel)
	fmt.Printf("%-5s | %-27s | %-27s | %-16s | %s\n", "", "REST (HTTP + store)", "in-process Service (store)", "in-process Stamper", "cost of")
	fmt.Printf("%-5s | %8s %8s %8s | %8s %8s %8s | %8s %7s | %8s %8s\n", "conc", "st/s", "p50", "p99", "st/s", "p50", "p99", "st/s", "p50", "HTTP", "HTTP+store")
	// "cost of HTTP" = Service st/s ÷ REST st/s − 1; "HTTP+store" = Stamper st/s ÷ REST st/s − 1.
	stamper := e.key(api.RoleStamper, e.sealID)
	for _, conc := range []int{1, 4, 16} {
		// Authorizations are granted ahead so the run measures stamping only.
		authz := make([]string, perLevel)
		for i := range authz {
			authz[i] = e.grant(e.sealID, map[string]any{"case_no": "LOAD-1"})
		}
		httpLat, httpWall := run(conc, perLevel, func(i int) error {
			ct, body := stampBody(t, doc, stampReq(e.sealID, authz[i], "LOAD-1"))
			req, _ := http.NewRequest("POST", e.url+"/v1/stamps", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+stamper)
			req.Header.Set("Content-Type", ct)
			resp, err := http.DefaultClient.Do(req)
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
		svcAuthz := make([]string, perLevel)
		for i := range svcAuthz {
			svcAuthz[i] = e.grant(e.sealID, map[string]any{"case_no": "LOAD-1"})
		}
		svcLat, svcWall := run(conc, perLevel, func(i int) error {
			_, err := e.srv.Service.Stamp(context.Background(), seal.StampRequest{SealID: e.sealID, AuthorizationID: svcAuthz[i],
				Placement: seal.Placement{Page: 1, XMM: 120, YMM: 180},
				Record:    seal.RecordInput{Title: "负载测试", ItemCode: "330000-XK-001", CaseNo: "LOAD-1", Retention: "30y"}, PDF: doc})
			return err
		})
		st := &seal.Stamper{Registry: e.reg}
		inLat, inWall := run(conc, perLevel, func(int) error {
			_, err := st.Stamp(context.Background(), bytes.NewReader(doc), int64(len(doc)), seal.SignRequest{
				SealID: e.sealID, Placement: seal.Placement{Page: 1, XMM: 120, YMM: 180}})
			return err
		})
		if httpLat == nil || inLat == nil || svcLat == nil {
			t.Fatal("requests failed")
		}
		hr, sr, ir := float64(perLevel)/httpWall.Seconds(), float64(perLevel)/svcWall.Seconds(), float64(perLevel)/inWall.Seconds()
		fmt.Printf("%-5d | %8.1f %8s %8s | %8.1f %8s %8s | %8.1f %7s | %7.0f%% %9.0f%%\n", conc,
			hr, pct(httpLat, 50), pct(httpLat, 99), sr, pct(svcLat, 50), pct(svcLat, 99), ir, pct(inLat, 50),
			(sr/hr-1)*100, (ir/hr-1)*100)
	}
}

// run does n calls of f at the given concurrency and returns the sorted
// latencies and the wall time, or nil on any error.
func run(conc, n int, f func(i int) error) ([]time.Duration, time.Duration) {
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
		return nil, wall
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat, wall
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	if i > 0 {
		i--
	}
	return sorted[i].Round(10 * time.Microsecond)
}
