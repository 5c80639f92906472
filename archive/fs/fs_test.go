package fs_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/fs"
	"eseal/archive/storetest"
)

func newStore(t *testing.T, opts fs.Options) *fs.Store {
	t.Helper()
	s, err := fs.New(filepath.Join(t.TempDir(), "data"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts fs.Options
	}{
		{"each file", fs.Options{Sync: fs.SyncEachFile}},
		{"syncfs", fs.Options{Sync: fs.SyncWholeFS}},
		{"portable", fs.Options{Sync: fs.SyncEachFile, Portable: true}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) archive.Store { return newStore(t, mode.opts) }, storetest.Options{})
		})
	}
}

// TestKeysStayInside checks that refused keys touch nothing, inside or
// outside the root.
func TestKeysStayInside(t *testing.T) {
	parent := t.TempDir()
	s, err := fs.New(filepath.Join(parent, "root"), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range storetest.BadKeys {
		s.PutIfAbsent(context.Background(), key, strings.NewReader("x"), 1)
	}
	for _, dir := range []string{parent, s.Root()} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if dir == parent && e.Name() == "root" {
				continue
			}
			t.Errorf("refused puts left %s in %s", e.Name(), dir)
		}
	}
}

// TestInjectedClock shows that retention is checked against Options.Now,
// so long retention periods can be tested without waiting.
func TestInjectedClock(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newStore(t, fs.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	if _, err := archive.PutBytesIfAbsent(ctx, s, "doc", []byte("x")); err != nil {
		t.Fatal(err)
	}
	until := now.AddDate(30, 0, 0) // 30-year retention class
	if err := s.SetRetention(ctx, "doc", until); err != nil {
		t.Fatal(err)
	}
	now = until.Add(-time.Second)
	var le *archive.LockedError
	if err := s.Delete(ctx, "doc"); !errors.As(err, &le) || !le.Until.Equal(until) {
		t.Fatalf("Delete a second before the end: err = %v, want LockedError until %v", err, until)
	}
	now = until
	if err := s.Delete(ctx, "doc"); err != nil {
		t.Fatalf("Delete at the end of retention: %v", err)
	}
}

// TestLeftoversIgnored checks that temporary files from a crashed put, and
// sidecars, are never listed as objects.
func TestLeftoversIgnored(t *testing.T) {
	s := newStore(t, fs.Options{})
	ctx := context.Background()
	if _, err := archive.PutBytesIfAbsent(ctx, s, "a/b", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLegalHold(ctx, "a/b", true); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Root(), "a~", "~tmp-123"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	var keys []string
	s.List(ctx, "", func(info archive.ObjectInfo) error { keys = append(keys, info.Key); return nil })
	if len(keys) != 1 || keys[0] != "a/b" {
		t.Errorf("List = %q, want [a/b]", keys)
	}
}

const helperEnv = "ESEAL_FS_TEST_HELPER"

// TestConcurrentPutProcesses races PutIfAbsent on one key from several
// processes (this test binary, re-executed): exactly one wins.
func TestConcurrentPutProcesses(t *testing.T) {
	if dir := os.Getenv(helperEnv); dir != "" {
		helperPut(dir)
		return
	}
	s := newStore(t, fs.Options{})
	const n = 8
	start := time.Now().Add(500 * time.Millisecond)
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for i := range n {
		cmd := exec.Command(os.Args[0], "-test.run=^TestConcurrentPutProcesses$")
		cmd.Env = append(os.Environ(), helperEnv+"="+s.Root(), "ESEAL_FS_TEST_ID="+strconv.Itoa(i),
			"ESEAL_FS_TEST_START="+strconv.FormatInt(start.UnixNano(), 10))
		out := new(strings.Builder)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		outs = append(outs, out)
	}
	wins := 0
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper %d: %v\n%s", i, err, outs[i])
		}
		switch {
		case strings.Contains(outs[i].String(), "RESULT won"):
			wins++
		case strings.Contains(outs[i].String(), "RESULT exists"):
		default:
			t.Errorf("helper %d said:\n%s", i, outs[i])
		}
	}
	if wins != 1 {
		t.Fatalf("%d processes won, want 1", wins)
	}
	b, _, err := archive.GetBytes(context.Background(), s, "authz/1/consumed")
	if err != nil || !strings.HasPrefix(string(b), "process ") {
		t.Errorf("stored %q, %v", b, err)
	}
}

func helperPut(root string) {
	s, err := fs.New(root, fs.Options{})
	if err != nil {
		fmt.Println("RESULT error", err)
		return
	}
	ns, _ := strconv.ParseInt(os.Getenv("ESEAL_FS_TEST_START"), 10, 64)
	time.Sleep(time.Until(time.Unix(0, ns)))
	_, err = archive.PutBytesIfAbsent(context.Background(), s, "authz/1/consumed", []byte("process "+os.Getenv("ESEAL_FS_TEST_ID")))
	switch {
	case err == nil:
		fmt.Println("RESULT won")
	case errors.Is(err, archive.ErrExists):
		fmt.Println("RESULT exists")
	default:
		fmt.Println("RESULT error", err)
	}
}

// TestNesting: a key cannot be both an object and the parent of another,
// which MinIO could not list; the filesystem backend refuses it so that
// layout mistakes show up without MinIO.
func TestNesting(t *testing.T) {
	s := newStore(t, fs.Options{})
	ctx := context.Background()
	for _, k := range []string{"docs/1", "docs/2/record.json"} {
		if _, err := archive.PutBytesIfAbsent(ctx, s, k, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"docs/1/sig", "docs/2", "docs", "docs/1/a/b"} {
		var ke *archive.KeyError
		if _, err := archive.PutBytesIfAbsent(ctx, s, k, []byte("x")); !errors.As(err, &ke) {
			t.Errorf("put %q: err = %v, want *archive.KeyError", k, err)
		}
	}
	// Once the child is gone, its parent key is free.
	if err := s.Delete(ctx, "docs/2/record.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := archive.PutBytesIfAbsent(ctx, s, "docs/2", []byte("x")); err != nil {
		t.Errorf("put docs/2 after its child was deleted: %v", err)
	}
}
