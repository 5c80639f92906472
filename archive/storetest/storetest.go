// Package storetest is the conformance suite every archive.Store backend
// runs (the model is perkeep's blobserver/storagetest): round trips,
// put-if-absent under a race, list order, retention and legal hold, key
// validation and large objects. A backend's test calls
//
//	storetest.Run(t, func(t *testing.T) archive.Store { … }, storetest.Options{})
//
// Retention is checked against real time with short durations, because an
// S3 server's clock cannot be injected; the retention subtests wait a few
// seconds and run in parallel with each other.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"eseal/archive"
)

// Options tunes the suite.
type Options struct {
	// Retention is how long the retention tests retain objects before
	// waiting for it to pass; default 2s.
	Retention time.Duration
	// LargeSize is the size of the large-object test; default 12 MB.
	LargeSize int64
}

// Run runs the suite. newStore returns a new, empty store for one subtest
// (subtests run in parallel); its clean-up belongs in t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) archive.Store, opts Options) {
	if opts.Retention == 0 {
		opts.Retention = 2 * time.Second
	}
	if opts.LargeSize == 0 {
		opts.LargeSize = 12 << 20
	}
	tests := []struct {
		name string
		fn   func(*testing.T, archive.Store, Options)
	}{
		{"RoundTrip", testRoundTrip},
		{"PutExisting", testPutExisting},
		{"PutSizeMismatch", testPutSizeMismatch},
		{"ConcurrentPut", testConcurrentPut},
		{"List", testList},
		{"ListStop", testListStop},
		{"Missing", testMissing},
		{"KeyValidation", testKeyValidation},
		{"LargeObject", testLargeObject},
		{"Bytes", testBytes},
		{"LegalHold", testLegalHold},
		{"Retention", testRetention},
		{"RetentionHoldAfterExpiry", testRetentionHoldAfterExpiry},
		{"Versions", testVersions},
		{"PutRetained", testPutRetained},
		{"Batch", testBatch},
		{"DeleteMany", testDeleteMany},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t), opts)
		})
	}
}

func put(t *testing.T, s archive.Store, key, content string) archive.ObjectInfo {
	t.Helper()
	info, err := s.PutIfAbsent(context.Background(), key, strings.NewReader(content), int64(len(content)))
	if err != nil {
		t.Fatalf("PutIfAbsent(%q): %v", key, err)
	}
	return info
}

func get(t *testing.T, s archive.Store, key string) (string, archive.ObjectInfo) {
	t.Helper()
	rc, info, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return string(b), info
}

func testRoundTrip(t *testing.T, s archive.Store, _ Options) {
	ctx := context.Background()
	before := time.Now().Add(-time.Minute)
	info := put(t, s, "rt/doc-1.pdf", "hello, archive")
	if info.Key != "rt/doc-1.pdf" || info.Size != 14 {
		t.Errorf("PutIfAbsent info = %+v, want key rt/doc-1.pdf size 14", info)
	}
	got, ginfo := get(t, s, "rt/doc-1.pdf")
	if got != "hello, archive" {
		t.Errorf("Get content = %q", got)
	}
	hinfo, err := s.Head(ctx, "rt/doc-1.pdf")
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	for _, in := range []archive.ObjectInfo{ginfo, hinfo} {
		if in.Key != "rt/doc-1.pdf" || in.Size != 14 || in.ModTime.Before(before) || in.LegalHold || !in.RetainUntil.IsZero() {
			t.Errorf("info = %+v, want key, size 14, recent ModTime, no lock", in)
		}
		if in.VersionID != info.VersionID {
			t.Errorf("VersionID = %q, PutIfAbsent said %q", in.VersionID, info.VersionID)
		}
	}

	// Unknown size, and an empty object.
	if _, err := s.PutIfAbsent(ctx, "rt/unknown-size", strings.NewReader("abc"), -1); err != nil {
		t.Fatalf("PutIfAbsent size -1: %v", err)
	}
	if got, info := get(t, s, "rt/unknown-size"); got != "abc" || info.Size != 3 {
		t.Errorf("size -1: got %q size %d", got, info.Size)
	}
	put(t, s, "rt/empty", "")
	if got, info := get(t, s, "rt/empty"); got != "" || info.Size != 0 {
		t.Errorf("empty: got %q size %d", got, info.Size)
	}

}

