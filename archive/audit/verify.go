package audit

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/emmansun/gmsm/sm2"

	"eseal/archive"
)

// Reason says what is wrong with the log at one place.
type Reason int

// The reasons Verify reports.
const (
	// HashMismatch: the entry's content does not hash to its hash field
	// (it was edited), or a forged newer version replaced it.
	HashMismatch Reason = iota + 1
	// BrokenLink: the entry is not the successor of the previous one
	// (reordered, moved from another position or shard, or its
	// predecessor was rewritten).
	BrokenLink
	// Gap: the entry is missing while later ones exist.
	Gap
	// BadCheckpointSignature: a checkpoint is not signed by the given key.
	BadCheckpointSignature
	// CheckpointMismatch: a checkpoint names a shard position that does
	// not exist (the shard was truncated) or holds another hash (the chain
	// was rewritten), or the checkpoint is stored under the wrong key.
	CheckpointMismatch
	// Unreadable: an object under audit/ that is not a well-formed entry or
	// checkpoint where one belongs.
	Unreadable
	// ShardShort: a shard ends before the position a checkpoint names, or
	// holds fewer entries than the checkpoint counted: its last entries
	// (or some of them) were deleted.
	ShardShort
)

var reasonNames = map[Reason]string{
	HashMismatch:           "hash mismatch",
	BrokenLink:             "broken link",
	Gap:                    "gap",
	BadCheckpointSignature: "bad checkpoint signature",
	CheckpointMismatch:     "checkpoint mismatch",
	Unreadable:             "unreadable",
	ShardShort:             "shard short",
}

