package api

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"

	"eseal/seal"
)

// verifyCache holds verification reports of documents by their SM3 and the
// trust state they were judged in (seal.Registry.TrustVersion): the bytes of
// an archived document never change, so its verdict changes only with the
// trust state — a new CRL, a seal suspended or revoked — or with the clock,
// which the TTL covers. Requests for a document being verified wait for that
// verification instead of starting their own (one verification per document
// and trust state however many people open its QR code at once).
type verifyCache struct {
	max int
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	lru     *list.List // of *cacheEntry, most recently used first
	entries map[string]*list.Element
	calls   map[string]*verifyCall
}

type cacheEntry struct {
	key  string
	rep  *seal.Report
	made time.Time
}

// verifyCall is a verification in flight; done closes when rep/err are set.
type verifyCall struct {
	done chan struct{}
	rep  *seal.Report
	err  error
}

func newVerifyCache(max int, ttl time.Duration) *verifyCache {
	return &verifyCache{max: max, ttl: ttl, now: time.Now, lru: list.New(), entries: map[string]*list.Element{}, calls: map[string]*verifyCall{}}
}

// cacheHit says how a report was obtained, for the metrics.
type cacheHit string

const (
	cacheFresh  cacheHit = "miss"   // this request verified
	cacheStored cacheHit = "hit"    // a cached report
	cacheShared cacheHit = "shared" // waited for another request's verification
)

// get returns the report for key: cached, shared with a verification in
// flight, or made by verify. verify runs detached from the request that
// started it, so the others waiting for it are not failed when that one
// goes away; a failed verification is not cached. The reports returned are
// shared: callers must not change them.
func (c *verifyCache) get(ctx context.Context, key string, verify func(context.Context) (*seal.Report, error)) (*seal.Report, cacheHit, error) {
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*cacheEntry)
		if c.now().Sub(e.made) < c.ttl {
			c.lru.MoveToFront(el)
			c.mu.Unlock()
			return e.rep, cacheStored, nil
		}
		c.lru.Remove(el)
		delete(c.entries, key)
	}
	if call, ok := c.calls[key]; ok {
		c.mu.Unlock()
		select {
		case <-call.done:
			return call.rep, cacheShared, call.err
		case <-ctx.Done():
			return nil, cacheShared, ctx.Err()
		}
	}
	call := &verifyCall{done: make(chan struct{}), err: errVerifyPanicked}
	c.calls[key] = call
	c.mu.Unlock()
	// Deferred, so that a verifier that panics (recoverPanics answers its
	// request) still releases the requests waiting for it.
	defer c.finish(key, call)
	call.rep, call.err = verify(context.WithoutCancel(ctx))
	return call.rep, cacheFresh, call.err
}

// errVerifyPanicked is what the requests waiting for a verification get
// when it panicked.
var errVerifyPanicked = errors.New("the verification failed; the error is in the server log")

// finish ends a verification in flight: its report is cached if it has one,
// and the requests waiting for it are released.
func (c *verifyCache) finish(key string, call *verifyCall) {
	c.mu.Lock()
	delete(c.calls, key)
	if call.err == nil {
		c.entries[key] = c.lru.PushFront(&cacheEntry{key: key, rep: call.rep, made: c.now()})
		for c.lru.Len() > c.max {
			old := c.lru.Remove(c.lru.Back()).(*cacheEntry)
			delete(c.entries, old.key)
		}
	}
	c.mu.Unlock()
	close(call.done)
}
