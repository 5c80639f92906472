package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/fs"
)

// gatedStore holds the next block put it is armed for until release is
// closed, and can fail it (after it is released) without storing it.
type gatedStore struct {
	archive.Store
	mu      sync.Mutex
	armed   bool
	fail    bool
	held    chan struct{} // closed once the armed put is waiting
	release chan struct{}
}

func (g *gatedStore) arm(fail bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed, g.fail = true, fail
	g.held, g.release = make(chan struct{}), make(chan struct{})
}

func (g *gatedStore) PutRetained(ctx context.Context, key string, r io.Reader, size int64, until time.Time) (archive.ObjectInfo, error) {
	g.mu.Lock()
	armed, fail, held, release := g.armed, g.fail, g.held, g.release
	g.armed = false
	g.mu.Unlock()
	if armed {
		close(held)
		<-release
		if fail {
			return archive.ObjectInfo{}, errReset
		}
	}
	return g.Store.(archive.RetainingStore).PutRetained(ctx, key, r, size, until)
}

// queued waits until n appends wait in l's queue.
func queued(t *testing.T, l *Log, n int) {
	t.Helper()
	for range 2000 {
		l.qmu.Lock()
		got := len(l.queue)
		l.qmu.Unlock()
		if got >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%d appends never queued", n)
}

// shardOf builds shard "a": entry 1 alone in block 1 while k appends queue
// behind it, then those k in block 2, then entry k+2 alone in block 3. With
// fail, block 2's put fails without storing it. It returns the results of
// the k queued appends.
func shardOf(t *testing.T, g *gatedStore, l *Log, k int, fail bool) ([]Entry, []error) {
	t.Helper()
	ctx := context.Background()
	g.arm(false)
	first := make(chan error, 1)
	go func() {
		_, err := l.Append(ctx, Entry{Action: DocumentStamped, Subject: "doc/first", Actor: "apikey/test"})
		first <- err
	}()
	<-g.held
	entries, errs := make([]Entry, k), make([]error, k)
	var wg sync.WaitGroup
	for i := range k {
		wg.Go(func() {
			entries[i], errs[i] = l.Append(ctx, Entry{Action: DocumentStamped, Subject: fmt.Sprintf("doc/%d", i), Actor: "apikey/test"})
		})
	}
	queued(t, l, k)
	g.mu.Lock()
	release := g.release
	g.mu.Unlock()
	g.arm(fail) // the next put: block 2, the k queued entries
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	<-g.held
	g.mu.Lock()
	close(g.release)
	g.mu.Unlock()
	wg.Wait()
	if _, err := l.Append(ctx, Entry{Action: DocumentStamped, Subject: "doc/last", Actor: "apikey/test"}); err != nil {
		t.Fatal(err)
	}
	return entries, errs
}

// TestGroupCommit: appends that arrive while a block is being stored go
// into the next block together — one object for all — and each learns
// where its entry is; when that block's put fails, every one of them fails
// and the shard goes on as if they had never been appended.
func TestGroupCommit(t *testing.T) {
	const k = 5
	for _, fail := range []bool{false, true} {
		t.Run(map[bool]string{false: "stored", true: "failed"}[fail], func(t *testing.T) {
			ctx := context.Background()
			g := &gatedStore{Store: newFS(t)}
			key := newKey(t)
			l := open(t, g, "a", newClock(), key)
			entries, errs := shardOf(t, g, l, k, fail)
			for i, err := range errs {
				if fail != (err != nil) || (fail && !errors.Is(err, errReset)) {
					t.Errorf("append %d: %v (block failed: %v)", i, err, fail)
				}
				// A failed append returns no entry (an entry with an error
				// means stored but not locked).
				if want := map[bool]uint64{false: 2, true: 0}[fail]; entries[i].Block != want || (entries[i].Seq == 0) != fail {
					t.Errorf("append %d returned entry %d in block %d, want block %d", i, entries[i].Seq, entries[i].Block, want)
				}
			}
			var got []string
			if err := Entries(ctx, g, func(e Entry) error {
				got = append(got, fmt.Sprintf("%d@%d", e.Seq, e.Block))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			want := "[1@1 2@2 3@2 4@2 5@2 6@2 7@3]"
			if fail {
				want = "[1@1 2@2]"
			}
			if fmt.Sprint(got) != want {
				t.Errorf("entries@blocks %v, want %s", got, want)
			}
			if _, err := l.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			rep, err := Verify(ctx, g, key.Public())
			if err != nil || !rep.OK() {
				t.Fatalf("verify: %v %v", rep.Problems, err)
			}
		})
	}
}

// TestTamperInBlock: changes inside a block of several entries are found
// like changes to a block of one.
func TestTamperInBlock(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		edit func(t *testing.T, g *gatedStore)
		want Reason
		at   uint64 // the block the first problem names
	}{
		{"entry edited", func(t *testing.T, g *gatedStore) {
			b := readFile(t, g.Store.(*fs.Store), BlockKey("a", 2))
			writeFile(t, g.Store.(*fs.Store), BlockKey("a", 2), bytes.Replace(b, []byte("doc/2"), []byte("doc/9"), 1))
		}, HashMismatch, 2},
		{"last entries cut off", func(t *testing.T, g *gatedStore) {
			b := readFile(t, g.Store.(*fs.Store), BlockKey("a", 2))
			lines := bytes.SplitAfter(b, []byte("\n"))
			writeFile(t, g.Store.(*fs.Store), BlockKey("a", 2), bytes.Join(lines[:2], nil))
		}, BrokenLink, 3}, // block 3 no longer begins where block 2 ends
		{"entry dropped from the middle", func(t *testing.T, g *gatedStore) {
			b := readFile(t, g.Store.(*fs.Store), BlockKey("a", 2))
			lines := bytes.SplitAfter(b, []byte("\n"))
			writeFile(t, g.Store.(*fs.Store), BlockKey("a", 2), append(append([]byte(nil), lines[0]...), bytes.Join(lines[2:], nil)...))
		}, Unreadable, 2},
		{"block deleted", func(t *testing.T, g *gatedStore) {
			removeFile(t, g.Store.(*fs.Store), BlockKey("a", 2))
		}, Gap, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := &gatedStore{Store: newFS(t)}
			key := newKey(t)
			l := open(t, g, "a", newClock(), key)
			shardOf(t, g, l, 5, false)
			c.edit(t, g)
			rep, err := Verify(ctx, g, key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || rep.First().Reason != c.want || rep.First().Key != BlockKey("a", c.at) {
				t.Errorf("first problem %v, want %v at %s (%v)", rep.First(), c.want, BlockKey("a", c.at), rep.Problems)
			}
		})
	}
}
