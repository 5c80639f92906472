package seal_test

// GB/T 38540 SES_Signature over PDFs: beside the CMS (pattern A), in
// /Contents (pattern B), and over an OFD file (the outside fixture).

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/asn1"
	"encoding/hex"
	"eseal/archive"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
	tjsm2 "github.com/tjfoc/gmsm/sm2"
	tjx509 "github.com/tjfoc/gmsm/x509"

	"eseal/keys"
	"eseal/keys/cms"
	"eseal/keys/keystest"
	"eseal/keys/tsa"
	"eseal/pdf"
	"eseal/pdf/pdftest"
	"eseal/seal"
	"eseal/seal/ses"
)

func checkResult(rep *seal.SignatureReport, name string) seal.CheckResult {
	for _, c := range rep.Checks {
		if c.Name == name {
			return c.Result
		}
	}
	return ""
}

// stampSES stamps in with an SES_Signature requested and returns the
// result and in ‖ update.
func (f *fixture) stampSES(t *testing.T, in []byte) (*seal.Signed, []byte) {
	t.Helper()
	st := &seal.Stamper{Registry: f.reg}
	res, err := st.Stamp(context.Background(), bytes.NewReader(in), int64(len(in)), seal.SignRequest{
		SealID: f.sealID, Placement: seal.Placement{Page: 1, XMM: 100, YMM: 150}, SESignature: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.SESignature) == 0 {
		t.Fatal("no SES_Signature although asked for")
	}
	return res, append(append([]byte{}, in...), res.Update...)
}

// Pattern A: the SES_Signature made beside the CMS covers the same bytes.
func TestStampSESignature(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := pdftest.Document(pdftest.Options{Pages: 2})
	res, signed := f.stampSES(t, in)
	v := f.verifier(t)

	sg, err := ses.ParseSignature(res.SESignature)
	if err != nil {
		t.Fatal(err)
	}
	if sg.PropertyInfo != seal.PDFPropertyInfo(res.ByteRange) || !bytes.Equal(sg.DataHash, res.ContentSM3) || !sg.TimeInfo.Equal(res.SigningTime.Truncate(time.Second)) {
		t.Errorf("propertyInfo %q, dataHash %x, timeInfo %v", sg.PropertyInfo, sg.DataHash, sg.TimeInfo)
	}
	rep := v.VerifySESignature(ctx, res.SESignature, bytes.NewReader(signed), int64(len(signed)))
	if rep.Verdict != seal.Valid {
		t.Fatalf("SES_Signature over the stamped PDF: %s %v", rep.Verdict, rep.Reasons)
	}
	for _, name := range []string{seal.CheckSESignature, "signature value", "signer in seal", "seal maker signature", "seal validity", "seal status", "signer certificate", "byte range", "document digest"} {
		if r := checkResult(rep, name); r != seal.Pass {
			t.Errorf("check %q: %q", name, r)
		}
	}
	if rep.Seal == nil || rep.Field == "" || rep.ByteRange != res.ByteRange {
		t.Errorf("report %+v", rep)
	}
	if r := f.verify(t, signed); r.Verdict != seal.Valid {
		t.Fatalf("the CMS next to it: %s %v", r.Verdict, r.Reasons)
	}

	t.Run("flipped byte in the range", func(t *testing.T) {
		br := res.ByteRange
		for _, pos := range []int64{0, br[1] / 2, br[1] - 1, br[2], br[2] + br[3]/2, br[2] + br[3] - 1} {
			bad := bytes.Clone(signed)
			bad[pos] ^= 0x01
			r := v.VerifySESignature(ctx, res.SESignature, bytes.NewReader(bad), int64(len(bad)))
			if r.Verdict == seal.Valid {
				t.Errorf("flipping byte %d left the SES_Signature VALID", pos)
			}
		}
	})
	t.Run("another PDF", func(t *testing.T) {
		other, _ := f.stampSES(t, in)
		r := v.VerifySESignature(ctx, other.SESignature, bytes.NewReader(signed), int64(len(signed)))
		if r.Verdict != seal.Invalid {
			t.Fatalf("SES_Signature of another stamping: %s", r.Verdict)
		}
		r = v.VerifySESignature(ctx, res.SESignature, bytes.NewReader(in), int64(len(in)))
		if r.Verdict != seal.Invalid || checkResult(r, "byte range") != seal.Fail {
			t.Fatalf("against the unsigned input: %s %v", r.Verdict, r.Reasons)
		}
	})
	t.Run("tjfoc", func(t *testing.T) {
		cert, err := tjx509.ParseCertificate(sg.Cert)
		if err != nil {
			t.Fatal(err)
		}
		pub := tjfocPublicKey(t, cert.PublicKey)
		if !pub.Verify(sg.SignedBytes, sg.Value) {
			t.Fatal("tjfoc/gmsm rejects the SES_Signature value")
		}
		if pub.Verify(append(bytes.Clone(sg.SignedBytes), 0), sg.Value) {
			t.Fatal("tjfoc/gmsm accepts the value over other bytes")
		}
	})
}

// tjfocPublicKey converts the key tjfoc's x509 parsed (an ecdsa.PublicKey on
// its own SM2 curve) into a tjfoc SM2 public key.
func tjfocPublicKey(t *testing.T, k any) *tjsm2.PublicKey {
	t.Helper()
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok || ek.Curve != tjsm2.P256Sm2() {
		t.Fatalf("tjfoc parsed public key %T, want an SM2 key", k)
	}
	//lint:ignore SA1019 tjfoc's SM2 API takes the coordinates as big.Int
	return &tjsm2.PublicKey{Curve: ek.Curve, X: ek.X, Y: ek.Y}
}

// withContents returns doc with the /Contents of the signature over br
// replaced by der, hex and zero-padded.
func withContents(t *testing.T, doc []byte, br [4]int64, der []byte) []byte {
	t.Helper()
	out := bytes.Clone(doc)
	gap := out[br[1]+1 : br[2]-1]
	if 2*len(der) > len(gap) {
		t.Fatalf("%d bytes do not fit a /Contents of %d hex digits", len(der), len(gap))
	}
	n := hex.Encode(gap, der)
	for i := n; i < len(gap); i++ {
		gap[i] = '0'
	}
	return out
}

// Pattern B under adbe.pkcs7.detached, as vendors write it: the stamper's
// SES_Signature put into /Contents in place of the CMS.
func TestPatternBUnderPKCS7SubFilter(t *testing.T) {
	f := newFixture(t)
	res, signed := f.stampSES(t, pdftest.Document(pdftest.Options{}))
	doc := withContents(t, signed, res.ByteRange, res.SESignature)
	rep := f.verify(t, doc)
	if rep.Verdict != seal.Valid {
		t.Fatalf("pattern B: %s %v %+v", rep.Verdict, rep.Reasons, rep.Signatures)
	}
	sr := rep.Signatures[0]
	if sr.SubFilter != pdf.SubFilterPKCS7Detached || checkResult(&sr, seal.CheckSESignature) != seal.Pass || checkResult(&sr, "seal status") != seal.Pass {
		t.Fatalf("report %+v", sr)
	}

	br := res.ByteRange
	for _, pos := range []int64{10, br[1] - 2, br[2] + 1, br[2] + br[3] - 3} {
		bad := bytes.Clone(doc)
		bad[pos] ^= 0x04
		if r := f.verify(t, bad); r.Verdict != seal.Invalid {
			t.Errorf("flipped byte %d: %s", pos, r.Verdict)
		}
	}
	// Bytes inside the SES_Signature: the dataHash, the signature value.
	sg, _ := ses.ParseSignature(res.SESignature)
	for name, part := range map[string][]byte{"dataHash": sg.DataHash, "signature": sg.Value} {
		i := bytes.Index(res.SESignature, part)
		bad := bytes.Clone(res.SESignature)
		bad[i+len(part)/2] ^= 0x01
		if r := f.verify(t, withContents(t, signed, br, bad)); r.Verdict != seal.Invalid {
			t.Errorf("tampered %s: %s", name, r.Verdict)
		}
	}
}

// pki is an organisation made here with keys.CA, apart from the registry, to
// hand-build SES_Signatures.
type pki struct {
	trust                *keys.TrustStore
	makerKey, signerKey  *sm2.PrivateKey
	makerCert, signerDER []byte
	tsa                  *tsa.Server
	t0                   time.Time
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	t0 := time.Now().UTC().Truncate(time.Second)
	root := keystest.New(t, keystest.Options{Org: "外部签章系统", NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(24 * time.Hour)})
	p := &pki{trust: root.TrustStore(), t0: t0}
	var maker, signer *smx509.Certificate
	p.makerKey, maker = root.Issue(t, keys.KindSealMaker, "制章者")
	p.signerKey, signer = root.Issue(t, keys.KindSigner, "签章人")
	p.makerCert, p.signerDER = maker.Raw, signer.Raw
	tsaKey, tsaCert := root.Issue(t, keys.KindTSA, "TSA")
	p.tsa = &tsa.Server{Signer: tsaKey, Cert: tsaCert, Chain: []*smx509.Certificate{root.CA.Cert},
		Policy: cms.MustOID("1.2.3.4")}
	return p
}

func (p *pki) seal(t *testing.T, signers ...[]byte) []byte {
	t.Helper()
	der, err := ses.BuildSeal(ses.SealSpec{
		ESID: "3201000000001", Vid: "test", Type: 1, Name: "外部测试章", SignerCerts: signers,
		CreateDate: p.t0, ValidStart: p.t0.Add(-time.Hour), ValidEnd: p.t0.Add(20 * time.Hour),
		Picture: ses.Picture{Type: "PNG", Data: []byte("png"), WidthMM: 40, HeightMM: 40},
	}, p.makerKey, p.makerCert)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// prepare returns a pattern-B update for in under SubFilterGBT38540 and the
// SM3 digest of the bytes it signs.
func prepare(t *testing.T, in []byte) (*pdf.Update, []byte) {
	t.Helper()
	doc, err := pdf.Open(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	img, err := pdf.NewImage(image.NewNRGBA(image.Rect(0, 0, 8, 8)))
	if err != nil {
		t.Fatal(err)
	}
	upd, err := doc.PrepareSignature(pdf.SignatureRequest{Page: 1, XMM: 20, YMM: 20, WidthMM: 40, HeightMM: 40, Image: img,
		SubFilter: pdf.SubFilterGBT38540, ContentsSize: 8192})
	if err != nil {
		t.Fatal(err)
	}
	h := sm3.New()
	if err := upd.Digest(h); err != nil {
		t.Fatal(err)
	}
	return upd, h.Sum(nil)
}

func mustDER(t *testing.T, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func derSeq(parts ...[]byte) []byte {
	b, _ := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: bytes.Join(parts, nil)})
	return b
}

func explicit0(t *testing.T, der []byte) []byte {
	return mustDER(t, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: der})
}

func bitString(t *testing.T, b []byte) []byte {
	return mustDER(t, asn1.BitString{Bytes: b, BitLength: 8 * len(b)})
}

// sesVariant hand-builds a V4 SES_Signature: extDatas and timeStamp are
// written [0] EXPLICIT or untagged, the timestamp a real token over the
// signature value from p's TSA.
func (p *pki) sesVariant(t *testing.T, sealDER, dataHash []byte, propertyInfo string, explicitExt, explicitTS bool) []byte {
	t.Helper()
	exts := mustDER(t, []struct {
		ID    asn1.ObjectIdentifier
		Value []byte
	}{{asn1.ObjectIdentifier{1, 2, 156, 1}, []byte("ext")}})
	if explicitExt {
		exts = explicit0(t, exts)
	}
	tbs := derSeq(mustDER(t, 4), sealDER,
		mustDER(t, asn1.RawValue{Tag: asn1.TagGeneralizedTime, Bytes: []byte(p.t0.Format("20060102150405Z"))}),
		bitString(t, dataHash),
		mustDER(t, asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte(propertyInfo)}),
		exts)
	sig, err := p.signerKey.SignWithSM2(rand.Reader, nil, tbs)
	if err != nil {
		t.Fatal(err)
	}
	imprint := sm3.Sum(sig)
	req, err := tsa.NewRequest(imprint[:], nil, true)
	if err != nil {
		t.Fatal(err)
	}
	token, err := p.tsa.Stamp(req)
	if err != nil {
		t.Fatal(err)
	}
	ts := bitString(t, token)
	if explicitTS {
		ts = explicit0(t, ts)
	}
	return derSeq(tbs, mustDER(t, p.signerDER), mustDER(t, ses.OIDSM2WithSM3), bitString(t, sig), ts)
}

