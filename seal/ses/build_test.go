package ses

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	tjsm2 "github.com/tjfoc/gmsm/sm2"
	tjx509 "github.com/tjfoc/gmsm/x509"

	"eseal/keys"
	"eseal/keys/keystest"
)

// newIdentity makes an SM2 key and a certificate for it with key usage
// digitalSignature, issued by a root of its own.
func newIdentity(t testing.TB, cn string) (*sm2.PrivateKey, []byte) {
	t.Helper()
	key, cert := keystest.New(t, keystest.Options{Org: "eseal test"}).Issue(t, keys.KindSealMaker, cn)
	return key, cert.Raw
}

var t0 = time.Date(2025, 3, 1, 8, 30, 15, 0, time.UTC)

func testSpec(signerCert []byte) SealSpec {
	return SealSpec{
		ESID:        "33010000000001",
		Vid:         "eseal",
		Type:        1,
		Name:        "测试局行政审批专用章",
		SignerCerts: [][]byte{signerCert},
		CreateDate:  t0.Add(123 * time.Millisecond), // fractions are dropped
		ValidStart:  t0,
		ValidEnd:    t0.AddDate(2, 0, 0),
		Picture:     Picture{Type: "PNG", Data: []byte("\x89PNG\r\n\x1a\nfake"), WidthMM: 40, HeightMM: 40},
		Extensions: []Extension{
			{ID: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: []byte("plain")},
			{ID: asn1.ObjectIdentifier{1, 2, 3, 5}, Critical: true, Value: []byte("must know")},
		},
	}
}

type fixtureSet struct {
	makerKey, signerKey   *sm2.PrivateKey
	makerCert, signerCert []byte
	seal                  []byte
}

