package api

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// Limits holds what an operator can bound on the HTTP interface. Every field
// has a default sized for the 2-core node of docs/performance.md; the
// configuration (`limits:` in `eseal serve`'s file) sets them all in one
// place.
type Limits struct {
	// MaxPDFBytes is the largest PDF accepted for stamping or verification.
	MaxPDFBytes int64
	// MaxJSONBytes bounds JSON bodies and the JSON part of a stamp request.
	MaxJSONBytes int64
	// CodeAttemptsPerMinute limits wrong retrieval codes per client (burst
	// of as many). A correct code is never refused.
	CodeAttemptsPerMinute int
	// CodePrefixAttemptsPerMinute limits wrong retrieval codes sharing their
	// first four characters, from all clients together: it slows down many
	// addresses guessing the rest of a code whose beginning they know.
	CodePrefixAttemptsPerMinute int
	// ApprovalRequestsPerMinute limits each client's requests to the public
	// approval and enrolment routes (approve, refuse, passkey challenges).
	ApprovalRequestsPerMinute int
	// VerifyUploads is how many POST /v1/verify bodies are read and verified
	// at once; another waits BusyWait, its body unread, then is answered 503
	// with Retry-After.
	VerifyUploads int
	// UploadsPerClient is how many of those one client (an address; an IPv6
	// one by its /64) may hold at once; its next waits BusyWait for one of
	// its own, then is answered 429 with Retry-After.
	UploadsPerClient int
	// VerifyStored is how many archived documents are verified at once for
	// /v/{id} and /d/{code} when the verification cache does not hold them.
	VerifyStored int
	// SpoolBytes is how much of an uploaded PDF is kept in memory; the rest
	// goes to a temporary file (unlinked at once) read back at random.
	SpoolBytes int64
	// VerifyCacheEntries bounds the cache of verification reports of
	// archived documents (a few KB each).
	VerifyCacheEntries int
	// VerifyCacheTTL is how long a cached report is shown before the
	// document is verified again even if the trust state did not change
	// (certificate validity depends on the clock).
	VerifyCacheTTL time.Duration
	// BusyWait is how long a request waits for a verification slot (an
	// upload's body still unread) before it is answered 503.
	BusyWait time.Duration
	// Stampings is how many POST /v1/stamps are read and stamped at once:
	// each holds its PDF in memory (up to MaxPDFBytes), so this bounds the
	// memory stampings take. Another waits StampWait, its body unread,
	// then is answered 503 with Retry-After.
	Stampings int
	// StampWait is how long a stamping waits for a slot. Approval systems
	// send in bursts and retry; a long wait queues a burst instead of
	// refusing it.
	StampWait time.Duration
	// MinBodyRate is the least rate, in bytes a second over every
	// BodyRateWindow, at which the body of a request holding a slot (a
	// stamping, an upload to verify) must arrive; a slower one is cut and
	// answered 408, its slot freed (pace.go).
	MinBodyRate int64
	// BodyRateWindow is the window MinBodyRate is measured over: a stall
	// shorter than it costs nothing.
	BodyRateWindow time.Duration
}

// DefaultLimits are the limits of the embedded default, for a 2-core node.
var DefaultLimits = Limits{
	MaxPDFBytes: 64 << 20, MaxJSONBytes: 1 << 20,
	CodeAttemptsPerMinute: 20, CodePrefixAttemptsPerMinute: 10, ApprovalRequestsPerMinute: 60,
	VerifyUploads: 2, UploadsPerClient: 1, VerifyStored: 2, SpoolBytes: 256 << 10,
	VerifyCacheEntries: 1024, VerifyCacheTTL: 10 * time.Minute, BusyWait: 10 * time.Second,
	Stampings: 16, StampWait: time.Minute, MinBodyRate: 16 << 10, BodyRateWindow: 10 * time.Second,
}