// Pattern B under SubFilterGBT38540, SES_Signatures from another system.
func TestPatternB(t *testing.T) {
	p := newPKI(t)
	ctx := context.Background()
	v := &seal.Verifier{Trust: p.trust}
	in := pdftest.Document(pdftest.Options{Pages: 2})
	sealDER := p.seal(t, p.signerDER)
	upd, digest := prepare(t, in)
	br := upd.ByteRange()
	pinfo := seal.PDFPropertyInfo(br)

	build := func(t *testing.T, sealDER, dataHash []byte, propertyInfo string) []byte {
		t.Helper()
		der, err := ses.BuildSignature(ses.SignatureSpec{SealDER: sealDER, TimeInfo: p.t0, DataHash: dataHash, PropertyInfo: propertyInfo}, p.signerKey, p.signerDER)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	pdfWith := func(t *testing.T, contents []byte) []byte {
		t.Helper()
		if err := upd.SetContents(contents); err != nil {
			t.Fatal(err)
		}
		return append(bytes.Clone(in), upd.Bytes()...)
	}
	verify := func(t *testing.T, doc []byte) *seal.SignatureReport {
		t.Helper()
		rep, err := v.VerifyPDF(ctx, bytes.NewReader(doc), int64(len(doc)))
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Signatures) != 1 {
			t.Fatalf("%s with %d signatures: %v", rep.Verdict, len(rep.Signatures), rep.Reasons)
		}
		return &rep.Signatures[0]
	}

	good := pdfWith(t, build(t, sealDER, digest, pinfo))
	sr := verify(t, good)
	if sr.Verdict != seal.Valid || sr.SubFilter != pdf.SubFilterGBT38540 || checkResult(sr, seal.CheckSESignature) != seal.Pass || checkResult(sr, "document digest") != seal.Pass {
		t.Fatalf("pattern B: %s %v", sr.Verdict, sr.Reasons)
	}
	if sr.Seal == nil || sr.Seal.Name != "外部测试章" || sr.SigningTime == nil || !sr.SigningTime.Equal(p.t0) {
		t.Errorf("report %+v", sr)
	}
	// A vendor's own propertyInfo: the /ByteRange alone says what is signed.
	if sr := verify(t, pdfWith(t, build(t, sealDER, digest, "contract-2024-001.pdf"))); sr.Verdict != seal.Valid {
		t.Errorf("vendor propertyInfo: %s %v", sr.Verdict, sr.Reasons)
	}

	t.Run("flipped byte in range", func(t *testing.T) {
		for _, pos := range []int64{5, br[1] - 1, br[2] + 3, br[2] + br[3] - 1} {
			bad := bytes.Clone(good)
			bad[pos] ^= 0x01
			rep, err := v.VerifyPDF(ctx, bytes.NewReader(bad), int64(len(bad)))
			if err != nil || rep.Verdict == seal.Valid {
				t.Errorf("byte %d: %v %v", pos, rep.Verdict, err)
			}
		}
	})

	other := sm3.Sum([]byte("other"))
	for _, c := range []struct {
		name, check string
		der         []byte
	}{
		{"signed wrong dataHash", "document digest", build(t, sealDER, other[:], pinfo)},
		{"propertyInfo names another range", "document digest", build(t, sealDER, digest, seal.PDFPropertyInfo([4]int64{0, br[1], br[2], br[3] - 1}))},
		{"signer not in certList", "signer in seal", build(t, p.seal(t, p.makerCert), digest, pinfo)},
		{"not an SES_Signature", seal.CheckSESignature, []byte{0x30, 0x03, 0x02, 0x01, 0x01}},
	} {
		t.Run(c.name, func(t *testing.T) {
			sr := verify(t, pdfWith(t, c.der))
			if sr.Verdict != seal.Invalid || checkResult(sr, c.check) != seal.Fail {
				t.Fatalf("%s, %s: %q; %v", sr.Verdict, c.check, checkResult(sr, c.check), sr.Reasons)
			}
		})
	}
	t.Run("tampered signature value", func(t *testing.T) {
		der := build(t, sealDER, digest, pinfo)
		sg, _ := ses.ParseSignature(der)
		i := bytes.Index(der, sg.Value)
		der[i+10] ^= 0x01
		if sr := verify(t, pdfWith(t, der)); sr.Verdict != seal.Invalid || checkResult(sr, "signature value") != seal.Fail {
			t.Fatalf("%s %v", sr.Verdict, sr.Reasons)
		}
	})

	// extDatas and timeStamp [0] EXPLICIT or untagged; the token's time is
	// reported and used.
	for _, c := range []struct{ ext, ts bool }{{true, true}, {false, false}, {true, false}, {false, true}} {
		der := p.sesVariant(t, sealDER, digest, pinfo, c.ext, c.ts)
		sr := verify(t, pdfWith(t, der))
		if sr.Verdict != seal.Valid || sr.Timestamp == nil || checkResult(sr, "timestamp") != seal.Pass {
			t.Errorf("explicit extDatas %t, timeStamp %t: %s %v", c.ext, c.ts, sr.Verdict, sr.Reasons)
		}
		if c.ext && c.ts {
			sg, _ := ses.ParseSignature(der)
			tok, _ := tsa.ParseToken(sg.TimeStamp)
			i := bytes.Index(der, tok.RawInfo)
			der[i+len(tok.RawInfo)-3] ^= 0x01
			if sr := verify(t, pdfWith(t, der)); sr.Verdict != seal.Invalid || checkResult(sr, "timestamp") != seal.Fail {
				t.Errorf("tampered token: %s %v", sr.Verdict, sr.Reasons)
			}
		}
	}
}

