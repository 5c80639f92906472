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
