//go:build linux

// System tests of issue 4: the eseal binary run as child processes on
// loopback against one object store — two replicas sharing a MinIO, and a
// server killed with SIGKILL at random moments while it stamps — checked
// from the outside through REST and by reading the store.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"eseal/archive"
	"eseal/archive/fs"
	"eseal/archive/s3"
	"eseal/archive/s3/miniotest"
	"eseal/keys"
	"eseal/seal"
)

func newMasterKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b) // 32 hex digits
}

// TestTwoReplicasOneMinIO: two `eseal serve` processes on one MinIO bucket;
// 50 one-use authorizations, each presented once to each replica at about
// the same moment → exactly 50 stampings and 50 × 409 authorization-consumed,
// 50 documents in the store, each downloadable by its code and VALID.
func TestTwoReplicasOneMinIO(t *testing.T) {
	const (
		authorizations = 50
		inFlight       = 16
	)
	endpoint, accessKey, secretKey := miniotest.StartShared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()

	bucket := "replicas"
	uri := "s3://" + endpoint + "/" + bucket + "?tls=false"
	env := childEnv("ESEAL_MASTER_KEY="+newMasterKey(t), "AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey)
	dir := t.TempDir()
	org := esealInit(t, env, "--dir", filepath.Join(dir, "init"), "--store", uri)
	// Each replica has its own (empty) data dir: all state is in the bucket.
	reps := [2]*esealProc{
		startServe(t, env, "--dir", filepath.Join(dir, "a"), "--store", uri),
		startServe(t, env, "--dir", filepath.Join(dir, "b"), "--store", uri),
	}
	c := newRESTClient(org)
	ready := time.Since(start)

	jobs := make([]stampJob, authorizations)
	var failed firstLines
	forEachBounded(authorizations, 8, func(i int) {
		caseNo := fmt.Sprintf("ZJ-2026-R%04d", i)
		id, r, err := c.grant(ctx, reps[i%2].url, org.SealID, caseNo)
		if id == "" {
			failed.add("grant %d: %v %s", i, err, r)
		}
		jobs[i] = newStampJob(id, caseNo, i)
	})
	failed.report(t, "granting")
	if t.Failed() {
		return
	}

	// Request 2i and 2i+1 present authorization i to both replicas, the
	// first replica alternating, so both are in flight together.
	type outcome struct {
		st  stamped
		r   reply
		err error
	}
	out := make([]outcome, 2*authorizations)
	replicaOf := func(k int) int { return (k + k/2) % 2 }
	t0 := time.Now()
	forEachBounded(2*authorizations, inFlight, func(k int) {
		o := &out[k]
		o.st, o.r, o.err = c.stamp(ctx, reps[replicaOf(k)].url, org.SealID, jobs[k/2])
	})
	stampTime := time.Since(t0)

	created, consumed := 0, 0
	winner := make([]stamped, authorizations)
	for k, o := range out {
		i := k / 2
		switch {
		case o.err != nil:
			t.Errorf("request %d (authorization %d, replica %d): %v", k, i, replicaOf(k), o.err)
		case o.r.status == http.StatusCreated:
			created++
			if winner[i].DocumentID != "" {
				t.Errorf("authorization %s made two documents: %s and %s", jobs[i].authz, winner[i].DocumentID, o.st.DocumentID)
			}
			winner[i] = o.st
		case o.r.status == http.StatusConflict && o.r.problem() == "/problems/authorization-consumed":
			consumed++
		default:
			t.Errorf("request %d (authorization %d, replica %d): %s", k, i, replicaOf(k), o.r)
		}
	}
	if created != authorizations || consumed != authorizations {
		t.Fatalf("%d × 201 and %d × 409 authorization-consumed; want %d of each", created, consumed, authorizations)
	}

	// The store, read directly: 50 documents, one use each, nothing pending.
	st, err := s3.New(ctx, s3.Config{Endpoint: endpoint, Bucket: bucket, AccessKey: accessKey, SecretKey: secretKey})
	if err != nil {
		t.Fatal(err)
	}
	state := readStore(ctx, t, st)
	pdfs := 0
	for _, objs := range state.docs {
		if objs["document.pdf"] {
			pdfs++
		}
	}
	if pdfs != authorizations || len(state.docs) != authorizations {
		t.Errorf("the store holds %d documents (%d docs/*/document.pdf); want exactly %d", len(state.docs), pdfs, authorizations)
	}
	if len(state.pending) != 0 {
		t.Errorf("%d pending stampings left after all requests finished", len(state.pending))
	}
	for i, j := range jobs {
		if us := state.uses[j.authz]; len(us) != 1 || us[0].DocumentID != winner[i].DocumentID {
			t.Errorf("authorization %s: use markers %+v; want one naming %s", j.authz, us, winner[i].DocumentID)
		}
	}

	// Each document: downloaded by its code from the other replica than
	// the one that stamped it — any replica serves any document — VALID,
	// and locked.
	var checks firstLines
	forEachBounded(authorizations, 8, func(i int) {
		w := winner[i]
		base := reps[i%2].url
		r, err := c.do(ctx, "GET", base+"/d/"+w.RetrievalCode+"/pdf", "", nil)
		if err != nil || r.status != http.StatusOK || !bytes.HasPrefix(r.body, jobs[i].pdf) {
			checks.add("%s: download by code from %s: %v %s", w.DocumentID, base, err, r)
			return
		}
		if v, err := c.verdict(ctx, reps[(i+1)%2].url, r.body); err != nil || v != "VALID" {
			checks.add("%s: verdict %q: %v", w.DocumentID, v, err)
		}
		info, err := st.Head(ctx, archive.DocumentKey(w.DocumentID))
		if err != nil || info.RetainUntil.IsZero() {
			checks.add("%s: PDF without retention: %+v %v", w.DocumentID, info, err)
		}
	})
	checks.report(t, "documents")

	for _, p := range reps {
		if !p.stop() {
			t.Errorf("eseal serve pid %d did not shut down cleanly on SIGTERM: %v\n%s", p.pid, p.state, clip(p.out.String()))
		}
	}

	// Both replicas wrote their own audit shards and checkpointed them on
	// SIGTERM: the log verifies across shards.
	acmd := exec.Command(esealBinary(t), "archive", "audit", "verify", "--dir", filepath.Join(dir, "init"), "--store", uri)
	acmd.Env = env
	if out, err := acmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "audit log OK") {
		t.Errorf("eseal archive audit verify: %v\n%s", err, clip(string(out)))
	} else {
		t.Logf("%s", strings.TrimSpace(string(out)))
	}
	t.Logf("2 replicas ready in %v; %d stamp requests (%d in flight) in %v: %d × 201, %d × 409; %d documents stored; total %v",
		ready.Round(time.Millisecond), 2*authorizations, inFlight, stampTime.Round(time.Millisecond), created, consumed, len(state.docs), time.Since(start).Round(time.Millisecond))
}

