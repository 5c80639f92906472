package seal_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"eseal/archive"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// ambiguousStore makes one write, the n-th after it is armed, ambiguous:
// the write is stored, but its caller hears otherwise — as when a store
// node dies after storing and before answering. With retried set, a put
// answers ErrExists, as a client that resends the request and meets its own
// object would; otherwise every kind of write answers errLostAnswer.
type ambiguousStore struct {
	writeHook
	retried bool
	armed   atomic.Bool
	left    atomic.Int64
	hit     atomic.Value // the key of the ambiguous write
}

func newAmbiguousStore(s archive.Store, retried bool) *ambiguousStore {
	a := &ambiguousStore{writeHook: writeHook{Store: s}, retried: retried}
	a.after = a.answer
	return a
}

var errLostAnswer = errors.New("connection reset by peer (the write may have been stored)")

// answer is what the caller of a write that has been made hears.
func (a *ambiguousStore) answer(op, key string, err error) error {
	if err != nil || !a.armed.Load() || a.left.Add(-1) != -1 {
		return err
	}
	a.hit.Store(key)
	if strings.HasPrefix(op, "put") && a.retried {
		return archive.ErrExists
	}
	return errLostAnswer
}

// TestAmbiguousWriteAtEveryStep makes each write of a stamping in turn
// ambiguous — stored, but answered with an error, or with "exists" as a
// retrying client hears it — then has the client retry under the same
// Idempotency-Key on another replica, and lets the recovery sweep run past
// its grace. Whatever the stamping answered: the authorization is used at
// most once; a document any answer named is committed, complete and
// locked, and both answers name the same one; a document exists only for a
// use; nothing is pending; fixity is clean. (TestClusterNodeLoss found a
// committed document discarded this way: its use-marker put was stored,
// the retried put refused, and the stamping took that as a lost race.)
func TestAmbiguousWriteAtEveryStep(t *testing.T) {
	ctx := context.Background()
	doc := pdftest.Document(pdftest.Options{})
	for _, retried := range []bool{false, true} {
		mode := map[bool]string{false: "answer lost", true: "put retried"}[retried]
		for n := 0; ; n++ {
			var amb *ambiguousStore
			c := newFaultCase(t, doc, "order-4711", func(s archive.Store) archive.Store { amb = newAmbiguousStore(s, retried); return amb })
			e, base, clock, a := c.e, c.base, c.clock, c.authz
			amb.left.Store(int64(n))
			amb.armed.Store(true)
			first, err1 := e.svc.Stamp(ctx, c.req)
			amb.armed.Store(false)
			hit, _ := amb.hit.Load().(string)
			if hit == "" { // the stamping made fewer than n+1 writes
				if n == 0 || err1 != nil {
					t.Fatalf("%s: no ambiguous write at n = %d: %v", mode, n, err1)
				}
				break
			}
			at := mode + " at " + hit

			// The client retries on another replica, at once.
			other := replica(t, e, base, clock, "retry")
			second, err2 := other.Stamp(ctx, c.req)

			// Later, past the grace period, a sweep.
			clock.Advance(time.Hour)
			svc := replica(t, e, base, clock, "sweep")
			if _, _, err := svc.Recover(ctx); err != nil {
				t.Fatal(err)
			}
			used := settled(t, at, svc, base, a)
			for i, s := range []*seal.Stamped{first, second} {
				if s != nil && s.DocumentID != used {
					t.Errorf("%s: answer %d names %s; the authorization's use is %q", at, i+1, s.DocumentID, used)
				}
			}
			if err2 != nil && used != "" {
				t.Errorf("%s: the retry failed (%v) though %s is committed", at, err2, used)
			}
			t.Logf("%s: first %v, retry %v, use %q", at, err1, err2, used)
		}
	}
}
