package cms

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"testing"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
)

func TestSignEncapsulated(t *testing.T) {
	f := newFixture(t)
	oidTSTInfo := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	content := []byte{0x30, 0x03, 0x02, 0x01, 0x01}
	tests := []struct {
		name        string
		eType       asn1.ObjectIdentifier
		gm          bool
		wantVersion int
	}{
		{"TSTInfo", oidTSTInfo, false, 3},
		{"TSTInfo GM outer", oidTSTInfo, true, 3},
		{"data", OIDData, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der, err := SignEncapsulated(content, tt.eType, SignOptions{Signer: f.key, Cert: f.cert, GMOIDs: tt.gm})
			if err != nil {
				t.Fatal(err)
			}
			sd, err := Parse(der)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sd.Content, content) || !sd.EncapContentType.Equal(tt.eType) || sd.Version != tt.wantVersion || sd.GM() != tt.gm {
				t.Fatalf("got content %x type %v version %d gm %v", sd.Content, sd.EncapContentType, sd.Version, sd.GM())
			}
			si := sd.SignerInfos[0]
			if !si.ContentType.Equal(tt.eType) {
				t.Fatalf("contentType attribute %v, want %v", si.ContentType, tt.eType)
			}
			d := sm3.Sum(sd.Content)
			if err := si.Verify(d[:]); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			other := sm3.Sum(append(content, 0))
			var ve *VerifyError
			if err := si.Verify(other[:]); !errors.As(err, &ve) || ve.Reason != ReasonDigestMismatch {
				t.Fatalf("Verify with another content: %v, want digest mismatch", err)
			}
		})
	}
	if _, err := SignEncapsulated(nil, oidTSTInfo, SignOptions{Signer: f.key, Cert: f.cert}); err == nil {
		t.Fatal("nil content accepted")
	}
	if _, err := SignEncapsulated(content, nil, SignOptions{Signer: f.key, Cert: f.cert}); err == nil {
		t.Fatal("nil content type accepted")
	}
}

func TestSignNoCertificates(t *testing.T) {
	f := newFixture(t)
	der, err := SignEncapsulated([]byte{0x30, 0}, OIDData, SignOptions{Signer: f.key, Cert: f.cert, Chain: []*smx509.Certificate{f.inter}, NoCertificates: true})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.RawCertificates) != 0 {
		t.Fatalf("%d certificates embedded", len(sd.RawCertificates))
	}
	d := sm3.Sum(sd.Content)
	if err := sd.SignerInfos[0].VerifyWith(f.cert, d[:]); err != nil {
		t.Fatal(err)
	}
	var ve *VerifyError
	if err := sd.SignerInfos[0].Verify(d[:]); !errors.As(err, &ve) || ve.Reason != ReasonNoSignerCert {
		t.Fatalf("Verify without embedded certificate: %v", err)
	}
}

func TestUnsignedCallback(t *testing.T) {
	f := newFixture(t)
	key, cert := f.key, f.cert
	digest := sm3.Sum([]byte("document"))
	var seen []byte
	oid := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	der, err := SignDetached(digest[:], SignOptions{Signer: key, Cert: cert, Unsigned: func(sig []byte) ([]Attribute, error) {
		seen = sig
		a, err := NewAttribute(oid, []byte("token over the signature"))
		return []Attribute{a}, err
	}})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	si := sd.SignerInfos[0]
	if !bytes.Equal(si.Signature, seen) {
		t.Fatal("the callback did not see the signature value")
	}
	if _, ok := si.UnsignedAttribute(oid); !ok {
		t.Fatal("unsigned attribute missing")
	}
	if err := si.Verify(digest[:]); err != nil {
		t.Fatalf("unsigned attributes broke the signature: %v", err)
	}
}