// Crash test parameters.
const (
	crashKills        = 30 // SIGKILLs of a serving process, per backend
	crashMinKills     = 20 // … or at least this many once crashBudget is spent
	crashBudget       = 75 * time.Second
	crashStartupEvery = 6 // every 6th start is also killed during start-up
	crashClients      = 3 // stamping loops in flight
	crashMinDelay     = 20 * time.Millisecond
	crashMaxDelay     = 400 * time.Millisecond
	// assumedGrace is seal's default recovery grace: uncommitted stampings younger than
	// this are left alone by the sweep (another replica may be finishing).
	assumedGrace = 10 * time.Minute
	crashSeedEnv = "ESEAL_CRASH_SEED"
)

// TestCrashRecovery kills `eseal serve` with SIGKILL at random moments while
// clients stamp (a fresh authorization each), restarts it (its start-up
// runs the recovery sweep), and then checks the invariants "Exactly once"
// and "Nothing half-done" from the outside, on both backends.
func TestCrashRecovery(t *testing.T) {
	seed := uint64(20260407)
	if v := os.Getenv(crashSeedEnv); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", crashSeedEnv, v, err)
		}
		seed = n
	}
	for i, backend := range []string{"fs", "minio"} {
		t.Run(backend, func(t *testing.T) {
			t.Logf("seed %d (set %s to replay)", seed+uint64(i), crashSeedEnv)
			crashRecovery(t, backend, seed+uint64(i))
		})
	}
}

