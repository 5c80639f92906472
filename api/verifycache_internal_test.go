package api

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"eseal/seal"
)

// TestVerifyCacheFailures: a failed verification is not cached, and one
// that panics releases the requests waiting for it and is not cached either.
func TestVerifyCacheFailures(t *testing.T) {
	c := newVerifyCache(2, time.Hour)
	ctx := context.Background()
	boom := errors.New("store down")
	if _, _, err := c.get(ctx, "k", func(context.Context) (*seal.Report, error) { return nil, boom }); err != boom {
		t.Fatalf("first: %v", err)
	}
	rep := &seal.Report{Verdict: seal.Valid}
	if got, hit, err := c.get(ctx, "k", func(context.Context) (*seal.Report, error) { return rep, nil }); err != nil || got != rep || hit != cacheFresh {
		t.Fatalf("after a failure: %v %v %v", got, hit, err)
	}

	// A panicking verification, with a second request waiting on it: the
	// waiter is released with an error once the panic unwinds.
	started, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() { _ = recover() }()
		c.get(ctx, "p", func(context.Context) (*seal.Report, error) {
			close(started)
			<-release
			panic("verifier bug")
		})
	}()
	<-started
	waited := make(chan error)
	go func() {
		_, _, err := c.get(ctx, "p", func(context.Context) (*seal.Report, error) { return rep, nil })
		waited <- err
	}()
	// The waiter either joined the panicking call (errVerifyPanicked) or
	// came after it (a fresh verification): it is never left hanging.
	close(release)
	wg.Wait()
	if err := <-waited; err != nil && err != errVerifyPanicked {
		t.Fatalf("waiter: %v", err)
	}
	if _, hit, err := c.get(ctx, "p", func(context.Context) (*seal.Report, error) { return rep, nil }); err != nil || hit == cacheShared {
		t.Fatalf("after the panic: %v %v", hit, err)
	}

	// The least recently used report goes first.
	for _, k := range []string{"a", "b", "k"} {
		c.get(ctx, k, func(context.Context) (*seal.Report, error) { return rep, nil })
	}
	if _, hit, _ := c.get(ctx, "a", func(context.Context) (*seal.Report, error) { return rep, nil }); hit != cacheFresh {
		t.Errorf("a survived in a cache of 2 after b and k: %v", hit)
	}
}
