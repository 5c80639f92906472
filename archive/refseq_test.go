package archive_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/fs"
)

// refStore is a filesystem store that counts the reads of a series' claims
// (heads and gets, listings) and can fail the put of one claim.
type refStore struct {
	archive.Store
	heads, gets, lists atomic.Int64
	failPut            atomic.Value // string: a key whose put fails once
}

func (r *refStore) Head(ctx context.Context, key string) (archive.ObjectInfo, error) {
	if strings.HasPrefix(key, "refseq/") {
		r.heads.Add(1)
	}
	return r.Store.Head(ctx, key)
}

func (r *refStore) Get(ctx context.Context, key string) (io.ReadCloser, archive.ObjectInfo, error) {
	if strings.HasPrefix(key, "refseq/") {
		r.gets.Add(1)
	}
	return r.Store.Get(ctx, key)
}

func (r *refStore) List(ctx context.Context, prefix string, fn func(archive.ObjectInfo) error) error {
	if strings.HasPrefix(prefix, "refseq/") {
		r.lists.Add(1)
	}
	return r.Store.List(ctx, prefix, fn)
}

func (r *refStore) PutIfAbsent(ctx context.Context, key string, data io.Reader, size int64) (archive.ObjectInfo, error) {
	if k, _ := r.failPut.Load().(string); k == key {
		r.failPut.Store("")
		return archive.ObjectInfo{}, errors.New("store node lost")
	}
	return r.Store.PutIfAbsent(ctx, key, data, size)
}

func (r *refStore) reads() int64 { return r.heads.Load() + r.gets.Load() + r.lists.Load() }

func newRefStore(t *testing.T) *refStore {
	t.Helper()
	s, err := fs.New(t.TempDir(), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := &refStore{Store: s}
	r.failPut.Store("")
	return r
}

func refNumber(doc string) archive.RefNumber {
	return archive.RefNumber{DocumentID: doc, Fonds: "Z001", Year: 2026, Retention: archive.Permanent, Item: "330000XK01"}
}

// assignAll numbers docs at once, conc at a time, each replica (counter)
// taking its share, and returns each document's number.
func assignAll(t *testing.T, s archive.Store, counters []*archive.RefCounter, docs []string, conc int) map[string]int {
	t.Helper()
	var mu sync.Mutex
	got := map[string]int{}
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	now := time.Now()
	for i, d := range docs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			n, err := counters[i%len(counters)].Assign(context.Background(), s, refNumber(d), now.Add(time.Hour), now, false)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got[d] = n.Seq
			mu.Unlock()
		}()
	}
	wg.Wait()
	return got
}

// dense fails unless the numbers are from..from+len-1, each once.
func dense(t *testing.T, got map[string]int, from int) {
	t.Helper()
	var seqs []int
	for _, n := range got {
		seqs = append(seqs, n)
	}
	sort.Ints(seqs)
	for i, n := range seqs {
		if n != from+i {
			t.Fatalf("numbers %v: want %d..%d, each once", seqs, from, from+len(seqs)-1)
		}
	}
}

func docIDs(prefix string, n int) []string {
	var ids []string
	for i := range n {
		ids = append(ids, fmt.Sprintf("%s%04d", prefix, i))
	}
	return ids
}

// TestRefCounterProbesInsteadOfListing: a series of 1500 numbers is
// continued by a replica that never saw it with about 2·log2(1500) reads
// of single claims and no listing; its next numbers cost no read at all;
// three replicas numbering one series at once give it no gap and no
// number twice.
func TestRefCounterProbesInsteadOfListing(t *testing.T) {
	s := newRefStore(t)
	ctx := context.Background()
	var first archive.RefCounter
	dense(t, assignAll(t, s, []*archive.RefCounter{&first}, docIDs("a", 1500), 16), 1)
	if s.lists.Load() != 0 {
		t.Errorf("the series was listed %d times", s.lists.Load())
	}

	// A replica that never saw the series.
	var cold archive.RefCounter
	before := s.reads()
	now := time.Now()
	n, err := cold.Assign(ctx, s, refNumber("cold"), now.Add(time.Hour), now, false)
	if err != nil || n.Seq != 1501 {
		t.Fatalf("the next number from a new replica: %+v, %v; want 1501", n, err)
	}
	if reads, bound := s.reads()-before, int64(2*bits.Len(1500)+2); reads > bound {
		t.Errorf("a new replica read %d claims to find the next number; want at most %d", reads, bound)
	}
	before = s.reads()
	if n, err = cold.Assign(ctx, s, refNumber("warm"), now.Add(time.Hour), now, false); err != nil || n.Seq != 1502 {
		t.Fatalf("the number after: %+v, %v; want 1502", n, err)
	}
	if reads := s.reads() - before; reads != 0 {
		t.Errorf("the number after one it claimed took %d reads, want none", reads)
	}

	// Three replicas at once, the first two knowing less than is claimed.
	var third archive.RefCounter
	got := assignAll(t, s, []*archive.RefCounter{&first, &cold, &third}, docIDs("b", 90), 12)
	if len(got) != 90 {
		t.Fatalf("%d documents numbered, want 90", len(got))
	}
	dense(t, got, 1503)
}

// TestRefCounterGivesBackAFailedNumber: a claim whose put fails (not taken
// by another replica) hands its number out again, so the series keeps no
// gap; and a resumed numbering finds the claim it made before instead of
// taking a second number.
func TestRefCounterGivesBackAFailedNumber(t *testing.T) {
	s := newRefStore(t)
	ctx := context.Background()
	var c archive.RefCounter
	dense(t, assignAll(t, s, []*archive.RefCounter{&c}, docIDs("a", 5), 1), 1)

	key := "refseq/Z001/2026/permanent/item-330000XK01/000000006.json"
	s.failPut.Store(key)
	now := time.Now()
	if _, err := c.Assign(ctx, s, refNumber("failed"), now.Add(time.Hour), now, false); err == nil {
		t.Fatal("the claim's put failed, yet a number was assigned")
	}
	n, err := c.Assign(ctx, s, refNumber("next"), now.Add(time.Hour), now, false)
	if err != nil || n.Seq != 6 {
		t.Fatalf("after a failed claim: %+v, %v; want number 6 again", n, err)
	}

	// The claim of "next" is there; its number is kept: numbering it again
	// (resumed, as the recovery sweep would) keeps 6, and so does a claim
	// made but not kept (the number's own object not yet written).
	again, err := (&archive.RefCounter{}).AssignSince(ctx, s, refNumber("next"), now.Add(time.Hour), now, now)
	if err != nil || again.Seq != 6 {
		t.Fatalf("numbering again: %+v, %v; want 6", again, err)
	}
	b := []byte(`{"document_id":"orphan","fonds":"Z001","year":2026,"retention":"permanent","item":"330000XK01","seq":7}`)
	if _, err := archive.PutRetained(ctx, s.Store, "refseq/Z001/2026/permanent/item-330000XK01/000000007.json", b, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	before := s.gets.Load()
	found, err := (&archive.RefCounter{}).AssignSince(ctx, s, refNumber("orphan"), now.Add(time.Hour), now, now)
	if err != nil || found.Seq != 7 {
		t.Fatalf("a resumed numbering of a document that claimed 7: %+v, %v", found, err)
	}
	if gets := s.gets.Load() - before; gets > 2 {
		t.Errorf("finding the newest claim read %d claims", gets)
	}
}