// The outside fixture protects an OFD signature file, not a PDF: verified
// over those bytes. Its issuer is not trusted here, so the verdict cannot be
// VALID, but nothing fails.
func TestSESignatureOFDFixture(t *testing.T) {
	dir := filepath.Join("ses", "testdata", "gbt38540")
	der, err := os.ReadFile(filepath.Join(dir, "v4_SignedValue.dat"))
	if err != nil {
		t.Fatal(err)
	}
	xml, err := os.ReadFile(filepath.Join(dir, "v4_Signature.xml"))
	if err != nil {
		t.Fatal(err)
	}
	v := &seal.Verifier{Trust: keys.NewTrustStore()}
	rep, err := v.VerifySESignatureData(context.Background(), der, bytes.NewReader(xml))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != seal.Indeterminate {
		t.Fatalf("%s %v", rep.Verdict, rep.Reasons)
	}
	for _, name := range []string{seal.CheckSESignature, "signature value", "seal maker signature", "signer in seal", "document digest"} {
		if r := checkResult(rep, name); r != seal.Pass {
			t.Errorf("check %q: %q", name, r)
		}
	}
	for _, c := range rep.Checks {
		if c.Result == seal.Fail {
			t.Errorf("check %q fails: %s", c.Name, c.Detail)
		}
	}
	xml[len(xml)/2] ^= 0x01
	rep, _ = v.VerifySESignatureData(context.Background(), der, bytes.NewReader(xml))
	if rep.Verdict != seal.Invalid || checkResult(rep, "document digest") != seal.Fail {
		t.Fatalf("altered Signature.xml: %s", rep.Verdict)
	}
	// The fixture is no PDF binding: against a PDF it fails closed.
	doc := pdftest.Document(pdftest.Options{})
	if r := v.VerifySESignature(context.Background(), der, bytes.NewReader(doc), int64(len(doc))); r.Verdict != seal.Invalid || checkResult(r, "byte range") != seal.Fail {
		t.Fatalf("OFD signature against a PDF: %s %v", r.Verdict, r.Reasons)
	}
}

