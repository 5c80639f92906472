package keys

import (
	"crypto"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// Fixed dates so that validity cases are exact and independent of the clock.
var (
	rootFrom  = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	rootUntil = time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	leafFrom  = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	leafUntil = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	midLeaf   = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
)

// testPKI is an organisation CA as eseal init makes it, plus an
// intermediate with its own signer.
type testPKI struct {
	root      *CA
	inter     *CA
	maker     *smx509.Certificate
	signer    *smx509.Certificate // issued by root
	tsa       *smx509.Certificate
	leaf      *smx509.Certificate // signer issued by inter
	signerKey *sm2.PrivateKey
	leafKey   *sm2.PrivateKey
}

func mustKey(t testing.TB) *sm2.PrivateKey {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustIssue(t testing.TB, ca *CA, kind CertKind, cn string, pub crypto.PublicKey, from, until time.Time) *smx509.Certificate {
	t.Helper()
	c, err := ca.Issue(CertRequest{Kind: kind, CommonName: cn, PublicKey: pub, NotBefore: from, NotAfter: until})
	if err != nil {
		t.Fatalf("issue %s: %v", kind, err)
	}
	return c
}

func newTestPKI(t testing.TB, org string, rootFrom, rootUntil, leafFrom, leafUntil time.Time) *testPKI {
	t.Helper()
	root, err := NewRootCA(org, mustKey(t), rootFrom, rootUntil)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{root: root, signerKey: mustKey(t), leafKey: mustKey(t)}
	interKey := mustKey(t)
	p.inter = &CA{Cert: mustIssue(t, root, KindIntermediate, org+" Issuing CA", interKey.Public(), rootFrom, rootUntil), Key: interKey}
	p.maker = mustIssue(t, root, KindSealMaker, "Seal Maker", mustKey(t).Public(), leafFrom, leafUntil)
	p.signer = mustIssue(t, root, KindSigner, "Approval Seal", p.signerKey.Public(), leafFrom, leafUntil)
	p.tsa = mustIssue(t, root, KindTSA, "TSA", mustKey(t).Public(), leafFrom, leafUntil)
	p.leaf = mustIssue(t, p.inter, KindSigner, "Contract Seal", p.leafKey.Public(), leafFrom, leafUntil)
	return p
}
