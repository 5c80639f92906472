package keys

import (
	"bytes"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
)

func TestVerifyChains(t *testing.T) {
	p := newTestPKI(t, "Org", rootFrom, rootUntil, leafFrom, leafUntil)
	foreign := newTestPKI(t, "Foreign", rootFrom, rootUntil, leafFrom, leafUntil)
	// A second CA with the same name as ours but another key.
	impostor := newTestPKI(t, "Org", rootFrom, rootUntil, leafFrom, leafUntil)

	// The intermediate may only issue end-entity certificates.
	subKey := mustKey(t)
	sub := &CA{Cert: mustIssue(t, p.inter, KindIntermediate, "Sub CA", subKey.Public(), rootFrom, rootUntil), Key: subKey}
	underSub := mustIssue(t, sub, KindSigner, "Too deep", mustKey(t).Public(), leafFrom, leafUntil)
	// A signer certificate misused as an issuer.
	underLeaf := mustIssue(t, &CA{Cert: p.signer, Key: p.signerKey}, KindSigner, "Under leaf", mustKey(t).Public(), leafFrom, leafUntil)
	// A signer certificate with a damaged signature.
	broken := bytes.Clone(p.signer.Raw)
	broken[len(broken)-5] ^= 0x01
	brokenSigner, err := smx509.ParseCertificate(broken)
	if err != nil {
		t.Fatal(err)
	}

	ts := NewTrustStore(p.root.Cert)
	tests := []struct {
		name     string
		leaf     *smx509.Certificate
		others   []*smx509.Certificate
		at       time.Time
		usage    Usage
		reason   CertReason
		chainLen int
		errCert  *smx509.Certificate
	}{
		{"signer under root", p.signer, nil, midLeaf, UsageSign, 0, 2, nil},
		{"signer under intermediate", p.leaf, []*smx509.Certificate{p.inter.Cert}, midLeaf, UsageSign, 0, 3, nil},
		{"seal maker", p.maker, nil, midLeaf, UsageSealMaker, 0, 2, nil},
		{"tsa", p.tsa, nil, midLeaf, UsageTimestamp, 0, 2, nil},
		{"root itself", p.root.Cert, nil, midLeaf, UsageSealMaker, ReasonBadKeyUsage, 0, p.root.Cert},
		{"first instant", p.signer, nil, leafFrom, UsageSign, 0, 2, nil},
		{"last instant", p.signer, nil, leafUntil, UsageSign, 0, 2, nil},
		{"expired", p.signer, nil, leafUntil.Add(time.Second), UsageSign, ReasonExpired, 0, p.signer},
		{"not yet valid", p.signer, nil, leafFrom.Add(-time.Second), UsageSign, ReasonNotYetValid, 0, p.signer},
		{"root expired", p.signer, nil, rootUntil.Add(time.Hour), UsageSign, ReasonExpired, 0, nil},
		{"missing intermediate", p.leaf, nil, midLeaf, UsageSign, ReasonUnknownAuthority, 0, p.leaf},
		{"unknown root", foreign.signer, nil, midLeaf, UsageSign, ReasonUnknownAuthority, 0, foreign.signer},
		{"unknown root via intermediate", foreign.leaf, []*smx509.Certificate{foreign.inter.Cert}, midLeaf, UsageSign, ReasonUnknownAuthority, 0, foreign.inter.Cert},
		{"same name other key", impostor.signer, nil, midLeaf, UsageSign, ReasonUnknownAuthority, 0, impostor.signer},
		{"damaged signature", brokenSigner, nil, midLeaf, UsageSign, ReasonBadSignature, 0, brokenSigner},
		{"path length exceeded", underSub, []*smx509.Certificate{sub.Cert, p.inter.Cert}, midLeaf, UsageSign, ReasonConstraintViolation, 0, p.inter.Cert},
		{"issuer is not a CA", underLeaf, []*smx509.Certificate{p.signer}, midLeaf, UsageSign, ReasonConstraintViolation, 0, p.signer},
		{"tsa as document signer", p.tsa, nil, midLeaf, UsageSign, ReasonBadKeyUsage, 0, p.tsa},
		{"tsa as seal maker", p.tsa, nil, midLeaf, UsageSealMaker, ReasonBadKeyUsage, 0, p.tsa},
		{"signer as tsa", p.signer, nil, midLeaf, UsageTimestamp, ReasonBadKeyUsage, 0, p.signer},
		{"unknown usage", p.signer, nil, midLeaf, 0, ReasonBadKeyUsage, 0, p.signer},
		{"nil leaf", nil, nil, midLeaf, UsageSign, ReasonMalformed, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ts.Verify(tt.leaf, tt.others, tt.at, tt.usage)
			if tt.reason == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Chain) != tt.chainLen || len(res.Status) != tt.chainLen {
					t.Fatalf("chain length %d, want %d", len(res.Chain), tt.chainLen)
				}
				if !res.Chain[0].Equal(tt.leaf) || !res.Chain[len(res.Chain)-1].Equal(p.root.Cert) {
					t.Fatal("chain does not run from the leaf to the root")
				}
				if res.RevokedAfter || res.Leaf().CRLAvailable {
					t.Fatalf("revocation status without CRLs: %+v", res.Leaf())
				}
				return
			}
			var ce *CertificateError
			if !errors.As(err, &ce) || ce.Reason != tt.reason {
				t.Fatalf("err = %v, want reason %v", err, tt.reason)
			}
			if tt.errCert != nil && !ce.Cert.Equal(tt.errCert) {
				t.Fatalf("error names %q, want %q", ce.Cert.Subject.CommonName, tt.errCert.Subject.CommonName)
			}
		})
	}

	t.Run("intermediate from the store", func(t *testing.T) {
		ts := NewTrustStore(p.root.Cert)
		ts.AddIntermediates(p.inter.Cert)
		if _, err := ts.Verify(p.leaf, nil, midLeaf, UsageSign); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("empty store", func(t *testing.T) {
		_, err := NewTrustStore().Verify(p.signer, nil, midLeaf, UsageSign)
		var ce *CertificateError
		if !errors.As(err, &ce) || ce.Reason != ReasonUnknownAuthority {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestVerifyRevocation(t *testing.T) {
	p := newTestPKI(t, "Org", rootFrom, rootUntil, leafFrom, leafUntil)
	revokedAt := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	crlTime := revokedAt.Add(time.Hour)
	rootCRL, err := p.root.IssueCRL([]Revocation{{Serial: p.signer.SerialNumber, Time: revokedAt, Reason: 1}}, big.NewInt(2), crlTime, crlTime.Add(7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	olderRootCRL, err := p.root.IssueCRL(nil, big.NewInt(1), leafFrom, leafFrom.Add(7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	interCRL, err := p.inter.IssueCRL(nil, big.NewInt(1), crlTime, crlTime.Add(7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ts := NewTrustStore(p.root.Cert)
	ts.AddIntermediates(p.inter.Cert)
	for _, crl := range [][]byte{olderRootCRL, rootCRL, interCRL} {
		if err := ts.AddCRL(crl); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name         string
		leaf         *smx509.Certificate
		at           time.Time
		usage        Usage
		wantRevoked  bool // error ReasonRevoked
		revokedAfter bool
		crlAvailable bool
	}{
		{"revoked before", p.signer, revokedAt.Add(time.Minute), UsageSign, true, false, true},
		{"revoked at the instant", p.signer, revokedAt, UsageSign, true, false, true},
		{"revoked after", p.signer, revokedAt.Add(-time.Minute), UsageSign, false, true, true},
		{"not revoked, CRL known", p.maker, revokedAt.Add(time.Minute), UsageSealMaker, false, false, true},
		{"not revoked, intermediate CRL known", p.leaf, revokedAt.Add(time.Minute), UsageSign, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ts.Verify(tt.leaf, nil, tt.at, tt.usage)
			if tt.wantRevoked {
				var ce *CertificateError
				if !errors.As(err, &ce) || ce.Reason != ReasonRevoked {
					t.Fatalf("err = %v, want revoked", err)
				}
				if !ce.RevokedAt.Equal(revokedAt) || ce.RevocationReason != 1 || !ce.Cert.Equal(tt.leaf) {
					t.Fatalf("revoked at %v reason %d", ce.RevokedAt, ce.RevocationReason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			st := res.Leaf()
			if res.RevokedAfter != tt.revokedAfter || st.Revoked != tt.revokedAfter || st.CRLAvailable != tt.crlAvailable {
				t.Fatalf("result %+v, leaf %+v", res, st)
			}
			if tt.revokedAfter && (!st.RevokedAt.Equal(revokedAt) || st.Reason != 1) {
				t.Fatalf("leaf %+v", st)
			}
			if tt.leaf == p.maker && (st.CRLNumber.Int64() != 2 || !st.CRLThisUpdate.Equal(crlTime)) {
				t.Fatalf("newest CRL not reported: %+v", st)
			}
			if last := res.Status[len(res.Status)-1]; last.CRLAvailable {
				t.Fatal("trust anchor reported as CRL-checked")
			}
		})
	}

	t.Run("no CRL is not the same as not revoked", func(t *testing.T) {
		ts := NewTrustStore(p.root.Cert)
		res, err := ts.Verify(p.signer, nil, revokedAt.Add(time.Minute), UsageSign)
		if err != nil {
			t.Fatal(err)
		}
		if st := res.Leaf(); st.CRLAvailable || st.Revoked {
			t.Fatalf("leaf %+v", st)
		}
	})
}

func TestAddCRL(t *testing.T) {
	p := newTestPKI(t, "Org", rootFrom, rootUntil, leafFrom, leafUntil)
	foreign := newTestPKI(t, "Foreign", rootFrom, rootUntil, leafFrom, leafUntil)
	impostor := newTestPKI(t, "Org", rootFrom, rootUntil, leafFrom, leafUntil)
	at := midLeaf
	crl := func(ca *CA) []byte {
		der, err := ca.IssueCRL([]Revocation{{Serial: p.signer.SerialNumber, Time: at}}, big.NewInt(1), at, at.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	good := crl(p.root)
	tampered := bytes.Clone(good)
	tampered[len(tampered)-3] ^= 1
	tests := []struct {
		name   string
		der    []byte
		reason CRLReason
	}{
		{"own root", good, 0},
		{"own root, PEM", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: good}), 0},
		{"own intermediate", crl(p.inter), 0},
		{"foreign CA", crl(foreign.root), CRLUnknownIssuer},
		{"foreign intermediate", crl(foreign.inter), CRLUnknownIssuer},
		{"same name, other key", crl(impostor.root), CRLBadSignature},
		{"tampered", tampered, CRLBadSignature},
		{"garbage", []byte("not a crl"), CRLMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := NewTrustStore(p.root.Cert)
			ts.AddIntermediates(p.inter.Cert)
			err := ts.AddCRL(tt.der)
			if tt.reason == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ce *CRLError
			if !errors.As(err, &ce) || ce.Reason != tt.reason {
				t.Fatalf("err = %v, want CRL reason %d", err, tt.reason)
			}
			// A refused CRL has no effect on verification.
			res, err := ts.Verify(p.signer, nil, at.Add(time.Minute), UsageSign)
			if err != nil || res.Leaf().CRLAvailable {
				t.Fatalf("refused CRL used: %v %+v", err, res)
			}
		})
	}
}
