package audit

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"eseal/archive"
)

// Position is a shard's tail at the time of a checkpoint.
type Position struct {
	// Seq is the shard's last entry.
	Seq uint64 `json:"seq"`
	// Hash is that entry's hash.
	Hash string `json:"hash"`
	// Count is the number of entries the shard held: Seq, as entries run
	// from 1 without gaps. Checkpoints made before it was kept have none
	// (zero) and are read as before; Verify reports a shard holding fewer
	// entries than a checkpoint counted as ShardShort.
	Count uint64 `json:"count,omitempty"`
	// Block is the number of the block holding entry Seq (its last entry).
	// Checkpoints made before blocks have none (zero): there the block
	// is Seq.
	Block uint64 `json:"block,omitempty"`
}

// block is the number of the block holding entry Seq.
func (p Position) block() uint64 {
	if p.Block == 0 {
		return p.Seq
	}
	return p.Block
}

// Checkpoint is a signed statement of every shard's tail at one moment.
// Entries up to a checkpointed position cannot be edited, removed or
// reordered without Verify noticing, even by someone who recomputes the
// hash chain, short of forging the signature.
type Checkpoint struct {
	// Key is where the checkpoint is stored.
	Key string
	// Time is when it was made, in UTC.
	Time time.Time
	// Node is the node that made and signed it.
	Node string
	// Shards maps each node with entries to its tail.
	Shards map[string]Position
	// Signature is the SM2 signature (ASN.1, default user id) over the
	// checkpoint's canonical JSON without the signature.
	Signature []byte
}

// ErrNoSigner is returned by Checkpoint when Options.Signer is nil.
var ErrNoSigner = errors.New("audit: no checkpoint signer configured")

// wireCheckpoint is a Checkpoint as stored: canonical JSON as for entries,
// the signature in standard base64, followed by one newline.
type wireCheckpoint struct {
	Time      string              `json:"time"`
	Node      string              `json:"node"`
	Shards    map[string]Position `json:"shards"`
	Signature string              `json:"signature,omitempty"`
}

// checkpointTimeLayout is fixed-width, so checkpoint keys sort by time.
const checkpointTimeLayout = "20060102T150405.000000000Z"

// CheckpointKey returns the store key of the checkpoint node made at t.
func CheckpointKey(t time.Time, node string) string {
	return checkpointPrefix + t.UTC().Format(checkpointTimeLayout) + "-" + node + ".json"
}

