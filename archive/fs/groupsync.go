package fs

import (
	"sync"
	"sync/atomic"
	"time"
)

// Group commit: a put is durable once its file's data is flushed before
// its link, and its directory after. One flush covers every write made
// before it starts, so concurrent writers share them: while one runs, the
// writers that arrive join the next, which starts when it ends.
//
// With SyncWholeFS (the default when the store has a filesystem of its
// own, on Linux), one flush is a syncfs(2) of the store's filesystem: it
// covers the files' data and every directory at once, so all concurrent
// puts — in any directory, a stamping's PDF and its audit entry alike —
// share two flushes each round (data, then links). With SyncEachFile each
// file is fsynced itself and the rounds are per directory: concurrent puts
// into one directory (pending/, codes/, an audit shard) share its fsyncs.

// dirSyncs coalesces the flushes of concurrent writers, per key: a
// directory, or the store's root for a syncfs.
type dirSyncs struct {
	mu   sync.Mutex
	dirs map[string]*dirSync
	// do is the flush; syncDir when nil.
	do func(string) error
	// count and took are the flushes made and the time they took
	// (Store.Flushes).
	count, took atomic.Int64
}

func (g *dirSyncs) flush(dir string) error {
	start := time.Now()
	defer func() {
		g.count.Add(1)
		g.took.Add(int64(time.Since(start)))
	}()
	if g.do != nil {
		return g.do(dir)
	}
	return syncDir(dir)
}

// dirSync is one directory's state: whether an fsync is running, and the
// round the writers arriving meanwhile wait for.
type dirSync struct {
	running bool
	next    *syncRound
}

// syncRound is one fsync and the writers it covers.
type syncRound struct {
	done chan struct{}
	err  error
}

// sync returns once an fsync of dir that started after the call has
// finished, with that fsync's error.
func (g *dirSyncs) sync(dir string) error {
	g.mu.Lock()
	if g.dirs == nil {
		g.dirs = map[string]*dirSync{}
	}
	d := g.dirs[dir]
	if d == nil {
		d = &dirSync{}
		g.dirs[dir] = d
	}
	if d.running {
		// Join the round that starts when the running fsync ends.
		if d.next == nil {
			d.next = &syncRound{done: make(chan struct{})}
		}
		r := d.next
		g.mu.Unlock()
		<-r.done
		return r.err
	}
	// Lead: run this writer's fsync, then the rounds that gathered
	// meanwhile, until none is waiting.
	d.running = true
	g.mu.Unlock()
	err := g.flush(dir)
	for {
		g.mu.Lock()
		r := d.next
		d.next = nil
		if r == nil {
			d.running = false
			delete(g.dirs, dir)
			g.mu.Unlock()
			return err
		}
		g.mu.Unlock()
		r.err = g.flush(dir)
		close(r.done)
	}
}
