package cms

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"
	"time"

	"eseal/keys"
	"eseal/keys/keystest"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
	tsm2 "github.com/tjfoc/gmsm/sm2"
	tx509 "github.com/tjfoc/gmsm/x509"
)

type fixture struct {
	root, inter *smx509.Certificate
	cert        *smx509.Certificate // signer, issued by inter
	key         *sm2.PrivateKey
	other       *sm2.PrivateKey // a key that is not cert's
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	root := keystest.New(t, keystest.Options{})
	inter := root.Intermediate(t, "Issuing CA")
	f := &fixture{root: root.CA.Cert, inter: inter.CA.Cert, other: keystest.Key(t)}
	f.key, f.cert = inter.Issue(t, keys.KindSigner, "Approval Seal")
	return f
}

var testDigest = func() []byte { d := sm3.Sum([]byte("%PDF-1.7 byte range")); return d[:] }()

func (f *fixture) sign(t testing.TB, o SignOptions) []byte {
	t.Helper()
	if o.Signer == nil {
		o.Signer, o.Cert = f.key, f.cert
	}
	der, err := SignDetached(testDigest, o)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestSignParseVerify(t *testing.T) {
	f := newFixture(t)
	sealID := mustAttr(t, asn1.ObjectIdentifier{1, 2, 156, 112, 1}, "33010000000001")
	tests := []struct {
		name     string
		opts     SignOptions
		gm       bool
		timeTag  int
		nCerts   int
		extraOID asn1.ObjectIdentifier
	}{
		{"PKCS#7, signer only", SignOptions{SigningTime: time.Date(2025, 5, 4, 3, 2, 1, 0, time.UTC)}, false, asn1.TagUTCTime, 1, nil},
		{"PKCS#7, chain", SignOptions{Chain: []*smx509.Certificate{f.inter, f.root}, SigningTime: time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC)}, false, asn1.TagUTCTime, 3, nil},
		{"GM OIDs, chain with repeat", SignOptions{Chain: []*smx509.Certificate{f.cert, f.inter}, GMOIDs: true, SigningTime: time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC)}, true, asn1.TagGeneralizedTime, 2, nil},
		{"extra attribute", SignOptions{ExtraSignedAttributes: []Attribute{sealID}, SigningTime: time.Date(1949, 12, 31, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))}, false, asn1.TagGeneralizedTime, 1, sealID.Type},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der := f.sign(t, tt.opts)
			sd, err := Parse(der)
			if err != nil {
				t.Fatal(err)
			}
			wantCT, wantData := OIDSignedData, OIDData
			if tt.gm {
				wantCT, wantData = OIDGMSignedData, OIDGMData
			}
			if !sd.ContentType.Equal(wantCT) || sd.GM() != tt.gm || !sd.EncapContentType.Equal(wantData) || sd.Content != nil {
				t.Fatalf("content types %v / %v, content %v", sd.ContentType, sd.EncapContentType, sd.Content)
			}
			if sd.Version != 1 || len(sd.DigestAlgorithms) != 1 || !sd.DigestAlgorithms[0].Algorithm.Equal(OIDSM3) {
				t.Fatalf("version %d digest algorithms %v", sd.Version, sd.DigestAlgorithms)
			}
			if len(sd.Certificates) != tt.nCerts || len(sd.RawCertificates) != tt.nCerts || len(sd.SignerInfos) != 1 {
				t.Fatalf("%d certificates, %d signers", len(sd.Certificates), len(sd.SignerInfos))
			}
			si := sd.SignerInfos[0]
			if si.Version != 1 || !bytes.Equal(si.Issuer, f.cert.RawIssuer) || si.SerialNumber.Cmp(f.cert.SerialNumber) != 0 {
				t.Fatal("signer identifier is not issuer and serial of the certificate")
			}
			if !si.SignatureAlgorithm.Algorithm.Equal(OIDSM2WithSM3) || !si.DigestAlgorithm.Algorithm.Equal(OIDSM3) {
				t.Fatalf("algorithms %v %v", si.DigestAlgorithm.Algorithm, si.SignatureAlgorithm.Algorithm)
			}
			if !si.SigningTime.Equal(tt.opts.SigningTime) || !bytes.Equal(si.MessageDigest, testDigest) || !si.ContentType.Equal(wantData) {
				t.Fatalf("attributes: time %v digest %x type %v", si.SigningTime, si.MessageDigest, si.ContentType)
			}
			st, _ := si.Attribute(OIDAttrSigningTime)
			if st.Values[0].Tag != tt.timeTag {
				t.Fatalf("signingTime tag %d, want %d", st.Values[0].Tag, tt.timeTag)
			}
			if tt.extraOID != nil {
				if a, ok := si.Attribute(tt.extraOID); !ok || !bytes.Equal(a.Values[0].FullBytes, sealID.Values[0].FullBytes) {
					t.Fatal("extra attribute lost")
				}
			}
			cert, err := si.SignerCertificate(sd.Certificates)
			if err != nil || !cert.Equal(f.cert) {
				t.Fatalf("signer certificate: %v", err)
			}
			if err := si.Verify(testDigest); err != nil {
				t.Fatal(err)
			}
			// What was signed: the attributes as a DER SET OF, with the default user id.
			msg := append([]byte{0x31}, si.RawSignedAttributes[1:]...)
			if !sm2.VerifyASN1WithSM2(&f.key.PublicKey, []byte(keys.DefaultUID), msg, si.Signature) {
				t.Fatal("signature is not over the SET OF signed attributes with the default id")
			}
		})
	}
}