func TestParsePDFPropertyInfo(t *testing.T) {
	for _, c := range []struct {
		in   string
		br   [4]int64
		hash string
		ok   bool
	}{
		{"PDF;ByteRange=0,10,20,30;hash=SM3", [4]int64{0, 10, 20, 30}, "SM3", true},
		{"pdf; byterange = 0, 1, 2, 3 ; HASH=sm3; x=y", [4]int64{0, 1, 2, 3}, "sm3", true},
		{"/Doc_0/Signs/Sign_0/Signature.xml", [4]int64{}, "", false},
		{"PDF;ByteRange=0,10,20;hash=SM3", [4]int64{}, "", false},
		{"PDF;ByteRange=0,-10,20,30;hash=SM3", [4]int64{}, "", false},
		{"PDF;ByteRange=0,+10,20,30;hash=SM3", [4]int64{}, "", false},
		{"PDF;ByteRange=0,10,20,30", [4]int64{}, "", false},
		{"PDF;hash=SM3", [4]int64{}, "", false},
		{"PDF;ByteRange=0,1,2,3;ByteRange=0,1,2,4;hash=SM3", [4]int64{}, "", false},
		{"PDF;ByteRange=0,1,2,3;hash=SM3;" + strings.Repeat("x", 300), [4]int64{}, "", false},
	} {
		br, hash, err := seal.ParsePDFPropertyInfo(c.in)
		if (err == nil) != c.ok || br != c.br || hash != c.hash {
			t.Errorf("%q: %v %q %v", c.in, br, hash, err)
		}
	}
	br := [4]int64{0, 123, 4567, 89}
	if got, _, err := seal.ParsePDFPropertyInfo(seal.PDFPropertyInfo(br)); err != nil || got != br {
		t.Errorf("round trip: %v %v", got, err)
	}
}

