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
// found may then log it twice, never not at all. Every entry it reads must
// hold its hash and follow the one before it (Chain, from the entry before
// block from on), and a match counts only once the entry after it is seen
// to link to it: an edited, forged or reordered entry is an error, never a
// match — except the shard's very last entry, which nothing links to yet
// (the signed checkpoints vouch for a shard's tail). A block that cannot
// be read or parsed is an error too.
func Find(ctx context.Context, store archive.Store, node string, from uint64, until time.Time, match func(Entry) bool) (Entry, bool, error) {
	if !ValidNode(node) {
		return Entry{}, false, fmt.Errorf("audit: invalid node name %q", node)
	}
	if from == 0 {
		from = 1
	}
	var chain Chain
	if from > 1 {
		// The block before: where the chain of the first block read comes from.
		entries, err := readBlock(ctx, store, node, from-1)
		if err != nil && !errors.Is(err, archive.ErrNotFound) {
			return Entry{}, false, err
		}
		if err == nil {
			if err := chain.Check(entries...); err != nil {
				return Entry{}, false, fmt.Errorf("%s: %w", BlockKey(node, from-1), err)
			}
		}
	}
	var found *Entry // a match, the last entry of its block
	for n := from; n < from+MaxFindBlocks; n++ {
		entries, err := readBlock(ctx, store, node, n)
		if errors.Is(err, archive.ErrNotFound) {
			return derefFound(found)
		}
		if err != nil {
			return Entry{}, false, err
		}
		if err := chain.Check(entries...); err != nil {
			return Entry{}, false, fmt.Errorf("%s: %w", BlockKey(node, n), err)
		}
		if found != nil {
			// The entry after the match links to it, so the match is the
			// entry the shard holds there (an edited one would not be
			// linked to; the shard's last entry is vouched for by
			// checkpoints only).
			return *found, true, nil
		}
		if entries[0].Time.After(until) {
			return Entry{}, false, nil
		}
		for i, e := range entries {
			if match(e) {
				e.Block = n
				if i < len(entries)-1 {
					return e, true, nil
				}
				found = &e
				break
			}
		}
	}
	return derefFound(found)
}

func derefFound(e *Entry) (Entry, bool, error) {
	if e == nil {
		return Entry{}, false, nil
	}
	return *e, true, nil
}

func readBlock(ctx context.Context, store archive.Store, node string, n uint64) ([]Entry, error) {
	b, _, err := archive.GetBytesMax(ctx, store, BlockKey(node, n), MaxBlockSize)
	if err != nil {
		return nil, err
	}
	entries, err := ParseBlock(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", BlockKey(node, n), err)
	}
	return entries, nil
}

// Chain checks a shard's entries as a reader meets them, in order: each
// must hold its own hash, and each must follow the last one checked (the
// next seq, its prev that one's hash). The zero Chain has checked nothing
// and takes the first entry's links on trust (but for entry 1, which has
// none); one with Seq and Hash set goes on from that entry. It is what
// Verify checks of one shard, without the checkpoints.
type Chain struct {
	// Seq and Hash are the last entry checked (0 and "" before any).
	Seq  uint64
	Hash string
}

// ErrBroken is wrapped by the errors of Chain.Check.
var ErrBroken = errors.New("audit: the hash chain is broken")

// Check checks entries, which follow the last entry checked, and moves the
// chain past them.
func (c *Chain) Check(entries ...Entry) error {
	for _, e := range entries {
		if entryHash(toWire(e)) != e.Hash {
			return fmt.Errorf("%w: entry %d does not hold its hash", ErrBroken, e.Seq)
		}
		if c.Seq > 0 && (e.Seq != c.Seq+1 || e.Prev != c.Hash) {
			return fmt.Errorf("%w: entry %d does not follow entry %d", ErrBroken, e.Seq, c.Seq)
		}
		if c.Seq == 0 && e.Seq == 1 && e.Prev != "" {
			return fmt.Errorf("%w: entry 1 names a previous entry", ErrBroken)
		}
		c.Seq, c.Hash = e.Seq, e.Hash
	}
	return nil
}