func mustAttr(t testing.TB, oid asn1.ObjectIdentifier, v any) Attribute {
	t.Helper()
	a, err := NewAttribute(oid, v)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestSignRejects(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		digest []byte
		opts   SignOptions
		field  string
	}{
		{"short digest", testDigest[:20], SignOptions{Signer: f.key, Cert: f.cert}, "digest"},
		{"no signer", testDigest, SignOptions{Cert: f.cert}, "Signer"},
		{"no certificate", testDigest, SignOptions{Signer: f.key}, "Cert"},
		{"key not the certificate's", testDigest, SignOptions{Signer: f.other, Cert: f.cert}, "Signer"},
		{"messageDigest given twice", testDigest, SignOptions{Signer: f.key, Cert: f.cert, ExtraSignedAttributes: []Attribute{mustAttr(t, OIDAttrMessageDigest, testDigest)}}, "ExtraSignedAttributes[0]"},
		{"attribute without values", testDigest, SignOptions{Signer: f.key, Cert: f.cert, ExtraSignedAttributes: []Attribute{{Type: asn1.ObjectIdentifier{1, 2, 3}}}}, "ExtraSignedAttributes[0]"},
		{"nil chain certificate", testDigest, SignOptions{Signer: f.key, Cert: f.cert, Chain: []*smx509.Certificate{nil}}, "Chain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := SignDetached(tt.digest, tt.opts)
			var se *SignError
			if !errors.As(err, &se) || se.Field != tt.field {
				t.Fatalf("err = %v, want SignError on %s", err, tt.field)
			}
		})
	}
}

// build assembles a SignedData by hand, for the shapes SignDetached never
// writes: attributes left out or repeated, subjectKeyIdentifier, unsigned
// attributes.
type build struct {
	attrs     []Attribute // signed attributes, in order
	certs     []*smx509.Certificate
	ski       bool
	unsigned  []Attribute
	encapType asn1.ObjectIdentifier
	sigAlg    asn1.ObjectIdentifier
	digestAlg asn1.ObjectIdentifier
}

type testSignerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional"`
}

type testSignedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	EncapContentInfo encapContentInfoOut
	Certificates     asn1.RawValue
	SignerInfos      []testSignerInfo `asn1:"set"`
}

