// Package keystest makes SM2 test PKIs with the keys package: a root CA,
// intermediates under it, and seal-maker, signer and TSA certificates with
// their keys. Only tests import it; every failure ends the calling test.
//
//	p := keystest.New(t, keystest.Options{})
//	key, cert := p.Issue(t, keys.KindSigner, "Approval Seal")
//
// It imports keys alone, so the tests of keys' sub-packages (cms, tsa) can
// use it without an import cycle.
package keystest

import (
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"eseal/keys"
)

// Options say what New makes; a zero field takes its default.
type Options struct {
	// Org is the organisation of the root and of what it issues; default "Org".
	Org string
	// NotBefore and NotAfter bound the root and every certificate issued
	// under it; default 2020-01-01 to 2040-01-01 UTC, so that fixed test
	// times fall inside.
	NotBefore, NotAfter time.Time
}

var (
	defaultNotBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	defaultNotAfter  = time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
)

// PKI is one certificate authority of a test: the root New makes, or an
// intermediate from Intermediate.
type PKI struct {
	// CA is the authority's certificate and key.
	CA  *keys.CA
	opt Options
}

// New makes a self-signed root CA.
func New(tb testing.TB, opt Options) *PKI {
	tb.Helper()
	if opt.Org == "" {
		opt.Org = "Org"
	}
	if opt.NotBefore.IsZero() {
		opt.NotBefore = defaultNotBefore
	}
	if opt.NotAfter.IsZero() {
		opt.NotAfter = defaultNotAfter
	}
	root, err := keys.NewRootCA(opt.Org, Key(tb), opt.NotBefore, opt.NotAfter)
	if err != nil {
		tb.Fatal(err)
	}
	return &PKI{CA: root, opt: opt}
}

// Key makes a fresh SM2 key.
func Key(tb testing.TB) *sm2.PrivateKey {
	tb.Helper()
	k, err := keys.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// Issue makes a key and a certificate of kind for it, named cn, issued by
// this authority for the whole of its validity.
func (p *PKI) Issue(tb testing.TB, kind keys.CertKind, cn string) (*sm2.PrivateKey, *smx509.Certificate) {
	tb.Helper()
	k := Key(tb)
	c, err := p.CA.Issue(keys.CertRequest{Kind: kind, CommonName: cn, PublicKey: k.Public(), NotBefore: p.opt.NotBefore, NotAfter: p.opt.NotAfter})
	if err != nil {
		tb.Fatal(err)
	}
	return k, c
}

// Intermediate issues a subordinate CA named cn under this authority; what
// it issues shares this authority's validity.
func (p *PKI) Intermediate(tb testing.TB, cn string) *PKI {
	tb.Helper()
	k, c := p.Issue(tb, keys.KindIntermediate, cn)
	return &PKI{CA: &keys.CA{Cert: c, Key: k}, opt: p.opt}
}

// TrustStore trusts this authority as a root.
func (p *PKI) TrustStore() *keys.TrustStore { return keys.NewTrustStore(p.CA.Cert) }
