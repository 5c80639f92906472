package seal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"eseal/archive"
	"eseal/archive/audit"
)

// defaultRecoveryGrace is how old an unfinished stamping must be before the
// sweep touches it, so a slow stamping on another replica is left alone.
const defaultRecoveryGrace = 10 * time.Minute

// Recover finishes or removes stampings a crash interrupted: a pending entry
// whose authorization use names it is locked and completed; one without,
// older than the grace period, is discarded. It runs at start-up, when this
// replica's own stampings of before the crash may be young. A pending entry
// it cannot handle is logged and left for the next sweep, so one damaged
// stamping does not keep the service from starting; err reports only a
// store that cannot be listed.
func (s *Service) Recover(ctx context.Context) (completed, discarded int, err error) {
	return s.sweep(ctx, false)
}

// Sweep is the recovery sweep a running service repeats (RunSweeps): like
// Recover, but it leaves every stamping younger than the grace period alone,
// committed or not, since its own request may still be finishing it.
func (s *Service) Sweep(ctx context.Context) (completed, discarded int, err error) {
	return s.sweep(ctx, true)
}

// RunSweeps runs Sweep every half grace period until ctx is done, logging
// what each sweep did.
func (s *Service) RunSweeps(ctx context.Context) {
	t := time.NewTicker(s.grace() / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		done, dropped, err := s.Sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log().Error("periodic recovery sweep", "err", err)
		case done+dropped > 0:
			s.log().Info("periodic recovery sweep", "completed", done, "discarded", dropped)
		}
	}
}

// StalePending counts the stampings pending for longer than the grace
// period: the sweep should have finished or discarded them, so each one
// is a stamping it cannot handle (see the log).
func (s *Service) StalePending(ctx context.Context) (int, error) {
	n := 0
	cutoff := s.now().Add(-s.grace())
	err := s.Store.List(ctx, pendingPrefix, func(o archive.ObjectInfo) error {
		if o.ModTime.Before(cutoff) {
			n++
		}
		return nil
	})
	return n, err
}

// Grace is the recovery sweep's grace period (RecoveryGrace or its default).
func (s *Service) Grace() time.Duration { return s.grace() }

func (s *Service) sweep(ctx context.Context, onlyOld bool) (completed, discarded int, err error) {
	var pending []string
	if err := s.Store.List(ctx, pendingPrefix, func(o archive.ObjectInfo) error {
		pending = append(pending, o.Key)
		return nil
	}); err != nil {
		return 0, 0, err
	}
	for _, k := range pending {
		done, dropped, err := s.recoverOne(ctx, k, onlyOld)
		if err != nil {
			s.log().Error("recovery sweep: leaving a pending stamping for later", "key", k, "err", err)
			continue
		}
		if done {
			completed++
		}
		if dropped {
			discarded++
		}
	}
	return completed, discarded, nil
}

// readPending reads a pending stamping: its entry and, when it is a staging
// object and withObjects is set, the objects staged in it (nil for a
// marker of the earlier layout, whose objects were staged in place).
// Without withObjects only a staging's header is read, however large the
// PDF behind it.
func (s *Service) readPending(ctx context.Context, key string, withObjects bool) (pendingEntry, []stagedObject, error) {
	if strings.HasSuffix(key, markerSuffix) {
		var p pendingEntry
		err := getJSON(ctx, s.Store, key, &p)
		p.key = key
		return p, nil, err
	}
	rc, _, err := s.Store.Get(ctx, key)
	if err != nil {
		return pendingEntry{}, nil, err
	}
	defer rc.Close()
	p, objs, err := readStaging(key, rc, withObjects)
	p.key = key
	return p, objs, err
}

