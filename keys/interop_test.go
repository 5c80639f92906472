package keys

import (
	"crypto/ecdsa"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tsm2 "github.com/tjfoc/gmsm/sm2"
	tx509 "github.com/tjfoc/gmsm/x509"
)

// requireTool returns the path of an outside tool, or skips the test when it
// is missing, unless ESEAL_REQUIRE_TOOLS=1 makes that a failure.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("ESEAL_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s not found and ESEAL_REQUIRE_TOOLS=1", name)
		}
		t.Skipf("%s not found", name)
	}
	return path
}

// TestTjfocInterop checks our certificates and signatures with an
// independent SM2 implementation, github.com/tjfoc/gmsm.
func TestTjfocInterop(t *testing.T) {
	p := newTestPKI(t, "Org", rootFrom, rootUntil, leafFrom, leafUntil)
	parse := func(der []byte) *tx509.Certificate {
		t.Helper()
		c, err := tx509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("tjfoc cannot parse our certificate: %v", err)
		}
		return c
	}
	root := parse(p.root.Cert.Raw)
	inter := parse(p.inter.Cert.Raw)
	pairs := []struct {
		name          string
		child, parent *tx509.Certificate
	}{
		{"root self-signature", root, root},
		{"intermediate", inter, root},
		{"seal maker", parse(p.maker.Raw), root},
		{"signer", parse(p.signer.Raw), root},
		{"tsa", parse(p.tsa.Raw), root},
		{"signer under intermediate", parse(p.leaf.Raw), inter},
	}
	for _, pr := range pairs {
		t.Run(pr.name, func(t *testing.T) {
			if err := pr.child.CheckSignatureFrom(pr.parent); err != nil {
				t.Fatalf("tjfoc rejects the certificate signature: %v", err)
			}
		})
	}

	t.Run("raw signature", func(t *testing.T) {
		msg := []byte("SES_Signature toSign bytes")
		sig, err := SignSM2(p.signerKey, msg)
		if err != nil {
			t.Fatal(err)
		}
		pub := tjfocPublicKey(t, parse(p.signer.Raw))
		if !pub.Verify(msg, sig) {
			t.Fatal("tjfoc rejects our SM2 signature (default user id)")
		}
		if pub.Verify(append(msg, 0), sig) {
			t.Fatal("tjfoc accepts the signature for another message")
		}
	})
}

// tjfocPublicKey converts the public key of a certificate parsed by tjfoc.
func tjfocPublicKey(t *testing.T, c *tx509.Certificate) *tsm2.PublicKey {
	t.Helper()
	switch k := c.PublicKey.(type) {
	case *ecdsa.PublicKey:
		//lint:ignore SA1019 tjfoc/gmsm keys are built from the raw coordinates.
		return &tsm2.PublicKey{Curve: k.Curve, X: k.X, Y: k.Y}
	case *tsm2.PublicKey:
		return k
	}
	t.Fatalf("tjfoc public key type %T", c.PublicKey)
	return nil
}

// TestOpenSSLVerify has OpenSSL 3 check our chains; its distid option makes
// it use the default SM2 user id, as our certificates do.
//
// OpenSSL 3.0 applies -vfyopt distid only to the certificate being verified
// and checks every other certificate of the chain with an empty id, so a
// root → intermediate → leaf chain cannot pass in one call (measured:
// "certificate signature failure" at depth 1). Each link of that chain is
// therefore checked as the target of its own call, the lower one with
// -partial_chain and the intermediate as trust anchor.
func TestOpenSSLVerify(t *testing.T) {
	openssl := requireTool(t, "openssl")
	now := time.Now()
	p := newTestPKI(t, "Org", now.Add(-time.Hour), now.Add(24*time.Hour), now.Add(-time.Hour), now.Add(12*time.Hour))
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	root := write("root.pem", EncodeCertificatesPEM(p.root.Cert))
	inter := write("intermediate.pem", EncodeCertificatesPEM(p.inter.Cert))
	maker := write("maker.pem", EncodeCertificatesPEM(p.maker))
	signer := write("signer.pem", EncodeCertificatesPEM(p.signer))
	tests := []struct {
		name string
		args []string
	}{
		{"signer, maker untrusted", []string{"-CAfile", root, "-untrusted", maker, signer}},
		{"seal maker", []string{"-CAfile", root, maker}},
		{"tsa", []string{"-CAfile", root, "-purpose", "timestampsign", write("tsa.pem", EncodeCertificatesPEM(p.tsa))}},
		{"intermediate", []string{"-CAfile", root, inter}},
		{"signer under intermediate", []string{"-partial_chain", "-CAfile", inter, write("leaf.pem", EncodeCertificatesPEM(p.leaf))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"verify", "-vfyopt", "distid:" + DefaultUID}, tt.args...)
			out, err := exec.Command(openssl, args...).CombinedOutput()
			if err != nil || !strings.Contains(string(out), ": OK") {
				t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
	t.Run("another user id is rejected", func(t *testing.T) {
		out, err := exec.Command(openssl, "verify", "-vfyopt", "distid:0000000000000000", "-CAfile", root, signer).CombinedOutput()
		if err == nil || strings.Contains(string(out), ": OK") {
			t.Fatalf("openssl accepted the signature under another user id:\n%s", out)
		}
	})
}

// TestCertificateURLsWithOpenSSL: a certificate issued with CRL and issuer
// URLs carries them as a CRL distribution point and an authority
// information access caIssuers, as OpenSSL reads them; a URL that is not
// absolute http(s) is refused.
func TestCertificateURLsWithOpenSSL(t *testing.T) {
	openssl := requireTool(t, "openssl")
	now := time.Now()
	p := newTestPKI(t, "Org", now.Add(-time.Hour), now.Add(24*time.Hour), now.Add(-time.Hour), now.Add(12*time.Hour))
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	req := CertRequest{Kind: KindSigner, CommonName: "行政审批专用章", PublicKey: k.Public(), NotBefore: now, NotAfter: now.Add(time.Hour),
		CRLURLs: []string{"https://eseal.example.gov.cn/pki/crl.der"}, IssuerURLs: []string{"https://eseal.example.gov.cn/pki/root.crt"}}
	c, err := p.root.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "signer.pem")
	if err := os.WriteFile(path, EncodeCertificatesPEM(c), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(openssl, "x509", "-in", path, "-noout", "-text").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl x509: %v\n%s", err, out)
	}
	for _, want := range []string{"X509v3 CRL Distribution Points", "URI:https://eseal.example.gov.cn/pki/crl.der",
		"Authority Information Access", "CA Issuers - URI:https://eseal.example.gov.cn/pki/root.crt"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("openssl does not show %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"/pki/crl.der", "ftp://example/crl", "https://", "javascript:alert(1)"} {
		r := req
		r.CRLURLs = []string{bad}
		var re *RequestError
		if _, err := p.root.Issue(r); !errors.As(err, &re) {
			t.Errorf("CRL URL %q: %v", bad, err)
		}
	}
}
