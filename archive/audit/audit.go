// Package audit is eseal's tamper-evident log of every state change: seals
// created, suspended or revoked, authorizations granted, consumed or
// revoked, documents stamped, legal holds, transfers and disposals.
//
// The log lives in the archive.Store like everything else. Each replica
// (node) appends to its own shard, a hash chain of entries stored in
// write-once, retention-locked blocks:
//
//	audit/<node>/<n %012d>.json            block n (1, 2, 3 … without gaps): one or more entries
//	audit/nodes/<node>.json                the node's registration, written by Open
//	audit/checkpoints/<time>-<node>.json   a signed Checkpoint over all shards
//
// Entries are numbered by seq, 1, 2, 3 … without gaps across the blocks of
// a shard. Concurrent appends share one block (group commit): while one
// block is being stored, the entries that arrive wait and go together into
// the next, so a busy replica writes one object for many changes, and a
// quiet one one per change. A block is the entries' stored forms one after
// the other; a shard written before blocks holds one entry per block, so
// there block n holds entry n.
//
// An entry's hash is
//
//	hex(SM3("eseal-audit-v1\n" ‖ prev ‖ "\n" ‖ canonical JSON of the entry without "hash"))
//
// where prev is the hash of the previous entry of the same shard ("" for
// seq 1). The canonical JSON is what encoding/json writes for the fields in
// the order seq, time, node, action, subject, actor, details (omitted when
// empty, keys sorted), prev, hash: no insignificant white space, times in UTC
// RFC 3339 with trimmed nanoseconds. A stored entry is exactly its canonical
// JSON with the hash, followed by one newline; anything else is unreadable.
//
// A Checkpoint names, for every shard, its last seq and hash at one moment,
// and is signed with SM2 (default user id) by the checkpointing node.
// Verify walks every shard and every checkpoint and reports the first
// edit, gap, reorder, truncation or forged checkpoint it finds.
//
// How seal uses it (the node name is the replica's, from the config):
//
//	log, err := audit.Open(ctx, store, "replica-1", audit.Options{Signer: auditKey})
//	…
//	// after the authorization commit and the retention lock of the document:
//	_, err = log.Append(ctx, audit.Entry{
//		Action:  audit.DocumentStamped,
//		Subject: "doc/" + docID,
//		Actor:   "apikey/" + keyID,
//		Details: map[string]string{"seal": sealID, "authorization": authzID, "sm3": docSM3},
//	})
//	…
//	// periodically, and at shutdown:
//	_, err = log.Checkpoint(ctx)
//
// and `eseal archive audit verify` calls Verify with the checkpoint key.
package audit

import (
	"bytes"
	"context"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm3"

	"eseal/archive"
)

// Action names a kind of state change.
type Action string

// The state changes eseal records.
const (
	SealCreated           Action = "seal.created"
	SealSuspended         Action = "seal.suspended"
	SealReactivated       Action = "seal.reactivated"
	SealRevoked           Action = "seal.revoked"
	AuthorizationGranted  Action = "authorization.granted"
	AuthorizationConsumed Action = "authorization.consumed"
	AuthorizationRevoked  Action = "authorization.revoked"
	DocumentStamped       Action = "document.stamped"
	LegalHoldSet          Action = "legalhold.set"
	LegalHoldCleared      Action = "legalhold.cleared"
	RecordTransferred     Action = "record.transferred"
	RecordDisposed        Action = "record.disposed"
	// RecordViewed and RecordDownloaded are 利用登记: a member of staff
	// read a record's page or took its PDF, with the purpose they stated.
	// They change no state but are logged like changes, so every use of a
	// record can be answered for.
	RecordViewed     Action = "record.viewed"
	RecordDownloaded Action = "record.downloaded"
)

// Entry is one state change in a shard of the log.
type Entry struct {
	// Seq is the entry's position in its shard, from 1.
	Seq uint64
	// Time is when the entry was appended, in UTC.
	Time time.Time
	// Node is the shard (replica) that appended the entry.
	Node string
	// Action says what changed.
	Action Action
	// Subject is what changed, e.g. "seal/<id>" or "doc/<id>".
	Subject string
	// Actor is who changed it, e.g. "apikey/<id>" or "cli/<user>".
	Actor string
	// Details carries the rest (ids, digests, reasons).
	Details map[string]string
	// Prev is the hash of the previous entry of the shard; "" for seq 1.
	Prev string
	// Hash is the entry's hash (see the package comment).
	Hash string
	// Block is the number of the block holding the entry (BlockKey). It
	// is where the entry is, not part of it: not stored, not hashed.
	Block uint64
}

