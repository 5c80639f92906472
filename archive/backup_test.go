package archive_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/fs"
)

func newFS(t *testing.T) *fs.Store {
	t.Helper()
	s, err := fs.New(t.TempDir(), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func putString(t *testing.T, s archive.Store, key, content string) {
	t.Helper()
	if _, err := archive.PutBytesIfAbsent(context.Background(), s, key, []byte(content)); err != nil {
		t.Fatal(err)
	}
}

// TestBackupRestoreFS: a backup holds every object with its retention and
// hold; running it again copies nothing; a restore refuses a store that is
// not empty, and rebuilds an empty one whose locks refuse deletion.
func TestBackupRestoreFS(t *testing.T) {
	ctx := context.Background()
	src, bak := newFS(t), newFS(t)
	until := time.Now().Add(time.Hour).Truncate(time.Second)
	putString(t, src, "docs/a/document.pdf", "%PDF-a")
	putString(t, src, "docs/a/record.json", `{"id":"a"}`)
	putString(t, src, "keys/s1/key.wrapped", "wrapped key bytes")
	putString(t, src, "pending/b.json", "{}")
	for _, k := range []string{"docs/a/document.pdf", "docs/a/record.json"} {
		if err := src.SetRetention(ctx, k, until); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.SetLegalHold(ctx, "docs/a/document.pdf", true); err != nil {
		t.Fatal(err)
	}

	var calls, lastDone, lastTotal int
	rep, err := archive.Backup(ctx, src, bak, archive.CopyOptions{Progress: func(done, total int) { calls++; lastDone, lastTotal = done, total }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Versions != 4 || rep.Copied != 4 || rep.Present != 0 || rep.Retained != 2 || rep.Held != 1 || !rep.OK() {
		t.Fatalf("first backup: %+v", rep)
	}
	if calls != 5 || lastDone != 4 || lastTotal != 4 {
		t.Errorf("progress: %d calls, last %d/%d; want 5 calls ending 4/4", calls, lastDone, lastTotal)
	}
	checkCopy(t, src, bak)

	// Resumed (or repeated): nothing is written again.
	rep, err = archive.Backup(ctx, src, bak, archive.CopyOptions{})
	if err != nil || rep.Copied != 0 || rep.Present != 4 || rep.Retained != 0 || rep.Held != 0 {
		t.Fatalf("second backup: %+v, %v", rep, err)
	}
	// A backup interrupted after a copy and before its lock finishes the lock.
	putString(t, src, "docs/c/document.pdf", "%PDF-c")
	if err := src.SetRetention(ctx, "docs/c/document.pdf", until); err != nil {
		t.Fatal(err)
	}
	putString(t, bak, "docs/c/document.pdf", "%PDF-c")
	rep, err = archive.Backup(ctx, src, bak, archive.CopyOptions{})
	if err != nil || rep.Copied != 0 || rep.Present != 5 || rep.Retained != 1 {
		t.Fatalf("backup after an interrupted one: %+v, %v", rep, err)
	}

	// Restore refuses a store that holds anything, and an empty backup.
	dst := newFS(t)
	putString(t, dst, "docs/z/record.json", "{}")
	var ne *archive.NotEmptyError
	if _, err := archive.Restore(ctx, bak, dst, archive.CopyOptions{}); !errors.As(err, &ne) || ne.Key != "docs/z/record.json" {
		t.Fatalf("restore into a non-empty store: err = %v, want NotEmptyError naming docs/z/record.json", err)
	}
	if _, err := archive.Restore(ctx, newFS(t), newFS(t), archive.CopyOptions{}); !errors.Is(err, archive.ErrEmptySource) {
		t.Fatalf("restore from an empty store: err = %v, want ErrEmptySource", err)
	}

	dst = newFS(t)
	rep, err = archive.Restore(ctx, bak, dst, archive.CopyOptions{})
	if err != nil || rep.Copied != 5 || !rep.OK() {
		t.Fatalf("restore: %+v, %v", rep, err)
	}
	checkCopy(t, src, dst)
	for _, k := range []string{"docs/a/document.pdf", "docs/a/record.json", "docs/c/document.pdf"} {
		var le *archive.LockedError
		if err := dst.Delete(ctx, k); !errors.As(err, &le) {
			t.Errorf("restored %s: delete err = %v, want *archive.LockedError", k, err)
		}
	}
	if _, err := archive.Restore(ctx, bak, dst, archive.CopyOptions{}); !errors.As(err, &ne) {
		t.Fatalf("second restore into the restored store: err = %v, want NotEmptyError", err)
	}
}

// TestRestoreResumes: a restore cut short (its marker still there) may be
// run again and finishes; the marker is gone afterwards.
func TestRestoreResumes(t *testing.T) {
	ctx := context.Background()
	bak, dst := newFS(t), newFS(t)
	putString(t, bak, "docs/a/document.pdf", "%PDF-a")
	putString(t, bak, "docs/a/record.json", "{}")
	// What a restore cut short after its first object leaves behind.
	putString(t, dst, "restore/in-progress.json", "{}")
	putString(t, dst, "docs/a/document.pdf", "%PDF-a")
	rep, err := archive.Restore(ctx, bak, dst, archive.CopyOptions{})
	if err != nil || rep.Copied != 1 || rep.Present != 1 {
		t.Fatalf("resumed restore: %+v, %v", rep, err)
	}
	if _, err := dst.Head(ctx, "restore/in-progress.json"); !errors.Is(err, archive.ErrNotFound) {
		t.Errorf("restore marker after a finished restore: %v", err)
	}
}

// TestBackupConflict: an object in the backup that differs from the source
// is left alone and reported, and the rest is copied.
func TestBackupConflict(t *testing.T) {
	ctx := context.Background()
	src, bak := newFS(t), newFS(t)
	putString(t, src, "docs/a/record.json", `{"title":"真"}`)
	putString(t, src, "docs/b/record.json", `{}`)
	putString(t, bak, "docs/a/record.json", `{"title":"假"}`)
	rep, err := archive.Backup(ctx, src, bak, archive.CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || len(rep.Conflicts) != 1 || rep.Conflicts[0].Key != "docs/a/record.json" || rep.Copied != 1 {
		t.Fatalf("backup over a differing object: %+v", rep)
	}
}

// TestVersionKey: an older version's key stays a valid key whatever the
// version id holds.
func TestVersionKey(t *testing.T) {
	for _, id := range []string{"3f1c9a2e-5b7d-4e8f-9a0b-1c2d3e4f5a6b", "null", "a+b/c=", ".."} {
		k := archive.VersionKey("docs/a/document.pdf", id)
		if err := archive.ValidateKey(k); err != nil || !strings.HasPrefix(k, archive.VersionsPrefix+"docs/a/document.pdf/") {
			t.Errorf("VersionKey(%q) = %q, %v", id, k, err)
		}
	}
}

// checkCopy compares every object of want with got: bytes, retention, hold.
func checkCopy(t *testing.T, want, got archive.Store) {
	t.Helper()
	ctx := context.Background()
	n := 0
	err := want.List(ctx, "", func(o archive.ObjectInfo) error {
		n++
		wb, wi, err := archive.GetBytes(ctx, want, o.Key)
		if err != nil {
			return err
		}
		gb, gi, err := archive.GetBytes(ctx, got, o.Key)
		if err != nil {
			return err
		}
		if string(wb) != string(gb) || !wi.RetainUntil.Equal(gi.RetainUntil) || wi.LegalHold != gi.LegalHold {
			t.Errorf("%s: copy %q retain %v hold %v, source %q retain %v hold %v", o.Key, gb, gi.RetainUntil, gi.LegalHold, wb, wi.RetainUntil, wi.LegalHold)
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("comparing copies: %d objects, %v", n, err)
	}
}

// BenchmarkBackupFS copies 200 retained objects of 64 KiB between two
// filesystem stores: a first backup per iteration, then (Resume) a second
// that finds everything there.
func BenchmarkBackupFS(b *testing.B) {
	ctx := context.Background()
	src, err := fs.New(b.TempDir(), fs.Options{})
	if err != nil {
		b.Fatal(err)
	}
	body := strings.Repeat("x", 64<<10)
	until := time.Now().Add(time.Hour)
	for i := range 200 {
		k := fmt.Sprintf("docs/d%03d/document.pdf", i)
		if _, err := archive.PutBytesIfAbsent(ctx, src, k, []byte(body)); err != nil {
			b.Fatal(err)
		}
		if err := src.SetRetention(ctx, k, until); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(200 * int64(len(body)))
	for _, resume := range []bool{false, true} {
		name := "First"
		if resume {
			name = "Resume"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(200 * int64(len(body)))
			for b.Loop() {
				b.StopTimer()
				dst, err := fs.New(b.TempDir(), fs.Options{})
				if err != nil {
					b.Fatal(err)
				}
				if resume {
					if _, err := archive.Backup(ctx, src, dst, archive.CopyOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				if _, err := archive.Backup(ctx, src, dst, archive.CopyOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
