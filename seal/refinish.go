package seal

import (
	"context"
	"sync"
	"time"

	"eseal/archive"
)

// Finishing again, in the background, a stamping whose finish failed
// twice. Such a stamping is committed and in the audit log, and answered
// 201, but its document is only in its staging object until something
// writes it under docs/: until then its download and verify pages answer
// not found. The recovery sweep would finish it, but only once it is
// older than the grace period (10 minutes), because it cannot tell a
// stamping a crash cut short from one another replica is still making.
// The replica that answered knows: nothing else is finishing it. So it
// tries again itself, soon after and then less often — a store node that
// was down for a few seconds costs the citizen a few seconds — until it
// succeeds or half the grace period has passed since the stamping started;
// after that it is the sweep's (the half leaves room for replicas' clocks
// to differ). Each try is a resumed finish, as the sweep's would be: what
// an earlier try wrote is accepted, a reference number claimed is kept.

// defaultRefinishWait is how long the first background try waits; each
// one after waits twice as long as the one before, up to maxRefinishWait.
const (
	defaultRefinishWait = time.Second
	maxRefinishWait     = 30 * time.Second
)

// maxRefinishing bounds the stampings a replica retries at once: each
// holds its staged PDF in memory. Beyond it, the sweep finishes them.
const maxRefinishing = 64

// refinishTimeout bounds one background try.
const refinishTimeout = time.Minute

type refinishing struct {
	mu      sync.Mutex
	running int
	// idle is closed when no retry runs; nil while none has started since.
	idle chan struct{}
	// stop is closed by StopRefinishing; stopped says it was.
	stop    chan struct{}
	stopped bool
}

// stopChan returns the channel StopRefinishing closes; r.mu is held.
func (r *refinishing) stopChan() chan struct{} {
	if r.stop == nil {
		r.stop = make(chan struct{})
	}
	return r.stop
}

// refinishWait is the first background wait, or 0 when failed finishes
// are left to the sweep (Service.RetryFinish).
func (s *Service) refinishWait() time.Duration {
	switch {
	case s.RetryFinish < 0:
		return 0
	case s.RetryFinish > 0:
		return s.RetryFinish
	}
	return defaultRefinishWait
}

// finishLater retries the finish of a committed, logged stamping in the
// background (above). It reports whether a retry was started.
func (s *Service) finishLater(p pendingEntry, rec *archive.Record, staged []stagedObject, uses []int) bool {
	wait := s.refinishWait()
	if wait == 0 {
		return false
	}
	r := &s.refinish
	r.mu.Lock()
	if r.stopped || r.running >= maxRefinishing {
		r.mu.Unlock()
		return false
	}
	r.running++
	if r.running == 1 {
		r.idle = make(chan struct{})
	}
	stop := r.stopChan()
	r.mu.Unlock()
	go func() {
		defer func() {
			r.mu.Lock()
			r.running--
			if r.running == 0 {
				close(r.idle)
			}
			r.mu.Unlock()
		}()
		deadline := p.Started.Add(s.grace() / 2)
		for try := 1; ; try++ {
			select {
			case <-time.After(wait):
			case <-stop:
				s.log().Warn("stopping: the recovery sweep will finish the stamping", "document", p.DocumentID, "tries", try-1)
				return
			}
			if !s.now().Before(deadline) {
				s.log().Warn("stamping still unfinished; the recovery sweep will finish it", "document", p.DocumentID, "tries", try-1)
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), refinishTimeout)
			err := s.finish(ctx, p, rec, staged, uses, true)
			cancel()
			if err == nil {
				s.log().Info("stamping finished in the background", "document", p.DocumentID, "tries", try)
				return
			}
			s.log().Warn("finishing a committed stamping again", "document", p.DocumentID, "try", try, "err", err)
			wait = min(2*wait, maxRefinishWait)
		}
	}()
	return true
}

// WaitRefinishing returns once no stamping is being finished again in the
// background, or when ctx is done.
func (s *Service) WaitRefinishing(ctx context.Context) error {
	s.refinish.mu.Lock()
	idle := s.refinish.idle
	s.refinish.mu.Unlock()
	return waitIdle(ctx, idle)
}

// StopRefinishing ends the background finishes (a try under way ends
// first) and starts no more: a replica shutting down leaves them to the
// recovery sweep its next start runs. It returns once they have ended, or
// when ctx is done.
func (s *Service) StopRefinishing(ctx context.Context) error {
	r := &s.refinish
	r.mu.Lock()
	if !r.stopped {
		r.stopped = true
		close(r.stopChan())
	}
	idle := r.idle
	r.mu.Unlock()
	return waitIdle(ctx, idle)
}

func waitIdle(ctx context.Context, idle chan struct{}) error {
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