// String names the reason.
func (r Reason) String() string {
	if s, ok := reasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// Problem is one place where the log does not hold.
type Problem struct {
	// Key is the broken or missing entry, or the checkpoint for
	// BadCheckpointSignature and unreadable checkpoints.
	Key string
	// Seq and Node locate the entry; zero and "" for a checkpoint.
	Seq  uint64
	Node string
	// Reason says what is wrong.
	Reason Reason
	// Checkpoint is the checkpoint involved, if any.
	Checkpoint string
	// Detail explains, for people.
	Detail string
}

// Error describes the problem.
func (p *Problem) Error() string {
	s := fmt.Sprintf("audit: %s: %s", p.Key, p.Reason)
	if p.Checkpoint != "" && p.Checkpoint != p.Key {
		s += " (checkpoint " + p.Checkpoint + ")"
	}
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// Report is the result of Verify.
type Report struct {
	// Entries, Shards and Checkpoints count what was checked.
	Entries, Shards, Checkpoints int
	// Problems lists what does not hold, the first found first: shards in
	// key order, then checkpoints in time order. At most MaxProblems are
	// kept; Omitted counts the rest.
	Problems []Problem
	Omitted  int
}

// MaxProblems bounds Report.Problems.
const MaxProblems = 100

// OK reports whether no problem was found.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// First returns the first problem, or nil.
func (r *Report) First() *Problem {
	if len(r.Problems) == 0 {
		return nil
	}
	return &r.Problems[0]
}

func (r *Report) add(p Problem) {
	if len(r.Problems) < MaxProblems {
		r.Problems = append(r.Problems, p)
	} else {
		r.Omitted++
	}
}

// Verify checks the whole log in store: in every shard, seq runs from 1
// without gaps, each entry hashes to its hash field and links to its
// predecessor; every checkpoint is signed by pub (the SM2 public key of
// the checkpoint signer) and every shard position it names exists with
// that hash. Tampering is reported in the Report; the error is for a
// store that cannot be read.
//
// Verify streams: it holds one entry at a time and one position per shard.
func Verify(ctx context.Context, store archive.Store, pub crypto.PublicKey) (*Report, error) {
	key, ok := pub.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(key) {
		return nil, fmt.Errorf("audit: verify: checkpoint key is %T, not an SM2 public key", pub)
	}
	v := &verifier{ctx: ctx, store: store, pub: key, r: &Report{}, tips: map[string]Position{}, confirmed: map[string]Position{}}
	if err := store.List(ctx, prefix, v.visit); err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	v.endShard()
	if err := store.List(ctx, checkpointPrefix, v.checkpoint); err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	return v.r, nil
}

type verifier struct {
	ctx   context.Context
	store archive.Store
	pub   *ecdsa.PublicKey
	r     *Report

	// The shard being walked.
	node     string
	block    uint64 // last block seen
	seq      uint64 // last entry seen
	hash     string // hash field of entry seq
	linkKnow bool   // hash is the predecessor to check the next prev against

	count     uint64              // entries read in the shard being walked
	tips      map[string]Position // each shard's last entry, Count the entries read
	confirmed map[string]Position // last checkpointed position confirmed per shard
}

func (v *verifier) visit(oi archive.ObjectInfo) error {
	k := oi.Key
	if strings.HasPrefix(k, checkpointPrefix) {
		return nil
	}
	if rest, ok := strings.CutPrefix(k, nodePrefix); ok {
		if n, ok := strings.CutSuffix(rest, ".json"); !ok || !ValidNode(n) {
			v.r.add(Problem{Key: k, Reason: Unreadable, Detail: "not a node registration"})
		}
		return nil
	}
	node, n, ok := parseBlockKey(k)
	if !ok {
		v.r.add(Problem{Key: k, Node: node, Reason: Unreadable, Detail: "not an audit block key"})
		return nil
	}
	if node != v.node {
		v.endShard()
		v.node, v.block, v.seq, v.hash, v.linkKnow, v.count = node, 0, 0, "", true, 0
		v.r.Shards++
	}
	// After missing blocks, how many entries they held is unknown: the
	// next block's first entry is taken as it is.
	seqKnown := true
	if n != v.block+1 {
		detail := fmt.Sprintf("block %d is missing", v.block+1)
		if n-v.block > 2 {
			detail = fmt.Sprintf("blocks %d to %d are missing", v.block+1, n-1)
		}
		v.r.add(Problem{Key: BlockKey(node, v.block+1), Seq: v.seq + 1, Node: node, Reason: Gap, Detail: detail})
		v.linkKnow, seqKnown = false, false
	}
	v.block = n
	b, _, err := archive.GetBytesMax(v.ctx, v.store, k, MaxBlockSize)
	if errors.Is(err, archive.ErrNotFound) || errors.Is(err, archive.ErrTooLarge) {
		v.r.add(Problem{Key: k, Seq: v.seq + 1, Node: node, Reason: Unreadable, Detail: err.Error()})
		v.linkKnow = false
		return nil
	}
	if err != nil {
		return err
	}
	entries, err := ParseBlock(b)
	if err != nil {
		v.r.add(Problem{Key: k, Seq: v.seq + 1, Node: node, Reason: Unreadable, Detail: err.Error()})
		v.linkKnow = false
		return nil
	}
	// Blocks tile the shard's entries (ParseBlock: a block's entries are
	// consecutive), so a block that does not begin where the one before
	// ended was moved, swapped or edited.
	first := entries[0]
	if seqKnown && first.Seq != v.seq+1 {
		v.r.add(Problem{Key: k, Seq: v.seq + 1, Node: node, Reason: BrokenLink,
			Detail: fmt.Sprintf("block %d begins with entry %d of shard %q, not entry %d", n, first.Seq, first.Node, v.seq+1)})
		v.linkKnow = false
	}
	for _, e := range entries {
		v.entry(k, node, e)
	}
	return nil
}

// entry checks one entry of block k of node's shard.
func (v *verifier) entry(k, node string, e Entry) {
	v.r.Entries++
	v.count++
	switch {
	case entryHash(toWire(e)) != e.Hash:
		v.r.add(Problem{Key: k, Seq: e.Seq, Node: node, Reason: HashMismatch, Detail: "content does not hash to the stored hash"})
	case e.Node != node:
		v.r.add(Problem{Key: k, Seq: e.Seq, Node: node, Reason: BrokenLink,
			Detail: fmt.Sprintf("holds entry %d of shard %q", e.Seq, e.Node)})
	case v.linkKnow && e.Prev != v.hash:
		v.r.add(Problem{Key: k, Seq: e.Seq, Node: node, Reason: BrokenLink, Detail: "prev is not the hash of the previous entry"})
	}
	// Go on from the stored hash: what the successor must link to.
	v.seq, v.hash, v.linkKnow = e.Seq, e.Hash, true
}

func (v *verifier) endShard() {
	if v.node != "" {
		v.tips[v.node] = Position{Seq: v.seq, Hash: v.hash, Count: v.count, Block: v.block}
	}
}

func (v *verifier) checkpoint(oi archive.ObjectInfo) error {
	k := oi.Key
	v.r.Checkpoints++
	b, _, err := archive.GetBytes(v.ctx, v.store, k)
	if errors.Is(err, archive.ErrNotFound) || errors.Is(err, archive.ErrTooLarge) {
		v.r.add(Problem{Key: k, Reason: Unreadable, Checkpoint: k, Detail: err.Error()})
		return nil
	}
	if err != nil {
		return err
	}
	cp, err := ParseCheckpoint(b)
	if err != nil {
		v.r.add(Problem{Key: k, Reason: Unreadable, Checkpoint: k, Detail: err.Error()})
		return nil
	}
	if err := cp.CheckSignature(v.pub); err != nil {
		v.r.add(Problem{Key: k, Reason: BadCheckpointSignature, Checkpoint: k, Detail: err.Error()})
		return nil // what it says cannot be trusted
	}
	if want := CheckpointKey(cp.Time, cp.Node); k != want {
		v.r.add(Problem{Key: k, Reason: CheckpointMismatch, Checkpoint: k, Detail: "stored under the wrong key; made as " + want})
	}
	for _, n := range slices.Sorted(maps.Keys(cp.Shards)) {
		pos := cp.Shards[n]
		if err := v.checkPosition(k, n, pos); err != nil {
			return err
		}
	}
	return nil
}

// checkPosition checks that entry pos.Seq of shard n exists with pos.Hash,
// in block pos.Block.
func (v *verifier) checkPosition(cpKey, n string, pos Position) error {
	if v.confirmed[n] == pos {
		return nil
	}
	mismatch := func(detail string) {
		v.r.add(Problem{Key: BlockKey(n, pos.block()), Seq: pos.Seq, Node: n, Reason: CheckpointMismatch, Checkpoint: cpKey, Detail: detail})
	}
	tip := v.tips[n]
	switch {
	case pos.Seq > tip.Seq || pos.block() > tip.Block:
		v.r.add(Problem{Key: BlockKey(n, tip.Block+1), Seq: tip.Seq + 1, Node: n, Reason: ShardShort, Checkpoint: cpKey,
			Detail: fmt.Sprintf("checkpoint names entry %d in block %d but the shard ends at entry %d in block %d", pos.Seq, pos.block(), tip.Seq, tip.Block)})
		return nil
	case pos.Count > tip.Count:
		v.r.add(Problem{Key: BlockKey(n, pos.block()), Seq: pos.Seq, Node: n, Reason: ShardShort, Checkpoint: cpKey,
			Detail: fmt.Sprintf("checkpoint counted %d entries, the shard holds %d readable", pos.Count, tip.Count)})
		return nil
	case pos.Seq == tip.Seq && pos.block() == tip.Block:
		if tip.Hash != pos.Hash {
			mismatch("entry's hash differs from the checkpoint's")
			return nil
		}
	default:
		b, _, err := archive.GetBytesMax(v.ctx, v.store, BlockKey(n, pos.block()), MaxBlockSize)
		if errors.Is(err, archive.ErrNotFound) || errors.Is(err, archive.ErrTooLarge) {
			mismatch(err.Error())
			return nil
		}
		if err != nil {
			return err
		}
		entries, err := ParseBlock(b)
		if err != nil || entries[len(entries)-1].Seq != pos.Seq || entries[len(entries)-1].Hash != pos.Hash {
			mismatch("the block's last entry differs from the checkpoint's")
			return nil
		}
	}
	v.confirmed[n] = pos
	return nil
}

// Entries calls fn for every well-formed entry of every shard, shards in
// key order and each shard by seq, with Entry.Block set. Blocks that do
// not parse are skipped: Verify reports them. Fixity reads the log this
// way to reconcile it with the store.
func Entries(ctx context.Context, store archive.Store, fn func(Entry) error) error {
	return store.List(ctx, prefix, func(oi archive.ObjectInfo) error {
		if strings.HasPrefix(oi.Key, checkpointPrefix) || strings.HasPrefix(oi.Key, nodePrefix) {
			return nil
		}
		_, n, ok := parseBlockKey(oi.Key)
		if !ok {
			return nil
		}
		b, _, err := archive.GetBytesMax(ctx, store, oi.Key, MaxBlockSize)
		if errors.Is(err, archive.ErrNotFound) || errors.Is(err, archive.ErrTooLarge) {
			return nil
		}
		if err != nil {
			return err
		}
		entries, err := ParseBlock(b)
		if err != nil {
			return nil
		}
		for _, e := range entries {
			e.Block = n
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
}
