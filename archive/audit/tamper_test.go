package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"

	"eseal/archive"
	"eseal/archive/fs"
)

// fsPath is where the filesystem backend keeps key (see archive/fs).
func fsPath(s *fs.Store, key string) string {
	segs := strings.Split(key, "/")
	for i := range segs[:len(segs)-1] {
		segs[i] += "~"
	}
	return filepath.Join(append([]string{s.Root()}, segs...)...)
}

func readFile(t *testing.T, s *fs.Store, key string) []byte {
	t.Helper()
	b, err := os.ReadFile(fsPath(s, key))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeFile replaces an object's bytes behind the store's back.
func writeFile(t *testing.T, s *fs.Store, key string, b []byte) {
	t.Helper()
	p := fsPath(s, key)
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

func removeFile(t *testing.T, s *fs.Store, key string) {
	t.Helper()
	p := fsPath(s, key)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	os.Remove(p + "~lock")
}

// rewrite edits a stored entry and gives it a correct hash for its new
// content, as someone who knows the format would.
func rewrite(t *testing.T, s *fs.Store, key, prev string, edit func(*Entry)) string {
	t.Helper()
	e, err := ParseEntry(readFile(t, s, key))
	if err != nil {
		t.Fatal(err)
	}
	edit(&e)
	if prev != "" {
		e.Prev = prev
	}
	w := toWire(e)
	w.Hash = entryHash(w)
	b, err := marshalEntry(w)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, s, key, b)
	return w.Hash
}

// TestTamper: each way of changing the log behind the store's back is
// reported with its reason, at the first broken key. The log: n1 with
// entries 1–5 and n2 with 1–3, a checkpoint over both, then n1 entry 6.
func TestTamper(t *testing.T) {
	k := BlockKey
	subject := func(e *Entry) { e.Subject = "doc/forged" }
	tests := []struct {
		name    string
		tamper  func(t *testing.T, s *fs.Store, c *clock) (forged string)
		reason  Reason
		wantKey string // "" means the key tamper returns
	}{
		{"edit a byte", func(t *testing.T, s *fs.Store, _ *clock) string {
			b := readFile(t, s, k("n1", 3))
			i := bytes.Index(b, []byte(`"subject":"doc/`)) + len(`"subject":"doc/`)
			b[i] ^= 0x01
			writeFile(t, s, k("n1", 3), b)
			return ""
		}, HashMismatch, k("n1", 3)},
		{"edit and rehash", func(t *testing.T, s *fs.Store, _ *clock) string {
			rewrite(t, s, k("n1", 3), "", subject)
			return ""
		}, BrokenLink, k("n1", 4)},
		{"delete an entry", func(t *testing.T, s *fs.Store, _ *clock) string {
			removeFile(t, s, k("n1", 3))
			return ""
		}, Gap, k("n1", 3)},
		{"delete the first entry", func(t *testing.T, s *fs.Store, _ *clock) string {
			removeFile(t, s, k("n2", 1))
			return ""
		}, Gap, k("n2", 1)},
		{"swap two entries", func(t *testing.T, s *fs.Store, _ *clock) string {
			b2, b3 := readFile(t, s, k("n1", 2)), readFile(t, s, k("n1", 3))
			writeFile(t, s, k("n1", 2), b3)
			writeFile(t, s, k("n1", 3), b2)
			return ""
		}, BrokenLink, k("n1", 2)},
		{"entry copied from another shard", func(t *testing.T, s *fs.Store, _ *clock) string {
			writeFile(t, s, k("n1", 2), readFile(t, s, k("n2", 2)))
			return ""
		}, BrokenLink, k("n1", 2)},
		{"garbage", func(t *testing.T, s *fs.Store, _ *clock) string {
			writeFile(t, s, k("n1", 4), []byte("{not json"))
			return ""
		}, Unreadable, k("n1", 4)},
		{"re-indented", func(t *testing.T, s *fs.Store, _ *clock) string {
			b := readFile(t, s, k("n1", 4))
			writeFile(t, s, k("n1", 4), bytes.Replace(b, []byte(`,"node"`), []byte(`, "node"`), 1))
			return ""
		}, Unreadable, k("n1", 4)},
		{"truncate a checkpointed shard", func(t *testing.T, s *fs.Store, _ *clock) string {
			removeFile(t, s, k("n2", 3))
			return ""
		}, ShardShort, k("n2", 3)},
		{"delete a whole shard", func(t *testing.T, s *fs.Store, _ *clock) string {
			for seq := uint64(1); seq <= 3; seq++ {
				removeFile(t, s, k("n2", seq))
			}
			return ""
		}, ShardShort, k("n2", 1)},
		{"rewrite a chain tail consistently", func(t *testing.T, s *fs.Store, _ *clock) string {
			h := rewrite(t, s, k("n2", 2), "", subject)
			rewrite(t, s, k("n2", 3), h, subject)
			return ""
		}, CheckpointMismatch, k("n2", 3)},
		{"checkpoint by another key", func(t *testing.T, s *fs.Store, c *clock) string {
			l := open(t, s, "n2", c, newKey(t))
			cp, err := l.Checkpoint(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return cp.Key
		}, BadCheckpointSignature, ""},
		{"checkpoint edited", func(t *testing.T, s *fs.Store, _ *clock) string {
			var key string
			s.List(context.Background(), checkpointPrefix, func(oi archive.ObjectInfo) error { key = oi.Key; return nil })
			b := readFile(t, s, key)
			writeFile(t, s, key, bytes.Replace(b, []byte(`"seq":3`), []byte(`"seq":2`), 1))
			return key
		}, BadCheckpointSignature, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := newFS(t)
			c := newClock()
			key := newKey(t)
			n1, n2 := open(t, s, "n1", c, key), open(t, s, "n2", c, nil)
			appendN(t, n1, 5, "n1")
			appendN(t, n2, 3, "n2")
			if _, err := n1.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			appendN(t, n1, 1, "late")
			if r, err := Verify(ctx, s, &key.PublicKey); err != nil || !r.OK() {
				t.Fatalf("before tampering: %v %v", r.First(), err)
			}

			want := tt.wantKey
			if forged := tt.tamper(t, s, c); want == "" {
				want = forged
			}
			r, err := Verify(ctx, s, &key.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			p := r.First()
			if p == nil {
				t.Fatalf("Verify found nothing (entries %d)", r.Entries)
			}
			if p.Reason != tt.reason || p.Key != want {
				t.Errorf("first problem %v\nwant %s at %s", p, tt.reason, want)
			}
			t.Logf("%v (%d problems)", p, len(r.Problems))
		})
	}
}

// TestTruncationPastCheckpoint documents the limit: entries newer than the
// last checkpoint can be removed from the tail unnoticed, which is why
// replicas checkpoint often.
func TestTruncationPastCheckpoint(t *testing.T) {
	ctx := context.Background()
	s := newFS(t)
	key := newKey(t)
	l := open(t, s, "n1", newClock(), key)
	appendN(t, l, 2, "a")
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 1, "b")
	removeFile(t, s, BlockKey("n1", 3))
	r, err := Verify(ctx, s, &key.PublicKey)
	if err != nil || !r.OK() || r.Entries != 2 {
		t.Fatalf("Verify: %v %v, %d entries", r.First(), err, r.Entries)
	}
}

// TestCheckpointCounts: a new checkpoint counts each shard's entries; one
// made before counts were kept (no "count") is read and verified as before,
// and a shard cut short under either is ShardShort.
func TestCheckpointCounts(t *testing.T) {
	ctx := context.Background()
	s := newFS(t)
	key := newKey(t)
	c := newClock()
	l := open(t, s, "n1", c, key)
	appendN(t, l, 3, "a")
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := cp.Shards["n1"]; got.Count != 3 || got.Seq != 3 {
		t.Fatalf("checkpoint position %+v, want seq 3 count 3", got)
	}
	if !bytes.Contains(readFile(t, s, cp.Key), []byte(`"count":3`)) {
		t.Fatalf("stored checkpoint has no count: %s", readFile(t, s, cp.Key))
	}

	// An old-form checkpoint, signed without counts, over the same shard.
	old := &Checkpoint{Time: c.Now().UTC(), Node: "n1", Shards: map[string]Position{"n1": {Seq: 2, Hash: readTailHash(t, s, 2)}}}
	msg, _ := json.Marshal(old.wire())
	old.Signature, err = key.Sign(rand.Reader, msg, sm2.NewSM2SignerOption(true, nil))
	if err != nil {
		t.Fatal(err)
	}
	b := marshalCheckpoint(old)
	if bytes.Contains(b, []byte("count")) {
		t.Fatalf("old-form checkpoint carries a count: %s", b)
	}
	if _, err := ParseCheckpoint(b); err != nil {
		t.Fatalf("old-form checkpoint does not parse: %v", err)
	}
	if _, err := archive.PutBytesIfAbsent(ctx, s, CheckpointKey(old.Time, old.Node), b); err != nil {
		t.Fatal(err)
	}
	if r, err := Verify(ctx, s, &key.PublicKey); err != nil || !r.OK() || r.Checkpoints != 2 {
		t.Fatalf("Verify with an old-form checkpoint: %v %v (%d checkpoints)", r.First(), err, r.Checkpoints)
	}

	removeFile(t, s, BlockKey("n1", 3))
	r, err := Verify(ctx, s, &key.PublicKey)
	if err != nil || r.OK() || r.First().Reason != ShardShort || r.First().Key != BlockKey("n1", 3) {
		t.Fatalf("Verify after the last entry was cut: %v %v", r.First(), err)
	}
}

func readTailHash(t *testing.T, s *fs.Store, seq uint64) string {
	t.Helper()
	e, err := ParseEntry(readFile(t, s, BlockKey("n1", seq)))
	if err != nil {
		t.Fatal(err)
	}
	return e.Hash
}