func testPutExisting(t *testing.T, s archive.Store, _ Options) {
	put(t, s, "px/a", "first")
	_, err := s.PutIfAbsent(context.Background(), "px/a", strings.NewReader("second"), 6)
	if !errors.Is(err, archive.ErrExists) {
		t.Fatalf("second PutIfAbsent: err = %v, want ErrExists", err)
	}
	if got, _ := get(t, s, "px/a"); got != "first" {
		t.Errorf("after refused put, content = %q, want first", got)
	}
}

// testPutSizeMismatch checks that a reader shorter than the size given
// stores nothing, so a truncated upload never becomes a document.
func testPutSizeMismatch(t *testing.T, s archive.Store, _ Options) {
	ctx := context.Background()
	_, err := s.PutIfAbsent(ctx, "sm/short", strings.NewReader("abc"), 10)
	if err == nil {
		t.Fatal("PutIfAbsent with a short reader succeeded")
	}
	if _, err := s.Head(ctx, "sm/short"); !errors.Is(err, archive.ErrNotFound) {
		t.Errorf("Head after failed put: err = %v, want ErrNotFound", err)
	}
}

func testConcurrentPut(t *testing.T, s archive.Store, _ Options) {
	const n = 20
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		errs    [n]error
		content [n]string
	)
	for i := range n {
		content[i] = fmt.Sprintf("writer %02d %s", i, strings.Repeat("x", 1000*i))
		wg.Go(func() {
			<-start
			_, errs[i] = s.PutIfAbsent(context.Background(), "race/consumed", strings.NewReader(content[i]), int64(len(content[i])))
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("writers %d and %d both succeeded", winner, i)
			}
			winner = i
		case !errors.Is(err, archive.ErrExists):
			t.Errorf("writer %d: err = %v, want nil or ErrExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer succeeded")
	}
	if got, _ := get(t, s, "race/consumed"); got != content[winner] {
		t.Errorf("stored content is not the winner's (writer %d): %.20q…", winner, got)
	}
}

