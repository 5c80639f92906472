package api

import (
	"bytes"
	"errors"
	"io"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/emmansun/gmsm/sm3"
)

// TestClientOfHostile: who the client is, from the peer and X-Forwarded-For
// as hostile clients and careless proxies write it.
func TestClientOfHostile(t *testing.T) {
	s := &Server{Options: Options{TrustedProxies: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"),
	}}}
	cases := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"untrusted peer, no header", "203.0.113.1:5", nil, "203.0.113.1"},
		{"untrusted peer's header ignored", "203.0.113.1:5", []string{"198.51.100.7"}, "203.0.113.1"},
		{"trusted proxy, one hop", "10.0.0.1:5", []string{"198.51.100.7"}, "198.51.100.7"},
		{"client-forged first hop", "10.0.0.1:5", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"two trusted proxies", "10.0.0.1:5", []string{"198.51.100.7, 10.0.0.2"}, "198.51.100.7"},
		{"hops in two header lines", "10.0.0.1:5", []string{"198.51.100.7", "10.0.0.2"}, "198.51.100.7"},
		{"only proxies", "10.0.0.1:5", []string{"10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
		{"garbage hop", "10.0.0.1:5", []string{"not-an-ip"}, "10.0.0.1"},
		{"garbage behind a proxy hop", "10.0.0.1:5", []string{"junk, 10.0.0.2"}, "10.0.0.2"},
		{"empty header", "10.0.0.1:5", []string{""}, "10.0.0.1"},
		{"port in the hop", "10.0.0.1:5", []string{"198.51.100.7:443"}, "10.0.0.1"},
		{"IPv4-mapped IPv6 hop", "10.0.0.1:5", []string{"::ffff:198.51.100.7"}, "198.51.100.7"},
		{"IPv6 proxy and client", "[fd00::1]:5", []string{"2001:db8::9"}, "2001:db8::9"},
		{"IPv4-mapped trusted peer", "[::ffff:10.0.0.1]:5", []string{"198.51.100.7"}, "198.51.100.7"},
		{"very long header", "10.0.0.1:5", []string{strings.Repeat("1.1.1.1,", 5000) + "198.51.100.7"}, "198.51.100.7"},
		{"peer without port", "203.0.113.1", nil, "203.0.113.1"},
		{"peer not an address", "@unix", []string{"198.51.100.7"}, "::"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.peer
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := s.clientOf(r); got != c.want {
				t.Errorf("client %q, want %q", got, c.want)
			}
		})
	}
}

func TestCodePrefixHostile(t *testing.T) {
	for in, want := range map[string]string{
		"ABCD-EFGH-IJKL-MNOP-QRST": "ABCDEFGH", "abcdefghij": "ABCDEFGH", "a-b c-d e f g-h": "ABCDEFGH", "AB": "AB",
		"": "", "ABC1": "", "ÄBCD": "", "AB%2FCD": "", "ABCDEFGH/../x": "ABCDEFGH", "ABCD/../x": "",
	} {
		if got := codePrefix(in); got != want {
			t.Errorf("codePrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSpoolBoundaries: bodies below, at and past the in-memory bound come
// back whole, with their SM3 and head, read at random.
func TestSpoolBoundaries(t *testing.T) {
	for _, n := range []int{0, 1, 1023, 1024, 4095, 4096, 4097, 3*spoolChunk + 7} {
		body := bytes.Repeat([]byte("%PDF-0123456789"), n/15+1)[:n]
		sp, err := spool(io.MultiReader(bytes.NewReader(body)), t.TempDir(), 4096)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, n)
		if _, err := sp.ReadAt(got, 0); err != nil && n > 0 {
			t.Fatalf("%d bytes: %v", n, err)
		}
		sum := sm3.Sum(body)
		if !bytes.Equal(got, body) || sp.size != int64(n) || !bytes.Equal(sp.sm3, sum[:]) || !bytes.Equal(sp.head, body[:min(n, 1024)]) {
			t.Errorf("%d bytes: spooled copy differs", n)
		}
		if (sp.file != nil) != (n > 4096) {
			t.Errorf("%d bytes: in a file %v", n, sp.file != nil)
		}
		if err := sp.Close(); err != nil {
			t.Error(err)
		}
	}
	// A temporary directory that cannot be written is the server's
	// failure, told apart from a client's broken body.
	_, err := spool(bytes.NewReader(make([]byte, 5000)), t.TempDir()+"/missing", 4096)
	var fe *spoolFileError
	if !errors.As(err, &fe) {
		t.Errorf("an unwritable spool directory: %v", err)
	}
	if _, err := spool(iotest.ErrReader(io.ErrUnexpectedEOF), t.TempDir(), 4096); err == nil || errors.As(err, &fe) {
		t.Errorf("a broken body: %v", err)
	}
}

// FuzzClientOf: whatever a peer and its X-Forwarded-For say, the client is
// an address; an untrusted peer is its own client; a client other than the
// peer is an address the header names.
func FuzzClientOf(f *testing.F) {
	s := &Server{Options: Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	f.Add("10.0.0.1:5", "198.51.100.7, 10.0.0.2")
	f.Add("203.0.113.1:5", "198.51.100.7")
	f.Add("10.0.0.1:5", ",,, ::ffff:1.2.3.4 ,x")
	f.Fuzz(func(t *testing.T, peer, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-Forwarded-For", xff)
		got := s.clientOf(r)
		a, err := netip.ParseAddr(got)
		if err != nil {
			t.Fatalf("client %q is not an address", got)
		}
		p := peerAddr(r)
		if !s.trusted(p) && a != p {
			t.Fatalf("untrusted peer %s, client %s", p, a)
		}
		if a == p {
			return
		}
		for _, h := range strings.Split(xff, ",") {
			if b, err := netip.ParseAddr(strings.TrimSpace(h)); err == nil && b.Unmap() == a {
				return
			}
		}
		t.Fatalf("client %s is neither the peer %s nor in %q", a, p, xff)
	})
}
