//go:build linux

// The cluster test of issue 11: scripts/cluster.sh starts a 4-node
// distributed MinIO, 3 eseal replicas and HAProxy in network namespaces;
// the test stamps through HAProxy while it SIGKILLs one MinIO node and one
// replica, and checks the invariants from the outside (REST, the store, the
// MinIO node's drive).
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"eseal/archive"
	"eseal/archive/s3"
	"eseal/archive/s3/miniotest"
)

// The cluster the tests start: a name and subnet of their own, so a
// developer's `scripts/cluster.sh up` (esc, 10.77.0) is left alone.
const (
	clusterName = "esct"
	clusterNet  = "10.78.0"
	// clusterGrace is the replicas' recovery_grace: a stamping a killed
	// replica left uncommitted is discarded by the others' periodic sweep
	// (every half of it) once it is this old, and a stamping that took
	// longer than half of it is abandoned before its commit.
	clusterGrace = time.Minute
	// clusterLock serialises cluster tests of several checkouts on one
	// machine: they share the namespace names.
	clusterLock = "/run/lock/eseal-cluster-test.lock"
)

// cluster is a running scripts/cluster.sh cluster.
type cluster struct {
	t        *testing.T
	dir      string // its state dir
	env      []string
	endpoint string // http://127.0.0.1:PORT, HAProxy
	org      initResult
	minio    map[string]string // minio.env
	store    *s3.Store         // the bucket, through HAProxy's MinIO frontend
	bin      string
}

// startCluster runs scripts/cluster.sh up (after a down that clears what a
// killed earlier run left) and down in t.Cleanup. It skips the test when
// root, ip, haproxy, curl or the MinIO binary is missing (fails it under
// ESEAL_REQUIRE_TOOLS=1).
func startCluster(t *testing.T) *cluster {
	t.Helper()
	if os.Geteuid() != 0 {
		missingTool(t, "the cluster test needs root (network namespaces)")
	}
	needTools(t, "ip", "haproxy", "curl")
	minioBin, err := miniotest.Binary()
	if err != nil {
		missingTool(t, "%v", err)
	}
	if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
		missingTool(t, "ip netns does not work here: %v %s", err, out)
	}
	lock, err := os.OpenFile(clusterLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Close() })

	c := &cluster{t: t, dir: filepath.Join(t.TempDir(), "cluster"), bin: esealBinary(t)}
	c.endpoint = "http://127.0.0.1:" + strconv.Itoa(freePort(t))
	c.env = childEnv("ESEAL_CLUSTER_DIR="+c.dir, "ESEAL_CLUSTER_NAME="+clusterName, "ESEAL_CLUSTER_NET="+clusterNet,
		"ESEAL_CLUSTER_PORT="+strings.TrimPrefix(c.endpoint, "http://127.0.0.1:"), "ESEAL_CLUSTER_GRACE="+clusterGrace.String(),
		"ESEAL_CLUSTER_ESEAL="+c.bin, "ESEAL_MINIO="+minioBin)
	c.script("down")
	t.Cleanup(func() { c.script("down") })
	out := c.script("up")
	t.Logf("%s", strings.TrimSpace(out))

	b, err := os.ReadFile(filepath.Join(c.dir, "init.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &c.org); err != nil || c.org.SealID == "" || c.org.StamperKey == "" || c.org.AuthorizerKey == "" {
		t.Fatalf("init.json: %v\n%s", err, b)
	}
	c.minio = readEnvFile(t, filepath.Join(c.dir, "minio.env"))
	c.store, err = s3.New(context.Background(), s3.Config{Endpoint: clusterNet + ".1:9000", Bucket: "eseal",
		AccessKey: c.minio["MINIO_ROOT_USER"], SecretKey: c.minio["MINIO_ROOT_PASSWORD"]})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// script runs scripts/cluster.sh ARGS, for at most three minutes.
func (c *cluster) script(args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "../../scripts/cluster.sh", args...)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("scripts/cluster.sh %s: %v\n%s", strings.Join(args, " "), err, clip(string(out)))
	}
	return string(out)
}