// Limits on what an entry holds.
const (
	// MaxEntrySize is the largest stored entry, in bytes.
	MaxEntrySize = 64 << 10
	// MaxBlockEntries is the most entries one block holds.
	MaxBlockEntries = 64
	// MaxBlockSize is the largest block, in bytes.
	MaxBlockSize = MaxBlockEntries * MaxEntrySize
	// MaxSeq is the largest sequence number, of an entry or a block:
	// keys have 12 digits.
	MaxSeq = 999_999_999_999
	// DefaultRetention is how long entries and checkpoints are retained
	// when Options.Retention is zero: 100 years of 365 days.
	DefaultRetention = 100 * 365 * 24 * time.Hour
)

const (
	prefix           = "audit/"
	checkpointPrefix = prefix + "checkpoints/"
	nodePrefix       = prefix + "nodes/"
	hashDomain       = "eseal-audit-v1\n"
	// blockTimeout bounds the storing of one block, whichever appends'
	// callers gave up meanwhile.
	blockTimeout = time.Minute
	// appendAttempts bounds the retries of Append when another process
	// writes the same shard (replicas should have shards of their own; this
	// is for the ones that share one).
	appendAttempts = 1000
)

// reservedNodes cannot be node names: they are folders of the log.
var reservedNodes = map[string]bool{"checkpoints": true, "nodes": true}

