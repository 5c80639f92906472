package api_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"eseal/api"
)

// signedPDF stamps a document for case and returns its signed PDF.
func (e *env) signedPDF(t *testing.T, caseNo string) []byte {
	t.Helper()
	_, docID := e.stampedCode(t, caseNo)
	r := e.do("GET", "/v1/documents/"+docID+"/pdf", e.key(api.RoleArchivist), "", nil)
	if r.status != 200 {
		t.Fatalf("document: %d", r.status)
	}
	return r.body
}

// slowClient sends a request's headers and the first part of its body on a
// raw connection, then the rest a little at a time (every 50 ms, each step
// bytes long; 0: nothing more — a stall), as a client holding its slot on
// purpose does.
type slowClient struct {
	conn net.Conn
	stop chan struct{}
}

func startSlow(t *testing.T, addr, head string, body []byte, first, step int) *slowClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &slowClient{conn: conn, stop: make(chan struct{})}
	t.Cleanup(func() { close(c.stop); conn.Close() })
	head += fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body))
	if _, err := conn.Write(append([]byte(head), body[:first]...)); err != nil {
		t.Fatal(err)
	}
	if step > 0 {
		go func() {
			for off := first; off < len(body); off += step {
				select {
				case <-c.stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				if _, err := conn.Write(body[off:min(off+step, len(body))]); err != nil {
					return // cut by the server
				}
			}
		}()
	}
	return c
}

// answer reads the server's answer, waiting at most a minute: without the
// pace, the server would read until its read timeout (none is set here).
func (c *slowClient) answer(t *testing.T) (int, string) {
	t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(c.conn), nil)
	if err != nil {
		t.Fatalf("no answer to the slow request: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	closed := "open "
	if resp.Close {
		closed = "close "
	}
	return resp.StatusCode, closed + string(b)
}

// TestSlowBodyLosesItsSlot: a body that arrives slower than MinBodyRate —
// trickled, or stalled after its first bytes — while its request holds the
// only slot is cut: the request is answered 408 body-too-slow with its
// connection closed, nothing changes, and a request waiting for the slot
// gets it and its answer.
func TestSlowBodyLosesItsSlot(t *testing.T) {
	e := newEnv(t)
	signed := e.signedPDF(t, "ZJ-SLOW-1")
	srv := e.serverWith(t, func(o *api.Options) {
		o.Limits = api.Limits{MaxPDFBytes: 2 << 20, VerifyUploads: 1, Stampings: 1, BusyWait: time.Minute, StampWait: time.Minute,
			MinBodyRate: 64 << 10, BodyRateWindow: time.Second}
	})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	addr := hs.Listener.Addr().String()
	verifyHead := "POST /v1/verify HTTP/1.1\r\nHost: eseal\r\nContent-Type: application/pdf\r\n"

	for _, c := range []struct {
		name string
		step int
	}{{"stalled", 0}, {"trickled", 100}} {
		t.Run("verify "+c.name, func(t *testing.T) {
			slow := startSlow(t, addr, verifyHead, signed, 1000, c.step)
			time.Sleep(100 * time.Millisecond) // it holds the slot
			waiting := make(chan int, 1)
			go func() {
				resp, err := http.Post(hs.URL+"/v1/verify", "application/pdf", bytes.NewReader(signed))
				if err != nil {
					waiting <- 0
					return
				}
				resp.Body.Close()
				waiting <- resp.StatusCode
			}()
			code, body := slow.answer(t)
			if code != http.StatusRequestTimeout || !strings.Contains(body, "/problems/body-too-slow") || !strings.HasPrefix(body, "close ") {
				t.Fatalf("the slow upload: %d %s", code, body)
			}
			if code := <-waiting; code != 200 {
				t.Fatalf("the upload that waited for the slot: %d", code)
			}
		})
	}
	if n := metricSum(t, srv.Handler(), "eseal_body_too_slow_total", `kind="verify_upload"`); n != 2 {
		t.Errorf("eseal_body_too_slow_total for uploads: %v, want 2", n)
	}

	t.Run("stamp trickled", func(t *testing.T) {
		stamper := e.key(api.RoleStamper, e.sealID)
		authz := e.grant(e.sealID, map[string]any{"case_no": "SLOW-1"})
		ct, body := stampBody(t, signed, stampReq(e.sealID, authz, "SLOW-1"))
		before := e.objects()
		head := "POST /v1/stamps HTTP/1.1\r\nHost: eseal\r\nContent-Type: " + ct + "\r\nAuthorization: Bearer " + stamper + "\r\n"
		code, answer := startSlow(t, addr, head, body, 1000, 100).answer(t)
		if code != http.StatusRequestTimeout || !strings.Contains(answer, "/problems/body-too-slow") {
			t.Fatalf("the slow stamping: %d %s", code, answer)
		}
		if after := e.objects(); after != before {
			t.Fatalf("a stamping cut for its slow body changed the store: %d → %d objects", before, after)
		}
		req, _ := http.NewRequest("POST", hs.URL+"/v1/stamps", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+stamper)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("the same stamping sent at once: %d", resp.StatusCode)
		}
	})
}

// TestUploadsPerClient: one address holds at most UploadsPerClient
// uploads to verify at once — an IPv6 one by its /64 — so it cannot take
// every slot: its next waits BusyWait for one of its own, then is answered
// 429 with Retry-After, while another address gets a slot.
func TestUploadsPerClient(t *testing.T) {
	e := newEnv(t)
	signed := e.signedPDF(t, "ZJ-PERCLIENT-1")
	h := e.serverWith(t, func(o *api.Options) {
		o.Limits = api.Limits{MaxPDFBytes: 2 << 20, VerifyUploads: 2, UploadsPerClient: 1, BusyWait: 50 * time.Millisecond}
	}).Handler()
	for _, c := range []struct{ name, holder, same, other string }{
		{"IPv4", "192.0.2.1", "192.0.2.1", "192.0.2.2"},
		{"IPv6", "[2001:db8:1:2::1]", "[2001:db8:1:2::ffff]", "[2001:db8:1:3::1]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			done := make(chan int)
			go func() {
				done <- call(h, "POST", "/v1/verify", c.holder, "", pr, "Content-Type", "application/pdf").Code
			}()
			if _, err := pw.Write(signed[:1000]); err != nil { // read: it holds its slot
				t.Fatal(err)
			}
			r := call(h, "POST", "/v1/verify", c.same, "", bytes.NewReader(signed), "Content-Type", "application/pdf")
			if r.Code != http.StatusTooManyRequests || r.Header().Get("Retry-After") == "" || !strings.Contains(r.Body.String(), "/problems/rate-limited") {
				t.Fatalf("a second upload from the same client: %d %s", r.Code, r.Body)
			}
			if r := call(h, "POST", "/v1/verify", c.other, "", bytes.NewReader(signed), "Content-Type", "application/pdf"); r.Code != 200 {
				t.Fatalf("an upload from another client meanwhile: %d %s", r.Code, r.Body)
			}
			if _, err := pw.Write(signed[1000:]); err != nil {
				t.Fatal(err)
			}
			pw.Close()
			if code := <-done; code != 200 {
				t.Fatalf("the first upload: %d", code)
			}
			if r := call(h, "POST", "/v1/verify", c.same, "", bytes.NewReader(signed), "Content-Type", "application/pdf"); r.Code != 200 {
				t.Fatalf("the same client once its upload is done: %d", r.Code)
			}
		})
	}
}
