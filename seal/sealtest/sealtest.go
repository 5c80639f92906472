// Package sealtest sets up, for tests of seal and of the packages around
// it, an organisation with one seal whose stampings commit into a store:
// the real registry, audit log and service, on a clock the test moves.
package sealtest

import (
	"context"
	"sync"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/keys"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// Clock is the one time of a test's store, registry, audit log and
// lifecycle, moved on by hand so that retention can end within a test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock is a Clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Env is an organisation (测试档案馆) with one seal under policy key, its
// audit log (node "test") and the service stamping with it.
type Env struct {
	Service *seal.Service
	Store   archive.Store
	Clock   *Clock
	SealID  string
	Log     *audit.Log
	KEK     *keys.KEK
}

// New sets up an Env on store, its retention schedule given as YAML.
func New(t testing.TB, schedule string, clock *Clock, store archive.Store) *Env {
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
	svc := &seal.Service{Registry: reg, Store: store, Schedule: sched, Application: "test"}
	// The removals of pending markers still queued end with the test,
	// before the store it uses goes.
	t.Cleanup(func() {
		_ = svc.StopRefinishing(context.Background())
		_ = svc.FlushPending(context.Background())
	})
	return &Env{Service: svc, Store: store, Clock: clock, SealID: s.ID, Log: alog, KEK: kek}
}

// Stamp stamps a one-page document under a new one-use authorization for
// caseNo, its record filed under item (retention by the schedule).
func (e *Env) Stamp(t testing.TB, item, caseNo string) *seal.Stamped {
	t.Helper()
	ctx := context.Background()
	a, err := e.Service.Registry.Grant(ctx, seal.GrantRequest{SealID: e.SealID, CaseNo: caseNo, GrantedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := e.Service.Stamp(ctx, seal.StampRequest{SealID: e.SealID, AuthorizationID: a.ID,
		Placement: seal.Placement{Page: 1, XMM: 100, YMM: 100},
		Record:    seal.RecordInput{Title: "临时许可", ItemCode: item, CaseNo: caseNo},
		PDF:       pdftest.Document(pdftest.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}
