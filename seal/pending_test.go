package seal_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/archive/fs"
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
	stamped := 0
	if err := audit.Entries(ctx, store, func(en audit.Entry) error {
		if en.Action == audit.DocumentStamped && en.Subject == st.DocumentID {
			stamped++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if stamped != 1 {
		t.Errorf("%d audit entries for the stamping, want 1", stamped)
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
	clock := sealtest.NewClock(time.Now().UTC().Truncate(time.Second))
	store, err := fs.New(t.TempDir(), fs.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	var armed atomic.Bool
	var refused atomic.Int32
	hook := &writeHook{Store: store, before: func(op, key string) error {
		if armed.Load() && strings.HasSuffix(key, "/record.json") && refused.Add(1) <= 2 {
			return errors.New("the store refused the record's put")
		}
		return nil
	}}
	e := newServiceEnvOn(t, "items: {}\n", clock, hook)
	e.stamp(t, "330000-XK-00") // the shard's first entries
	armed.Store(true)
	d := e.stamp(t, "330000-XK-01")
	armed.Store(false)
	if refused.Load() < 2 {
		t.Fatalf("the record's put was refused %d times, want 2", refused.Load())
	}
	if _, _, err := e.svc.Documents().CommittedPDF(ctx, d.DocumentID); err == nil {
		t.Fatal("the document was finished although its record's put was refused twice")
	}
	e.stamp(t, "330000-XK-02") // more entries after it, in later blocks

	clock.Advance(e.svc.Grace() + time.Minute)
	done, dropped, err := e.svc.Sweep(ctx)
	if err != nil || done != 1 || dropped != 0 {
		t.Fatalf("Sweep: completed %d, discarded %d, %v; want 1, 0", done, dropped, err)
	}
	if rec, _, err := e.svc.Documents().CommittedPDF(ctx, d.DocumentID); err != nil || rec.SM3 != d.Record.SM3 {
		t.Fatalf("the document after the sweep: %v", err)
	}
	stamped := 0
	if err := audit.Entries(ctx, store, func(en audit.Entry) error {
		if en.Action == audit.DocumentStamped && en.Subject == d.DocumentID {
			stamped++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if stamped != 1 {
		t.Errorf("%d audit entries for the stamping, want 1", stamped)
	}
}

// TestFixityReportsUnfinishedStamping: fixity leaves a stamping that is
// still pending alone while it is younger than the recovery sweep's grace
// period; past it, fixity reports it, and checks its document like any
// other — here committed and logged but never finished, so its record and
// PDF are missing.
func TestFixityReportsUnfinishedStamping(t *testing.T) {
	ctx := context.Background()
	clock := sealtest.NewClock(time.Now().UTC().Truncate(time.Second))
	store, err := fs.New(t.TempDir(), fs.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	var armed atomic.Bool
	hook := &writeHook{Store: store, before: func(op, key string) error {
		if armed.Load() && strings.HasSuffix(key, "/record.json") {
			return errors.New("the store refused the record's put")
		}
		return nil
	}}
	e := newServiceEnvOn(t, "items: {}\n", clock, hook)
	e.stamp(t, "330000-XK-00")
	armed.Store(true)
	d := e.stamp(t, "330000-XK-01")
	armed.Store(false)

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