func newFixtureSet(t testing.TB) fixtureSet {
	t.Helper()
	var f fixtureSet
	f.makerKey, f.makerCert = newIdentity(t, "seal maker")
	f.signerKey, f.signerCert = newIdentity(t, "signer")
	var err error
	f.seal, err = BuildSeal(testSpec(f.signerCert), f.makerKey, f.makerCert)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestBuildSealRoundTrip(t *testing.T) {
	f := newFixtureSet(t)
	s, err := ParseSeal(f.seal)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.VerifyMakerSignature(); err != nil {
		t.Fatalf("maker signature: %v", err)
	}
	spec := testSpec(f.signerCert)
	if s.Version != 4 || s.ID != "ES" || s.Vid != spec.Vid || s.ESID != spec.ESID || s.Type != spec.Type || s.Name != spec.Name {
		t.Errorf("header/property: %+v", s)
	}
	if !s.CreateDate.Equal(t0) || !s.ValidStart.Equal(t0) || !s.ValidEnd.Equal(spec.ValidEnd) {
		t.Errorf("dates %v %v %v", s.CreateDate, s.ValidStart, s.ValidEnd)
	}
	if s.CertListType != CertListCerts || len(s.CertList) != 1 || !bytes.Equal(s.CertList[0], f.signerCert) {
		t.Error("certList")
	}
	if s.Picture.Type != "PNG" || !bytes.Equal(s.Picture.Data, spec.Picture.Data) || s.Picture.WidthMM != 40 || s.Picture.HeightMM != 40 {
		t.Errorf("picture %+v", s.Picture)
	}
	if len(s.Extensions) != 2 || s.Extensions[0].Critical || !s.Extensions[1].Critical || !s.Extensions[1].ID.Equal(spec.Extensions[1].ID) {
		t.Errorf("extensions %+v", s.Extensions)
	}
	if !s.SignAlg.Equal(OIDSM2WithSM3) || !bytes.Equal(s.MakerCert, f.makerCert) {
		t.Error("signAlg or cert")
	}
	if !s.AllowsSigner(f.signerCert) || s.AllowsSigner(f.makerCert) || s.AllowsSigner(nil) {
		t.Error("AllowsSigner")
	}
	// Dates are GeneralizedTime YYYYMMDDHHMMSSZ.
	if !bytes.Contains(f.seal, []byte("\x18\x0f20250301083015Z")) {
		t.Error("createDate is not GeneralizedTime 20250301083015Z")
	}
	// DEFAULT FALSE is omitted, TRUE is written as 0xFF.
	if !bytes.Contains(f.seal, []byte("\x01\x01\xff")) || bytes.Contains(f.seal, []byte("\x01\x01\x00")) {
		t.Error("critical flag encoding")
	}
}

// An independent SM2 implementation must accept the maker signature.
func TestBuildSealTjfoc(t *testing.T) {
	f := newFixtureSet(t)
	s, err := ParseSeal(f.seal)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tjx509.ParseCertificate(f.makerCert)
	if err != nil {
		t.Fatalf("tjfoc cannot parse our certificate: %v", err)
	}
	pub := tjfocKey(t, cert.PublicKey)
	if !pub.Verify(s.SignedBytes, s.Signature) {
		t.Error("tjfoc/gmsm rejects the maker signature")
	}
	if pub.Verify(append(bytes.Clone(s.SignedBytes), 0), s.Signature) {
		t.Error("tjfoc/gmsm accepts the maker signature over other bytes")
	}
	sigDER, err := BuildSignature(SignatureSpec{SealDER: f.seal, TimeInfo: t0, DataHash: make([]byte, 32), PropertyInfo: "x"}, f.signerKey, f.signerCert)
	if err != nil {
		t.Fatal(err)
	}
	sg, err := ParseSignature(sigDER)
	if err != nil {
		t.Fatal(err)
	}
	scert, err := tjx509.ParseCertificate(f.signerCert)
	if err != nil {
		t.Fatal(err)
	}
	if !tjfocKey(t, scert.PublicKey).Verify(sg.SignedBytes, sg.Value) {
		t.Error("tjfoc/gmsm rejects the signer signature")
	}
}

// tjfocKey converts the key tjfoc's x509 parsed (an ecdsa.PublicKey on its
// own SM2 curve) into a tjfoc SM2 public key.
func tjfocKey(t testing.TB, k any) *tjsm2.PublicKey {
	t.Helper()
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok || ek.Curve != tjsm2.P256Sm2() {
		t.Fatalf("tjfoc parsed public key %T, want an SM2 key", k)
	}
	//lint:ignore SA1019 tjfoc's SM2 API takes the coordinates as big.Int
	return &tjsm2.PublicKey{Curve: ek.Curve, X: ek.X, Y: ek.Y}
}

func TestBuildSignatureRoundTrip(t *testing.T) {
	f := newFixtureSet(t)
	hash := sm3.Sum([]byte("the protected bytes"))
	spec := SignatureSpec{SealDER: f.seal, TimeInfo: t0.Add(time.Hour), DataHash: hash[:], PropertyInfo: "PDF;ByteRange=0,10,20,30;hash=SM3"}
	der, err := BuildSignature(spec, f.signerKey, f.signerCert)
	if err != nil {
		t.Fatal(err)
	}
	sg, err := ParseSignature(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := sg.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := sg.Seal.VerifyMakerSignature(); err != nil {
		t.Fatalf("embedded seal: %v", err)
	}
	if sg.Version != 4 || !sg.TimeInfo.Equal(spec.TimeInfo) || !bytes.Equal(sg.DataHash, hash[:]) || sg.PropertyInfo != spec.PropertyInfo {
		t.Errorf("fields %+v", sg)
	}
	if !bytes.Equal(sg.Seal.Raw, f.seal) || !bytes.Equal(sg.Cert, f.signerCert) || sg.TimeStamp != nil || sg.Extensions != nil {
		t.Error("seal, cert, timestamp or extensions")
	}
	if !sg.Seal.AllowsSigner(sg.Cert) {
		t.Error("signer not allowed by its seal")
	}
	if err := sg.Seal.ValidAt(sg.TimeInfo); err != nil {
		t.Error(err)
	}
}

// A generic crypto.Signer gets the message with sm2.SM2SignerOption.
type opaqueSigner struct{ k *sm2.PrivateKey }

func (o opaqueSigner) Public() crypto.PublicKey { return o.k.Public() }
func (o opaqueSigner) Sign(r io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.k.Sign(r, msg, opts)
}

// digestSigner ignores the options and treats msg as a digest, as a naive HSM
// wrapper would.
type digestSigner struct{ k *sm2.PrivateKey }

func (d digestSigner) Public() crypto.PublicKey { return d.k.Public() }
func (d digestSigner) Sign(r io.Reader, msg []byte, _ crypto.SignerOpts) ([]byte, error) {
	return sm2.SignASN1(r, d.k, msg, nil)
}

func TestBuildSealSigners(t *testing.T) {
	maker, makerCert := newIdentity(t, "maker")
	other, _ := newIdentity(t, "other")
	_, signerCert := newIdentity(t, "signer")
	spec := testSpec(signerCert)

	der, err := BuildSeal(spec, opaqueSigner{maker}, makerCert)
	if err != nil {
		t.Fatalf("generic signer: %v", err)
	}
	if s, err := ParseSeal(der); err != nil || s.VerifyMakerSignature() != nil {
		t.Fatalf("generic signer seal: %v", err)
	}
	var se *SignatureError
	if _, err := BuildSeal(spec, digestSigner{maker}, makerCert); !errors.As(err, &se) || se.Reason != Invalid {
		t.Errorf("signer ignoring SM2 options: %v, want SignatureError Invalid", err)
	}
	if _, err := BuildSeal(spec, other, makerCert); !errors.As(err, &se) || se.Reason != KeyMismatch {
		t.Errorf("wrong key: %v, want KeyMismatch", err)
	}
	if _, err := BuildSeal(spec, maker, []byte("not a cert")); !errors.As(err, &se) || se.Reason != BadCertificate {
		t.Errorf("bad cert: %v, want BadCertificate", err)
	}
}

func TestBuildSpecErrors(t *testing.T) {
	maker, makerCert := newIdentity(t, "maker")
	_, signerCert := newIdentity(t, "signer")
	for name, mutate := range map[string]func(*SealSpec){
		"empty ESID":       func(s *SealSpec) { s.ESID = "" },
		"non-ASCII ESID":   func(s *SealSpec) { s.ESID = "章" },
		"non-ASCII Vid":    func(s *SealSpec) { s.Vid = "厂商" },
		"no name":          func(s *SealSpec) { s.Name = "" },
		"no signer":        func(s *SealSpec) { s.SignerCerts = nil },
		"empty cert":       func(s *SealSpec) { s.SignerCerts = [][]byte{nil} },
		"end before start": func(s *SealSpec) { s.ValidEnd = s.ValidStart.Add(-time.Second) },
		"no dates":         func(s *SealSpec) { s.CreateDate = time.Time{} },
		"no picture":       func(s *SealSpec) { s.Picture.Data = nil },
		"no picture type":  func(s *SealSpec) { s.Picture.Type = "" },
		"zero size":        func(s *SealSpec) { s.Picture.WidthMM = 0 },
		"bad ext OID":      func(s *SealSpec) { s.Extensions = []Extension{{ID: asn1.ObjectIdentifier{1}}} },
	} {
		spec := testSpec(signerCert)
		mutate(&spec)
		var se *SpecError
		if _, err := BuildSeal(spec, maker, makerCert); !errors.As(err, &se) {
			t.Errorf("%s: %v, want SpecError", name, err)
		}
	}

	f := newFixtureSet(t)
	good := SignatureSpec{SealDER: f.seal, TimeInfo: t0, DataHash: make([]byte, 32), PropertyInfo: "p"}
	for name, mutate := range map[string]func(*SignatureSpec){
		"no time":        func(s *SignatureSpec) { s.TimeInfo = time.Time{} },
		"no hash":        func(s *SignatureSpec) { s.DataHash = nil },
		"no property":    func(s *SignatureSpec) { s.PropertyInfo = "" },
		"non-ASCII prop": func(s *SignatureSpec) { s.PropertyInfo = "文档" },
		"V1 seal":        func(s *SignatureSpec) { s.SealDER = fixture(t, "UserV1.esl") },
	} {
		spec := good
		mutate(&spec)
		var se *SpecError
		if _, err := BuildSignature(spec, f.signerKey, f.signerCert); !errors.As(err, &se) {
			t.Errorf("%s: %v, want SpecError", name, err)
		}
	}
	var fe *FormatError
	bad := good
	bad.SealDER = []byte{0x30, 0x00}
	if _, err := BuildSignature(bad, f.signerKey, f.signerCert); !errors.As(err, &fe) {
		t.Errorf("garbage seal: %v, want FormatError", err)
	}
}

// Flipping one byte anywhere in the signed part or the signature value
// turns a good seal or signature into a typed error, never a success.
func TestTamper(t *testing.T) {
	f := newFixtureSet(t)
	s, _ := ParseSeal(f.seal)
	sigDER, err := BuildSignature(SignatureSpec{SealDER: f.seal, TimeInfo: t0, DataHash: make([]byte, 32), PropertyInfo: "p"}, f.signerKey, f.signerCert)
	if err != nil {
		t.Fatal(err)
	}
	sg, _ := ParseSignature(sigDER)

	check := func(name string, err error) {
		t.Helper()
		var fe *FormatError
		var se *SignatureError
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if !errors.As(err, &fe) && !errors.As(err, &se) {
			t.Errorf("%s: untyped error %T %v", name, err, err)
		}
	}
	sealErr := func(der []byte) error {
		s, err := ParseSeal(der)
		if err != nil {
			return err
		}
		return s.VerifyMakerSignature()
	}
	sigErr := func(der []byte) error {
		sg, err := ParseSignature(der)
		if err != nil {
			return err
		}
		return sg.Verify()
	}
	infoOff := bytes.Index(f.seal, s.SignedBytes)
	for _, off := range []int{infoOff + 10, infoOff + len(s.SignedBytes)/2, infoOff + len(s.SignedBytes) - 1} {
		b := bytes.Clone(f.seal)
		b[off] ^= 0x01
		check("seal eSealInfo byte "+itoa(off), sealErr(b))
	}
	sigOff := bytes.LastIndex(f.seal, s.Signature)
	for _, off := range []int{sigOff + 5, sigOff + len(s.Signature) - 1} {
		b := bytes.Clone(f.seal)
		b[off] ^= 0x80
		check("seal signature byte "+itoa(off), sealErr(b))
	}
	tbsOff := bytes.Index(sigDER, sg.SignedBytes)
	for _, off := range []int{tbsOff + len(sg.SignedBytes) - 3, tbsOff + len(sg.SignedBytes)/2} {
		b := bytes.Clone(sigDER)
		b[off] ^= 0x01
		check("toSign byte "+itoa(off), sigErr(b))
	}
	vOff := bytes.LastIndex(sigDER, sg.Value)
	b := bytes.Clone(sigDER)
	b[vOff+10] ^= 0x01
	var se *SignatureError
	if err := sigErr(b); !errors.As(err, &se) || se.Reason != Invalid {
		t.Errorf("signature value flip: %v, want SignatureError Invalid", err)
	}

	// Wrong algorithm identifier.
	s2 := *s
	s2.SignAlg = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 502}
	if err := s2.VerifyMakerSignature(); !errors.As(err, &se) || se.Reason != UnsupportedAlgorithm {
		t.Errorf("alg .502: %v, want UnsupportedAlgorithm", err)
	}
	// The other accepted algorithm identifiers.
	for _, alg := range []asn1.ObjectIdentifier{OIDSM2Sign, OIDSM2} {
		s2.SignAlg = alg
		if err := s2.VerifyMakerSignature(); err != nil {
			t.Errorf("alg %v: %v", alg, err)
		}
	}
}

// Raw 64-byte r‖s signature values are accepted.
func TestRawRSSignature(t *testing.T) {
	f := newFixtureSet(t)
	s, _ := ParseSeal(f.seal)
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(s.Signature, &rs); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 64)
	rs.R.FillBytes(raw[:32])
	rs.S.FillBytes(raw[32:])
	s.Signature = raw
	if err := s.VerifyMakerSignature(); err != nil {
		t.Errorf("raw r||s: %v", err)
	}
	raw[63] ^= 1
	if err := s.VerifyMakerSignature(); err == nil {
		t.Error("tampered raw r||s accepted")
	}
}

