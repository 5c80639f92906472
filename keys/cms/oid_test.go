package cms

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"testing"
)

func TestOID(t *testing.T) {
	for _, c := range []struct {
		text string
		hex  string // content octets
	}{
		{"1.2.840.113549.1.7.2", "2a864886f70d010702"},
		{"1.2.156.10197.1.401", "2a811ccf55018311"},
		{"0.0", "00"},
		{"2.999.3", "883703"},
		// ITU-T X.667's example UUID OID, one arc of 128 bits; the octets
		// are what openssl asn1parse -genstr OID:… writes.
		{"2.25.329800735698586629295641978511506172918", "6983f09da7ebcfdee0c7a1a7b2c0948cc8f9d776"},
		{"2.25.64693171627294065741459426975091645976", "69e1abb9e7dcf8ba85cfbbceeee8d3dd97bc18"},
	} {
		o, err := ParseOIDString(c.text)
		if err != nil {
			t.Fatalf("%s: %v", c.text, err)
		}
		if got := hex.EncodeToString(o); got != c.hex {
			t.Errorf("%s: %s, want %s", c.text, got, c.hex)
		}
		if !o.Valid() || o.String() != c.text {
			t.Errorf("%s: valid %t, String %s", c.text, o.Valid(), o.String())
		}
		back, err := ParseOIDElement(o.DER())
		if err != nil || !back.Equal(o) {
			t.Errorf("%s: DER round trip %v", c.text, err)
		}
		if id, ok := o.ObjectIdentifier(); ok && (!o.Is(id) || id.String() != c.text) {
			t.Errorf("%s: as ObjectIdentifier %v", c.text, id)
		}
	}
	if _, ok := MustOID("2.25.64693171627294065741459426975091645976").ObjectIdentifier(); ok {
		t.Error("a 128-bit arc fits an ObjectIdentifier?")
	}
	if !OIDOf(OIDSM3).Equal(MustOID("1.2.156.10197.1.401")) {
		t.Error("OIDOf(OIDSM3)")
	}
}

func TestOIDHostile(t *testing.T) {
	for _, s := range []string{"", "1", "3.1", "1.40", "1..2", "1.2.-3", "1.2.+3", "1.2.03", "1.2.x", "0.40"} {
		if _, err := ParseOIDString(s); err == nil {
			t.Errorf("ParseOIDString(%q) accepted", s)
		}
	}
	for _, c := range []struct{ name, hex string }{
		{"empty", "0600"},
		{"unterminated arc", "06022a86"},
		{"padded arc", "06032a8001"},
		{"constructed", "26022a03"},
		{"not an OID", "04022a03"},
		{"trailing data", "06012a00"},
		{"long length", "068101"},
	} {
		der, _ := hex.DecodeString(c.hex)
		if o, err := ParseOIDElement(der); err == nil {
			t.Errorf("%s: accepted as %s", c.name, o)
		}
	}
	if OID(nil).Valid() || (OID{0x86}).String() != "malformed OID" {
		t.Error("malformed OIDs look valid")
	}
}

// An attribute type with an arc larger than an int is written, parsed,
// found and signed over like any other; the same digits split into several
// arcs are another type.
func TestBigArcAttribute(t *testing.T) {
	fx := newFixture(t)
	big := MustOID("2.25.64693171627294065741459426975091645976")
	split := asn1.ObjectIdentifier{2, 25, 64693171, 627294065, 741459426, 975091645, 976}
	val, _ := asn1.Marshal("seal")
	der := fx.sign(t, SignOptions{ExtraSignedAttributes: []Attribute{{OID: big, Values: []asn1.RawValue{{FullBytes: val}}}}})
	if !bytes.Contains(der, big.DER()) {
		t.Fatal("single-arc OID not written")
	}
	sd, err := Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	si := sd.SignerInfos[0]
	a, ok := si.AttributeOID(big)
	if !ok || a.Type != nil || !bytes.Equal(a.Values[0].FullBytes, val) {
		t.Fatalf("attribute %v %+v", ok, a)
	}
	if _, ok := si.Attribute(split); ok {
		t.Error("the split OID matches the single-arc one")
	}
	if err := si.Verify(testDigest); err != nil {
		t.Fatal(err)
	}
	_, err = SignDetached(testDigest, SignOptions{Signer: fx.key, Cert: fx.cert, ExtraSignedAttributes: []Attribute{
		{OID: big, Values: []asn1.RawValue{{FullBytes: val}}},
		{OID: big, Values: []asn1.RawValue{{FullBytes: val}}}}})
	var se *SignError
	if !errors.As(err, &se) {
		t.Errorf("a repeated single-arc attribute: %v", err)
	}
}
