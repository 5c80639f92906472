package keys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

func TestCertificateProfiles(t *testing.T) {
	p := newTestPKI(t, "杭州市行政审批局", rootFrom, rootUntil, leafFrom, leafUntil)
	tests := []struct {
		name     string
		cert     *smx509.Certificate
		issuer   *smx509.Certificate
		isCA     bool
		ku       x509.KeyUsage
		eku      []x509.ExtKeyUsage
		ekuCrit  bool
		pathZero bool
	}{
		{"root", p.root.Cert, p.root.Cert, true, x509.KeyUsageCertSign | x509.KeyUsageCRLSign, nil, false, false},
		{"intermediate", p.inter.Cert, p.root.Cert, true, x509.KeyUsageCertSign | x509.KeyUsageCRLSign, nil, false, true},
		{"seal maker", p.maker, p.root.Cert, false, x509.KeyUsageDigitalSignature, nil, false, false},
		{"signer", p.signer, p.root.Cert, false, x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment, nil, false, false},
		{"tsa", p.tsa, p.root.Cert, false, x509.KeyUsageDigitalSignature, []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}, true, false},
		{"signer under intermediate", p.leaf, p.inter.Cert, false, x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment, nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cert
			if c.SignatureAlgorithm != smx509.SM2WithSM3 {
				t.Errorf("signature algorithm %v", c.SignatureAlgorithm)
			}
			// The signature is SM2 over SM3(Z‖TBS) with the default user id.
			if !sm2.VerifyASN1WithSM2(tt.issuer.PublicKey.(*ecdsa.PublicKey), nil, c.RawTBSCertificate, c.Signature) {
				t.Error("signature is not SM2 with the default user id over the TBS")
			}
			if err := c.CheckSignatureFrom(tt.issuer); err != nil {
				t.Error(err)
			}
			if !c.BasicConstraintsValid || c.IsCA != tt.isCA {
				t.Errorf("basic constraints valid=%v CA=%v", c.BasicConstraintsValid, c.IsCA)
			}
			if tt.pathZero && !(c.MaxPathLen == 0 && c.MaxPathLenZero) {
				t.Errorf("MaxPathLen %d zero=%v", c.MaxPathLen, c.MaxPathLenZero)
			}
			if c.KeyUsage != tt.ku {
				t.Errorf("key usage %b, want %b", c.KeyUsage, tt.ku)
			}
			if len(c.ExtKeyUsage) != len(tt.eku) || (len(tt.eku) > 0 && c.ExtKeyUsage[0] != tt.eku[0]) {
				t.Errorf("EKU %v, want %v", c.ExtKeyUsage, tt.eku)
			}
			for _, e := range c.Extensions {
				if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 37}) && e.Critical != tt.ekuCrit {
					t.Errorf("EKU critical = %v", e.Critical)
				}
			}
			if len(c.SubjectKeyId) != 20 {
				t.Errorf("subject key id %x", c.SubjectKeyId)
			}
			if !bytes.Equal(c.AuthorityKeyId, tt.issuer.SubjectKeyId) {
				t.Errorf("authority key id %x, issuer SKI %x", c.AuthorityKeyId, tt.issuer.SubjectKeyId)
			}
			if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 || c.SerialNumber.BitLen() < 64 {
				t.Errorf("serial %x", c.SerialNumber)
			}
			if len(c.Subject.Organization) != 1 || c.Subject.Organization[0] != "杭州市行政审批局" {
				t.Errorf("organization %v", c.Subject.Organization)
			}
		})
	}
	if p.signer.SerialNumber.Cmp(p.maker.SerialNumber) == 0 {
		t.Error("serials repeat")
	}
}

func TestIssueRejects(t *testing.T) {
	root, err := NewRootCA("Org", mustKey(t), rootFrom, rootUntil)
	if err != nil {
		t.Fatal(err)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub := mustKey(t).Public()
	tests := []struct {
		name  string
		req   CertRequest
		field string
	}{
		{"non-SM2 key", CertRequest{Kind: KindSigner, CommonName: "x", PublicKey: p256.Public(), NotBefore: leafFrom, NotAfter: leafUntil}, "PublicKey"},
		{"no key", CertRequest{Kind: KindSigner, CommonName: "x", NotBefore: leafFrom, NotAfter: leafUntil}, "PublicKey"},
		{"no name", CertRequest{Kind: KindSigner, PublicKey: pub, NotBefore: leafFrom, NotAfter: leafUntil}, "CommonName"},
		{"unknown kind", CertRequest{Kind: 99, CommonName: "x", PublicKey: pub, NotBefore: leafFrom, NotAfter: leafUntil}, "Kind"},
		{"reversed validity", CertRequest{Kind: KindSigner, CommonName: "x", PublicKey: pub, NotBefore: leafUntil, NotAfter: leafFrom}, "NotAfter"},
		{"outlives the CA", CertRequest{Kind: KindSigner, CommonName: "x", PublicKey: pub, NotBefore: leafFrom, NotAfter: rootUntil.Add(time.Hour)}, "NotBefore/NotAfter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := root.Issue(tt.req)
			var re *RequestError
			if !errors.As(err, &re) || re.Field != tt.field {
				t.Fatalf("err = %v, want RequestError on %s", err, tt.field)
			}
		})
	}
	if _, err := NewRootCA("Org", p256, rootFrom, rootUntil); err == nil {
		t.Error("NewRootCA accepted a P-256 key")
	}
	if _, err := NewRootCA("", mustKey(t), rootFrom, rootUntil); err == nil {
		t.Error("NewRootCA accepted an empty organisation")
	}
}