func (b build) der(t testing.TB, f *fixture) []byte {
	t.Helper()
	if b.encapType == nil {
		b.encapType = OIDData
	}
	if b.sigAlg == nil {
		b.sigAlg = OIDSM2WithSM3
	}
	if b.digestAlg == nil {
		b.digestAlg = OIDSM3
	}
	var set []byte
	for _, a := range b.attrs {
		d, err := a.marshal()
		if err != nil {
			t.Fatal(err)
		}
		set = append(set, d...)
	}
	toSign, _ := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSet, IsCompound: true, Bytes: set})
	sig, err := keys.SignSM2(f.key, toSign)
	if err != nil {
		t.Fatal(err)
	}
	si := testSignerInfo{
		Version:            1,
		SID:                asn1.RawValue{FullBytes: mustMarshal(t, issuerAndSerialNumber{asn1.RawValue{FullBytes: f.cert.RawIssuer}, f.cert.SerialNumber})},
		DigestAlgorithm:    pkix.AlgorithmIdentifier{Algorithm: b.digestAlg},
		SignedAttrs:        asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: set},
		SignatureAlgorithm: pkix.AlgorithmIdentifier{Algorithm: b.sigAlg},
		Signature:          sig,
	}
	if b.ski {
		si.Version = 3
		si.SID = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: f.cert.SubjectKeyId}
	}
	if b.unsigned != nil {
		var u []byte
		for _, a := range b.unsigned {
			d, err := a.marshal()
			if err != nil {
				t.Fatal(err)
			}
			u = append(u, d...)
		}
		si.UnsignedAttrs = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: u}
	}
	var certs []byte
	for _, c := range b.certs {
		certs = append(certs, c.Raw...)
	}
	sd := testSignedData{
		Version:          1,
		DigestAlgorithms: []pkix.AlgorithmIdentifier{{Algorithm: b.digestAlg}},
		EncapContentInfo: encapContentInfoOut{EContentType: b.encapType},
		Certificates:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: certs},
		SignerInfos:      []testSignerInfo{si},
	}
	return mustMarshal(t, contentInfo{OIDSignedData, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: mustMarshal(t, sd)}})
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	d, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestVerifyFailures(t *testing.T) {
	f := newFixture(t)
	ct := mustAttr(t, OIDAttrContentType, OIDData)
	md := mustAttr(t, OIDAttrMessageDigest, testDigest)
	st := mustAttr(t, OIDAttrSigningTime, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	good := f.sign(t, SignOptions{SigningTime: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)})
	sd, err := Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	si := sd.SignerInfos[0]
	// Offsets into good of parts of the signer info.
	attrsAt := bytes.Index(good, si.RawSignedAttributes)
	timeAt := bytes.Index(good, []byte("250102030405Z"))
	digestAt := bytes.Index(good, testDigest)
	sigAt := bytes.LastIndex(good, si.Signature)
	if attrsAt < 0 || timeAt < attrsAt || digestAt < attrsAt || sigAt < 0 {
		t.Fatal("cannot locate the parts of the signature")
	}
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 0x01; return b }
	otherDigest := sm3.Sum([]byte("another document"))

	tests := []struct {
		name   string
		der    []byte
		digest []byte
		// exactly one of these
		reason      VerifyReason
		unsupported string
		parseErr    bool
	}{
		{"good", good, testDigest, 0, "", false},
		{"other content", good, otherDigest[:], ReasonDigestMismatch, "", false},
		{"signingTime byte flipped", flip(timeAt + 11), testDigest, ReasonBadSignature, "", false},
		{"messageDigest byte flipped", flip(digestAt + 7), testDigest, ReasonDigestMismatch, "", false},
		{"signature byte flipped", flip(sigAt + len(si.Signature) - 1), testDigest, ReasonBadSignature, "", false},
		{"signedAttrs tag changed", func() []byte { b := bytes.Clone(good); b[attrsAt] = 0x80; return b }(), testDigest, 0, "", true},
		{"signature algorithm .301.1", build{attrs: []Attribute{ct, st, md}, certs: []*smx509.Certificate{f.cert}, sigAlg: OIDSM2Sign}.der(t, f), testDigest, 0, "", false},
		{"signature algorithm .301", build{attrs: []Attribute{ct, st, md}, certs: []*smx509.Certificate{f.cert}, sigAlg: OIDSM2}.der(t, f), testDigest, 0, "", false},
		{"signature algorithm ECDSA", build{attrs: []Attribute{ct, md}, certs: []*smx509.Certificate{f.cert}, sigAlg: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}}.der(t, f), testDigest, 0, "signature", false},
		{"digest algorithm SHA-256", build{attrs: []Attribute{ct, md}, certs: []*smx509.Certificate{f.cert}, digestAlg: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}}.der(t, f), testDigest, 0, "digest", false},
		{"subjectKeyIdentifier sid", build{attrs: []Attribute{ct, md}, certs: []*smx509.Certificate{f.root, f.cert}, ski: true}.der(t, f), testDigest, 0, "", false},
		{"no contentType", build{attrs: []Attribute{st, md}, certs: []*smx509.Certificate{f.cert}}.der(t, f), testDigest, ReasonMissingAttribute, "", false},
		{"no messageDigest", build{attrs: []Attribute{ct, st}, certs: []*smx509.Certificate{f.cert}}.der(t, f), testDigest, ReasonMissingAttribute, "", false},
		{"no signed attributes", build{certs: []*smx509.Certificate{f.cert}}.der(t, f), testDigest, ReasonMissingAttribute, "", false},
		{"contentType differs from encapsulated type", build{attrs: []Attribute{ct, md}, certs: []*smx509.Certificate{f.cert}, encapType: OIDGMData}.der(t, f), testDigest, ReasonBadAttribute, "", false},
		{"messageDigest repeated", build{attrs: []Attribute{ct, md, mustAttr(t, OIDAttrMessageDigest, otherDigest[:])}, certs: []*smx509.Certificate{f.cert}}.der(t, f), testDigest, 0, "", true},
		{"messageDigest with two values", build{attrs: []Attribute{ct, {Type: OIDAttrMessageDigest, Values: append(md.Values, mustAttr(t, OIDAttrMessageDigest, otherDigest[:]).Values...)}}, certs: []*smx509.Certificate{f.cert}}.der(t, f), testDigest, 0, "", true},
		{"signer certificate not embedded", build{attrs: []Attribute{ct, md}, certs: []*smx509.Certificate{f.root, f.inter}}.der(t, f), testDigest, ReasonNoSignerCert, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sd, err := Parse(tt.der)
			if tt.parseErr {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v, want *ParseError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			err = sd.SignerInfos[0].Verify(tt.digest)
			switch {
			case tt.unsupported != "":
				var ue *UnsupportedAlgorithmError
				if !errors.As(err, &ue) || ue.Role != tt.unsupported {
					t.Fatalf("err = %v, want unsupported %s algorithm", err, tt.unsupported)
				}
			case tt.reason != 0:
				var ve *VerifyError
				if !errors.As(err, &ve) || ve.Reason != tt.reason {
					t.Fatalf("err = %v, want %v", err, tt.reason)
				}
			case err != nil:
				t.Fatal(err)
			}
		})
	}
}

