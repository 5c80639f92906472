package lifecycle_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/archive/fs"
	"eseal/archive/lifecycle"
	"eseal/seal"
	"eseal/seal/sealtest"
)

// clock is the one time of a test's store, registry, audit log and
// lifecycle.
type clock = sealtest.Clock

// env is an organisation with one seal whose stampings commit into store:
// the real seal service, its audit log, and the lifecycle it wires.
type env struct {
	svc    *seal.Service
	docs   *lifecycle.Documents
	store  archive.Store
	clock  *clock
	sealID string
	log    *audit.Log
	x      *sealtest.Env
}

func newFsEnv(t *testing.T, schedule string) (*env, string) {
	t.Helper()
	c := sealtest.NewClock(time.Now().UTC().Truncate(time.Second))
	root := t.TempDir()
	store, err := fs.New(root, fs.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, schedule, c, store), root
}

func newEnv(t *testing.T, schedule string, c *clock, store archive.Store) *env {
	t.Helper()
	x := sealtest.New(t, schedule, c, store)
	return &env{svc: x.Service, docs: x.Service.Documents(), store: store, clock: c, sealID: x.SealID, log: x.Log, x: x}
}

func (e *env) stamp(t *testing.T, item, caseNo string) *seal.Stamped {
	t.Helper()
	return e.x.Stamp(t, item, caseNo)
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