func TestValidAt(t *testing.T) {
	f := newFixtureSet(t)
	s, _ := ParseSeal(f.seal)
	var ve *ValidityError
	for _, c := range []struct {
		at   time.Time
		want ValidityReason
	}{
		{s.ValidStart.Add(-time.Second), NotYetValid},
		{s.ValidStart, 0},
		{s.ValidStart.Add(time.Hour), 0},
		{s.ValidEnd, 0},
		{s.ValidEnd.Add(time.Second), Expired},
	} {
		err := s.ValidAt(c.at)
		switch {
		case c.want == 0 && err != nil:
			t.Errorf("%v: %v, want valid", c.at, err)
		case c.want != 0 && (!errors.As(err, &ve) || ve.Reason != c.want):
			t.Errorf("%v: %v, want %v", c.at, err, c.want)
		}
	}
}

// signedSeal builds a V4 seal around any eSealInfo content, signed by key.
func signedSeal(t testing.TB, key *sm2.PrivateKey, cert []byte, info any) []byte {
	t.Helper()
	infoDER, err := asn1.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signSM2(key, cert, infoDER)
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(sealASN1{asn1.RawValue{FullBytes: infoDER}, cert, OIDSM2WithSM3, asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestCertDigestList(t *testing.T) {
	maker, makerCert := newIdentity(t, "maker")
	_, signerCert := newIdentity(t, "signer")
	_, strangerCert := newIdentity(t, "stranger")
	type digestObj struct {
		Type  string `asn1:"printable"`
		Value []byte
	}
	type property struct {
		Type         int
		Name         string `asn1:"utf8"`
		CertListType int
		CertList     []digestObj
		CreateDate   time.Time `asn1:"generalized"`
		ValidStart   time.Time `asn1:"generalized"`
		ValidEnd     time.Time `asn1:"generalized"`
	}
	type info struct {
		Header   headerASN1
		ESID     string `asn1:"ia5"`
		Property property
		Picture  pictureASN1
	}
	for _, c := range []struct {
		typ string
		sum func([]byte) []byte
	}{
		{"SM3", func(b []byte) []byte { h := sm3.Sum(b); return h[:] }},
		{"sha256", func(b []byte) []byte { return digest("SHA256", b) }},
		{"SHA-1", func(b []byte) []byte { return digest("sha1", b) }},
	} {
		der := signedSeal(t, maker, makerCert, info{
			Header:   headerASN1{"ES", 4, "t"},
			ESID:     "1",
			Property: property{2, "n", CertListDigests, []digestObj{{c.typ, c.sum(signerCert)}}, t0, t0, t0},
			Picture:  pictureASN1{"PNG", []byte{1}, 1, 1},
		})
		s, err := ParseSeal(der)
		if err != nil {
			t.Fatalf("%s: %v", c.typ, err)
		}
		if err := s.VerifyMakerSignature(); err != nil {
			t.Errorf("%s: %v", c.typ, err)
		}
		if s.CertListType != CertListDigests || len(s.CertDigests) != 1 || s.CertDigests[0].Type != c.typ || s.CertList != nil {
			t.Errorf("%s: parsed %+v", c.typ, s.CertDigests)
		}
		if !s.AllowsSigner(signerCert) || s.AllowsSigner(strangerCert) {
			t.Errorf("%s: AllowsSigner wrong", c.typ)
		}
	}
	if digest("MD5", []byte("x")) != nil {
		t.Error("unknown digest type must not match")
	}
}
