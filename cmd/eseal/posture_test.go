//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStartUpPosture is the start-up table of issue 10: which configurations
// `eseal serve` refuses before writing anything, with a message saying what
// to set, and what every start that goes ahead must say about itself.
func TestStartUpPosture(t *testing.T) {
	const demoKey = "data/master.key"
	tlsOn := func(c *serveConfig) { c.TLSCert, c.TLSKey = "cert.pem", "key.pem" }
	cases := []struct {
		name     string
		addr     string
		set      func(*serveConfig)
		demo     bool
		insecure bool
		// refuse lists what the refusal must mention; nil: it starts.
		refuse []string
		// notes must be present (key → part of the text); absent must not.
		notes  map[string]string
		absent []string
	}{
		{name: "demo on 0.0.0.0 without --insecure", addr: "0.0.0.0:8443", demo: true,
			set:    func(c *serveConfig) { tlsOn(c); c.PublicURL = "https://eseal.example.gov.cn" },
			refuse: []string{"demo mode", demoKey, "ESEAL_MASTER_KEY", "--master-key-file", "--insecure"}},
		{name: "demo on every interface, no TLS", addr: ":8080", demo: true,
			set:    func(c *serveConfig) { c.PublicURL = "http://10.1.2.3:8080" },
			refuse: []string{"demo mode", "--insecure"}},
		{name: "network address without public_url", addr: "0.0.0.0:8443", set: tlsOn,
			refuse: []string{"public_url", "ESEAL_PUBLIC_URL", "--public-url", "QR"}},
		{name: "production without TLS", addr: "[::]:8080",
			set:    func(c *serveConfig) { c.PublicURL = "https://eseal.example.gov.cn" },
			refuse: []string{"no TLS", "tls_cert", "tls_key", "--insecure"}},
		{name: "TLS on, demo off, public_url set", addr: "0.0.0.0:8443",
			set:    func(c *serveConfig) { tlsOn(c); c.PublicURL = "https://eseal.example.gov.cn" },
			notes:  map[string]string{"metrics": "metrics_token"},
			absent: []string{"mode", "keys", "insecure", "tls"}},
		{name: "TLS on, metrics behind a token", addr: "0.0.0.0:8443",
			set: func(c *serveConfig) {
				tlsOn(c)
				c.PublicURL = "https://eseal.example.gov.cn"
				c.MetricsToken = "s3cret"
			},
			absent: []string{"mode", "metrics", "insecure"}},
		{name: "behind a TLS proxy with --insecure", addr: "10.0.0.5:8080", insecure: true,
			set:    func(c *serveConfig) { c.PublicURL = "https://eseal.example.gov.cn"; c.MetricsAddr = "127.0.0.1:9090" },
			notes:  map[string]string{"insecure": "without TLS", "tls": "off"},
			absent: []string{"mode", "metrics"}},
		{name: "demo on the network with --insecure", addr: "0.0.0.0:8080", demo: true, insecure: true,
			set:   func(c *serveConfig) { c.PublicURL = "http://192.168.1.20:8080" },
			notes: map[string]string{"mode": "DEMO", "keys": demoKey, "insecure": "a demo"}},
		{name: "demo on loopback", addr: "127.0.0.1:8080", demo: true,
			notes:  map[string]string{"mode": "DEMO", "keys": demoKey},
			absent: []string{"insecure", "metrics"}},
		{name: "localhost, no public_url", addr: "localhost:8080", absent: []string{"mode", "insecure"}},
		{name: "IPv6 loopback", addr: "[::1]:8080", absent: []string{"mode", "insecure"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := defaultServeConfig()
			cfg.Addr = c.addr
			if c.set != nil {
				c.set(&cfg)
			}
			if err := cfg.validate(); err != nil {
				t.Fatalf("validate: %v", err)
			}
			key := ""
			if c.demo {
				key = demoKey
			}
			notes, err := checkPosture(cfg, key, c.insecure)
			if c.refuse != nil {
				var pe *PostureError
				if !errors.As(err, &pe) {
					t.Fatalf("started (notes %v), want a refusal", notes)
				}
				for _, want := range c.refuse {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("refusal %q does not mention %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			for k, want := range c.notes {
				if !strings.Contains(notes[k], want) {
					t.Errorf("note %s = %q, want it to mention %q", k, notes[k], want)
				}
			}
			for _, k := range c.absent {
				if v, ok := notes[k]; ok {
					t.Errorf("unexpected note %s = %q", k, v)
				}
			}
		})
	}
}

// TestServeRefusesDemoOnTheNetwork runs `eseal serve` on 0.0.0.0 in demo
// mode: it exits 1 before it listens or writes anything, saying what to set.
func TestServeRefusesDemoOnTheNetwork(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(esealBinary(t), "serve", "--dir", dir, "--addr", "0.0.0.0:0", "--public-url", "http://192.0.2.1:8080")
	cmd.Env = childEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v\n%s", err, out.String())
	}
	for _, want := range []string{"refusing to start", "demo mode", "ESEAL_MASTER_KEY", "--insecure"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the refusal does not mention %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "listening") {
		t.Errorf("it listened:\n%s", out.String())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("the refused start wrote %d entries into the data directory", len(ents))
	}
}

// TestServePosture starts `eseal serve` twice in demo mode on loopback —
// both starts name demo mode, on stderr and in /readyz — and once with TLS,
// a master key from the environment, a public URL and a metrics token:
// no demo mode anywhere, /metrics only with the token.
func TestServePosture(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for start := 1; start <= 2; start++ {
		p := startServe(t, childEnv(), "--dir", dir)
		if !strings.Contains(p.out.String(), "WARNING: DEMO") {
			t.Errorf("start %d does not name demo mode:\n%s", start, clip(p.out.String()))
		}
		checks := readyChecks(t, http.DefaultClient, p.url)
		if !strings.HasPrefix(checks["mode"], "DEMO") || !strings.Contains(checks["keys"], "master.key") {
			t.Errorf("start %d: /readyz checks %v do not name demo mode", start, checks)
		}
		if !p.stop() {
			t.Fatalf("start %d did not stop cleanly:\n%s", start, clip(p.out.String()))
		}
	}

	certFile, keyFile, pool := selfSignedTLS(t)
	env := childEnv("ESEAL_MASTER_KEY=00112233445566778899aabbccddeeff", "ESEAL_TLS_CERT="+certFile, "ESEAL_TLS_KEY="+keyFile,
		"ESEAL_PUBLIC_URL=https://eseal.example.gov.cn", "ESEAL_METRICS_TOKEN=metrics-secret")
	p := startServe(t, env, "--dir", t.TempDir())
	if !strings.HasPrefix(p.url, "https://") {
		t.Fatalf("listening on %s, want https", p.url)
	}
	if strings.Contains(p.out.String(), "DEMO") {
		t.Errorf("a production start names demo mode:\n%s", clip(p.out.String()))
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 30 * time.Second}
	checks := readyChecks(t, client, p.url)
	if _, demo := checks["mode"]; demo || checks["keys"] != "ok" {
		t.Errorf("/readyz of a production start: %v", checks)
	}
	for _, c := range []struct {
		token string
		want  int
	}{{"", 401}, {"wrong", 401}, {"metrics-secret", 200}} {
		req, _ := http.NewRequestWithContext(ctx, "GET", p.url+"/metrics", nil)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("/metrics with token %q: %d, want %d", c.token, resp.StatusCode, c.want)
		}
	}
}

func readyChecks(t *testing.T, c *http.Client, base string) map[string]string {
	t.Helper()
	resp, err := c.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Checks map[string]string `json:"checks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Checks
}

// selfSignedTLS writes a certificate for 127.0.0.1 and its key, and returns
// a pool trusting it.
func selfSignedTLS(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "eseal test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
