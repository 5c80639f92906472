package fs_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"eseal/archive"
	"eseal/archive/fs"
)

// entries lists what a store directory holds on disk, side files and
// temporary files included.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// TestLocksInAttributes: on a filesystem with user extended attributes and
// unnamed files (Linux, ext4 here), an object put with retention is one
// file carrying its lock, and no put or lock change leaves any other file
// in its directory.
func TestLocksInAttributes(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("extended attributes and O_TMPFILE are the Linux path")
	}
	s := newStore(t, fs.Options{})
	ctx := context.Background()
	if err := unix.Setxattr(s.Root(), "user.eseal.probe", []byte("x"), 0); errors.Is(err, unix.ENOTSUP) {
		t.Skip("this filesystem keeps no user attributes")
	}
	until := time.Now().Add(time.Hour).Truncate(time.Second)
	if _, err := s.PutRetained(ctx, "docs/a", strings.NewReader("a"), 1, until); err != nil {
		t.Fatal(err)
	}
	if _, err := archive.PutBytesIfAbsent(ctx, s, "docs/b", []byte("b")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRetention(ctx, "docs/b", until); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLegalHold(ctx, "docs/b", true); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.Root(), "docs~")
	if got := fmt.Sprint(entries(t, dir)); got != "[a b]" {
		t.Errorf("the directory holds %s, want [a b]: no side files, no temporary files", got)
	}
	for _, c := range []struct {
		key  string
		want string
	}{
		{"a", fmt.Sprintf(`{"retainUntil":%q}`, until.UTC().Format(time.RFC3339))},
		{"b", fmt.Sprintf(`{"retainUntil":%q,"legalHold":true}`, until.UTC().Format(time.RFC3339))},
	} {
		buf := make([]byte, 256)
		n, err := unix.Getxattr(filepath.Join(dir, c.key), "user.eseal.lock", buf)
		if err != nil {
			t.Fatalf("%s: %v", c.key, err)
		}
		if string(buf[:n]) != c.want {
			t.Errorf("%s: lock attribute %s, want %s", c.key, buf[:n], c.want)
		}
		info, err := s.Head(ctx, "docs/"+c.key)
		if err != nil || !info.RetainUntil.Equal(until) {
			t.Errorf("%s: head = %+v, %v", c.key, info, err)
		}
	}
	var le *archive.LockedError
	if err := s.Delete(ctx, "docs/a"); !errors.As(err, &le) {
		t.Errorf("delete of a locked object: %v", err)
	}
}

