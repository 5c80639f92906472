package seal_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/archive/fs"
	"eseal/keys"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// serviceEnv is a Service on the filesystem store with one clock for all.
type serviceEnv struct {
	svc    *seal.Service
	store  archive.Store
	clock  *fakeClock
	sealID string
	log    *audit.Log
	kek    *keys.KEK
}

func newServiceEnv(t *testing.T, schedule string) *serviceEnv {
	t.Helper()
	clock := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
	store, err := fs.New(t.TempDir(), fs.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return newServiceEnvOn(t, schedule, clock, store)
}

// newServiceEnvOn is newServiceEnv on a store of the test's choosing.
func newServiceEnvOn(t testing.TB, schedule string, clock *fakeClock, store archive.Store) *serviceEnv {
	t.Helper()
	ctx := context.Background()
	kek, _, err := keys.NewKEK()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := seal.InitOrg(ctx, store, kek, "测试档案馆", seal.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := reg.AuditSigner(ctx)
	if err != nil {
		t.Fatal(err)
	}
	alog, err := audit.Open(ctx, store, "test", audit.Options{Signer: signer, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	reg.SetAuditor(seal.LogAuditor{Log: alog})
	s, err := reg.CreateSeal(ctx, seal.CreateSpec{Name: "测试专用章", Policy: seal.PolicyKey})
	if err != nil {
		t.Fatal(err)
	}
	sched, err := archive.ParseSchedule([]byte(schedule))
	if err != nil {
		t.Fatal(err)
	}
	return &serviceEnv{svc: &seal.Service{Registry: reg, Store: store, Schedule: sched, Application: "test"},
		store: store, clock: clock, sealID: s.ID, log: alog, kek: kek}
}

func (e *serviceEnv) stamp(t *testing.T, item string) *seal.Stamped {
	t.Helper()
	ctx := context.Background()
	a, err := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: e.sealID, CaseNo: "D-1", GrantedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := e.svc.Stamp(ctx, seal.StampRequest{SealID: e.sealID, AuthorizationID: a.ID,
		Placement: seal.Placement{Page: 1, XMM: 100, YMM: 100},
		Record:    seal.RecordInput{Title: "临时许可", ItemCode: item, CaseNo: "D-1"},
		PDF:       pdftest.Document(pdftest.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}