// Checkpoint reads the tail of every registered shard, signs the result
// with Options.Signer and stores it, retention-locked.
func (l *Log) Checkpoint(ctx context.Context) (*Checkpoint, error) {
	if l.signer == nil {
		return nil, ErrNoSigner
	}
	var nodes []string
	err := l.store.List(ctx, nodePrefix, func(oi archive.ObjectInfo) error {
		if n, ok := strings.CutSuffix(strings.TrimPrefix(oi.Key, nodePrefix), ".json"); ok && ValidNode(n) {
			nodes = append(nodes, n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint: %w", err)
	}
	l.mu.Lock()
	hints := maps.Clone(l.hints)
	hints[l.node] = Position{Seq: l.seq, Hash: l.hash, Block: l.block}
	l.mu.Unlock()

	shards := make(map[string]Position, len(nodes))
	for _, n := range nodes {
		tail, err := readTail(ctx, l.store, n, hints[n])
		if err != nil {
			return nil, fmt.Errorf("audit: checkpoint: %w", err)
		}
		if tail.Seq > 0 {
			tail.Count = tail.Seq
			shards[n] = tail
		}
	}

	cp := &Checkpoint{Time: l.now().UTC(), Node: l.node, Shards: shards}
	w := cp.wire()
	msg, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint: %w", err)
	}
	// The options make *sm2.PrivateKey hash with Z and the default user
	// id; without them it would sign msg as if it were a digest.
	sig, err := l.signer.Sign(rand.Reader, msg, sm2.NewSM2SignerOption(true, nil))
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint: sign: %w", err)
	}
	cp.Signature = sig
	// Check our own signature, so a signer that ignores the options (or
	// is not SM2) fails here rather than in the next audit.
	if err := cp.CheckSignature(l.signer.Public()); err != nil {
		return nil, fmt.Errorf("audit: checkpoint: the signer's own signature does not verify (not SM2 with the default user id?): %w", err)
	}
	cp.Key = CheckpointKey(cp.Time, cp.Node)
	if _, err := archive.PutBytesIfAbsent(ctx, l.store, cp.Key, marshalCheckpoint(cp)); err != nil {
		return nil, fmt.Errorf("audit: checkpoint %s: %w", cp.Key, err)
	}
	if err := l.store.SetRetention(ctx, cp.Key, l.now().Add(l.retention)); err != nil {
		return nil, fmt.Errorf("audit: checkpoint %s stored but not retention-locked: %w", cp.Key, err)
	}
	l.mu.Lock()
	maps.Copy(l.hints, shards)
	l.mu.Unlock()
	return cp, nil
}

// wire returns the checkpoint as stored, without the signature.
func (c *Checkpoint) wire() wireCheckpoint {
	shards := c.Shards
	if shards == nil {
		shards = map[string]Position{} // "{}", never "null"
	}
	return wireCheckpoint{Time: formatTime(c.Time), Node: c.Node, Shards: shards}
}

// CheckSignature reports whether the checkpoint is signed by pub, an SM2
// public key (*ecdsa.PublicKey on the SM2 curve).
func (c *Checkpoint) CheckSignature(pub crypto.PublicKey) error {
	key, ok := pub.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(key) {
		return fmt.Errorf("audit: checkpoint key is %T, not an SM2 public key", pub)
	}
	msg, err := json.Marshal(c.wire())
	if err != nil {
		return err
	}
	if !sm2.VerifyASN1WithSM2(key, nil, msg, c.Signature) {
		return errors.New("audit: checkpoint signature does not verify")
	}
	return nil
}

// ParseCheckpoint parses a stored checkpoint (its Key is left empty). It
// checks the form but not the signature.
func ParseCheckpoint(b []byte) (*Checkpoint, error) {
	if len(b) > archive.MaxBytes {
		return nil, fmt.Errorf("audit: checkpoint: %w", archive.ErrTooLarge)
	}
	var w wireCheckpoint
	if err := decodeStrict(b, &w); err != nil {
		return nil, fmt.Errorf("audit: checkpoint: %w", err)
	}
	t, err := parseTime(w.Time)
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint: %w", err)
	}
	if !ValidNode(w.Node) {
		return nil, fmt.Errorf("audit: checkpoint: invalid node %q", w.Node)
	}
	for _, n := range slices.Sorted(maps.Keys(w.Shards)) {
		p := w.Shards[n]
		if !ValidNode(n) || p.Seq < 1 || p.Seq > MaxSeq || !isHash(p.Hash) || p.Count > MaxSeq || p.Block > MaxSeq {
			return nil, fmt.Errorf("audit: checkpoint: invalid shard %q position %d %q count %d block %d", n, p.Seq, p.Hash, p.Count, p.Block)
		}
	}
	sig, err := base64.StdEncoding.DecodeString(w.Signature)
	if err != nil || len(sig) == 0 {
		return nil, errors.New("audit: checkpoint: missing or malformed signature")
	}
	cp := &Checkpoint{Time: t, Node: w.Node, Shards: w.Shards, Signature: sig}
	if !bytes.Equal(marshalCheckpoint(cp), b) {
		return nil, errors.New("audit: checkpoint is not in canonical form")
	}
	if cp.Shards == nil {
		cp.Shards = map[string]Position{}
	}
	return cp, nil
}

// marshalCheckpoint returns the stored form of c: canonical JSON with the
// signature, then a newline.
func marshalCheckpoint(c *Checkpoint) []byte {
	w := c.wire()
	w.Signature = base64.StdEncoding.EncodeToString(c.Signature)
	b, err := json.Marshal(w)
	if err != nil {
		panic(err) // strings, numbers and maps of them: cannot fail
	}
	return append(b, '\n')
}