func TestIssueCRL(t *testing.T) {
	root, err := NewRootCA("Org", mustKey(t), rootFrom, rootUntil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	revoked := []Revocation{
		{Serial: big.NewInt(1001), Time: at, Reason: 1},
		{Serial: big.NewInt(1002), Time: at.Add(time.Hour), Reason: 0},
	}
	der, err := root.IssueCRL(revoked, big.NewInt(7), at, at.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if rl.Number.Int64() != 7 || !rl.ThisUpdate.Equal(at) || len(rl.RevokedCertificateEntries) != 2 {
		t.Fatalf("number %v thisUpdate %v entries %d", rl.Number, rl.ThisUpdate, len(rl.RevokedCertificateEntries))
	}
	if e := rl.RevokedCertificateEntries[0]; e.ReasonCode != 1 || !e.RevocationTime.Equal(at) {
		t.Errorf("entry 0: reason %d time %v", e.ReasonCode, e.RevocationTime)
	}
	if e := rl.RevokedCertificateEntries[1]; len(e.Extensions) != 0 {
		t.Errorf("reason 0 written as an extension: %v", e.Extensions)
	}
	if !sm2.VerifyASN1WithSM2(root.Cert.PublicKey.(*ecdsa.PublicKey), nil, rl.RawTBSRevocationList, rl.Signature) {
		t.Error("CRL signature is not SM2 with the default user id")
	}

	bad := []struct {
		name    string
		revoked []Revocation
		number  *big.Int
		next    time.Time
	}{
		{"reason 7", []Revocation{{Serial: big.NewInt(1), Time: at, Reason: 7}}, big.NewInt(1), at.Add(time.Hour)},
		{"reason 11", []Revocation{{Serial: big.NewInt(1), Time: at, Reason: 11}}, big.NewInt(1), at.Add(time.Hour)},
		{"no serial", []Revocation{{Time: at}}, big.NewInt(1), at.Add(time.Hour)},
		{"no number", nil, nil, at.Add(time.Hour)},
		{"next before this", nil, big.NewInt(1), at.Add(-time.Hour)},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := root.IssueCRL(tt.revoked, tt.number, at, tt.next)
			var re *RequestError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want *RequestError", err)
			}
		})
	}
}

func TestCertificatesPEM(t *testing.T) {
	p := newTestPKI(t, "Org", rootFrom, rootUntil, leafFrom, leafUntil)
	bundle := EncodeCertificatesPEM(p.leaf, p.inter.Cert, p.root.Cert)
	withKey := append([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), bundle...)
	tests := []struct {
		name string
		in   []byte
		want int
	}{
		{"PEM bundle", bundle, 3},
		{"PEM with a key block", withKey, 3},
		{"DER", p.leaf.Raw, 1},
		{"DER concatenated", append(bytes.Clone(p.leaf.Raw), p.root.Cert.Raw...), 2},
		{"garbage", []byte("hello"), 0},
		{"empty", nil, 0},
		{"PEM without certificates", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0},
		{"PEM with a broken certificate", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, err := ParseCertificatesPEM(tt.in)
			if tt.want == 0 {
				var ce *CertificateError
				if !errors.As(err, &ce) || ce.Reason != ReasonMalformed {
					t.Fatalf("err = %v, want ReasonMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(certs) != tt.want || !certs[0].Equal(p.leaf) {
				t.Fatalf("got %d certificates", len(certs))
			}
		})
	}
}

func FuzzParseCertificatesPEM(f *testing.F) {
	root, err := NewRootCA("Org", mustKey(f), rootFrom, rootUntil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(root.Cert.Raw)
	f.Add(EncodeCertificatesPEM(root.Cert))
	f.Fuzz(func(t *testing.T, in []byte) {
		certs, err := ParseCertificatesPEM(in)
		if err == nil && len(certs) == 0 {
			t.Fatal("no error and no certificates")
		}
		if err != nil {
			var ce *CertificateError
			if !errors.As(err, &ce) {
				t.Fatalf("untyped error %v", err)
			}
		}
	})
}