// ValidNode reports whether name can name a shard: 1 to 32 bytes of
// [a-z0-9-], and not "checkpoints" or "nodes".
func ValidNode(name string) bool {
	if len(name) < 1 || len(name) > 32 || reservedNodes[name] {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// BlockKey returns the store key of block n of node's shard.
func BlockKey(node string, n uint64) string {
	return fmt.Sprintf("%s%s/%012d.json", prefix, node, n)
}

func nodeKey(node string) string { return nodePrefix + node + ".json" }

// Options configures a Log.
type Options struct {
	// Now returns the current time. Defaults to time.Now. On S3 the
	// retention it yields must lie in the server's future.
	Now func() time.Time
	// Retention is how long each entry and checkpoint is retained;
	// DefaultRetention (100 years) if zero.
	Retention time.Duration
	// Signer signs checkpoints: an SM2 key (*sm2.PrivateKey, or any
	// crypto.Signer that honours *sm2.SM2SignerOption). Needed only by
	// Checkpoint.
	Signer crypto.Signer
}

// Log appends to one node's shard and writes checkpoints. It caches the
// shard's tail and is safe for concurrent use; several processes may even
// share a node name (Append retries when it loses a race), though each
// replica normally has its own.
type Log struct {
	store     archive.Store
	node      string
	now       func() time.Time
	retention time.Duration
	signer    crypto.Signer

	// mu is held while a block is written, and guards what follows.
	mu       sync.Mutex
	block    uint64              // the shard's last block
	seq      uint64              // its last entry
	hash     string              // hash of entry seq
	unlocked []string            // stored keys whose retention lock failed, retried by Append
	hints    map[string]Position // tails seen by the last checkpoint, where readTail starts

	// queue holds the appends waiting for the next block, in order.
	qmu   sync.Mutex
	queue []*appending

	// last mirrors block, read without waiting for a block being written
	// (Next).
	last atomic.Uint64
}

// appending is one Append waiting for its entry to be stored.
type appending struct {
	e    Entry
	done bool
	err  error
}

// Open opens node's shard of the log in store: it registers the node and
// reads the shard's tail.
func Open(ctx context.Context, store archive.Store, node string, opts Options) (*Log, error) {
	if !ValidNode(node) {
		return nil, fmt.Errorf("audit: invalid node name %q (want 1 to 32 of [a-z0-9-], not checkpoints or nodes)", node)
	}
	l := &Log{store: store, node: node, now: opts.Now, retention: opts.Retention, signer: opts.Signer, hints: map[string]Position{}}
	if l.now == nil {
		l.now = time.Now
	}
	if l.retention <= 0 {
		l.retention = DefaultRetention
	}
	reg, err := json.Marshal(struct {
		Node string `json:"node"`
		Time string `json:"time"`
	}{node, formatTime(l.now())})
	if err != nil {
		return nil, err
	}
	if _, err := archive.PutBytesIfAbsent(ctx, store, nodeKey(node), append(reg, '\n')); err != nil && !errors.Is(err, archive.ErrExists) {
		return nil, fmt.Errorf("audit: register node %q: %w", node, err)
	}
	// Lock what an earlier process may have left unlocked by crashing
	// between put and lock: the registration and the shard's tail.
	if err := l.lockIfUnlocked(ctx, nodeKey(node)); err != nil {
		return nil, err
	}
	tail, err := readTail(ctx, store, node, Position{})
	if err != nil {
		return nil, err
	}
	l.block, l.seq, l.hash = tail.Block, tail.Seq, tail.Hash
	l.last.Store(l.block)
	if tail.Block > 0 {
		if err := l.lockIfUnlocked(ctx, BlockKey(node, tail.Block)); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Node returns the name of the Log's shard.
func (l *Log) Node() string { return l.node }

// Next is a block number of the shard that no entry appended from now on
// comes before: the block after the last one this Log has stored or read.
// It does not wait for a block being written. With Find, it tells whether
// a change begun now was logged: the recovery sweep's question about a
// stamping cut short.
func (l *Log) Next() uint64 { return l.last.Load() + 1 }

// Append adds e to the shard and returns it as stored. Append sets Seq,
// Time (from Options.Now), Node, Prev, Hash and Block; the caller sets
// Action, Subject, Actor and Details. Strings must be valid UTF-8 and the
// entry at most MaxEntrySize bytes. Appends made at the same time are
// stored in one block: each returns once the block holding its entry is
// stored (or failed, which fails them all).
//
// If the entry was stored but could not be retention-locked, Append
// returns the stored entry and an error; the next Append retries the lock.
func (l *Log) Append(ctx context.Context, e Entry) (Entry, error) {
	if err := checkContent(e); err != nil {
		return Entry{}, err
	}
	a := &appending{e: e}
	l.qmu.Lock()
	l.queue = append(l.queue, a)
	l.qmu.Unlock()
	// Whoever holds mu is storing a block; meanwhile the queue fills. The
	// next to get mu stores what the queue holds then — its own entry, and
	// those of everyone waiting behind it, who find theirs done.
	l.mu.Lock()
	defer l.mu.Unlock()
	for !a.done {
		l.qmu.Lock()
		n := min(len(l.queue), MaxBlockEntries)
		batch := l.queue[:n:n]
		l.queue = l.queue[n:]
		l.qmu.Unlock()
		// The block carries others' entries too: the caller giving up
		// must not fail them. A store that hangs fails them all, later.
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), blockTimeout)
		l.writeBlock(bctx, batch)
		cancel()
	}
	return a.e, a.err
}

// writeBlock stores the entries of batch as the shard's next block and
// marks each done, with its error if it failed; l.mu is held.
func (l *Log) writeBlock(ctx context.Context, batch []*appending) {
	// A failed append returns no entry: a returned entry with an error
	// means stored but not locked.
	fail := func(err error) {
		for _, a := range batch {
			if !a.done {
				a.e, a.err, a.done = Entry{}, err, true
			}
		}
	}
	l.relock(ctx)
	for range appendAttempts {
		if l.block >= MaxSeq || l.seq+uint64(len(batch)) > MaxSeq {
			fail(fmt.Errorf("audit: shard %q is full (%d entries in %d blocks)", l.node, l.seq, l.block))
			return
		}
		now := l.now().UTC()
		seq, hash := l.seq, l.hash
		var block []byte
		var in []*appending
		for _, a := range batch {
			if a.done {
				continue
			}
			e := a.e
			e.Seq, e.Time, e.Node, e.Prev, e.Block = seq+1, now, l.node, hash, l.block+1
			w := toWire(e)
			w.Hash = entryHash(w)
			b, err := marshalEntry(w)
			if err == nil && len(b) > MaxEntrySize {
				err = fmt.Errorf("audit: entry of %d bytes is larger than %d", len(b), MaxEntrySize)
			}
			if err != nil {
				a.e, a.err, a.done = Entry{}, err, true
				continue
			}
			e.Hash = w.Hash
			a.e = e
			seq, hash = e.Seq, e.Hash
			block = append(block, b...)
			in = append(in, a)
		}
		if len(in) == 0 {
			return
		}
		key := BlockKey(l.node, l.block+1)
		// Locked in the put itself where the store can (one write, not two).
		_, err := archive.PutRetained(ctx, l.store, key, block, now.Add(l.retention))
		if errors.Is(err, archive.ErrExists) {
			// Another process appended to this shard: catch up and retry.
			tail, err := readTail(ctx, l.store, l.node, Position{Block: l.block, Seq: l.seq, Hash: l.hash})
			if err != nil {
				fail(err)
				return
			}
			// The other writer locks its own blocks; one that died before
			// doing so is re-locked when the shard is next opened.
			l.block, l.seq, l.hash = tail.Block, tail.Seq, tail.Hash
			l.last.Store(l.block)
			// Back off a little, at random, so two writers of one shard
			// do not keep colliding.
			select {
			case <-ctx.Done():
				fail(ctx.Err())
				return
			case <-time.After(time.Duration(rand.Int64N(int64(time.Millisecond)))):
			}
			continue
		}
		if err != nil && !errors.Is(err, archive.ErrStoredUnlocked) {
			if !l.landed(ctx, key, block) {
				fail(fmt.Errorf("audit: append %s: %w", key, err))
				return
			}
			// Stored all the same, only the answer was lost: the entries
			// are in the log, and the changes they record must stand. The
			// lock is checked at the next append.
			err = nil
			l.unlocked = append(l.unlocked, key)
		}
		l.block, l.seq, l.hash = l.block+1, seq, hash
		l.last.Store(l.block)
		if err != nil {
			l.unlocked = append(l.unlocked, key)
			err = fmt.Errorf("audit: block %s stored but not retention-locked: %w", key, err)
		}
		for _, a := range in {
			a.err, a.done = err, true
		}
		return
	}
	fail(fmt.Errorf("audit: append to shard %q: lost the race %d times to another writer of the same node", l.node, appendAttempts))
}

// landed tells, after a put of a block that failed, whether the block was
// stored all the same: a store node that dies after storing and before
// answering leaves the put's outcome unknown, and an entry in the log whose
// change the caller then undoes would record what did not happen. It reads
// the key back a few times, briefly, while the store keeps failing; it
// answers false when the key is absent, holds other bytes, or cannot be
// read at all (the caller then undoes its change as for any failed append;
// if the entry was stored after all, fixity reports the entry without its
// change).
func (l *Log) landed(ctx context.Context, key string, want []byte) bool {
	for try := range landedReads {
		if try > 0 {
			select {
			case <-ctx.Done():
				return false
			case <-time.After(time.Duration(try) * 200 * time.Millisecond):
			}
		}
		got, _, err := archive.GetBytes(ctx, l.store, key)
		switch {
		case errors.Is(err, archive.ErrNotFound):
			return false
		case err == nil:
			return bytes.Equal(got, want)
		}
	}
	return false
}

// landedReads bounds landed's reads (about a second and a half in all).
const landedReads = 4

// relock retries the retention locks that failed; l.mu is held.
func (l *Log) relock(ctx context.Context) {
	var still []string
	for _, key := range l.unlocked {
		if err := l.lockIfUnlocked(ctx, key); err != nil {
			still = append(still, key)
		}
	}
	l.unlocked = still
}

// lockIfUnlocked sets the retention of key if it has none. A LockedError
// means another process locked it meanwhile, with a later date.
func (l *Log) lockIfUnlocked(ctx context.Context, key string) error {
	info, err := l.store.Head(ctx, key)
	if err != nil {
		return fmt.Errorf("audit: %s: %w", key, err)
	}
	if !info.RetainUntil.IsZero() {
		return nil
	}
	var le *archive.LockedError
	if err := l.store.SetRetention(ctx, key, l.now().Add(l.retention)); err != nil && !errors.As(err, &le) {
		return fmt.Errorf("audit: lock %s: %w", key, err)
	}
	return nil
}

// LastBlock returns the number of the last block of node's shard (0 if it
// has none), looking from block from on (0, or a block known to exist), by
// galloping then bisecting with Head: blocks are dense, so this costs
// O(log n) requests. It reads no block.
func LastBlock(ctx context.Context, store archive.Store, node string, from uint64) (uint64, error) {
	n, err := archive.LastInSeries(ctx, store, func(n uint64) string { return BlockKey(node, n) }, from, MaxSeq)
	if err != nil {
		return 0, fmt.Errorf("audit: read tail of shard %q: %w", node, err)
	}
	return n, nil
}

// readTail finds the last block of node's shard, starting from a known
// position (the zero Position, or one whose block holds entry Seq with
// Hash as its last; LastBlock). It returns the last block, its last entry
// and that entry's hash, and refuses a damaged tail.
func readTail(ctx context.Context, store archive.Store, node string, from Position) (Position, error) {
	start := from.block()
	lo, err := LastBlock(ctx, store, node, start)
	if err != nil {
		return Position{}, err
	}
	if lo == start {
		return Position{Block: start, Seq: from.Seq, Hash: from.Hash}, nil
	}
	key := BlockKey(node, lo)
	b, _, err := archive.GetBytesMax(ctx, store, key, MaxBlockSize)
	if err != nil {
		return Position{}, fmt.Errorf("audit: read tail of shard %q: %w", node, err)
	}
	entries, err := ParseBlock(b)
	if err != nil {
		return Position{}, fmt.Errorf("audit: tail %s of shard %q is damaged (run audit verify): %w", key, node, err)
	}
	e := entries[len(entries)-1]
	if e.Node != node || e.Hash != entryHash(toWire(e)) || e.Seq < lo {
		return Position{}, fmt.Errorf("audit: tail %s of shard %q is damaged (run audit verify)", key, node)
	}
	return Position{Block: lo, Seq: e.Seq, Hash: e.Hash}, nil
}

// checkContent checks what the caller of Append sets.
func checkContent(e Entry) error {
	if e.Action == "" || len(e.Action) > 64 {
		return fmt.Errorf("audit: action %q: want 1 to 64 bytes", e.Action)
	}
	for i := 0; i < len(e.Action); i++ {
		c := e.Action[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("audit: action %q: only a-z 0-9 . - _ allowed", e.Action)
		}
	}
	if e.Subject == "" {
		return errors.New("audit: empty subject")
	}
	strs := []string{e.Subject, e.Actor}
	for k, v := range e.Details {
		if k == "" {
			return errors.New("audit: empty details key")
		}
		strs = append(strs, k, v)
	}
	for _, s := range strs {
		if !utf8.ValidString(s) {
			return fmt.Errorf("audit: %q is not valid UTF-8", s)
		}
	}
	return nil
}

// wireEntry is an Entry as stored. Time is a string so that the canonical
// form is exactly the stored bytes.
type wireEntry struct {
	Seq     uint64            `json:"seq"`
	Time    string            `json:"time"`
	Node    string            `json:"node"`
	Action  Action            `json:"action"`
	Subject string            `json:"subject"`
	Actor   string            `json:"actor"`
	Details map[string]string `json:"details,omitempty"`
	Prev    string            `json:"prev"`
	Hash    string            `json:"hash,omitempty"`
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func toWire(e Entry) wireEntry {
	return wireEntry{Seq: e.Seq, Time: formatTime(e.Time), Node: e.Node, Action: e.Action,
		Subject: e.Subject, Actor: e.Actor, Details: e.Details, Prev: e.Prev, Hash: e.Hash}
}

// entryHash computes the hash of w, ignoring w.Hash.
func entryHash(w wireEntry) string {
	w.Hash = ""
	b, err := json.Marshal(w)
	if err != nil {
		panic(err) // only strings and a map of strings: cannot fail
	}
	h := sm3.New()
	h.Write([]byte(hashDomain))
	h.Write([]byte(w.Prev))
	h.Write([]byte{'\n'})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func marshalEntry(w wireEntry) ([]byte, error) {
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("audit: encode entry: %w", err)
	}
	return append(b, '\n'), nil
}

// ParseEntry parses a stored entry. It checks the form (canonical JSON,
// valid node, seq, time and hash syntax) but not the hash itself, nor the
// links: that is Verify's job.
func ParseEntry(b []byte) (Entry, error) {
	if len(b) > MaxEntrySize {
		return Entry{}, fmt.Errorf("audit: entry of %d bytes is larger than %d", len(b), MaxEntrySize)
	}
	var w wireEntry
	if err := decodeStrict(b, &w); err != nil {
		return Entry{}, fmt.Errorf("audit: entry: %w", err)
	}
	if w.Seq < 1 || w.Seq > MaxSeq {
		return Entry{}, fmt.Errorf("audit: entry: seq %d out of range", w.Seq)
	}
	if !ValidNode(w.Node) {
		return Entry{}, fmt.Errorf("audit: entry: invalid node %q", w.Node)
	}
	t, err := parseTime(w.Time)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: entry: %w", err)
	}
	if !isHash(w.Hash) || (w.Prev != "" && !isHash(w.Prev)) {
		return Entry{}, errors.New("audit: entry: hash and prev must be 64 lower-case hex digits")
	}
	if err := checkContent(Entry{Action: w.Action, Subject: w.Subject, Actor: w.Actor, Details: w.Details}); err != nil {
		return Entry{}, err
	}
	if canon, _ := marshalEntry(w); !bytes.Equal(canon, b) {
		return Entry{}, errors.New("audit: entry is not in canonical form")
	}
	return Entry{Seq: w.Seq, Time: t, Node: w.Node, Action: w.Action, Subject: w.Subject,
		Actor: w.Actor, Details: w.Details, Prev: w.Prev, Hash: w.Hash}, nil
}

// ParseBlock parses a stored block: one or more entries, each as ParseEntry
// reads it, of one node, with consecutive seqs. Like ParseEntry it checks
// the form, not the hashes and links.
func ParseBlock(b []byte) ([]Entry, error) {
	if len(b) > MaxBlockSize {
		return nil, fmt.Errorf("audit: block of %d bytes is larger than %d", len(b), MaxBlockSize)
	}
	if len(b) == 0 {
		return nil, errors.New("audit: empty block")
	}
	var entries []Entry
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil, errors.New("audit: block does not end with a newline")
		}
		if len(entries) == MaxBlockEntries {
			return nil, fmt.Errorf("audit: block of more than %d entries", MaxBlockEntries)
		}
		e, err := ParseEntry(b[:i+1])
		if err != nil {
			return nil, fmt.Errorf("audit: block entry %d: %w", len(entries)+1, err)
		}
		if n := len(entries); n > 0 && (e.Seq != entries[n-1].Seq+1 || e.Node != entries[n-1].Node) {
			return nil, fmt.Errorf("audit: block entry %d is entry %d of %q after entry %d of %q", n+1, e.Seq, e.Node, entries[n-1].Seq, entries[n-1].Node)
		}
		entries = append(entries, e)
		b = b[i+1:]
	}
	return entries, nil
}

// decodeStrict decodes one JSON value with no unknown fields and nothing
// after it but the final newline (the canonical check catches the rest:
// duplicate keys, white space, escapes).
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	if formatTime(t) != s {
		return time.Time{}, fmt.Errorf("time %q is not canonical UTC RFC 3339", s)
	}
	return t.UTC(), nil
}

func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// parseBlockKey splits "audit/<node>/<n>.json"; ok is false for any
// other key.
func parseBlockKey(key string) (node string, n uint64, ok bool) {
	rest, found := strings.CutPrefix(key, prefix)
	if !found {
		return "", 0, false
	}
	node, name, found := strings.Cut(rest, "/")
	if !found || !ValidNode(node) {
		return "", 0, false
	}
	digits, found := strings.CutSuffix(name, ".json")
	if !found || len(digits) != 12 {
		return node, 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return node, 0, false
		}
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || seq < 1 {
		return node, 0, false
	}
	return node, seq, true
}
