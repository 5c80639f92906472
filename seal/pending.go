package seal

import (
	"context"
	"sync"
	"time"

	"eseal/archive"
)

// Removing the pending markers of finished stampings. Once a stamping is
// finished its marker has done its work, and nothing is lost if it stays a
// while: a recovery sweep that finds it finishes the stamping again, which
// changes nothing (every write of the finish accepts the same bytes already
// there, and the audit entry is not appended twice). So the
// reply does not wait for its removal: the marker joins a queue, and one
// remover per Service takes whatever has queued meanwhile and removes it in
// one operation (archive.DeleteMany: one S3 multi-object delete, or one
// flush on the filesystem). Under load the stampings of a moment share one
// removal, as their audit entries share a block.

// maxPendingRemoval bounds the markers one removal takes (S3's
// multi-object delete takes a thousand per request).
const maxPendingRemoval = 1000

// pendingRemovalTimeout bounds one removal; markers it could not remove
// are left to the recovery sweep.
const pendingRemovalTimeout = time.Minute

type pendingRemovals struct {
	mu    sync.Mutex
	queue []archive.ObjectInfo
	// done is closed when the running remover stops; nil when none runs.
	done chan struct{}
}

// removePending queues the pending marker of a finished stamping for
// removal, and starts the remover if none runs.
func (s *Service) removePending(marker archive.ObjectInfo) {
	r := &s.removals
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queue = append(r.queue, marker)
	if r.done == nil {
		r.done = make(chan struct{})
		go s.removePendingMarkers(r.done)
	}
}

// removePendingMarkers removes queued markers, a batch at a time, until
// the queue is empty.
func (s *Service) removePendingMarkers(done chan struct{}) {
	r := &s.removals
	for {
		r.mu.Lock()
		batch := r.queue[:min(len(r.queue), maxPendingRemoval)]
		r.queue = r.queue[len(batch):]
		if len(batch) == 0 {
			r.queue, r.done = nil, nil
			r.mu.Unlock()
			close(done)
			return
		}
		r.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), pendingRemovalTimeout)
		if err := archive.DeleteMany(ctx, s.Store, batch); err != nil {
			s.log().Warn("removing finished stampings' pending markers; the recovery sweep will", "markers", len(batch), "err", err)
		}
		cancel()
	}
}

// FlushPending returns once the pending markers of the stampings finished
// so far are removed (or their removal failed, which the recovery sweep
// makes good). A process that stamps and exits calls it before exiting.
func (s *Service) FlushPending(ctx context.Context) error {
	for {
		s.removals.mu.Lock()
		done := s.removals.done
		s.removals.mu.Unlock()
		if done == nil {
			return nil
		}
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