func FuzzParsePDFPropertyInfo(f *testing.F) {
	f.Add("PDF;ByteRange=0,10,20,30;hash=SM3")
	f.Add("PDF;ByteRange=;hash=")
	f.Fuzz(func(t *testing.T, s string) {
		br, _, err := seal.ParsePDFPropertyInfo(s)
		if err == nil {
			if got, _, err := seal.ParsePDFPropertyInfo(seal.PDFPropertyInfo(br)); err != nil || got != br {
				t.Fatalf("%q: round trip %v %v", s, got, err)
			}
		}
	})
}

func TestServiceKeepsSESignatures(t *testing.T) {
	e := newServiceEnv(t, "items: {}\n")
	ctx := context.Background()
	a, err := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: e.sealID, CaseNo: "SES-1"})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := e.svc.Stamp(ctx, seal.StampRequest{SealID: e.sealID, AuthorizationID: a.ID, SESignature: true,
		Placement: seal.Placement{Page: 1, XMM: 50, YMM: 50}, PDF: pdftest.Document(pdftest.Options{}),
		Record: seal.RecordInput{Title: "国标签章", CaseNo: "SES-1"}})
	if err != nil {
		t.Fatal(err)
	}
	key := iss.Record.Signatures[0].SESignatureKey
	ses, info, err := archive.GetBytes(ctx, e.store, key)
	if err != nil || info.RetainUntil.IsZero() {
		t.Fatalf("SES_Signature %q: %v %+v", key, err, info)
	}
	doc, _, _ := archive.GetBytes(ctx, e.store, archive.DocumentKey(iss.DocumentID))
	ts, _ := e.svc.Registry.TrustStore(ctx)
	v := &seal.Verifier{Trust: ts, Registry: e.svc.Registry, Now: e.clock.Now}
	if rep := v.VerifySESignature(ctx, ses, bytes.NewReader(doc), int64(len(doc))); rep.Verdict != seal.Valid {
		t.Fatalf("stored SES_Signature: %s %v", rep.Verdict, rep.Reasons)
	}
}