func TestUnsignedAttributes(t *testing.T) {
	f := newFixture(t)
	token := mustAttr(t, OIDAttrTimeStampToken, asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: []byte{0x02, 0x01, 0x05}})
	der := build{
		attrs:    []Attribute{mustAttr(t, OIDAttrContentType, OIDData), mustAttr(t, OIDAttrMessageDigest, testDigest)},
		certs:    []*smx509.Certificate{f.cert},
		unsigned: []Attribute{token},
	}.der(t, f)
	sd, err := Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	si := sd.SignerInfos[0]
	a, ok := si.UnsignedAttribute(OIDAttrTimeStampToken)
	if !ok || !bytes.Equal(a.Values[0].FullBytes, token.Values[0].FullBytes) || si.RawUnsignedAttributes[0] != 0xa1 {
		t.Fatal("unsigned attribute lost")
	}
	if !si.SigningTime.IsZero() {
		t.Fatal("signing time invented")
	}
	if err := si.Verify(testDigest); err != nil {
		t.Fatal(err)
	}
}

func TestParseEnvelope(t *testing.T) {
	f := newFixture(t)
	good := f.sign(t, SignOptions{})
	indefinite := append([]byte{0x30, 0x80}, good[2+int(good[1]&0x7f):]...)
	indefinite = append(indefinite, 0, 0)
	dataCI := mustMarshal(t, contentInfo{OIDData, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: mustMarshal(t, []byte("x"))}})
	tests := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"exact", good, true},
		{"PDF /Contents padding", append(bytes.Clone(good), make([]byte, 4096)...), true},
		{"trailing garbage", append(bytes.Clone(good), 0, 0, 1), false},
		{"indefinite length (BER)", indefinite, true},
		{"not signedData", dataCI, false},
		{"empty", nil, false},
		{"zeros", make([]byte, 16), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sd, err := Parse(tt.in)
			if !tt.ok {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v, want *ParseError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sd.Raw, good) && !bytes.Equal(sd.Raw, indefinite) {
				t.Fatal("Raw is not the ContentInfo as received without padding")
			}
			if err := sd.SignerInfos[0].Verify(testDigest); err != nil {
				t.Fatal(err)
			}
		})
	}
	for i := range good {
		if _, err := Parse(good[:i]); err == nil {
			t.Fatalf("prefix of %d bytes parsed", i)
		}
	}
}

