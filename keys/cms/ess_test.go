package cms

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"testing"
	"time"

	"eseal/keys"
	"eseal/keys/keystest"
)

// PAdES's signed attributes: signing-certificate-v2 naming the signer, no
// signingTime; the ESS attribute is checked against the certificate.
func TestSigningCertificateV2(t *testing.T) {
	f := newFixture(t)
	ess, err := SigningCertificateV2(f.cert)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := Parse(f.sign(t, SignOptions{NoSigningTime: true, SigningTime: time.Now(), ExtraSignedAttributes: []Attribute{ess}}))
	if err != nil {
		t.Fatal(err)
	}
	si := sd.SignerInfos[0]
	if _, ok := si.Attribute(OIDAttrSigningTime); ok || !si.SigningTime.IsZero() {
		t.Fatal("signingTime written with NoSigningTime")
	}
	if err := si.Verify(testDigest); err != nil {
		t.Fatal(err)
	}
	if err := CheckSigningCertificate(si, f.cert); err != nil {
		t.Fatal(err)
	}
	_, other := keystest.New(t, keystest.Options{}).Issue(t, keys.KindSigner, "Another signer")
	want := func(name string, err error, reason VerifyReason) {
		t.Helper()
		var ve *VerifyError
		if !errors.As(err, &ve) || ve.Reason != reason {
			t.Errorf("%s: %v, want %v", name, err, reason)
		}
	}
	want("another certificate", CheckSigningCertificate(si, other), ReasonBadAttribute)
	plain, _ := Parse(f.sign(t, SignOptions{}))
	want("no ESS attribute", CheckSigningCertificate(plain.SignerInfos[0], f.cert), ReasonMissingAttribute)
	for name, v := range map[string]asn1.RawValue{
		"not a SigningCertificateV2": {FullBytes: []byte{0x02, 0x01, 0x01}},
		"no certificate ids":         {FullBytes: []byte{0x30, 0x02, 0x30, 0x00}},
		"unknown hash": {FullBytes: mustMarshal(t, signingCertificateV2{Certs: []essCertIDv2{{
			HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 3}}, CertHash: []byte{1}}}})},
	} {
		sd, err := Parse(f.sign(t, SignOptions{ExtraSignedAttributes: []Attribute{{Type: OIDAttrSigningCertificateV2, Values: []asn1.RawValue{v}}}}))
		if err != nil {
			t.Fatal(err)
		}
		want(name, CheckSigningCertificate(sd.SignerInfos[0], f.cert), ReasonBadAttribute)
	}
}