// kill sends SIGKILL to a member by the PID the script recorded, after
// checking that the PID still runs the member's binary.
func (c *cluster) kill(member, binary string) {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, "pids", member+".pid"))
	if err != nil {
		c.t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		c.t.Fatalf("pids/%s.pid: %v", member, err)
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil || filepath.Base(strings.TrimSuffix(exe, " (deleted)")) != binary {
		c.t.Fatalf("%s: pid %d runs %q (%v), not %s", member, pid, exe, err, binary)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		c.t.Fatalf("kill -KILL %d (%s): %v", pid, member, err)
	}
}

// memberIP is a member's address on the cluster's bridge (scripts/cluster.sh).
func memberIP(member string) string {
	if member[0] == 'm' {
		return clusterNet + ".1" + member[1:]
	}
	return clusterNet + ".2" + member[1:]
}

// esealCmd runs the eseal binary against the cluster's store.
func (c *cluster) esealCmd(args ...string) *exec.Cmd {
	uri := "s3://" + clusterNet + ".1:9000/eseal?tls=false"
	cmd := exec.Command(c.bin, append(args, "--dir", filepath.Join(c.dir, "eseal", "init"), "--store", uri,
		"--master-key-file", filepath.Join(c.dir, "master.key"))...)
	cmd.Env = append(childEnv(), "AWS_ACCESS_KEY_ID="+c.minio["MINIO_ROOT_USER"], "AWS_SECRET_ACCESS_KEY="+c.minio["MINIO_ROOT_PASSWORD"])
	return cmd
}

func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			m[k] = v
		}
	}
	return m
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// clusterJob is one stamping as the approval system sees it: its
// authorization, its Idempotency-Key, and what the last attempt answered.
type clusterJob struct {
	job      stampJob
	st       stamped
	r        reply
	err      error
	attempts int
	took     time.Duration // first attempt to last answer
}

// stampAll grants n one-use authorizations, then stamps with each once,
// inFlight at a time, through HAProxy. A failed attempt (no answer, or a
// 5xx from HAProxy or a replica) is retried with the same Idempotency-Key,
// at most 8 times, backing off from 250 ms to 4 s. after, when set, is
// called once when a third of the stampings have answered 201, with the
// time since the stamping began.
func (c *cluster) stampAll(ctx context.Context, n, inFlight int, after func(since time.Duration)) ([]*clusterJob, time.Duration) {
	c.t.Helper()
	rc := newRESTClient(c.org)
	rc.hc.Timeout = 2 * time.Minute // HAProxy's server timeout
	jobs := make([]*clusterJob, n)
	var failed firstLines
	g0 := time.Now()
	forEachBounded(n, inFlight, func(i int) {
		caseNo := fmt.Sprintf("ZJ-2026-C%04d", i)
		id, r, err := rc.grant(ctx, c.endpoint, c.org.SealID, caseNo)
		if id == "" {
			failed.add("grant %d: %v %s", i, err, r)
		}
		j := newStampJob(id, caseNo, i)
		key := make([]byte, 16)
		rand.Read(key)
		j.idemKey = "cluster-" + hex.EncodeToString(key)
		jobs[i] = &clusterJob{job: j}
	})
	failed.report(c.t, "granting")
	if c.t.Failed() {
		c.t.FailNow()
	}
	c.t.Logf("%d authorizations granted in %v", n, time.Since(g0).Round(time.Millisecond))
	var created atomic.Int64
	var once sync.Once
	t0 := time.Now()
	forEachBounded(n, inFlight, func(i int) {
		j := jobs[i]
		start := time.Now()
		backoff := 250 * time.Millisecond
		for j.attempts = 1; ; j.attempts++ {
			j.st, j.r, j.err = rc.stamp(ctx, c.endpoint, c.org.SealID, j.job)
			retry := j.err != nil || j.r.status >= 500
			if !retry || j.attempts == 8 || ctx.Err() != nil {
				break
			}
			time.Sleep(backoff)
			backoff = min(2*backoff, 4*time.Second)
		}
		j.took = time.Since(start)
		if j.err == nil && j.r.status == http.StatusCreated && created.Add(1) == int64(n/3) && after != nil {
			once.Do(func() { after(time.Since(t0)) })
		}
	})
	return jobs, time.Since(t0)
}