// TestTjfocVerifiesSignerInfo checks our CMS signature with an independent
// SM2 implementation: tjfoc/gmsm parses the embedded certificate and
// verifies the signature over the SET OF signed attributes.
func TestTjfocVerifiesSignerInfo(t *testing.T) {
	f := newFixture(t)
	for _, gm := range []bool{false, true} {
		sd, err := Parse(f.sign(t, SignOptions{Chain: []*smx509.Certificate{f.inter}, GMOIDs: gm}))
		if err != nil {
			t.Fatal(err)
		}
		si := sd.SignerInfos[0]
		cert, err := si.SignerCertificate(sd.Certificates)
		if err != nil {
			t.Fatal(err)
		}
		tc, err := tx509.ParseCertificate(cert.Raw)
		if err != nil {
			t.Fatalf("tjfoc cannot parse the signer certificate: %v", err)
		}
		ec, ok := tc.PublicKey.(*ecdsa.PublicKey)
		if !ok {
			t.Fatalf("tjfoc public key %T", tc.PublicKey)
		}
		//lint:ignore SA1019 tjfoc/gmsm keys are built from the raw coordinates.
		pub := &tsm2.PublicKey{Curve: ec.Curve, X: ec.X, Y: ec.Y}
		msg := append([]byte{0x31}, si.RawSignedAttributes[1:]...)
		if !pub.Verify(msg, si.Signature) {
			t.Fatalf("tjfoc rejects the SignerInfo signature (GM OIDs %v)", gm)
		}
		if pub.Verify(si.RawSignedAttributes, si.Signature) {
			t.Fatal("signature verifies over the [0]-tagged bytes")
		}
		ti, err := tx509.ParseCertificate(f.inter.Raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := tc.CheckSignatureFrom(ti); err != nil {
			t.Fatalf("tjfoc rejects the signer certificate: %v", err)
		}
	}
}

func TestSignerCertificateSerialAndIssuer(t *testing.T) {
	f := newFixture(t)
	sd, err := Parse(f.sign(t, SignOptions{Chain: []*smx509.Certificate{f.inter, f.root}}))
	if err != nil {
		t.Fatal(err)
	}
	si := *sd.SignerInfos[0]
	si.SerialNumber = new(big.Int).Add(si.SerialNumber, big.NewInt(1))
	if _, err := si.SignerCertificate(sd.Certificates); err == nil {
		t.Fatal("matched a certificate with another serial")
	}
	if err := si.Verify(testDigest); err == nil {
		t.Fatal("verified without the signer certificate")
	}
}

func FuzzParse(f *testing.F) {
	fx := newFixture(f)
	good := fx.sign(f, SignOptions{Chain: []*smx509.Certificate{fx.inter}})
	f.Add(good)
	f.Add(fx.sign(f, SignOptions{GMOIDs: true}))
	f.Add(append(bytes.Clone(good), 0, 0, 0))
	gsd, _ := Parse(good)
	f.Add(reencodeBER(f, good, berStyle{indefinite: true, longForm: true, chunked: true}, gsd.SignerInfos[0].RawSignedAttributes))
	f.Fuzz(func(t *testing.T, in []byte) {
		sd, err := Parse(in)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, si := range sd.SignerInfos {
			_ = si.Verify(testDigest)
			_, _ = si.SignerCertificate(sd.Certificates)
		}
	})
}
