package seal_test

import (
	"context"
	"io"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/archive/fs"
	"eseal/keys"
	"eseal/seal"
	"eseal/seal/sealtest"
)

// fakeClock is the clock every part of a test's service reads.
type fakeClock = sealtest.Clock

// serviceEnv is a Service on the filesystem store with one clock for all.
type serviceEnv struct {
	svc    *seal.Service
	store  archive.Store
	clock  *fakeClock
	sealID string
	log    *audit.Log
	kek    *keys.KEK
	x      *sealtest.Env
}

func newServiceEnv(t *testing.T, schedule string) *serviceEnv {
	t.Helper()
	clock := sealtest.NewClock(time.Now().UTC().Truncate(time.Second))
	store, err := fs.New(t.TempDir(), fs.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return newServiceEnvOn(t, schedule, clock, store)
}

// newServiceEnvOn is newServiceEnv on a store of the test's choosing.
func newServiceEnvOn(t testing.TB, schedule string, clock *fakeClock, store archive.Store) *serviceEnv {
	t.Helper()
	x := sealtest.New(t, schedule, clock, store)
	return &serviceEnv{svc: x.Service, store: x.Store, clock: x.Clock, sealID: x.SealID, log: x.Log, kek: x.KEK, x: x}
}

func (e *serviceEnv) stamp(t *testing.T, item string) *seal.Stamped {
	t.Helper()
	return e.x.Stamp(t, item, "D-1")
}

// replica is another replica of e's service on store (e's, or the store
// under a wrapper): its own registry and its own audit shard (node).
func replica(t *testing.T, e *serviceEnv, store archive.Store, clock *fakeClock, node string) *seal.Service {
	t.Helper()
	ctx := context.Background()
	reg, err := seal.OpenRegistry(ctx, store, e.kek, seal.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := reg.AuditSigner(ctx)
	if err != nil {
		t.Fatal(err)
	}
	alog, err := audit.Open(ctx, store, node, audit.Options{Signer: signer, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	reg.SetAuditor(seal.LogAuditor{Log: alog})
	svc := &seal.Service{Registry: reg, Store: store, Schedule: e.svc.Schedule, Application: "test", Fonds: e.svc.Fonds}
	t.Cleanup(func() {
		_ = svc.StopRefinishing(context.Background())
		_ = svc.FlushPending(context.Background())
	})
	return svc
}

// writeHook is a Store whose writes pass through before, which may refuse
// one before it is made, and after, which may change what its caller hears
// of one made. op is the kind of write: put, put+lock, retain, hold,
// delete. Either hook may be nil.
type writeHook struct {
	archive.Store
	before func(op, key string) error
	after  func(op, key string, err error) error
}

func (w *writeHook) pre(op, key string) error {
	if w.before == nil {
		return nil
	}
	return w.before(op, key)
}

func (w *writeHook) post(op, key string, err error) error {
	if w.after == nil {
		return err
	}
	return w.after(op, key, err)
}

func (w *writeHook) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) (archive.ObjectInfo, error) {
	if err := w.pre("put", key); err != nil {
		return archive.ObjectInfo{}, err
	}
	info, err := w.Store.PutIfAbsent(ctx, key, r, size)
	if err = w.post("put", key, err); err != nil {
		return archive.ObjectInfo{}, err
	}
	return info, nil
}

func (w *writeHook) PutRetained(ctx context.Context, key string, r io.Reader, size int64, until time.Time) (archive.ObjectInfo, error) {
	if err := w.pre("put+lock", key); err != nil {
		return archive.ObjectInfo{}, err
	}
	info, err := w.Store.(archive.RetainingStore).PutRetained(ctx, key, r, size, until)
	if err = w.post("put+lock", key, err); err != nil {
		return archive.ObjectInfo{}, err
	}
	return info, nil
}

func (w *writeHook) SetRetention(ctx context.Context, key string, until time.Time) error {
	if err := w.pre("retain", key); err != nil {
		return err
	}
	return w.post("retain", key, w.Store.SetRetention(ctx, key, until))
}

func (w *writeHook) SetLegalHold(ctx context.Context, key string, on bool) error {
	if err := w.pre("hold", key); err != nil {
		return err
	}
	return w.post("hold", key, w.Store.SetLegalHold(ctx, key, on))
}

func (w *writeHook) Delete(ctx context.Context, key string) error {
	if err := w.pre("delete", key); err != nil {
		return err
	}
	return w.post("delete", key, w.Store.Delete(ctx, key))
}

// faultCase is one run of a fault test: a fresh filesystem store under the
// wrapper wrap makes (the fault), a service on it numbering its records
// (fonds Z001), and a one-use authorization for case C-1; req is that
// case's stamping, with the Idempotency-Key idem if not "".
type faultCase struct {
	e     *serviceEnv
	base  archive.Store
	clock *fakeClock
	authz string
	req   seal.StampRequest
}

func newFaultCase(t *testing.T, doc []byte, idem string, wrap func(archive.Store) archive.Store) *faultCase {
	t.Helper()
	clock := sealtest.NewClock(time.Now().UTC().Truncate(time.Second))
	base, err := fs.New(t.TempDir(), fs.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := newServiceEnvOn(t, "items: {}\n", clock, wrap(base))
	e.svc.Fonds = "Z001"
	a, err := e.svc.Registry.Grant(context.Background(), seal.GrantRequest{SealID: e.sealID, CaseNo: "C-1", GrantedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return &faultCase{e: e, base: base, clock: clock, authz: a.ID, req: seal.StampRequest{SealID: e.sealID, AuthorizationID: a.ID,
		Placement: seal.Placement{Page: 1, XMM: 100, YMM: 100}, IdempotencyKey: idem, PDF: doc,
		Record: seal.RecordInput{Title: "许可决定书", ItemCode: "330000-XK-01", CaseNo: "C-1"}}}
}
