package seal_test

import (
	"bytes"
	"context"
	"encoding/asn1"
	"testing"

	"github.com/emmansun/gmsm/sm3"
	tjx509 "github.com/tjfoc/gmsm/x509"

	"eseal/keys/tsa"
	"eseal/pdf"
	"eseal/pdf/pdftest"
	"eseal/seal"
	"eseal/seal/ses"
)

// The ses profile: the SES_Signature itself in /Contents under
// GBT38540.SES_Signature (pattern B), dataHash the SM3 of the ByteRange
// bytes, with a timeStamp over its signature value when asked; tjfoc/gmsm,
// not eseal's SM2, verifies its signature. The side file, when asked for,
// is the same structure. LTV works on it as on a CMS.
func TestSESProfile(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	srv, err := f.reg.TSA(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in := pdftest.Document(pdftest.Options{})
	res, err := (&seal.Stamper{Registry: f.reg}).Stamp(ctx, bytes.NewReader(in), int64(len(in)), seal.SignRequest{
		SealID: f.sealID, Placement: seal.Placement{Page: 1, XMM: 100, YMM: 150}, Profile: seal.ProfileSES,
		Timestamps: seal.EmbeddedTSA{Server: srv}, RequireTimestamp: true, SESignature: true, LTV: true})
	if err != nil {
		t.Fatal(err)
	}
	signed := append(bytes.Clone(in), res.Update...)
	d, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)))
	if err != nil {
		t.Fatal(err)
	}
	sigs, _ := d.Signatures()
	if len(sigs) != 1 || sigs[0].SubFilter != pdf.SubFilterGBT38540 {
		t.Fatalf("signatures %+v", sigs)
	}
	sg, err := ses.ParseSignature(firstElement(t, sigs[0].Contents))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sg.Raw, res.SESignature) {
		t.Error("the side file is not the SES_Signature in /Contents")
	}
	br := sigs[0].ByteRange
	sum := sm3.Sum(append(bytes.Clone(signed[br[0]:br[0]+br[1]]), signed[br[2]:br[2]+br[3]]...))
	if !bytes.Equal(sg.DataHash, sum[:]) || sg.PropertyInfo != seal.PDFPropertyInfo(br) {
		t.Errorf("dataHash %x, propertyInfo %q", sg.DataHash, sg.PropertyInfo)
	}
	tok, err := tsa.ParseToken(sg.TimeStamp)
	if err != nil {
		t.Fatalf("timeStamp: %v", err)
	}
	imprint := sm3.Sum(sg.Value)
	if err := tok.Verify(imprint[:]); err != nil {
		t.Errorf("timeStamp not over the signature value: %v", err)
	}
	cert, err := tjx509.ParseCertificate(sg.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if pub := tjfocPublicKey(t, cert.PublicKey); !pub.Verify(sg.SignedBytes, sg.Value) {
		t.Fatal("tjfoc/gmsm rejects the SES_Signature")
	}

	rep := f.verify(t, signed)
	s := rep.Signatures[0]
	if rep.Verdict != seal.Valid || s.Profile != "ses" || s.Timestamp == nil || s.Seal == nil || checkResult(&s, "validation data") != seal.Pass {
		t.Fatalf("%s profile %q timestamp %v: %v", rep.Verdict, s.Profile, s.Timestamp, s.Reasons)
	}
	bad := bytes.Clone(signed)
	bad[br[1]/2] ^= 1
	if rep := f.verify(t, bad); rep.Verdict != seal.Invalid {
		t.Errorf("a byte changed: %s", rep.Verdict)
	}
}

// firstElement is the first DER element of b (a /Contents without its
// zero padding).
func firstElement(t *testing.T, b []byte) []byte {
	t.Helper()
	var rv asn1.RawValue
	if _, err := asn1.Unmarshal(b, &rv); err != nil {
		t.Fatal(err)
	}
	return rv.FullBytes
}