// TestClusterNodeLoss is issue 11's cluster test: 300 stampings at
// concurrency 16 through HAProxy in front of 3 replicas on a 4-node
// distributed MinIO; when a third have answered, MinIO node m2 and replica
// e2 are SIGKILLed by their recorded PIDs, and the client retries what
// failed with the same Idempotency-Key. Afterwards: every stamping has its
// 201, each with a distinct document that is complete, retained (Object
// Lock, read while m2 is still down) and VALID; every authorization has
// exactly one use; once e2 is back and the sweeps ran, nothing is pending
// and /readyz says so; the audit log verifies; m2, started again, reports
// the cluster healthy, serves every document, holds on its own drive every
// object written while it was down (healed), and no document can be
// deleted.
func TestClusterNodeLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("the cluster test takes about three minutes")
	}
	const stampings, inFlight = 300, 16
	start := time.Now()
	c := startCluster(t)
	ready := time.Since(start)
	// A bound for a machine far busier than the 2 cores it was sized on.
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()

	var killedAt time.Duration
	jobs, took := c.stampAll(ctx, stampings, inFlight, func(since time.Duration) {
		killedAt = since
		c.kill("m2", "minio")
		c.kill("e2", "eseal")
	})
	if killedAt == 0 {
		t.Fatal("the kills never happened: a third of the stampings did not answer 201")
	}
	docOf := map[string]*clusterJob{}
	retried, replayed, worst := 0, 0, 0
	var failed firstLines
	for _, j := range jobs {
		if j.attempts > 1 {
			retried++
		}
		worst = max(worst, j.attempts)
		if j.st.Replayed {
			replayed++
		}
		switch {
		case j.err != nil || j.r.status != http.StatusCreated:
			failed.add("%s after %d attempts: %v %s", j.job.authz, j.attempts, j.err, j.r)
		case docOf[j.st.DocumentID] != nil:
			failed.add("%s and %s both answered with document %s", docOf[j.st.DocumentID].job.authz, j.job.authz, j.st.DocumentID)
		default:
			docOf[j.st.DocumentID] = j
		}
	}
	failed.report(t, "stampings")
	// net/http itself sends a request with an Idempotency-Key again, once,
	// when its connection closes before an answer: a replay can come
	// without a retry of ours.
	t.Logf("%d stampings at c=%d in %v (%.1f/s) with m2 and e2 killed at +%v: %d retried by the client, %d answered as replays of a committed stamping, at most %d attempts",
		stampings, inFlight, took.Round(time.Millisecond), float64(stampings)/took.Seconds(), killedAt.Round(time.Millisecond), retried, replayed, worst)

	// e2 starts again: its start-up sweep finishes what it committed. m2
	// stays down while the documents are checked (see checkHealed).
	c.script("start", "e2")

	// Nothing pending once the sweeps ran: e2's at start-up, and the
	// periodic ones, which discard an uncommitted stamping older than the
	// grace period.
	var state *storeState
	deadline := time.Now().Add(2 * clusterGrace)
	for {
		state = readStore(ctx, t, c.store)
		if len(state.pending) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if len(state.pending) != 0 {
		t.Errorf("%d stampings still pending %v after the run", len(state.pending), 2*clusterGrace)
	}
	rc := newRESTClient(c.org)
	if r, err := rc.do(ctx, "GET", c.endpoint+"/readyz", "", nil); err != nil || r.status != http.StatusOK || !strings.Contains(string(r.body), `"recovery": "ok"`) {
		t.Errorf("/readyz through HAProxy after the sweeps: %v %s", err, r)
	}

	// No authorization used twice, and each use names its 201's document;
	// no document without a use (an uncommitted stamping leaves no trace).
	committed := state.committedDocs()
	for _, j := range jobs {
		if us := state.uses[j.job.authz]; len(us) != 1 || us[0].DocumentID != j.st.DocumentID {
			t.Errorf("authorization %s: use markers %+v; want one naming %s", j.job.authz, us, j.st.DocumentID)
		}
	}
	for doc := range state.docs {
		if _, ok := committed[doc]; !ok {
			t.Errorf("document %s in the store without a use marker (objects %v)", doc, state.docs[doc])
		}
	}
	if len(state.docs) != stampings {
		t.Errorf("the store holds %d documents; want %d", len(state.docs), stampings)
	}

	// Every 201: complete (PDF, record, code), retained, matching its
	// record, VALID through the API, downloadable by its code. m2 is still
	// down: a HEAD cannot meet the copy of the metadata it missed.
	now := time.Now()
	var check firstLines
	docs := make([]string, 0, len(docOf))
	for doc := range docOf {
		docs = append(docs, doc)
	}
	forEachBounded(len(docs), 8, func(i int) {
		doc, j := docs[i], docOf[docs[i]]
		var rec archive.Record
		if err := getStoreJSON(ctx, c.store, archive.RecordKey(doc), &rec); err != nil {
			check.add("%s: %v", doc, err)
			return
		}
		// The retrieval code needs no index object: it derives the
		// document's id (the download below goes through it).
		for _, k := range []string{archive.DocumentKey(doc), archive.RecordKey(doc)} {
			if info, err := c.store.Head(ctx, k); err != nil || !info.RetainUntil.After(now) {
				check.add("%s: not retained: %+v %v", k, info, err)
			}
		}
		pdf, _, err := archive.GetBytes(ctx, c.store, archive.DocumentKey(doc))
		if err != nil {
			check.add("%s: %v", doc, err)
			return
		}
		sum := sm3.Sum(pdf)
		if hex.EncodeToString(sum[:]) != rec.SM3 || int64(len(pdf)) != rec.Size || !bytes.HasPrefix(pdf, j.job.pdf) {
			check.add("%s: the stored PDF does not match its record or its input", doc)
		}
		if v, err := rc.verdict(ctx, c.endpoint, pdf); err != nil || v != "VALID" {
			check.add("%s: verdict %q: %v", doc, v, err)
		}
		if r, err := rc.do(ctx, "GET", c.endpoint+"/d/"+j.st.RetrievalCode+"/pdf", "", nil); err != nil || r.status != http.StatusOK || !bytes.Equal(r.body, pdf) {
			check.add("%s: download by code: %v %d", doc, err, r.status)
		}
	})
	check.report(t, "documents")

	// The audit log of the three replicas, one of them killed, verifies.
	if out, err := c.esealCmd("archive", "audit", "verify").CombinedOutput(); err != nil || !strings.Contains(string(out), "audit log OK") {
		t.Errorf("eseal archive audit verify: %v\n%s", err, clip(string(out)))
	} else {
		t.Logf("%s", strings.TrimSpace(string(out)))
	}

	c.script("start", "m2")
	c.checkHealed(ctx, "m2", docs)
	t.Logf("cluster up in %v; total %v", ready.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// checkHealed shows that MinIO node member, started again after it was
// killed, is back in the erasure set: its cluster health check answers 200,
// it serves every document's PDF and record (S3 GET against that node's own
// address), its drive holds them all — those written while it was down
// included, which only healing puts there — and none can be deleted.
// (MinIO's admin heal API needs mc; the drive's own files need nothing:
// MinIO keeps an object as BUCKET/KEY/xl.meta on each drive of its erasure
// set.)
func (c *cluster) checkHealed(ctx context.Context, member string, docs []string) {
	t := c.t
	t.Helper()
	ip := memberIP(member)
	hc := &http.Client{Timeout: 5 * time.Second}
	if r, err := hc.Get("http://" + ip + ":9000/minio/health/cluster"); err != nil || r.StatusCode != http.StatusOK {
		t.Errorf("%s /minio/health/cluster: %v %v", member, err, r)
	} else {
		r.Body.Close()
	}
	node, err := s3.New(ctx, s3.Config{Endpoint: ip + ":9000", Bucket: "eseal", AccessKey: c.minio["MINIO_ROOT_USER"], SecretKey: c.minio["MINIO_ROOT_PASSWORD"]})
	if err != nil {
		t.Fatal(err)
	}
	drive := filepath.Join(c.dir, "minio", member, "eseal")
	missing := func() []string {
		var m []string
		for _, doc := range docs {
			for _, k := range []string{archive.DocumentKey(doc), archive.RecordKey(doc)} {
				if _, err := os.Stat(filepath.Join(drive, filepath.FromSlash(k), "xl.meta")); errors.Is(err, os.ErrNotExist) {
					m = append(m, k)
				}
			}
		}
		return m
	}
	start := time.Now()
	first := len(missing())
	// A GET also heals what it finds missing: the count above is taken first.
	var reads firstLines
	forEachBounded(len(docs), 4, func(i int) {
		for _, k := range []string{archive.DocumentKey(docs[i]), archive.RecordKey(docs[i])} {
			if _, _, err := archive.GetBytes(ctx, node, k); err != nil {
				reads.add("%s: GET through %s: %v", k, member, err)
			}
		}
	})
	reads.report(t, "reads through the restarted node")
	var left []string
	// MinIO heals in the background (most-recent-failures queue, and the
	// reads above): about 400 objects in 90 s on a busy 2-core machine.
	for deadline := start.Add(3 * time.Minute); ; time.Sleep(time.Second) {
		if left = missing(); len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("%s's drive still lacks %d of %d objects after %v (first: %s)", member, len(left), 2*len(docs), time.Since(start).Round(time.Second), left[0])
	}
	healed := time.Since(start).Round(time.Second)

	// With the node back, MinIO still refuses to delete every document's
	// PDF and record version (the lock holds), although the node's own
	// copy of the metadata may lack a retention set while it was down:
	// MinIO does not heal a metadata-only change onto a node that missed
	// it, and a HEAD that reads that copy answers without the retention
	// (docs/deploy.md). Counted and logged here, not asserted: it is
	// MinIO's behaviour, and the delete is what the lock must stop.
	var locks firstLines
	forEachBounded(len(docs), 4, func(i int) {
		for _, k := range []string{archive.DocumentKey(docs[i]), archive.RecordKey(docs[i])} {
			var le *archive.LockedError
			if err := c.store.Delete(ctx, k); !errors.As(err, &le) {
				locks.add("%s: delete with %s back: %v, want a locked error", k, member, err)
			}
		}
	})
	locks.report(t, "locks")
	stale := 0
	for _, doc := range docs {
		for _, k := range []string{archive.DocumentKey(doc), archive.RecordKey(doc)} {
			b, err := os.ReadFile(filepath.Join(drive, filepath.FromSlash(k), "xl.meta"))
			if err == nil && !bytes.Contains(bytes.ToLower(b), []byte("retain-until-date")) {
				stale++
			}
		}
	}
	t.Logf("%s: cluster health 200, %d documents read through it; its drive lacked %d of %d objects when the checks began, %d after %v; "+
		"deleting any of them refused; %d of its copies lack the retention set while it was down",
		member, len(docs), first, 2*len(docs), len(left), healed, stale)
}

// TestClusterThroughput measures the cluster of scripts/cluster.sh without
// faults: ESEAL_BENCH_CLUSTER stampings (default 300) at concurrency 16
// through HAProxy, their rate and latency (first attempt to 201) printed
// for docs/deploy.md. It runs only when ESEAL_BENCH_CLUSTER is set.
func TestClusterThroughput(t *testing.T) {
	v := os.Getenv("ESEAL_BENCH_CLUSTER")
	if v == "" {
		t.Skip("set ESEAL_BENCH_CLUSTER=N (stampings) to measure the cluster")
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 16 || n > 10000 {
		t.Fatalf("ESEAL_BENCH_CLUSTER=%q: want a number of stampings, 16 to 10000", v)
	}
	const inFlight = 16
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	jobs, took := c.stampAll(ctx, n, inFlight, nil)
	lat := make([]time.Duration, 0, len(jobs))
	retried := 0
	for _, j := range jobs {
		if j.err != nil || j.r.status != http.StatusCreated {
			t.Errorf("%s: %v %s", j.job.authz, j.err, j.r)
		}
		if j.attempts > 1 {
			retried++
		}
		lat = append(lat, j.took)
	}
	fmt.Printf("cluster (4 MinIO nodes, 3 replicas, HAProxy): %d stampings at c=%d in %v: %.1f/s, p50 %v, p99 %v, %d retried\n",
		n, inFlight, took.Round(time.Millisecond), float64(n)/took.Seconds(),
		percentile(lat, 50).Round(time.Millisecond), percentile(lat, 99).Round(time.Millisecond), retried)
}
