package api

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// clientOf names the client a request comes from, for per-client limits.
// It is the peer's address, unless the peer is a trusted proxy
// (Options.TrustedProxies): then X-Forwarded-For is read from the right —
// the entries the trusted proxies appended — and the first address that is
// not itself a trusted proxy is the client. An untrusted peer's
// X-Forwarded-For is ignored, since anyone can write one.
func (s *Server) clientOf(r *http.Request) string {
	peer := peerAddr(r)
	if !s.trusted(peer) {
		return peer.String()
	}
	hops := r.Header.Values("X-Forwarded-For")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				// A hop a trusted proxy did not write well: the last
				// trusted proxy is the best name left for the client.
				return client.String()
			}
			client = a.Unmap()
			if !s.trusted(client) {
				return client.String()
			}
		}
	}
	return client.String()
}

// trusted reports whether a is one of the configured trusted proxies.
func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr is the address of the connection's other end.
func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.IPv6Unspecified()
	}
	return a.Unmap()
}

// keyLimiter is a token bucket per key (a client address, a code prefix):
// perMinute tokens a minute, as many at once. Keys whose buckets are full
// again are forgotten, and the table never holds more than maxKeys: past
// that it starts afresh, which only ever lets more requests through.
type keyLimiter struct {
	perMinute int
	maxKeys   int
	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	swept     time.Time
}

// limiterKeys bounds a keyLimiter's table: about 200 bytes a key, so at
// most ~13 MB for each limiter however many addresses an attacker has.
const limiterKeys = 1 << 16

func newKeyLimiter(perMinute int) *keyLimiter {
	return &keyLimiter{perMinute: perMinute, maxKeys: limiterKeys, buckets: map[string]*rate.Limiter{}, swept: time.Now()}
}

// allow spends a token of key and reports whether there was one.
func (c *keyLimiter) allow(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.swept) > time.Minute || len(c.buckets) >= c.maxKeys {
		for k, l := range c.buckets {
			if l.Tokens() >= float64(c.perMinute) {
				delete(c.buckets, k)
			}
		}
		if len(c.buckets) >= c.maxKeys {
			clear(c.buckets)
		}
		c.swept = time.Now()
	}
	l := c.buckets[key]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(float64(c.perMinute)/60), c.perMinute)
		c.buckets[key] = l
	}
	return l.Allow()
}

// limitPerClient answers 429 (rate-limited, Retry-After) to a client that
// sent more than Limits.ApprovalRequestsPerMinute requests to the public
// approval and enrolment routes.
func (s *Server) limitPerClient(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.approvals.allow(s.clientOf(r)) {
			s.metrics.rateLimited.WithLabelValues("approval").Inc()
			w.Header().Set("Retry-After", "60")
			writeProblem(w, r, newProblem("rate-limited", "too many requests from this address to the approval routes; retry in a minute"))
			return
		}
		next(w, r)
	}
}

// clientSlots bounds how many slots of a kind of work one client holds at
// once (Limits.UploadsPerClient for uploads to verify), so that one address
// cannot take every slot. A client is its address, an IPv6 one by its /64
// (one subscriber's prefix).
type clientSlots struct {
	per   int
	mu    sync.Mutex
	held  map[string]int
	freed chan struct{} // closed, and replaced, at every release
}

func newClientSlots(per int) *clientSlots {
	return &clientSlots{per: per, held: map[string]int{}, freed: make(chan struct{})}
}

// slotClient is the name a client's slots are counted under.
func slotClient(client string) string {
	a, err := netip.ParseAddr(client)
	if err != nil || !a.Is6() || a.Is4In6() {
		return client
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// acquire takes one of client's slots, waiting at most wait for one of its
// own to be released, and no longer than ctx lives.
func (c *clientSlots) acquire(ctx context.Context, client string, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for {
		c.mu.Lock()
		if c.held[client] < c.per {
			c.held[client]++
			c.mu.Unlock()
			return true
		}
		freed := c.freed
		c.mu.Unlock()
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		t := time.NewTimer(left)
		select {
		case <-freed:
			t.Stop()
		case <-t.C:
			return false
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
}

func (c *clientSlots) release(client string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held[client]--; c.held[client] <= 0 {
		delete(c.held, client)
	}
	close(c.freed)
	c.freed = make(chan struct{})
}
