package seal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/archive/fs"
	"eseal/seal"
	"eseal/seal/sealtest"
)

// heldRemovals is the filesystem store with its DeleteMany held until
// release is closed, noting the size of every removal.
type heldRemovals struct {
	*fs.Store
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	batches []int
}

func (h *heldRemovals) DeleteMany(ctx context.Context, objs []archive.ObjectInfo) []error {
	h.mu.Lock()
	h.batches = append(h.batches, len(objs))
	h.mu.Unlock()
	h.once.Do(func() { close(h.entered) })
	<-h.release
	return h.Store.DeleteMany(ctx, objs)
}

// newHeldRemovalsEnv is a service on a filesystem store whose removals of
// pending markers are held (heldRemovals).
func newHeldRemovalsEnv(t *testing.T) (*serviceEnv, *heldRemovals, *fs.Store) {
	t.Helper()
	clock := sealtest.NewClock(time.Now().UTC().Truncate(time.Second))
	store, err := fs.New(t.TempDir(), fs.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	h := &heldRemovals{Store: store, entered: make(chan struct{}), release: make(chan struct{})}
	return newServiceEnvOn(t, "items: {}\n", clock, h), h, store
}

// TestPendingMarkersRemovedTogether shows that a stamping answers before its
// pending marker is removed, and that the markers of stampings finished
// while a removal is under way go together in the next one.
func TestPendingMarkersRemovedTogether(t *testing.T) {
	ctx := context.Background()
	e, h, store := newHeldRemovalsEnv(t)
	e.stamp(t, "330000-XK-01") // answered although its marker's removal is held
	<-h.entered
	for i := range 5 {
		e.stamp(t, fmt.Sprintf("330000-XK-%02d", i+2))
	}
	if n := countPrefix(t, store, "pending/"); n != 6 {
		t.Fatalf("%d pending markers while their removal is held, want 6", n)
	}
	close(h.release)
	if err := e.svc.FlushPending(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countPrefix(t, store, "pending/"); n != 0 {
		t.Fatalf("%d pending markers after FlushPending", n)
	}
	if fmt.Sprint(h.batches) != "[1 5]" {
		t.Errorf("removals of %v markers, want [1 5]", h.batches)
	}
}

// TestRecoverFinishedButPending: a stamping whose pending marker's removal
// was still queued when its process stopped is finished again by the next
// start's sweep — its marker removed — without a second audit entry.
func TestRecoverFinishedButPending(t *testing.T) {
	ctx := context.Background()
	e, h, store := newHeldRemovalsEnv(t)
	t.Cleanup(func() { close(h.release) })
	st := e.stamp(t, "330000-XK-01")
	<-h.entered // the process "stops" here: its removal never happens
	next := replica(t, e, store, e.clock, "node-2")
	done, dropped, err := next.Recover(ctx)
	if err != nil || done != 1 || dropped != 0 {
		t.Fatalf("Recover: completed %d, discarded %d, %v; want 1, 0", done, dropped, err)
	}
	if n := countPrefix(t, store, "pending/"); n != 0 {
		t.Fatalf("%d pending markers after the sweep", n)
	}
	if n := stampedEntries(t, store, st.DocumentID); n != 1 {
		t.Errorf("%d audit entries for the stamping, want 1", n)
	}
}

// TestFinishRetriedAtOnce: a stamping whose finish fails once after its
// audit entry (the record's put refused) tries again before it answers, so
// its document is served at once, not only after the recovery sweep.
func TestFinishRetriedAtOnce(t *testing.T) {
	ctx := context.Background()
	clock := sealtest.NewClock(time.Now().UTC().Truncate(time.Second))
	store, err := fs.New(t.TempDir(), fs.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	var failed atomic.Bool
	hook := &writeHook{Store: store, before: func(op, key string) error {
		if strings.HasSuffix(key, "/record.json") && failed.CompareAndSwap(false, true) {
			return errors.New("the store refused the record's put, once")
		}
		return nil
	}}
	e := newServiceEnvOn(t, "items: {}\n", clock, hook)
	d := e.stamp(t, "330000-XK-01")
	if !failed.Load() {
		t.Fatal("the record's put was never made")
	}
	rec, pdf, err := e.svc.Documents().CommittedPDF(ctx, d.DocumentID)
	if err != nil || rec.SM3 != d.Record.SM3 || len(pdf) != int(d.Record.Size) {
		t.Fatalf("the document right after its stamping: %v", err)
	}
	if rec, err := e.svc.Documents().ByRetrievalCode(ctx, d.RetrievalCode); err != nil || rec.DocumentID != d.DocumentID {
		t.Fatalf("its code: %v", err)
	}
	if n := countPrefix(t, store, "pending/"); n != 0 {
		t.Fatalf("%d pending objects left", n)
	}
}

// TestSweepDoesNotLogTwice: a stamping whose finish fails twice after its
// audit entry (the record's put refused) answers, and is finished by the
// sweep after the grace period — which finds the entry in the log, from
// the mark its staging keeps, and appends no second one.
func TestSweepDoesNotLogTwice(t *testing.T) {
	ctx := context.Background()
	e, store, clock := newServiceEnvFS(t)
	e.stamp(t, "330000-XK-00") // the shard's first entries
	d := stampUnfinished(t, e, store, "330000-XK-01")
	e.stamp(t, "330000-XK-02") // more entries after it, in later blocks

	clock.Advance(e.svc.Grace() + time.Minute)
	done, dropped, err := e.svc.Sweep(ctx)
	if err != nil || done != 1 || dropped != 0 {
		t.Fatalf("Sweep: completed %d, discarded %d, %v; want 1, 0", done, dropped, err)
	}
	if rec, _, err := e.svc.Documents().CommittedPDF(ctx, d.DocumentID); err != nil || rec.SM3 != d.Record.SM3 {
		t.Fatalf("the document after the sweep: %v", err)
	}
	if n := stampedEntries(t, store, d.DocumentID); n != 1 {
		t.Errorf("%d audit entries for the stamping, want 1", n)
	}
}

// TestFixityReportsUnfinishedStamping: fixity leaves a stamping that is
// still pending alone while it is younger than the recovery sweep's grace
// period; past it, fixity reports it, and checks its document like any
// other — here committed and logged but never finished, so its record and
// PDF are missing.
func TestFixityReportsUnfinishedStamping(t *testing.T) {
	ctx := context.Background()
	e, store, clock := newServiceEnvFS(t)
	e.stamp(t, "330000-XK-00")
	d := stampUnfinished(t, e, store, "330000-XK-01")

	rep, err := e.svc.Fixity(ctx, nil)
	if err != nil || !rep.OK() {
		t.Fatalf("fixity while the stamping is young: %v, %+v", err, rep)
	}
	clock.Advance(e.svc.Grace() + time.Minute)
	if rep, err = e.svc.Fixity(ctx, nil); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, p := range rep.Problems {
		if p.DocumentID != d.DocumentID {
			t.Errorf("a problem of another document: %+v", p)
		}
		got[p.Kind] = true
	}
	for _, k := range []string{archive.FixityUnfinished, archive.FixityMissingRecord} {
		if !got[k] {
			t.Errorf("fixity past the grace period: no %s among %+v", k, rep.Problems)
		}
	}

	// The sweep finishes it; fixity is clean again.
	if done, _, err := e.svc.Sweep(ctx); err != nil || done != 1 {
		t.Fatalf("Sweep: %d, %v", done, err)
	}
	if rep, err = e.svc.Fixity(ctx, nil); err != nil || !rep.OK() {
		t.Fatalf("fixity after the sweep: %v, %+v", err, rep)
	}
}

// refusals is a store that refuses the puts of records while armed.
type refusals struct {
	*writeHook
	armed atomic.Bool
}

// newServiceEnvFS is a service on a filesystem store behind refusals, on a
// clock of its own.
func newServiceEnvFS(t *testing.T) (*serviceEnv, *refusals, *fakeClock) {
	t.Helper()
	clock := sealtest.NewClock(time.Now().UTC().Truncate(time.Second))
	base, err := fs.New(t.TempDir(), fs.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	store := &refusals{}
	store.writeHook = &writeHook{Store: base, before: func(op, key string) error {
		if store.armed.Load() && strings.HasSuffix(key, "/record.json") {
			return errors.New("the store refused the record's put")
		}
		return nil
	}}
	e := newServiceEnvOn(t, "items: {}\n", clock, store)
	// A stamping whose finish fails twice is left to the recovery sweep,
	// as when its replica stops right after answering; the background
	// retry has tests of its own (TestFinishRetriedInTheBackground).
	e.svc.RetryFinish = -1
	return e, store, clock
}

// stampUnfinished stamps while the store refuses every put of a record:
// the stamping commits and is logged, its finish fails twice, and it
// answers with its document only in its staging object (and, unless
// e.svc.RetryFinish is negative, tries again in the background).
func stampUnfinished(t *testing.T, e *serviceEnv, store *refusals, item string) *seal.Stamped {
	t.Helper()
	store.armed.Store(true)
	d := e.stamp(t, item)
	store.armed.Store(false)
	if _, _, err := e.svc.Documents().CommittedPDF(context.Background(), d.DocumentID); err == nil {
		t.Fatal("the document was finished although its record's put was refused")
	}
	return d
}

// stampedEntries counts the audit log's document.stamped entries of docID.
func stampedEntries(t *testing.T, store archive.Store, docID string) int {
	t.Helper()
	n := 0
	if err := audit.Entries(context.Background(), store, func(en audit.Entry) error {
		if en.Action == audit.DocumentStamped && en.Subject == docID {
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// alteredAudit is a store whose audit blocks read back with one document
// id changed: an entry edited behind the log's back.
type alteredAudit struct {
	archive.Store
	doc string
}

func (a *alteredAudit) Get(ctx context.Context, key string) (io.ReadCloser, archive.ObjectInfo, error) {
	rc, info, err := a.Store.Get(ctx, key)
	if err != nil || !strings.HasPrefix(key, "audit/") || strings.HasPrefix(key, "audit/nodes/") || strings.HasPrefix(key, "audit/checkpoints/") {
		return rc, info, err
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, info, err
	}
	b = bytes.ReplaceAll(b, []byte(a.doc), []byte(a.doc[:len(a.doc)-1]+"x"))
	return io.NopCloser(bytes.NewReader(b)), info, nil
}

// TestSweepLogsAgainWhereTheChainIsBroken: where the entries the sweep
// reads do not hold their hashes (edited behind the log's back), the entry
// it looks for cannot be trusted, so the stamping is logged again rather
// than left out.
func TestSweepLogsAgainWhereTheChainIsBroken(t *testing.T) {
	ctx := context.Background()
	e, store, clock := newServiceEnvFS(t)
	e.stamp(t, "330000-XK-00")
	d := stampUnfinished(t, e, store, "330000-XK-01")
	e.stamp(t, "330000-XK-02")
	clock.Advance(e.svc.Grace() + time.Minute)
	sweeper := replica(t, e, &alteredAudit{Store: store.writeHook.Store, doc: d.DocumentID}, clock, "node-2")
	if done, _, err := sweeper.Sweep(ctx); err != nil || done != 1 {
		t.Fatalf("Sweep: %d, %v", done, err)
	}
	if n := stampedEntries(t, store, d.DocumentID); n != 2 {
		t.Errorf("%d audit entries for the stamping, want 2: its own, and the sweep's where the log is broken", n)
	}
}

// TestFinishRetriedInTheBackground: a stamping whose finish fails twice
// (the store refuses its record) answers 201 with its document only in its
// staging object; the replica tries the finish again in the background, so
// once the store takes writes again the document is served within
// seconds, not after the sweep's grace period — logged once, its staging
// removed, fixity clean. A store that keeps refusing until half the grace
// period has passed leaves it to the sweep, which finishes it; so does a
// replica that stops (StopRefinishing), to the Recover of its next start.
func TestFinishRetriedInTheBackground(t *testing.T) {
	ctx := context.Background()
	wait := func(e *serviceEnv) {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := e.svc.WaitRefinishing(ctx); err != nil {
			t.Fatal("the background finish did not end:", err)
		}
	}
	staging := func(e *serviceEnv) int {
		t.Helper()
		n := 0
		if err := e.store.List(ctx, "pending/", func(archive.ObjectInfo) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}

	e, store, _ := newServiceEnvFS(t)
	e.svc.RetryFinish = 20 * time.Millisecond
	d := stampUnfinished(t, e, store, "330000-XK-01")
	wait(e)
	rec, _, err := e.svc.Documents().CommittedPDF(ctx, d.DocumentID)
	if err != nil || rec.SM3 != d.Record.SM3 {
		t.Fatalf("the document after the background finish: %v", err)
	}
	if n := stampedEntries(t, store, d.DocumentID); n != 1 {
		t.Errorf("%d audit entries for the stamping, want 1", n)
	}
	if n := staging(e); n != 0 {
		t.Errorf("%d staging objects left", n)
	}
	if rep, err := e.svc.Fixity(ctx, nil); err != nil || !rep.OK() {
		t.Fatalf("fixity: %v, %+v", err, rep)
	}

	// Refused for longer: the retry stops at half the grace period.
	e, store, clock := newServiceEnvFS(t)
	e.svc.RetryFinish = 20 * time.Millisecond
	store.armed.Store(true)
	d = e.stamp(t, "330000-XK-02")
	clock.Advance(e.svc.Grace() / 2)
	wait(e)
	store.armed.Store(false)
	if _, _, err := e.svc.Documents().CommittedPDF(ctx, d.DocumentID); err == nil {
		t.Fatal("finished in the background after half the grace period")
	}
	clock.Advance(e.svc.Grace())
	if done, _, err := e.svc.Sweep(ctx); err != nil || done != 1 {
		t.Fatalf("Sweep: %d, %v", done, err)
	}
	if n := stampedEntries(t, store, d.DocumentID); n != 1 {
		t.Errorf("%d audit entries for the stamping, want 1", n)
	}

	// A replica shutting down stops the retries, even one waiting an
	// hour; its next start's Recover finishes the stamping.
	e, store, _ = newServiceEnvFS(t)
	e.svc.RetryFinish = time.Hour
	d = stampUnfinished(t, e, store, "330000-XK-03")
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := e.svc.StopRefinishing(stopCtx); err != nil {
		t.Fatal("StopRefinishing:", err)
	}
	if _, _, err := e.svc.Documents().CommittedPDF(ctx, d.DocumentID); err == nil {
		t.Fatal("finished in the background after StopRefinishing")
	}
	if done, _, err := e.svc.Recover(ctx); err != nil || done != 1 {
		t.Fatalf("Recover: %d, %v", done, err)
	}
	if n := stampedEntries(t, store, d.DocumentID); n != 1 {
		t.Errorf("%d audit entries for the stamping, want 1", n)
	}
}
