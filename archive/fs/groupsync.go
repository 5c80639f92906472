package fs

import "sync"

// Group commit: a put is durable once its directory is fsynced after its
// link, and one fsync covers every link made in the directory before it
// starts. Concurrent puts into one directory (pending/, codes/, an audit
// shard, a document's folder) therefore share fsyncs: while one runs, the
// puts that arrive join the next, which starts when it ends.

// dirSyncs coalesces the directory fsyncs of concurrent writers.
type dirSyncs struct {
	mu   sync.Mutex
	dirs map[string]*dirSync
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
	err := syncDir(dir)
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
		r.err = syncDir(dir)
		close(r.done)
	}
}
