package lifecycle_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/archive/fs"
	"eseal/archive/lifecycle"
	"eseal/keys"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// clock is the one time of a test's store, registry, audit log and
// lifecycle, moved on by hand so that retention can end within a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is an organisation with one seal whose stampings commit into store:
// the real seal service, its audit log, and the lifecycle it wires.
type env struct {
	svc    *seal.Service
	docs   *lifecycle.Documents
	store  archive.Store
	clock  *clock
	sealID string
	log    *audit.Log
}

func newFsEnv(t *testing.T, schedule string) (*env, string) {
	t.Helper()
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	root := t.TempDir()
	store, err := fs.New(root, fs.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, schedule, c, store), root
}

func newEnv(t *testing.T, schedule string, c *clock, store archive.Store) *env {
	t.Helper()
	ctx := context.Background()
	kek, _, err := keys.NewKEK()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := seal.InitOrg(ctx, store, kek, "测试档案馆", seal.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := reg.AuditSigner(ctx)
	if err != nil {
		t.Fatal(err)
	}
	alog, err := audit.Open(ctx, store, "test", audit.Options{Signer: signer, Now: c.Now})
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
	return &env{svc: svc, docs: svc.Documents(), store: store, clock: c, sealID: s.ID, log: alog}
}

func (e *env) stamp(t *testing.T, item, caseNo string) *seal.Stamped {
	t.Helper()
	ctx := context.Background()
	a, err := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: e.sealID, CaseNo: caseNo, GrantedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := e.svc.Stamp(ctx, seal.StampRequest{SealID: e.sealID, AuthorizationID: a.ID,
		Placement: seal.Placement{Page: 1, XMM: 100, YMM: 100},
		Record:    seal.RecordInput{Title: "临时许可", ItemCode: item, CaseNo: caseNo},
		PDF:       pdftest.Document(pdftest.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

// count is the number of entries of action in the audit log.
func (e *env) count(t *testing.T, action audit.Action) int {
	t.Helper()
	n := 0
	if err := audit.Entries(context.Background(), e.store, func(en audit.Entry) error {
		if en.Action == action {
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// fsPath is where the filesystem backend keeps key under root: every
// segment but the last is a directory with a "~" suffix.
func fsPath(root, key string) string {
	segs := strings.Split(key, "/")
	for i := range segs[:len(segs)-1] {
		segs[i] += "~"
	}
	return filepath.Join(append([]string{root}, segs...)...)
}

// overwrite replaces an object's bytes behind the store's back, lock and
// all, as an editor on the data directory does: the filesystem's one
// version of the key becomes a foreign one.
func overwrite(t *testing.T, root, key string, b []byte) {
	t.Helper()
	p := fsPath(root, key)
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