func (s *Service) recoverOne(ctx context.Context, key string, onlyOld bool) (completed, discarded bool, err error) {
	p, _, err := s.readPending(ctx, key, false)
	if err != nil {
		if errors.Is(err, archive.ErrNotFound) {
			return false, false, nil // finished meanwhile
		}
		return false, false, err
	}
	old := s.now().Sub(p.Started) > s.grace()
	if onlyOld && !old {
		return false, false, nil
	}
	ids := p.authorizationIDs()
	uses := make([]int, len(ids))
	all := true
	for i, id := range ids {
		// A revoke cut short before its closing marker is finished first,
		// so that the sweep decides as the stamping itself would have.
		if err := s.Registry.closeIfRevoked(ctx, id); err != nil {
			return false, false, err
		}
		if uses[i], err = s.useFor(ctx, id, p.DocumentID); err != nil {
			return false, false, err
		}
		all = all && uses[i] > 0
	}
	switch {
	case all:
		var staged []stagedObject
		if !strings.HasSuffix(key, markerSuffix) {
			// Committed: now the staged bytes are needed, to be written.
			if _, staged, err = s.readPending(ctx, key, true); err != nil {
				if errors.Is(err, archive.ErrNotFound) {
					return false, false, nil // finished meanwhile
				}
				return false, false, err
			}
		}
		rec, err := s.pendingRecord(ctx, p, staged)
		if err != nil {
			return false, false, fmt.Errorf("committed document %s: %w", p.DocumentID, err)
		}
		logged, err := s.stampingLogged(ctx, p)
		if err != nil {
			return false, false, fmt.Errorf("committed document %s: %w", p.DocumentID, err)
		}
		if !logged {
			if err := s.logStamped(ctx, p, rec, uses[0]); err != nil {
				return false, false, err
			}
		}
		return true, false, s.finish(ctx, p, rec, staged, uses, true)
	case old:
		// A multi-seal commit cut half-way: give the uses it took back.
		for i, id := range ids {
			if uses[i] > 0 {
				if err := s.Registry.releaseUse(ctx, id, uses[i], p.DocumentID, releaseAbandoned); err != nil {
					return false, false, err
				}
			}
		}
		s.discard(ctx, p)
		return false, true, nil
	}
	return false, false, nil
}

// stampingLogged tells whether a committed stamping's audit entry was
// appended before it was cut short. A stamping staged with an audit mark is
// looked for in the log, from the mark on, among the entries appended
// within the grace period of its start (the stamping appends its entry
// right after its commit, which it gives up on past half of it): so a
// stamping whose finish failed after its entry is not logged twice. Where
// the log's hash chain is broken the entry found cannot be trusted, and
// the stamping is logged again. One staged before marks were kept counts
// as logged when its record is locked, since a finish writes or locks the
// record only after the entry; such a stamping whose finish failed
// part-way is logged again.
func (s *Service) stampingLogged(ctx context.Context, p pendingEntry) (bool, error) {
	if p.Audit != nil {
		logged, err := s.Registry.loggedSince(ctx, p.Audit, audit.DocumentStamped, p.DocumentID, p.Started.Add(s.grace()))
		if errors.Is(err, audit.ErrBroken) {
			// The shard was changed behind the log's back (audit verify
			// and fixity report it): log the stamping again rather than
			// leave it out.
			s.log().Warn("recovery sweep: the audit log is broken where the stamping's entry would be; appending it (again)", "document", p.DocumentID, "err", err)
			return false, nil
		}
		return logged, err
	}
	info, err := s.Store.Head(ctx, archive.RecordKey(p.DocumentID))
	if err != nil && !errors.Is(err, archive.ErrNotFound) {
		return false, err
	}
	return !info.RetainUntil.IsZero(), nil
}

// pendingRecord is a pending stamping's record: the one staged with it, or
// for a stamping staged in place, the record under docs/.
func (s *Service) pendingRecord(ctx context.Context, p pendingEntry, staged []stagedObject) (*archive.Record, error) {
	if staged != nil {
		rec, _, err := stagedRecord(p.DocumentID, staged)
		return rec, err
	}
	var rec archive.Record
	if err := getJSON(ctx, s.Store, archive.RecordKey(p.DocumentID), &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}