// withDefaults fills each zero field from DefaultLimits and keeps the others.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	set := func(v *int64, def int64) {
		if *v == 0 {
			*v = def
		}
	}
	seti := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	set(&l.MaxPDFBytes, d.MaxPDFBytes)
	set(&l.MaxJSONBytes, d.MaxJSONBytes)
	set(&l.SpoolBytes, d.SpoolBytes)
	set(&l.MinBodyRate, d.MinBodyRate)
	seti(&l.CodeAttemptsPerMinute, d.CodeAttemptsPerMinute)
	seti(&l.CodePrefixAttemptsPerMinute, d.CodePrefixAttemptsPerMinute)
	seti(&l.ApprovalRequestsPerMinute, d.ApprovalRequestsPerMinute)
	seti(&l.VerifyUploads, d.VerifyUploads)
	seti(&l.UploadsPerClient, d.UploadsPerClient)
	seti(&l.VerifyStored, d.VerifyStored)
	seti(&l.VerifyCacheEntries, d.VerifyCacheEntries)
	seti(&l.Stampings, d.Stampings)
	if l.StampWait == 0 {
		l.StampWait = d.StampWait
	}
	if l.VerifyCacheTTL == 0 {
		l.VerifyCacheTTL = d.VerifyCacheTTL
	}
	if l.BusyWait == 0 {
		l.BusyWait = d.BusyWait
	}
	if l.BodyRateWindow == 0 {
		l.BodyRateWindow = d.BodyRateWindow
	}
	return l
}

// negative names the first field below zero, or "".
func (l Limits) negative() string {
	for name, v := range map[string]int64{
		"MaxPDFBytes": l.MaxPDFBytes, "MaxJSONBytes": l.MaxJSONBytes, "SpoolBytes": l.SpoolBytes,
		"CodeAttemptsPerMinute": int64(l.CodeAttemptsPerMinute), "CodePrefixAttemptsPerMinute": int64(l.CodePrefixAttemptsPerMinute),
		"ApprovalRequestsPerMinute": int64(l.ApprovalRequestsPerMinute), "VerifyUploads": int64(l.VerifyUploads), "UploadsPerClient": int64(l.UploadsPerClient),
		"VerifyStored": int64(l.VerifyStored), "VerifyCacheEntries": int64(l.VerifyCacheEntries),
		"VerifyCacheTTL": int64(l.VerifyCacheTTL), "BusyWait": int64(l.BusyWait),
		"Stampings": int64(l.Stampings), "StampWait": int64(l.StampWait),
		"MinBodyRate": l.MinBodyRate, "BodyRateWindow": int64(l.BodyRateWindow),
	} {
		if v < 0 {
			return name
		}
	}
	return ""
}

// busyRetryAfter is the Retry-After, in seconds, of a 503 server-busy answer.
const busyRetryAfter = 2

// takeSlot takes one of slots for a request whose body is not read yet,
// waiting up to wait. When none frees up it answers 503 server-busy with
// Retry-After, counted under kind (what names the work in the problem), and
// closes the connection — the body stays unread — and returns false.
func (s *Server) takeSlot(w http.ResponseWriter, r *http.Request, sl slots, wait time.Duration, kind, what string) bool {
	if sl.acquire(r.Context(), wait) {
		return true
	}
	s.metrics.busy.WithLabelValues(kind).Inc()
	w.Header().Set("Retry-After", strconv.Itoa(busyRetryAfter))
	w.Header().Set("Connection", "close")
	writeProblem(w, r, busyProblem(what, cap(sl)))
	return false
}

// slots is a counting semaphore: at most cap(slots) holders at once.
type slots chan struct{}

// acquire takes a slot, waiting at most wait (zero: not at all) and no
// longer than ctx lives. It reports whether a slot was taken.
func (s slots) acquire(ctx context.Context, wait time.Duration) bool {
	select {
	case s <- struct{}{}:
		return true
	default:
	}
	if wait <= 0 {
		return false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case s <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

func (s slots) release() { <-s }

// busyProblem is the answer when every slot of a kind of work is taken.
func busyProblem(what string, limit int) *Problem {
	return newProblem("server-busy", what+" already run at the configured limit of "+strconv.Itoa(limit)+" at once; retry after "+strconv.Itoa(busyRetryAfter)+" s")
}