// attempt is one authorization and what its stamp requests got.
type attempt struct {
	job      stampJob
	st       stamped
	r        reply
	err      error // transport error: the outcome is unknown to the client
	retried  bool  // stamped again after the crashes, same Idempotency-Key
	replayed bool
}

func crashRecovery(t *testing.T, backend string, seed uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	dir := t.TempDir()
	master := newMasterKey(t)
	env := childEnv("ESEAL_MASTER_KEY=" + master)
	args := []string{"--dir", dir}
	var openStore func() archive.Store
	switch backend {
	case "fs":
		openStore = func() archive.Store {
			st, err := fs.New(filepath.Join(dir, "store"), fs.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
	case "minio":
		endpoint, accessKey, secretKey := miniotest.StartShared(t)
		bucket := "crash"
		args = append(args, "--store", "s3://"+endpoint+"/"+bucket+"?tls=false")
		env = append(env, "AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey)
		openStore = func() archive.Store {
			st, err := s3.New(ctx, s3.Config{Endpoint: endpoint, Bucket: bucket, AccessKey: accessKey, SecretKey: secretKey})
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
	}
	org := esealInit(t, env, args...)
	c := newRESTClient(org)
	rng := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	// Phase A: stamp, kill, restart.
	var (
		mu         sync.Mutex
		attempts   []*attempt
		unexpected firstLines
		seq        atomic.Int64
	)
	// client stamps until the server dies, or once if warmUp.
	client := func(ctx context.Context, base string, warmUp bool) {
		for ctx.Err() == nil {
			n := seq.Add(1)
			caseNo := fmt.Sprintf("ZJ-2026-C%05d", n)
			id, r, err := c.grant(ctx, base, org.SealID, caseNo)
			if err != nil {
				return // killed
			}
			if id == "" {
				unexpected.add("grant: %s", r)
				return
			}
			a := &attempt{job: newStampJob(id, caseNo, int(n))}
			a.job.idemKey = "crash-" + id
			mu.Lock()
			attempts = append(attempts, a)
			mu.Unlock()
			a.st, a.r, a.err = c.stamp(ctx, base, org.SealID, a.job)
			if a.err != nil || warmUp {
				return
			}
		}
	}
	kills, startupKills, sweepCompleted := 0, 0, 0
	for round := 0; kills < crashKills && (kills < crashMinKills || time.Since(start) < crashBudget); round++ {
		if round%crashStartupEvery == crashStartupEvery-1 {
			// Kill during start-up, possibly inside the recovery sweep.
			p := spawnServe(t, env, args...)
			time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
			p.kill()
			startupKills++
			continue
		}
		p := startServe(t, env, args...)
		if s, ok := p.recoverySweep(); ok {
			sweepCompleted += s.Completed
			if s.Discarded != 0 {
				t.Errorf("round %d: the sweep discarded %d stampings younger than the grace period", round, s.Discarded)
			}
		}
		// One stamping first: a fresh process's first one costs several
		// times a warm one (keys unwrapped, chains loaded), and the kills
		// should land inside stampings, not only in that warm-up.
		client(ctx, p.url, true)
		rctx, rcancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for range crashClients {
			wg.Add(1)
			go func() { defer wg.Done(); client(rctx, p.url, false) }()
		}
		time.Sleep(crashMinDelay + time.Duration(rng.Int64N(int64(crashMaxDelay-crashMinDelay))))
		p.kill()
		kills++
		rcancel()
		wg.Wait()
		c.hc.CloseIdleConnections()
		if ctx.Err() != nil {
			t.Fatalf("out of time after %d kills", kills)
		}
	}
	unexpected.report(t, "answers during the kill loop")
	phaseA := time.Since(start)

	// Phase B: restart; the sweep completes every committed stamping.
	p := startServe(t, env, args...)
	if s, ok := p.recoverySweep(); ok {
		sweepCompleted += s.Completed
	}
	st := openStore()
	s1 := readStore(ctx, t, st)
	committed := s1.committedDocs()
	for doc := range committed {
		if s1.pending[doc] {
			t.Errorf("after recovery, committed document %s still has a pending/ entry", doc)
		}
	}
	for az, us := range s1.uses {
		if len(us) != 1 {
			t.Errorf("one-use authorization %s has %d use markers", az, len(us))
		}
	}
	created, unknown, lost := 0, 0, 0
	for _, a := range attempts {
		us := s1.uses[a.job.authz]
		switch {
		case a.err != nil:
			unknown++
			if len(us) > 0 {
				lost++ // committed, but the answer died with the server
			}
		case a.r.status == http.StatusCreated:
			created++
			if len(us) != 1 || us[0].DocumentID != a.st.DocumentID {
				t.Errorf("authorization %s: 201 with %s, but use markers %+v", a.job.authz, a.st.DocumentID, us)
			}
		default:
			t.Errorf("authorization %s: unexpected answer %s", a.job.authz, a.r)
		}
	}
	// Uncommitted leftovers (younger than the grace period, so kept): never
	// served, and their authorization not reported as consumed. Where each
	// stamping was cut short shows which kill points the run reached.
	var leftovers []string
	for doc, objs := range s1.docs {
		if _, ok := committed[doc]; ok {
			if !objs["record.json"] || !objs["document.pdf"] {
				t.Errorf("committed document %s lacks its record or PDF: %v", doc, objs)
			}
			continue
		}
		// A stamping staged in place (before the staging object) may have
		// left its PDF or record; the sweep discards them. A stamping
		// staged now leaves nothing under docs/ before its commit.
		leftovers = append(leftovers, doc)
		if !s1.pending[doc] {
			t.Errorf("document %s is neither committed nor pending: %v", doc, objs)
		}
	}
	for doc := range s1.pending {
		if _, ok := committed[doc]; !ok && s1.docs[doc] == nil {
			leftovers = append(leftovers, doc)
		}
	}
	coded := map[string]bool{}
	for _, doc := range s1.codes {
		coded[doc] = true
	}
	stages := map[string]int{}
	for doc := range s1.pending {
		if _, ok := committed[doc]; ok {
			continue
		}
		objs := s1.docs[doc]
		switch {
		case coded[doc]:
			stages["code"]++
		case objs["record.json"]:
			stages["record"]++
		case objs["document.pdf"]:
			stages["pdf"]++
		default:
			stages["marker"]++
		}
	}
	var serve firstLines
	forEachBounded(len(leftovers), 4, func(i int) {
		doc := leftovers[i]
		for _, path := range []string{"/v1/documents/" + doc, "/v1/documents/" + doc + "/pdf", "/v/" + doc} {
			if r, err := c.do(ctx, "GET", p.url+path, "", nil); err != nil || r.status != http.StatusNotFound {
				serve.add("uncommitted %s: GET %s: %v %d", doc, path, err, r.status)
			}
		}
		pe, err := pendingEntryOf(ctx, st, doc)
		if err != nil {
			serve.add("uncommitted %s: %v", doc, err)
			return
		}
		r, err := c.do(ctx, "GET", p.url+"/v1/authorizations/"+pe.AuthorizationID, "", nil)
		var as struct {
			Uses      []json.RawMessage `json:"uses"`
			Remaining int               `json:"remaining"`
		}
		if err != nil || r.status != http.StatusOK || json.Unmarshal(r.body, &as) != nil {
			serve.add("authorization %s: %v %s", pe.AuthorizationID, err, r)
		} else if _, ok := s1.uses[pe.AuthorizationID]; !ok && (len(as.Uses) != 0 || as.Remaining != 1) {
			serve.add("authorization %s of uncommitted %s reported with %d uses, %d remaining", pe.AuthorizationID, doc, len(as.Uses), as.Remaining)
		}
	})
	serve.report(t, "uncommitted stampings")

	// Retry every request whose answer was lost, with its Idempotency-Key:
	// a committed one replays its document, an uncommitted one's
	// authorization is still usable and stamps afresh.
	var retry firstLines
	var retried []*attempt
	for _, a := range attempts {
		if a.err != nil {
			retried = append(retried, a)
		}
	}
	forEachBounded(len(retried), 4, func(i int) {
		a := retried[i]
		us := s1.uses[a.job.authz]
		got, r, err := c.stamp(ctx, p.url, org.SealID, a.job)
		if err != nil || r.status != http.StatusCreated {
			retry.add("retry of %s (committed before: %v): %v %s", a.job.authz, len(us) > 0, err, r)
			return
		}
		a.st, a.r, a.err, a.retried, a.replayed = got, r, nil, true, got.Replayed
		switch {
		case len(us) > 0 && (!got.Replayed || got.DocumentID != us[0].DocumentID):
			retry.add("retry of committed %s: got %s (replayed %v), want a replay of %s", a.job.authz, got.DocumentID, got.Replayed, us[0].DocumentID)
		case len(us) == 0 && got.Replayed:
			retry.add("retry of uncommitted %s replayed %s", a.job.authz, got.DocumentID)
		}
	})
	retry.report(t, "retries with the same Idempotency-Key")
	if !p.stop() {
		t.Errorf("eseal serve pid %d did not shut down cleanly: %v", p.pid, p.state)
	}

	// Phase C: the sweep once the grace period has passed, with an injected
	// clock (serve has no clock hook): it discards every uncommitted
	// stamping and has nothing left to complete.
	s2 := readStore(ctx, t, st)
	kek, err := keys.ParseKEK(master)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := seal.OpenRegistry(ctx, st, kek, seal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	later := func() time.Time { return time.Now().Add(assumedGrace + time.Minute) }
	svc := &seal.Service{Registry: reg, Store: st, Application: "eseal", Now: later, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	completed, discarded, err := svc.Recover(ctx)
	if err != nil || completed != 0 || discarded != len(s2.pending) {
		t.Errorf("sweep after the grace period: completed %d, discarded %d, err %v; want 0, %d (every pending entry is uncommitted)", completed, discarded, err, len(s2.pending))
	}

	// Phase D: a last restart, then the whole store is checked.
	p = startServe(t, env, args...)
	if s, ok := p.recoverySweep(); !ok || s.Completed != 0 || s.Discarded != 0 {
		t.Errorf("last restart: recovery sweep %+v (logged %v); want nothing to do", s, ok)
	}
	final := readStore(ctx, t, st)
	committed = final.committedDocs()
	if len(final.pending) != 0 {
		t.Errorf("%d pending/ entries remain after recovery", len(final.pending))
	}
	for doc, objs := range final.docs {
		if _, ok := committed[doc]; !ok {
			t.Errorf("uncommitted document %s left after the sweep: %v", doc, objs)
		} else if !objs["document.pdf"] || !objs["record.json"] {
			t.Errorf("committed document %s is incomplete: %v", doc, objs)
		}
	}
	for doc := range committed {
		if final.docs[doc] == nil {
			t.Errorf("consumed authorization %s names %s, which is not stored", committed[doc], doc)
		}
	}
	codeOf := map[string]string{}
	for k, doc := range final.codes {
		if _, ok := committed[doc]; !ok {
			t.Errorf("retrieval code entry %s opens uncommitted %s", k, doc)
		}
		codeOf[doc] = k
	}
	for _, a := range attempts {
		if us := final.uses[a.job.authz]; len(us) != 1 {
			t.Errorf("authorization %s ends with %d uses, want 1 (retried %v)", a.job.authz, len(us), a.retried)
		}
	}
	for az, us := range final.uses {
		if len(us) != 1 {
			t.Errorf("one-use authorization %s has %d use markers", az, len(us))
		}
	}

	// Every committed document: complete, locked, matching its record,
	// VALID, and served.
	docs := make([]string, 0, len(committed))
	for doc := range committed {
		docs = append(docs, doc)
	}
	var check firstLines
	now := time.Now()
	forEachBounded(len(docs), 4, func(i int) {
		doc := docs[i]
		var rec archive.Record
		if err := getStoreJSON(ctx, st, archive.RecordKey(doc), &rec); err != nil {
			check.add("%s: %v", doc, err)
			return
		}
		if rec.Authorization.ID != committed[doc] {
			check.add("%s: record names authorization %s, the use marker is %s's", doc, rec.Authorization.ID, committed[doc])
		}
		// The retrieval code needs no index object: it derives the
		// document's id (the downloads by code below go through it).
		for _, k := range []string{archive.DocumentKey(doc), archive.RecordKey(doc)} {
			info, err := st.Head(ctx, k)
			if err != nil || !info.RetainUntil.After(now) {
				check.add("%s: not retained: %+v %v", k, info, err)
			}
		}
		pdf, _, err := archive.GetBytes(ctx, st, archive.DocumentKey(doc))
		if err != nil {
			check.add("%s: %v", doc, err)
			return
		}
		sum := sm3.Sum(pdf)
		if hex.EncodeToString(sum[:]) != rec.SM3 || int64(len(pdf)) != rec.Size {
			check.add("%s: stored PDF does not match its record", doc)
		}
		if v, err := c.verdict(ctx, p.url, pdf); err != nil || v != "VALID" {
			check.add("%s: verdict %q: %v", doc, v, err)
		}
		if r, err := c.do(ctx, "GET", p.url+"/v1/documents/"+doc, "", nil); err != nil || r.status != http.StatusOK {
			check.add("%s: GET /v1/documents: %v %d", doc, err, r.status)
		}
	})
	check.report(t, "committed documents")

	// Every 201 a client holds: its code downloads the stored PDF.
	var holders []*attempt
	for _, a := range attempts {
		if a.r.status == http.StatusCreated {
			holders = append(holders, a)
		}
	}
	var dl firstLines
	forEachBounded(len(holders), 4, func(i int) {
		a := holders[i]
		r, err := c.do(ctx, "GET", p.url+"/d/"+a.st.RetrievalCode+"/pdf", "", nil)
		if err != nil || r.status != http.StatusOK || !bytes.HasPrefix(r.body, a.job.pdf) {
			dl.add("%s: download by code: %v %d", a.st.DocumentID, err, r.status)
			return
		}
		stored, _, err := archive.GetBytes(ctx, st, archive.DocumentKey(a.st.DocumentID))
		if err != nil || !bytes.Equal(stored, r.body) {
			dl.add("%s: downloaded bytes differ from the stored PDF: %v", a.st.DocumentID, err)
		}
	})
	dl.report(t, "downloads by retrieval code")

	// The offline verifier agrees on one of them.
	if len(docs) > 0 {
		pdf, _, err := archive.GetBytes(ctx, st, archive.DocumentKey(docs[0]))
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), "doc.pdf")
		if err := os.WriteFile(f, pdf, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(esealBinary(t), append(append([]string{"verify", "--json"}, args...), f)...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), `"verdict": "VALID"`) {
			t.Errorf("eseal verify %s: %v\n%s", docs[0], err, clip(string(out)))
		}
	}
	// The audit log of all those killed processes still verifies: every
	// shard's chain and every checkpoint.
	acmd := exec.Command(esealBinary(t), append([]string{"archive", "audit", "verify"}, args...)...)
	acmd.Env = env
	if out, err := acmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "audit log OK") {
		t.Errorf("eseal archive audit verify: %v\n%s", err, clip(string(out)))
	} else {
		t.Logf("%s", strings.TrimSpace(string(out)))
	}
	if !p.stop() {
		t.Errorf("eseal serve pid %d did not shut down cleanly: %v", p.pid, p.state)
	}

	tmp := 0
	if backend == "fs" {
		filepath.WalkDir(filepath.Join(dir, "store"), func(path string, d os.DirEntry, err error) error {
			if err == nil && strings.HasPrefix(d.Name(), "~tmp-") {
				tmp++
			}
			return nil
		})
	}
	if len(docs) < crashKills/2 {
		t.Errorf("only %d documents committed over %d kills: the loop barely stamped", len(docs), crashKills)
	}
	t.Logf("%s: %d kills while serving + %d during start-up in %v; %d stamp requests: %d × 201, %d answers lost (%d of them committed); "+
		"sweeps completed %d committed stampings; uncommitted ones cut after (pending marker, PDF, record, code) = (%d, %d, %d, %d), kept within the grace period, %d discarded after it; %d retried (%d replayed); "+
		"%d committed documents, all VALID; %d temp files left; total %v",
		backend, kills, startupKills, phaseA.Round(time.Millisecond), len(attempts), created, unknown, lost,
		sweepCompleted, stages["marker"], stages["pdf"], stages["record"], stages["code"], discarded, len(retried), countReplayed(retried), len(docs), tmp, time.Since(start).Round(time.Millisecond))
}

func countReplayed(as []*attempt) int {
	n := 0
	for _, a := range as {
		if a.replayed {
			n++
		}
	}
	return n
}
