package ses

// The outside test vectors in testdata/gbt38540 and what their README says
// a correct verifier reports about each.

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "gbt38540", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestFixtureV4SignedValue(t *testing.T) {
	sg, err := ParseSignature(fixture(t, "v4_SignedValue.dat"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sg.Verify(); err != nil {
		t.Errorf("signature over toSign: %v, want valid", err)
	}
	if err := sg.Seal.VerifyMakerSignature(); err != nil {
		t.Errorf("embedded seal maker signature: %v, want valid", err)
	}
	if sg.Version != 4 || sg.Seal.Version != 4 {
		t.Errorf("versions %d/%d, want 4/4", sg.Version, sg.Seal.Version)
	}
	if got, want := sg.TimeInfo, utc("2020-10-10T07:11:20Z"); !got.Equal(want) {
		t.Errorf("timeInfo %v, want %v", got, want)
	}
	if sg.PropertyInfo != "/Doc_0/Signs/Sign_0/Signature.xml" {
		t.Errorf("propertyInfo %q", sg.PropertyInfo)
	}
	sum := sm3.Sum(fixture(t, "v4_Signature.xml"))
	if !bytes.Equal(sg.DataHash, sum[:]) {
		t.Errorf("dataHash %x, want SM3(v4_Signature.xml) %x", sg.DataHash, sum)
	}
	if !bytes.HasPrefix(sum[:], mustHex("14859b925039a50f")) {
		t.Errorf("SM3(v4_Signature.xml) = %x, README says 14859b925039a50f…", sum)
	}
	if sg.TimeStamp != nil {
		t.Errorf("timestamp %x, want none", sg.TimeStamp)
	}
	s := sg.Seal
	if s.Vid != "GOMAIN" || s.Type != 3 || s.Name != "测试全国统一发票监制章国家税务总局重庆市税务局" {
		t.Errorf("seal vid %q type %d name %q", s.Vid, s.Type, s.Name)
	}
	if !s.AllowsSigner(sg.Cert) {
		t.Error("signer certificate not in the seal's certList")
	}
	if !bytes.Equal(s.SignedBytes, sg.Raw[15:15+4+3874]) {
		t.Error("seal SignedBytes are not the received eSealInfo bytes")
	}
}

func TestFixtureSignedValueV4(t *testing.T) {
	sg, err := ParseSignature(fixture(t, "SignedValueV4.dat"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sg.Verify(); err != nil {
		t.Errorf("signature: %v, want valid", err)
	}
	if err := sg.Seal.VerifyMakerSignature(); err != nil {
		t.Errorf("embedded seal: %v, want valid", err)
	}
	if !sg.Seal.AllowsSigner(sg.Cert) {
		t.Error("signer certificate not in the seal's certList")
	}
}

func TestFixtureSESealData(t *testing.T) {
	s, err := ParseSeal(fixture(t, "SESealData.DER"))
	if err != nil {
		t.Fatal(err)
	}
	var se *SignatureError
	if err := s.VerifyMakerSignature(); !errors.As(err, &se) || se.Reason != Invalid {
		t.Errorf("maker signature: %v, want SignatureError Invalid", err)
	}
	if s.Version != 4 || s.Vid != "Vid HebeiGede" || s.ESID != "esID130600" {
		t.Errorf("version %d vid %q esid %q", s.Version, s.Vid, s.ESID)
	}
	if s.Type != 4 || s.Name != "测试单位名称 合同专用章" {
		t.Errorf("type %d name %q", s.Type, s.Name)
	}
	if s.CertListType != CertListCerts || len(s.CertList) != 2 {
		t.Errorf("certListType %d with %d certs, want 1 with 2", s.CertListType, len(s.CertList))
	}
	if s.Picture.Type != "GIF" || s.Picture.WidthMM != 42 || s.Picture.HeightMM != 42 || !bytes.HasPrefix(s.Picture.Data, []byte("GIF89a")) {
		t.Errorf("picture %s %d×%d", s.Picture.Type, s.Picture.WidthMM, s.Picture.HeightMM)
	}
	if !s.CreateDate.Equal(utc("2020-10-13T09:45:58Z")) || !s.ValidStart.Equal(utc("2020-10-13T09:45:58Z")) || !s.ValidEnd.Equal(utc("2021-04-16T09:45:58Z")) {
		t.Errorf("dates %v %v %v", s.CreateDate, s.ValidStart, s.ValidEnd)
	}
	want := []struct {
		id       asn1.ObjectIdentifier
		critical bool
	}{
		{asn1.ObjectIdentifier{1, 2, 156, 112600, 7, 1}, false},
		{asn1.ObjectIdentifier{1, 2, 156, 112600, 7, 2}, true},
		{asn1.ObjectIdentifier{1, 2, 156, 112600, 7, 3}, false},
	}
	if len(s.Extensions) != len(want) {
		t.Fatalf("%d extensions, want %d", len(s.Extensions), len(want))
	}
	for i, w := range want {
		if e := s.Extensions[i]; !e.ID.Equal(w.id) || e.Critical != w.critical {
			t.Errorf("extension %d: %v critical %t, want %v %t", i, e.ID, e.Critical, w.id, w.critical)
		}
	}
	if string(s.Extensions[2].Value) != "HeBeiBaoDingShiCeShiDanWeiMingCheng" {
		t.Errorf("extension 3 value %q", s.Extensions[2].Value)
	}
}

func TestFixtureUserV1(t *testing.T) {
	der := fixture(t, "UserV1.esl")
	s, err := ParseSeal(der)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != 1 || s.HeaderVersion != 1 {
		t.Errorf("version %d header %d, want V1", s.Version, s.HeaderVersion)
	}
	if err := s.VerifyMakerSignature(); err != nil {
		t.Errorf("maker signature: %v, want valid", err)
	}
	// The maker signs SEQUENCE{sealInfo, cert, signatureAlgorithm}, not sealInfo alone.
	_, top, _ := topSequence(der, "")
	if err := verifySM2(s.MakerCert, s.SignAlg, top[0].FullBytes, s.Signature); err == nil {
		t.Error("V1 signature also verifies over sealInfo alone; the fixture says otherwise")
	}
	if s.Name != "OFDRW测试用印章" || s.Type != 1 || s.CertListType != CertListCerts || len(s.CertList) != 1 {
		t.Errorf("name %q type %d certs %d/%d", s.Name, s.Type, s.CertListType, len(s.CertList))
	}
	// UTCTime dates.
	if !s.ValidStart.Equal(utc("2020-04-22T02:18:07Z")) || !s.ValidEnd.Equal(utc("2022-04-22T02:18:07Z")) {
		t.Errorf("validity %v – %v", s.ValidStart, s.ValidEnd)
	}
	if s.Picture.Type != "PNG" || s.Picture.WidthMM != 40 {
		t.Errorf("picture %s %d", s.Picture.Type, s.Picture.WidthMM)
	}
}

func TestFixtureUserV5(t *testing.T) {
	s, err := ParseSeal(fixture(t, "UserV5_ts.esl"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != 5 {
		t.Errorf("version %d, want 5", s.Version)
	}
	if err := s.VerifyMakerSignature(); err != nil {
		t.Errorf("maker signature: %v, want valid", err)
	}
	if !bytes.Equal(s.TimeStamp, []byte{1, 2, 3}) {
		t.Errorf("timestamp %x, want the [0] BIT STRING 010203", s.TimeStamp)
	}
	if !bytes.Equal(s.SignedBytes, s.Raw[4:4+4+16393]) {
		t.Error("SignedBytes are not the received eSealInfo")
	}
	if s.Name != "OFD R&W V5测试用印章" || s.Vid != "OFDR&WTestV5" {
		t.Errorf("name %q vid %q", s.Name, s.Vid)
	}
}

// The seals embedded in the V4 signatures parse the same on their own.
func TestFixtureEmbeddedSealRoundTrip(t *testing.T) {
	sg, err := ParseSignature(fixture(t, "SignedValueV4.dat"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSeal(sg.Seal.Raw)
	if err != nil || s.ESID != sg.Seal.ESID {
		t.Fatalf("re-parse embedded seal: %v", err)
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