// TestLocksAcrossLayouts: a store written with side files (before locks
// moved into attributes, or on a filesystem without them) keeps its locks
// when opened with attributes, and a lock changed there moves into the
// attribute; the other way round, a side file written by a portable store
// replaces the attribute.
func TestLocksAcrossLayouts(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "data")
	until := time.Now().Add(time.Hour).Truncate(time.Second)
	old, err := fs.New(root, fs.Options{Portable: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"x/held", "x/kept"} {
		if _, err := old.PutRetained(ctx, k, strings.NewReader(k), int64(len(k)), until); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.SetLegalHold(ctx, "x/held", true); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(entries(t, filepath.Join(root, "x~"))); got != "[held held~lock kept kept~lock]" {
		t.Fatalf("portable store wrote %s", got)
	}
	s, err := fs.New(root, fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"x/held", "x/kept"} {
		info, err := s.Head(ctx, k)
		if err != nil || !info.RetainUntil.Equal(until) || info.LegalHold != (k == "x/held") {
			t.Errorf("%s read through the new layout: %+v, %v", k, info, err)
		}
		var le *archive.LockedError
		if err := s.Delete(ctx, k); !errors.As(err, &le) {
			t.Errorf("delete of %s: %v, want *archive.LockedError", k, err)
		}
	}
	if err := s.SetLegalHold(ctx, "x/held", false); err != nil {
		t.Fatal(err)
	}
	info, err := s.Head(ctx, "x/held")
	if err != nil || info.LegalHold || !info.RetainUntil.Equal(until) {
		t.Errorf("after the hold is lifted: %+v, %v; want the retention kept, no hold", info, err)
	}
	want := "[held held~lock kept kept~lock]"
	if _, attrs := unix.Getxattr(filepath.Join(root, "x~", "held"), "user.eseal.lock", nil); attrs == nil {
		want = "[held kept kept~lock]" // the change moved the lock into the attribute
	}
	if got := fmt.Sprint(entries(t, filepath.Join(root, "x~"))); got != want {
		t.Errorf("after the change: %s, want %s", got, want)
	}
	// Back to side files: the portable store's change is the one that holds.
	if err := old.SetLegalHold(ctx, "x/held", true); err != nil {
		t.Fatal(err)
	}
	for _, st := range []*fs.Store{old, s} {
		if info, err := st.Head(ctx, "x/held"); err != nil || !info.LegalHold {
			t.Errorf("hold set by the portable store, read back: %+v, %v", info, err)
		}
	}
}

const ownerEnv = "ESEAL_FS_TEST_OWNER"

// TestLocksAsOwner runs the lock changes in a process that is not root
// (this test binary re-executed as nobody, when the tests run as root):
// objects are read-only (0440), and the owner must still be able to lock
// and hold them, and nothing else may change.
func TestLocksAsOwner(t *testing.T) {
	if dir := os.Getenv(ownerEnv); dir != "" {
		if err := lockAsOwner(dir); err != nil {
			fmt.Println("RESULT", err)
			return
		}
		fmt.Println("RESULT ok")
		return
	}
	if os.Getuid() != 0 {
		if err := lockAsOwner(filepath.Join(t.TempDir(), "data")); err != nil {
			t.Fatal(err)
		}
		return
	}
	dir, err := os.MkdirTemp("", "eseal-fs-owner-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	const nobody = 65534
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	// The test binary's own directory is root's alone: nobody runs a copy.
	bin, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "fs.test")
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestLocksAsOwner$", "-test.v")
	cmd.Env = append(os.Environ(), ownerEnv+"="+filepath.Join(dir, "data"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "RESULT ok") {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
}

// lockAsOwner puts, locks, extends, holds and releases objects in a store
// at root, checking each step, and returns the first thing that went wrong.
func lockAsOwner(root string) error {
	ctx := context.Background()
	s, err := fs.New(root, fs.Options{})
	if err != nil {
		return err
	}
	until := time.Now().Add(time.Hour)
	if _, err := s.PutRetained(ctx, "o/a", strings.NewReader("a"), 1, until); err != nil {
		return fmt.Errorf("put retained: %w", err)
	}
	if _, err := archive.PutBytesIfAbsent(ctx, s, "o/b", []byte("b")); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	for _, k := range []string{"o/a", "o/b"} {
		if err := s.SetRetention(ctx, k, until.Add(time.Hour)); err != nil {
			return fmt.Errorf("set retention %s: %w", k, err)
		}
		if err := s.SetLegalHold(ctx, k, true); err != nil {
			return fmt.Errorf("hold %s: %w", k, err)
		}
		if err := s.SetLegalHold(ctx, k, false); err != nil {
			return fmt.Errorf("release %s: %w", k, err)
		}
		info, err := s.Head(ctx, k)
		if err != nil || info.LegalHold || !info.RetainUntil.After(until) {
			return fmt.Errorf("head %s: %+v, %v", k, info, err)
		}
		fi, err := os.Stat(filepath.Join(root, "o~", strings.TrimPrefix(k, "o/")))
		if err != nil || fi.Mode().Perm() != 0o440 {
			return fmt.Errorf("%s left with mode %v (%v), want 0440", k, fi.Mode().Perm(), err)
		}
		var le *archive.LockedError
		if err := s.Delete(ctx, k); !errors.As(err, &le) {
			return fmt.Errorf("delete %s: %v, want *archive.LockedError", k, err)
		}
	}
	return nil
}
