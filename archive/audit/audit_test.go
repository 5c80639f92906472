package audit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/minio/minio-go/v7"

	"eseal/archive"
	"eseal/archive/fs"
	"eseal/archive/s3"
	"eseal/archive/s3/miniotest"
)

func TestMain(m *testing.M) { miniotest.Main(m) }

// clock is an injected clock: real time at the start (S3 retention must
// lie in the server's future), then one millisecond more at every call.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *clock) Now() time.Time { return time.Unix(0, c.ns.Add(int64(time.Millisecond))) }

var bucketSeq atomic.Int64

// backends is the table every store-level test runs through.
var backends = []struct {
	name string
	open func(t *testing.T) archive.Store
}{
	{"fs", func(t *testing.T) archive.Store { return newFS(t) }},
	{"minio", func(t *testing.T) archive.Store { return newMinIO(t) }},
}

func newFS(t *testing.T) *fs.Store {
	t.Helper()
	s, err := fs.New(t.TempDir(), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newMinIO(t *testing.T) *s3.Store {
	t.Helper()
	endpoint, access, secret := miniotest.StartShared(t)
	bucket := fmt.Sprintf("eseal-audit-%d-%d", time.Now().UnixNano()%1e9, bucketSeq.Add(1))
	s, err := s3.New(context.Background(), s3.Config{Endpoint: endpoint, Bucket: bucket, AccessKey: access, SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newKey(t testing.TB) *sm2.PrivateKey {
	t.Helper()
	k, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func open(t testing.TB, s archive.Store, node string, c *clock, key *sm2.PrivateKey) *Log {
	t.Helper()
	opts := Options{Now: c.Now}
	if key != nil {
		opts.Signer = key
	}
	l, err := Open(context.Background(), s, node, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", node, err)
	}
	return l
}

func appendN(t testing.TB, l *Log, n int, tag string) []Entry {
	t.Helper()
	var out []Entry
	for i := range n {
		e, err := l.Append(context.Background(), Entry{
			Action:  DocumentStamped,
			Subject: fmt.Sprintf("doc/%s-%d", tag, i),
			Actor:   "apikey/test",
			Details: map[string]string{"seal": "s1", "note": "<&> 章"},
		})
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		out = append(out, e)
	}
	return out
}

// TestAppendCheckpointVerify: two nodes append at once, node "a" from 8
// goroutines through two Logs (as two processes sharing the node would);
// no seq is lost or given twice, entries are retention-locked, and a
// checkpoint over both shards verifies.
func TestAppendCheckpointVerify(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := b.open(t)
			c := newClock()
			key := newKey(t)
			a := []*Log{open(t, s, "node-a", c, nil), open(t, s, "node-a", c, nil)}
			nodeB := open(t, s, "node-b", c, key)

			const goroutines, perG, nB = 8, 6, 10
			var wg sync.WaitGroup
			results := make([][]Entry, goroutines)
			for g := range goroutines {
				wg.Go(func() { results[g] = appendN(t, a[g%2], perG, fmt.Sprintf("g%d", g)) })
			}
			wg.Go(func() { appendN(t, nodeB, nB, "b") })
			wg.Wait()

			seen := map[uint64]string{}
			for _, rs := range results {
				for _, e := range rs {
					if prev, dup := seen[e.Seq]; dup {
						t.Errorf("seq %d given twice: %s and %s", e.Seq, prev, e.Subject)
					}
					seen[e.Seq] = e.Subject
				}
			}
			for seq := uint64(1); seq <= goroutines*perG; seq++ {
				if _, ok := seen[seq]; !ok {
					t.Errorf("seq %d lost", seq)
				}
			}
			// Concurrent appends share blocks: fewer objects than entries,
			// and every entry in the block it names.
			blocks, stored := 0, map[uint64]uint64{}
			if err := s.List(ctx, "audit/node-a/", func(archive.ObjectInfo) error { blocks++; return nil }); err != nil {
				t.Fatal(err)
			}
			if err := Entries(ctx, s, func(e Entry) error {
				if e.Node == "node-a" {
					stored[e.Seq] = e.Block
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(stored) != goroutines*perG || blocks > goroutines*perG {
				t.Errorf("node-a has %d stored entries in %d blocks, want %d entries", len(stored), blocks, goroutines*perG)
			}
			for _, rs := range results {
				for _, e := range rs {
					if stored[e.Seq] != e.Block {
						t.Errorf("entry %d: Append said block %d, it is in block %d", e.Seq, e.Block, stored[e.Seq])
					}
				}
			}
			t.Logf("node-a: %d entries in %d blocks", len(stored), blocks)
			info, err := s.Head(ctx, BlockKey("node-a", 1))
			if err != nil {
				t.Fatal(err)
			}
			if min := time.Now().Add(99 * 365 * 24 * time.Hour); info.RetainUntil.Before(min) {
				t.Errorf("entry retained until %v, want about 100 years", info.RetainUntil)
			}

			cp, err := nodeB.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]uint64{"node-a": goroutines * perG, "node-b": nB}
			for node, seq := range want {
				if cp.Shards[node].Seq != seq {
					t.Errorf("checkpoint shard %s at %d, want %d", node, cp.Shards[node].Seq, seq)
				}
			}
			if info, err := s.Head(ctx, cp.Key); err != nil || info.RetainUntil.IsZero() {
				t.Errorf("checkpoint %s: retention %v, %v", cp.Key, info.RetainUntil, err)
			}
			appendN(t, a[0], 2, "after") // entries past the checkpoint are fine

			// A restarted process finds the tail.
			re := open(t, s, "node-a", c, nil)
			if e := appendN(t, re, 1, "restart"); e[0].Seq != goroutines*perG+3 {
				t.Errorf("after restart seq %d, want %d", e[0].Seq, goroutines*perG+3)
			}

			r, err := Verify(ctx, s, &key.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			if !r.OK() {
				t.Fatalf("Verify: %v", r.First())
			}
			if r.Entries != goroutines*perG+3+nB || r.Shards != 2 || r.Checkpoints != 1 {
				t.Errorf("Verify counted %d entries, %d shards, %d checkpoints", r.Entries, r.Shards, r.Checkpoints)
			}
		})
	}
}

// TestMinIORefusesRewrite: on S3 the store refuses to replace or delete an
// entry, and so does the server; a raw PUT only adds a newer version,
// which Verify catches while the original version stays.
func TestMinIORefusesRewrite(t *testing.T) {
	ctx := context.Background()
	s := newMinIO(t)
	c := newClock()
	key := newKey(t)
	l := open(t, s, "n1", c, key)
	appendN(t, l, 3, "x")
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	k := BlockKey("n1", 2)
	orig, info, err := archive.GetBytes(ctx, s, k)
	if err != nil {
		t.Fatal(err)
	}
	forged := []byte(strings.Replace(string(orig), "doc/x-1", "doc/x-9", 1))

	if _, err := archive.PutBytesIfAbsent(ctx, s, k, forged); !errors.Is(err, archive.ErrExists) {
		t.Errorf("store PutIfAbsent over an entry: %v, want ErrExists", err)
	}
	var le *archive.LockedError
	if err := s.Delete(ctx, k); !errors.As(err, &le) {
		t.Errorf("store Delete of an entry: %v, want LockedError", err)
	}
	if err := s.SetRetention(ctx, k, time.Now().Add(time.Hour)); !errors.As(err, &le) {
		t.Errorf("store shortening an entry's retention: %v, want LockedError", err)
	}
	cl := s.Client()
	if err := cl.RemoveObject(ctx, s.Bucket(), k, minio.RemoveObjectOptions{VersionID: info.VersionID}); err == nil {
		t.Error("raw delete of the entry's version succeeded")
	}
	if _, err := cl.PutObject(ctx, s.Bucket(), k, strings.NewReader(string(forged)), int64(len(forged)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := Verify(ctx, s, &key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if p := r.First(); p == nil || p.Reason != HashMismatch || p.Key != k {
		t.Errorf("Verify after a raw overwrite: %v, want hash mismatch at %s", p, k)
	}
	old, err := cl.GetObject(ctx, s.Bucket(), k, minio.GetObjectOptions{VersionID: info.VersionID})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	st, err := old.Stat()
	if err != nil || st.Size != int64(len(orig)) {
		t.Errorf("original version: size %d, %v", st.Size, err)
	}
}

func TestOpenRejectsNodeNames(t *testing.T) {
	s := newFS(t)
	for _, n := range []string{"", "A", "a/b", "a_b", "checkpoints", "nodes", strings.Repeat("a", 33)} {
		if _, err := Open(context.Background(), s, n, Options{}); err == nil {
			t.Errorf("Open(%q) succeeded", n)
		}
	}
}

func TestAppendRejects(t *testing.T) {
	l := open(t, newFS(t), "n1", newClock(), nil)
	for _, e := range []Entry{
		{Subject: "x"},
		{Action: "Bad Action", Subject: "x"},
		{Action: SealCreated},
		{Action: SealCreated, Subject: "x", Actor: "\xff"},
		{Action: SealCreated, Subject: "x", Details: map[string]string{"": "v"}},
		{Action: SealCreated, Subject: strings.Repeat("x", MaxEntrySize)},
	} {
		if _, err := l.Append(context.Background(), e); err == nil {
			t.Errorf("Append(%+v) succeeded", e)
		}
	}
	if _, err := l.Checkpoint(context.Background()); !errors.Is(err, ErrNoSigner) {
		t.Errorf("Checkpoint without signer: %v", err)
	}
}
