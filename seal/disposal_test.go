package seal_test

import (
	"context"
	"errors"
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

// recorder is an Auditor that keeps events in memory.
type recorder struct {
	mu     sync.Mutex
	events []seal.AuditEvent
}

func (r *recorder) Append(_ context.Context, e seal.AuditEvent) error {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	return nil
}

func (r *recorder) count(action audit.Action) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Action == action {
			n++
		}
	}
	return n
}

// serviceEnv is a Service on the filesystem store with one clock for all.
type serviceEnv struct {
	svc    *seal.Service
	store  archive.Store
	clock  *fakeClock
	sealID string
	audit  *recorder
	log    *audit.Log
	kek    *keys.KEK
}

// tee sends events to the audit log and to the recorder the tests count.
type tee struct {
	log seal.Auditor
	rec *recorder
}

func (t tee) Append(ctx context.Context, e seal.AuditEvent) error {
	t.rec.Append(ctx, e)
	return t.log.Append(ctx, e)
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
	rec := &recorder{}
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
	reg.SetAuditor(tee{seal.LogAuditor{Log: alog}, rec})
	s, err := reg.CreateSeal(ctx, seal.CreateSpec{Name: "测试专用章", Policy: seal.PolicyKey})
	if err != nil {
		t.Fatal(err)
	}
	sched, err := archive.ParseSchedule([]byte(schedule))
	if err != nil {
		t.Fatal(err)
	}
	return &serviceEnv{svc: &seal.Service{Registry: reg, Store: store, Schedule: sched, Application: "test"},
		store: store, clock: clock, sealID: s.ID, audit: rec, log: alog, kek: kek}
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

func TestDisposal(t *testing.T) {
	e := newServiceEnv(t, "items:\n  SHORT-1: 1h\n")
	ctx := context.Background()
	short := e.stamp(t, "SHORT-1")
	keep := e.stamp(t, "UNLISTED") // not in the schedule: permanent
	if keep.Record.Retention != archive.Permanent {
		t.Fatalf("an unlisted item got %s", keep.Record.Retention)
	}
	req := seal.DisposalRequest{DocumentIDs: []string{short.DocumentID}, ApprovalID: "销审〔2026〕3号",
		Witnesses: [2]string{"张三", "李四"}, By: "archivist"}

	var de *seal.DisposalError
	if _, err := e.svc.Dispose(ctx, req); !errors.As(err, &de) {
		t.Fatalf("disposal before retention end: %v", err)
	}
	bad := req
	bad.Witnesses = [2]string{"张三", "张三"}
	var ie *seal.InputError
	if _, err := e.svc.Dispose(ctx, bad); !errors.As(err, &ie) {
		t.Fatalf("one witness twice: %v", err)
	}

	// Retention passes, but a legal hold is on.
	if _, err := e.svc.SetLegalHold(ctx, short.DocumentID, true, "诉讼保全", "archivist"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Hour)
	if _, err := e.svc.Dispose(ctx, req); !errors.As(err, &de) {
		t.Fatalf("disposal under hold: %v", err)
	}
	if due, _ := e.svc.DueForDisposal(ctx); len(due) != 0 {
		t.Fatalf("held document listed as due: %d", len(due))
	}
	if _, err := e.svc.SetLegalHold(ctx, short.DocumentID, false, "诉讼结束", "archivist"); err != nil {
		t.Fatal(err)
	}
	due, err := e.svc.DueForDisposal(ctx)
	if err != nil || len(due) != 1 || due[0].DocumentID != short.DocumentID {
		t.Fatalf("due for disposal: %v %v", err, due)
	}
	// A permanent document cannot be slipped into the same disposal.
	withKeep := req
	withKeep.DocumentIDs = []string{short.DocumentID, keep.DocumentID}
	if _, err := e.svc.Dispose(ctx, withKeep); !errors.As(err, &de) || de.DocumentID != keep.DocumentID {
		t.Fatalf("permanent document in a disposal: %v", err)
	}
	if _, err := e.store.Head(ctx, archive.DocumentKey(short.DocumentID)); err != nil {
		t.Fatalf("a refused disposal deleted something: %v", err)
	}

	reg, err := e.svc.Dispose(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{archive.DocumentKey(short.DocumentID), archive.RecordKey(short.DocumentID)} {
		if _, err := e.store.Head(ctx, k); !errors.Is(err, archive.ErrNotFound) {
			t.Fatalf("%s survived disposal: %v", k, err)
		}
	}
	ts, err := e.store.Head(ctx, "tombstones/"+short.DocumentID+".json")
	if err != nil || ts.RetainUntil.Before(e.clock.Now().AddDate(99, 0, 0)) {
		t.Fatalf("tombstone: %v %+v", err, ts)
	}
	if len(reg.Documents) != 1 || e.audit.count(audit.RecordDisposed) != 1 {
		t.Fatalf("register %+v, %d audit entries", reg, e.audit.count(audit.RecordDisposed))
	}
	if _, err := e.store.Head(ctx, archive.DocumentKey(keep.DocumentID)); err != nil {
		t.Fatalf("the permanent document is gone: %v", err)
	}
	// The audit log, with the disposal in it, verifies.
	if _, err := e.log.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	cert, err := e.svc.Registry.AuditCertificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.Verify(ctx, e.store, cert.PublicKey); err != nil || !rep.OK() || rep.Entries < 8 {
		t.Fatalf("audit verify after disposal: %v %+v", err, rep)
	}
	for _, a := range []audit.Action{audit.SealCreated, audit.AuthorizationGranted, audit.DocumentStamped, audit.LegalHoldSet, audit.LegalHoldCleared} {
		if e.audit.count(a) == 0 {
			t.Errorf("no %s audit event", a)
		}
	}
}
