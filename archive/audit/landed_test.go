package audit

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"eseal/archive"
)

// lossyStore fails the next put it is armed for, after storing it (stored)
// or without storing it: a store node that dies after or before the write.
type lossyStore struct {
	archive.Store
	armed  atomic.Bool
	stored bool
}

var errReset = errors.New("connection reset by peer")

func (l *lossyStore) PutRetained(ctx context.Context, key string, r io.Reader, size int64, until time.Time) (archive.ObjectInfo, error) {
	if !l.armed.CompareAndSwap(true, false) {
		return l.Store.(archive.RetainingStore).PutRetained(ctx, key, r, size, until)
	}
	if l.stored {
		if _, err := l.Store.(archive.RetainingStore).PutRetained(ctx, key, r, size, until); err != nil {
			return archive.ObjectInfo{}, err
		}
	}
	return archive.ObjectInfo{}, errReset
}

// TestAppendAnswerLost: an append whose put fails is an error only when
// the entry was not stored. One stored with its answer lost is in the log
// — Append returns it, the shard goes on after it, and the log verifies —
// so the caller does not undo a change the log records.
func TestAppendAnswerLost(t *testing.T) {
	for _, stored := range []bool{true, false} {
		name := map[bool]string{true: "stored", false: "not stored"}[stored]
		t.Run(name, func(t *testing.T) {
			ls := &lossyStore{Store: newFS(t), stored: stored}
			c := newClock()
			key := newKey(t)
			l := open(t, ls, "a", c, key)
			appendN(t, l, 2, "before")
			ls.armed.Store(true)
			e, err := l.Append(context.Background(), Entry{Action: DocumentStamped, Subject: "doc/lost", Actor: "apikey/test"})
			switch {
			case stored && (err != nil || e.Seq != 3):
				t.Fatalf("stored, answer lost: %+v, %v; want entry 3 and no error", e, err)
			case !stored && (err == nil || !errors.Is(err, errReset)):
				t.Fatalf("not stored: %+v, %v; want the put's error", e, err)
			}
			after := appendN(t, l, 1, "after")
			want := map[bool]int{true: 4, false: 3}[stored]
			if after[0].Seq != uint64(want) {
				t.Errorf("next entry is %d, want %d", after[0].Seq, want)
			}
			if _, err := l.Checkpoint(context.Background()); err != nil {
				t.Fatal(err)
			}
			rep, err := Verify(context.Background(), ls, key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) != 0 || rep.Entries != want {
				t.Errorf("verify: %d entries, problems %v; want %d and none", rep.Entries, rep.Problems, want)
			}
		})
	}
}
