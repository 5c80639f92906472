package archive

import (
	"context"
	"errors"
)

// LastInSeries returns the last number of a series of objects numbered 1,
// 2, … without a gap (key names number n), looking from from on (0, or a
// number known to exist) and up to max: it gallops up from from (+1, +2,
// +4, …) until a number is missing, then halves the interval, with HEADs
// only — O(log n) requests, whatever the series' length. 0 means the
// series is empty.
func LastInSeries(ctx context.Context, s Store, key func(n uint64) string, from, max uint64) (uint64, error) {
	exists := func(n uint64) (bool, error) {
		_, err := s.Head(ctx, key(n))
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	lo, step := from, uint64(1)
	hi := lo + step
	for hi <= max {
		ok, err := exists(hi)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		lo, step = hi, step*2
		hi = min(lo+step, max+1)
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		ok, err := exists(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}