func list(t *testing.T, s archive.Store, prefix string) []string {
	t.Helper()
	var keys []string
	err := s.List(context.Background(), prefix, func(info archive.ObjectInfo) error {
		keys = append(keys, info.Key)
		if info.Size != int64(len(info.Key)) {
			t.Errorf("List: %s size %d, want %d", info.Key, info.Size, len(info.Key))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return keys
}

func testList(t *testing.T, s archive.Store, _ Options) {
	// "/" sorts between "." and "0": "ls/a.x" < "ls/a/b" < "ls/a0".
	keys := []string{"ls/a-c", "ls/a.x", "ls/a/b", "ls/a/b0/c", "ls/a0", "ls/ab", "ls/b/c/d", "ls/B", "ls/_", "ls/0"}
	for _, i := range rand.Perm(len(keys)) {
		put(t, s, keys[i], keys[i]) // content = key, so size = len(key)
	}
	put(t, s, "lsx", "lsx")
	sorted := slices.Sorted(slices.Values(keys))
	filter := func(prefix string) []string {
		var out []string
		for _, k := range sorted {
			if strings.HasPrefix(k, prefix) {
				out = append(out, k)
			}
		}
		return out
	}
	for _, prefix := range []string{"ls/", "ls/a", "ls/a/", "ls/a/b", "ls/b/c/", "ls/B", "ls/nothing", "ls/nothing/"} {
		if got, want := list(t, s, prefix), filter(prefix); !slices.Equal(got, want) {
			t.Errorf("List(%q) = %q, want %q", prefix, got, want)
		}
	}
	if got := list(t, s, "ls"); !slices.Equal(got, append(slices.Clone(sorted), "lsx")) {
		t.Errorf("List(ls) = %q", got)
	}
	all := list(t, s, "")
	if !slices.IsSorted(all) {
		t.Errorf("List(\"\") not in lexical order: %q", all)
	}
}

func testListStop(t *testing.T, s archive.Store, _ Options) {
	for _, k := range []string{"st/1", "st/2", "st/3"} {
		put(t, s, k, k)
	}
	stop := errors.New("stop")
	var seen []string
	err := s.List(context.Background(), "st/", func(info archive.ObjectInfo) error {
		seen = append(seen, info.Key)
		if len(seen) == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !slices.Equal(seen, []string{"st/1", "st/2"}) {
		t.Errorf("List stopping at the second: err = %v, seen %q", err, seen)
	}
}

func testMissing(t *testing.T, s archive.Store, _ Options) {
	ctx := context.Background()
	put(t, s, "ms/there", "x")
	for _, key := range []string{"ms/absent", "ms/there/below", "absent-top"} {
		if _, _, err := s.Get(ctx, key); !errors.Is(err, archive.ErrNotFound) {
			t.Errorf("Get(%q): err = %v, want ErrNotFound", key, err)
		}
		if _, err := s.Head(ctx, key); !errors.Is(err, archive.ErrNotFound) {
			t.Errorf("Head(%q): err = %v, want ErrNotFound", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, archive.ErrNotFound) {
			t.Errorf("Delete(%q): err = %v, want ErrNotFound", key, err)
		}
		if err := s.SetRetention(ctx, key, time.Now().Add(time.Hour)); !errors.Is(err, archive.ErrNotFound) {
			t.Errorf("SetRetention(%q): err = %v, want ErrNotFound", key, err)
		}
		if err := s.SetLegalHold(ctx, key, true); !errors.Is(err, archive.ErrNotFound) {
			t.Errorf("SetLegalHold(%q): err = %v, want ErrNotFound", key, err)
		}
	}
}

// BadKeys are keys every Store must refuse with a *archive.KeyError.
var BadKeys = []string{
	"",
	"../x",
	"a/../../x",
	"a//b",
	"/abs",
	"a/",
	".",
	"a/./b",
	"..",
	"a\x00b",
	"a b",
	`a\b`,
	"a~b",
	"文档",
	"a/b\n",
	strings.Repeat("k", archive.MaxKeyLen+1),
}

func testKeyValidation(t *testing.T, s archive.Store, _ Options) {
	ctx := context.Background()
	long := strings.Repeat("k", archive.MaxKeyLen)
	if err := archive.ValidateKey(long); err != nil {
		t.Errorf("key of MaxKeyLen bytes refused: %v", err)
	}
	isKeyErr := func(op, key string, err error) {
		t.Helper()
		var ke *archive.KeyError
		if !errors.As(err, &ke) {
			t.Errorf("%s(%q): err = %v, want *archive.KeyError", op, key, err)
		}
	}
	for _, key := range BadKeys {
		_, err := s.PutIfAbsent(ctx, key, strings.NewReader("x"), 1)
		isKeyErr("PutIfAbsent", key, err)
		_, _, err = s.Get(ctx, key)
		isKeyErr("Get", key, err)
		_, err = s.Head(ctx, key)
		isKeyErr("Head", key, err)
		isKeyErr("SetRetention", key, s.SetRetention(ctx, key, time.Now().Add(time.Hour)))
		isKeyErr("SetLegalHold", key, s.SetLegalHold(ctx, key, true))
		isKeyErr("Delete", key, s.Delete(ctx, key))
	}
	for _, prefix := range []string{"../", "a//", "/a", "a/../b", "a\x00", strings.Repeat("p", archive.MaxKeyLen+1)} {
		isKeyErr("List", prefix, s.List(ctx, prefix, func(archive.ObjectInfo) error { return nil }))
	}
	// Nothing refused above was stored under some other name.
	if keys := list(t, s, ""); len(keys) != 0 {
		t.Errorf("after refused puts, store holds %q", keys)
	}
}

func testLargeObject(t *testing.T, s archive.Store, opts Options) {
	ctx := context.Background()
	src := rand.NewChaCha8([32]byte{'e', 's', 'e', 'a', 'l'})
	want := sha256.New()
	r := io.TeeReader(io.LimitReader(src, opts.LargeSize), want)
	if _, err := s.PutIfAbsent(ctx, "large/blob", r, opts.LargeSize); err != nil {
		t.Fatalf("PutIfAbsent: %v", err)
	}
	rc, info, err := s.Get(ctx, "large/blob")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	got := sha256.New()
	n, err := io.Copy(got, rc)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if n != opts.LargeSize || info.Size != opts.LargeSize {
		t.Errorf("read %d bytes, info.Size %d, want %d", n, info.Size, opts.LargeSize)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Error("content differs from what was stored")
	}
}

func testBytes(t *testing.T, s archive.Store, _ Options) {
	ctx := context.Background()
	if _, err := archive.PutBytesIfAbsent(ctx, s, "bytes/rec.json", []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	b, info, err := archive.GetBytes(ctx, s, "bytes/rec.json")
	if err != nil || string(b) != `{"a":1}` || info.Size != 7 {
		t.Errorf("GetBytes = %q, %+v, %v", b, info, err)
	}
	if _, err := archive.PutBytesIfAbsent(ctx, s, "bytes/big", make([]byte, archive.MaxBytes+1)); !errors.Is(err, archive.ErrTooLarge) {
		t.Errorf("PutBytesIfAbsent over MaxBytes: err = %v, want ErrTooLarge", err)
	}
	if _, err := s.PutIfAbsent(ctx, "bytes/big", io.LimitReader(zeros{}, archive.MaxBytes+1), archive.MaxBytes+1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := archive.GetBytes(ctx, s, "bytes/big"); !errors.Is(err, archive.ErrTooLarge) {
		t.Errorf("GetBytes over MaxBytes: err = %v, want ErrTooLarge", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func wantLocked(t *testing.T, op string, err error, hold bool) *archive.LockedError {
	t.Helper()
	var le *archive.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("%s: err = %v, want *archive.LockedError", op, err)
	}
	if le.Hold != hold {
		t.Errorf("%s: LockedError.Hold = %v, want %v", op, le.Hold, hold)
	}
	return le
}

func testLegalHold(t *testing.T, s archive.Store, _ Options) {
	ctx := context.Background()
	put(t, s, "hold/doc", "held")
	if err := s.SetLegalHold(ctx, "hold/doc", true); err != nil {
		t.Fatalf("SetLegalHold on: %v", err)
	}
	if info, err := s.Head(ctx, "hold/doc"); err != nil || !info.LegalHold {
		t.Errorf("Head after hold = %+v, %v; want LegalHold", info, err)
	}
	le := wantLocked(t, "Delete while held", s.Delete(ctx, "hold/doc"), true)
	if le.Key != "hold/doc" {
		t.Errorf("LockedError.Key = %q", le.Key)
	}
	if got, _ := get(t, s, "hold/doc"); got != "held" {
		t.Errorf("after refused delete, content = %q", got)
	}
	if err := s.SetLegalHold(ctx, "hold/doc", false); err != nil {
		t.Fatalf("SetLegalHold off: %v", err)
	}
	if err := s.Delete(ctx, "hold/doc"); err != nil {
		t.Fatalf("Delete after hold released: %v", err)
	}
	if _, err := s.Head(ctx, "hold/doc"); !errors.Is(err, archive.ErrNotFound) {
		t.Errorf("Head after delete: err = %v, want ErrNotFound", err)
	}
}

// testRetention: delete refused before expiry, shortening refused,
// extending allowed, delete allowed after expiry, and the key is then free
// again (no delete marker or stale lock left behind).
func testRetention(t *testing.T, s archive.Store, opts Options) {
	ctx := context.Background()
	put(t, s, "ret/doc", "retained")
	put(t, s, "ret/past", "x")
	until := time.Now().Add(opts.Retention)
	if err := s.SetRetention(ctx, "ret/doc", until); err != nil {
		t.Fatalf("SetRetention: %v", err)
	}
	info, err := s.Head(ctx, "ret/doc")
	if err != nil {
		t.Fatal(err)
	}
	if info.RetainUntil.Before(until) || info.RetainUntil.After(until.Add(time.Second)) {
		t.Errorf("RetainUntil = %v, want %v rounded up to the second", info.RetainUntil, until)
	}
	le := wantLocked(t, "Delete while retained", s.Delete(ctx, "ret/doc"), false)
	if !le.Until.Equal(info.RetainUntil) {
		t.Errorf("LockedError.Until = %v, want %v", le.Until, info.RetainUntil)
	}
	wantLocked(t, "shorten retention", s.SetRetention(ctx, "ret/doc", until.Add(-time.Second)), false)
	if err := s.SetRetention(ctx, "ret/doc", until); err != nil {
		t.Errorf("SetRetention to the same date: %v", err)
	}
	if err := s.SetRetention(ctx, "ret/past", time.Now().Add(-time.Hour)); err == nil {
		t.Error("SetRetention to a past date succeeded")
	}

	extended := until.Add(opts.Retention / 2)
	if err := s.SetRetention(ctx, "ret/doc", extended); err != nil {
		t.Fatalf("extend retention: %v", err)
	}
	if info, err := s.Head(ctx, "ret/doc"); err != nil || info.RetainUntil.Before(extended) {
		t.Errorf("after extending, RetainUntil = %v (%v), want ≥ %v", info.RetainUntil, err, extended)
	}

	time.Sleep(time.Until(until) + 100*time.Millisecond)
	wantLocked(t, "Delete after the first date but before the extended one", s.Delete(ctx, "ret/doc"), false)

	waitPast(t, s, "ret/doc")
	if err := s.Delete(ctx, "ret/doc"); err != nil {
		t.Fatalf("Delete after retention: %v", err)
	}
	if _, _, err := s.Get(ctx, "ret/doc"); !errors.Is(err, archive.ErrNotFound) {
		t.Errorf("Get after delete: err = %v, want ErrNotFound", err)
	}
	if keys := list(t, s, "ret/doc"); len(keys) != 0 {
		t.Errorf("List after delete = %q", keys)
	}
	put(t, s, "ret/doc", "retained")
	if info, err := s.Head(ctx, "ret/doc"); err != nil || !info.RetainUntil.IsZero() || info.LegalHold {
		t.Errorf("re-put after delete: %+v, %v; want no lock carried over", info, err)
	}
}

// testRetentionHoldAfterExpiry: a legal hold blocks deletion after the
// retention has passed; releasing it allows the delete.
func testRetentionHoldAfterExpiry(t *testing.T, s archive.Store, opts Options) {
	ctx := context.Background()
	put(t, s, "rh/doc", "held")
	if err := s.SetRetention(ctx, "rh/doc", time.Now().Add(opts.Retention)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLegalHold(ctx, "rh/doc", true); err != nil {
		t.Fatal(err)
	}
	waitPast(t, s, "rh/doc")
	wantLocked(t, "Delete held after retention", s.Delete(ctx, "rh/doc"), true)
	if got, _ := get(t, s, "rh/doc"); got != "held" {
		t.Errorf("content = %q", got)
	}
	if err := s.SetLegalHold(ctx, "rh/doc", false); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "rh/doc"); err != nil {
		t.Fatalf("Delete after retention, hold released: %v", err)
	}
}

// testPutRetained: an object put with retention is locked from the start,
// whether the store locks in the put (archive.RetainingStore) or
// archive.PutRetained makes two writes; it is still put-if-absent, and a
// past date is refused.
func testPutRetained(t *testing.T, s archive.Store, opts Options) {
	ctx := context.Background()
	until := time.Now().Add(opts.Retention)
	info, err := archive.PutRetained(ctx, s, "pr/a", []byte("locked at put"), until)
	if err != nil {
		t.Fatalf("PutRetained: %v", err)
	}
	head, err := s.Head(ctx, "pr/a")
	if err != nil {
		t.Fatal(err)
	}
	if head.RetainUntil.Before(until) || head.RetainUntil.After(until.Add(time.Second)) {
		t.Errorf("RetainUntil = %v, want %v rounded up to the second", head.RetainUntil, until)
	}
	if head.VersionID != info.VersionID {
		t.Errorf("version %q, put said %q", head.VersionID, info.VersionID)
	}
	wantLocked(t, "Delete of an object put with retention", s.Delete(ctx, "pr/a"), false)
	if _, err := archive.PutRetained(ctx, s, "pr/a", []byte("second"), until); !errors.Is(err, archive.ErrExists) {
		t.Errorf("second PutRetained: err = %v, want ErrExists", err)
	}
	if got, _ := get(t, s, "pr/a"); got != "locked at put" {
		t.Errorf("content = %q", got)
	}
	if _, err := archive.PutRetained(ctx, s, "pr/past", []byte("x"), time.Now().Add(-time.Hour)); err == nil {
		t.Error("PutRetained with a past date succeeded")
	} else if errors.Is(err, archive.ErrStoredUnlocked) {
		// The fallback stores first: the object exists, unlocked, and says so.
		if info, herr := s.Head(ctx, "pr/past"); herr != nil || !info.RetainUntil.IsZero() {
			t.Errorf("after a refused lock: %+v, %v", info, herr)
		}
	}
	waitPast(t, s, "pr/a")
	if err := s.Delete(ctx, "pr/a"); err != nil {
		t.Fatalf("Delete after retention: %v", err)
	}
}

// testBatch: a batch makes every put and lock, concurrently; a put with
// Existing accepts and locks an object already there; a failed write is
// reported by key while the others are made.
func testBatch(t *testing.T, s archive.Store, opts Options) {
	ctx := context.Background()
	until := time.Now().Add(opts.Retention)
	put(t, s, "b/staged", "staged")
	put(t, s, "b/again", "earlier")
	infos, err := archive.Batch{
		Puts: []archive.Put{
			{Key: "b/plain", Data: []byte("plain")},
			{Key: "b/final", Data: []byte("final"), RetainUntil: until},
			{Key: "b/again", Data: []byte("earlier"), RetainUntil: until, Existing: true},
		},
		Locks: []archive.Lock{{Key: "b/staged", Until: until}},
	}.Write(ctx, s)
	if err != nil {
		t.Fatalf("Batch: %v", err)
	}
	if len(infos) != 3 || infos[0].Key != "b/plain" || infos[1].Key != "b/final" || infos[2].Key != "b/again" {
		t.Errorf("infos = %+v", infos)
	}
	for key, locked := range map[string]bool{"b/plain": false, "b/final": true, "b/again": true, "b/staged": true} {
		info, err := s.Head(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if got := !info.RetainUntil.IsZero(); got != locked {
			t.Errorf("%s: locked %v, want %v", key, got, locked)
		}
	}
	if got, _ := get(t, s, "b/again"); got != "earlier" {
		t.Errorf("an Existing put replaced the object: %q", got)
	}
	_, err = archive.Batch{Puts: []archive.Put{{Key: "b/again", Data: []byte("other"), Existing: true}}}.Write(ctx, s)
	if !errors.Is(err, archive.ErrAltered) {
		t.Errorf("an Existing put over other bytes: err = %v, want ErrAltered", err)
	}
	_, err = archive.Batch{Puts: []archive.Put{{Key: "b/plain", Data: []byte("x")}, {Key: "b/new", Data: []byte("new")}}}.Write(ctx, s)
	if !errors.Is(err, archive.ErrExists) {
		t.Errorf("Batch over an existing key: err = %v, want ErrExists", err)
	}
	if got, _ := get(t, s, "b/new"); got != "new" {
		t.Errorf("the other put of a failed batch: %q", got)
	}
	for _, k := range []string{"b/final", "b/again", "b/staged"} {
		waitPast(t, s, k)
	}
}

// testDeleteMany removes several objects at once, named by key and (where
// the store has them) version: those no lock protects go, a locked one and
// its neighbours' outcomes are told apart, one already gone is no error.
func testDeleteMany(t *testing.T, s archive.Store, opts Options) {
	ctx := context.Background()
	md, ok := s.(archive.ManyDeleter)
	if !ok {
		t.Fatalf("%T does not remove many objects at once (archive.ManyDeleter)", s)
	}
	a, b := put(t, s, "dm/a", "dm/a"), put(t, s, "dm/sub/b", "dm/sub/b")
	locked := put(t, s, "dm/locked", "dm/locked")
	if err := s.SetRetention(ctx, "dm/locked", time.Now().Add(opts.Retention)); err != nil {
		t.Fatal(err)
	}
	gone := put(t, s, "dm/gone", "gone")
	if err := s.Delete(ctx, "dm/gone"); err != nil {
		t.Fatal(err)
	}
	plain := put(t, s, "dm/plain", "no version given")
	plain.VersionID = ""
	errs := md.DeleteMany(ctx, []archive.ObjectInfo{a, locked, b, gone, plain})
	if len(errs) != 5 {
		t.Fatalf("DeleteMany: %d errors for 5 objects", len(errs))
	}
	for i, want := range []string{"", "locked", "", "", ""} {
		var le *archive.LockedError
		switch {
		case want == "locked" && !errors.As(errs[i], &le):
			t.Errorf("object %d: err = %v, want a *LockedError", i, errs[i])
		case want == "" && errs[i] != nil && !errors.Is(errs[i], archive.ErrNotFound):
			t.Errorf("object %d: err = %v", i, errs[i])
		}
	}
	if got := list(t, s, "dm/"); fmt.Sprint(got) != "[dm/locked]" {
		t.Errorf("left after DeleteMany: %v, want [dm/locked]", got)
	}
	if got, _ := get(t, s, "dm/locked"); got != "dm/locked" {
		t.Errorf("the locked object: %q", got)
	}
	if err := archive.DeleteMany(ctx, s, nil); err != nil {
		t.Errorf("DeleteMany of nothing: %v", err)
	}
	waitPast(t, s, "dm/locked")
}

// waitPast sleeps until the object's retention has passed, with a margin.
func waitPast(t *testing.T, s archive.Store, key string) {
	t.Helper()
	info, err := s.Head(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(info.RetainUntil) + 200*time.Millisecond)
}

// testVersions: every object written through the Store has one version,
// which ListVersions lists as current, in key order, with the version id
// Head reports; GetVersion reads it with its own retention and hold.
func testVersions(t *testing.T, s archive.Store, opts Options) {
	ctx := context.Background()
	a := put(t, s, "ver/a", "first")
	b := put(t, s, "ver/b", "second")
	put(t, s, "other/c", "not listed")
	if err := s.SetLegalHold(ctx, "ver/a", true); err != nil {
		t.Fatalf("SetLegalHold: %v", err)
	}
	until := time.Now().Add(opts.Retention)
	if err := s.SetRetention(ctx, "ver/b", until); err != nil {
		t.Fatalf("SetRetention: %v", err)
	}
	var got []archive.ObjectInfo
	if err := s.ListVersions(ctx, "ver/", func(o archive.ObjectInfo) error {
		got = append(got, o)
		return nil
	}); err != nil {
		t.Fatalf("ListVersions: %v", err)
	}
	if len(got) != 2 || got[0].Key != "ver/a" || got[1].Key != "ver/b" {
		t.Fatalf("ListVersions = %+v, want ver/a and ver/b", got)
	}
	for i, want := range []archive.ObjectInfo{a, b} {
		if got[i].VersionID != want.VersionID || got[i].Noncurrent || got[i].Size != want.Size {
			t.Errorf("ListVersions[%d] = %+v, want version %q, current, size %d", i, got[i], want.VersionID, want.Size)
		}
	}
	for _, tc := range []struct {
		info    archive.ObjectInfo
		content string
		hold    bool
		retain  bool
	}{{got[0], "first", true, false}, {got[1], "second", false, true}} {
		rc, info, err := s.GetVersion(ctx, tc.info.Key, tc.info.VersionID)
		if err != nil {
			t.Fatalf("GetVersion(%q, %q): %v", tc.info.Key, tc.info.VersionID, err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(body) != tc.content {
			t.Errorf("GetVersion(%q) = %q, %v; want %q", tc.info.Key, body, err, tc.content)
		}
		if info.LegalHold != tc.hold || info.RetainUntil.IsZero() == tc.retain || info.VersionID != tc.info.VersionID {
			t.Errorf("GetVersion(%q) info = %+v, want hold %v, retention %v", tc.info.Key, info, tc.hold, tc.retain)
		}
	}
	if _, _, err := s.GetVersion(ctx, "ver/none", ""); !errors.Is(err, archive.ErrNotFound) {
		t.Errorf("GetVersion of a missing key: err = %v, want ErrNotFound", err)
	}
	var ke *archive.KeyError
	if _, _, err := s.GetVersion(ctx, "../x", ""); !errors.As(err, &ke) {
		t.Errorf("GetVersion(../x): err = %v, want *archive.KeyError", err)
	}
	if err := s.SetLegalHold(ctx, "ver/a", false); err != nil {
		t.Fatalf("SetLegalHold off: %v", err)
	}
}
