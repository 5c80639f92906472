package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// A request that holds a slot (a stamping, a verification of an upload)
// holds it while its body arrives. A client that sends its body slowly on
// purpose — a byte now and then, or nothing after the headers — would keep
// the slot until the server's read timeout (minutes) and, with a few
// connections, every slot of its kind. So the body of such a request is
// paced: over every window of Limits.BodyRateWindow at least
// Limits.MinBodyRate bytes a second must arrive, or the read is cut (the
// connection's read deadline is set to now, which ends a read that waits
// for bytes that do not come), the request answered 408 body-too-slow, and
// the slot freed.

// errBodyTooSlow is what reading a paced body returns once it was cut.
var errBodyTooSlow = errors.New("the body arrived too slowly")

// pacedBody is a request body watched by a pacer goroutine.
type pacedBody struct {
	body io.ReadCloser
	n    atomic.Int64
	slow atomic.Bool
	stop chan struct{}
	once sync.Once
}

// pace replaces r.Body with a paced body and starts its watch, which ends
// when the body is read to its end or closed, or done is called (the
// handler calls it once it has read what it needs).
func (s *Server) pace(w http.ResponseWriter, r *http.Request, kind string) *pacedBody {
	p := &pacedBody{body: r.Body, stop: make(chan struct{})}
	r.Body = p
	go p.watch(http.NewResponseController(w), s.Limits.MinBodyRate, s.Limits.BodyRateWindow, func() {
		s.metrics.slowBodies.WithLabelValues(kind).Inc()
	})
	return p
}

// watch samples the bytes read ten times a window and cuts the read when
// fewer than rate × window arrived over the last window.
func (p *pacedBody) watch(rc *http.ResponseController, rate int64, window time.Duration, cut func()) {
	const ticks = 10
	t := time.NewTicker(window / ticks)
	defer t.Stop()
	seen := []int64{0} // bytes read at each tick, the last ticks+1
	least := rate * int64(window) / int64(time.Second)
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		seen = append(seen, p.n.Load())
		if len(seen) <= ticks {
			continue
		}
		if seen[ticks]-seen[0] < least {
			p.slow.Store(true)
			cut()
			// Ends a read waiting for bytes; where the writer cannot (a
			// test's recorder), the next read returns errBodyTooSlow.
			_ = rc.SetReadDeadline(time.Now())
			return
		}
		seen = seen[1:]
	}
}

func (p *pacedBody) Read(b []byte) (int, error) {
	if p.slow.Load() {
		return 0, errBodyTooSlow
	}
	n, err := p.body.Read(b)
	p.n.Add(int64(n))
	switch {
	case err != nil && p.slow.Load():
		err = errBodyTooSlow
	case err == io.EOF:
		p.done()
	}
	return n, err
}

func (p *pacedBody) Close() error {
	p.done()
	return p.body.Close()
}

// done ends the watch: the body is read.
func (p *pacedBody) done() { p.once.Do(func() { close(p.stop) }) }

// tooSlow tells whether the body was cut. The answer then closes the
// connection, whose reads are over.
func (p *pacedBody) tooSlow(w http.ResponseWriter) bool {
	if !p.slow.Load() {
		return false
	}
	w.Header().Set("Connection", "close")
	return true
}

func slowBodyProblem(l Limits) *Problem {
	return newProblem("body-too-slow", fmt.Sprintf("the body must arrive at %d bytes a second or more over every %s; send it again", l.MinBodyRate, l.BodyRateWindow))
}
