package fs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestGroupSync: concurrent puts and locks in one directory share its
// fsyncs (group commit); every one of them is stored, the locks hold, and
// no directory is left registered once they are done.
func TestGroupSync(t *testing.T) {
	for _, mode := range []SyncMode{SyncEachFile, SyncWholeFS} {
		t.Run(map[SyncMode]string{SyncEachFile: "each file", SyncWholeFS: "syncfs"}[mode], func(t *testing.T) {
			testGroupSync(t, mode)
		})
	}
}

func testGroupSync(t *testing.T, mode SyncMode) {
	s, err := New(t.TempDir(), Options{Sync: mode})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	until := time.Now().Add(time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("group/%02d", i)
			var err error
			if i%2 == 0 {
				_, err = s.PutRetained(ctx, key, strings.NewReader(key), int64(len(key)), until)
			} else {
				_, err = s.PutIfAbsent(ctx, key, strings.NewReader(key), int64(len(key)))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 64 {
		key := fmt.Sprintf("group/%02d", i)
		info, err := s.Head(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if locked := !info.RetainUntil.IsZero(); locked != (i%2 == 0) || info.Size != int64(len(key)) {
			t.Errorf("%s: %+v", key, info)
		}
	}
	s.syncs.mu.Lock()
	defer s.syncs.mu.Unlock()
	if len(s.syncs.dirs) != 0 {
		t.Errorf("%d directories still registered for fsync", len(s.syncs.dirs))
	}
}

// TestPutIntoNewDirectoriesFlushes: a put that makes its directories
// flushes them before it links its file, and no more than that. With
// syncfs, the put's own first flush (of its data) starts after they are
// made, so the put flushes twice however deep its new directory; with an
// fsync per file, the parent of each directory made is fsynced once, and
// a directory that exists already costs nothing.
func TestPutIntoNewDirectoriesFlushes(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		mode SyncMode
		key  string
		want []string // the flushes, in order, relative to the root
	}{
		{SyncWholeFS, "a/b/c/doc.pdf", []string{".", "."}},
		{SyncWholeFS, "a/b/d/doc.pdf", []string{".", "."}},
		{SyncEachFile, "a/b/c/doc.pdf", []string{".", "a~", "a~/b~", "a~/b~/c~"}},
		{SyncEachFile, "a/b/d/doc.pdf", []string{"a~/b~", "a~/b~/d~"}},
	} {
		s, err := New(t.TempDir(), Options{Sync: c.mode})
		if err != nil {
			t.Fatal(err)
		}
		if c.mode == SyncWholeFS && !s.whole {
			t.Log("no syncfs here")
			continue
		}
		if strings.Contains(c.key, "/d/") { // a/b/ exists already
			if _, err := s.PutIfAbsent(ctx, "a/b/c/first", strings.NewReader("x"), 1); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		var got []string
		flush := s.syncs.do
		s.syncs.do = func(dir string) error {
			mu.Lock()
			rel := strings.TrimPrefix(strings.TrimPrefix(dir, s.root), "/")
			if rel == "" {
				rel = "."
			}
			got = append(got, rel)
			mu.Unlock()
			if flush != nil {
				return flush(dir)
			}
			return syncDir(dir)
		}
		if _, err := s.PutRetained(ctx, c.key, strings.NewReader("%PDF"), 4, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%v, %s: flushes %v, want %v", c.mode, c.key, got, c.want)
		}
	}
}
