package seal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"eseal/archive"
)

// recoveryGrace is how old an uncommitted stamping must be before the
// sweep removes it, so a slow stamping on another replica is left alone.
const recoveryGrace = 10 * time.Minute

// Recover finishes or removes stampings a crash interrupted: a pending entry
// whose authorization use names it is locked and completed; one without,
// older than the grace period, is discarded. It runs at start-up. A pending
// entry it cannot handle is logged and left for the next sweep, so one
// damaged stamping does not keep the service from starting; err reports only
// a store that cannot be listed.
func (s *Service) Recover(ctx context.Context) (completed, discarded int, err error) {
	var pending []string
	if err := s.Store.List(ctx, pendingPrefix, func(o archive.ObjectInfo) error {
		pending = append(pending, o.Key)
		return nil
	}); err != nil {
		return 0, 0, err
	}
	for _, k := range pending {
		done, dropped, err := s.recoverOne(ctx, k)
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

func (s *Service) recoverOne(ctx context.Context, key string) (completed, discarded bool, err error) {
	var p pendingEntry
	if err := getJSON(ctx, s.Store, key, &p); err != nil {
		if errors.Is(err, archive.ErrNotFound) {
			return false, false, nil // finished meanwhile
		}
		return false, false, err
	}
	ids := p.AuthorizationIDs
	if len(ids) == 0 {
		ids = []string{p.AuthorizationID}
	}
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
		var rec archive.Record
		if err := getJSON(ctx, s.Store, archive.RecordKey(p.DocumentID), &rec); err != nil {
			return false, false, fmt.Errorf("committed document %s: %w", p.DocumentID, err)
		}
		return true, false, s.finish(ctx, p, &rec, uses[0])
	case s.now().Sub(p.Started) > recoveryGrace:
		// A multi-seal commit cut half-way: give the uses it took back.
		for i, id := range ids {
			if uses[i] > 0 {
				if err := s.Registry.releaseUse(ctx, id, uses[i], p.DocumentID); err != nil {
					return false, false, err
				}
			}
		}
		s.discard(ctx, p)
		return false, true, nil
	}
	return false, false, nil
}
