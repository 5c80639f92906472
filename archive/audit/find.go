package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"eseal/archive"
)

// MaxFindBlocks bounds the blocks Find reads.
const MaxFindBlocks = 1 << 16

// Find looks in node's shard, from block from on, for an entry match
// accepts, and returns the first one. It stops, reporting none, at the end
// of the shard, at a block whose first entry was appended after until, or
// after MaxFindBlocks blocks: a caller that logs the change when none is
// found may then log it twice, never not at all. A block that cannot be
// read or parsed is an error.
func Find(ctx context.Context, store archive.Store, node string, from uint64, until time.Time, match func(Entry) bool) (Entry, bool, error) {
	if !ValidNode(node) {
		return Entry{}, false, fmt.Errorf("audit: invalid node name %q", node)
	}
	if from == 0 {
		from = 1
	}
	for n := from; n < from+MaxFindBlocks; n++ {
		b, _, err := archive.GetBytesMax(ctx, store, BlockKey(node, n), MaxBlockSize)
		if errors.Is(err, archive.ErrNotFound) {
			return Entry{}, false, nil
		}
		if err != nil {
			return Entry{}, false, err
		}
		entries, err := ParseBlock(b)
		if err != nil {
			return Entry{}, false, fmt.Errorf("%s: %w", BlockKey(node, n), err)
		}
		if entries[0].Time.After(until) {
			return Entry{}, false, nil
		}
		for _, e := range entries {
			if match(e) {
				e.Block = n
				return e, true, nil
			}
		}
	}
	return Entry{}, false, nil
}
