package cms

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"testing"

	"github.com/emmansun/gmsm/smx509"
)

// berStyle says how reencodeBER rewrites DER.
type berStyle struct {
	indefinite bool // constructed elements with indefinite lengths
	longForm   bool // primitive elements with a 4-byte length
	chunked    bool // OCTET STRINGs longer than 8 bytes cut into constructed pieces
}

// reencodeBER rewrites a DER element the way a streaming BER encoder might,
// leaving byte for byte the elements equal to one of keep.
func reencodeBER(t testing.TB, der []byte, st berStyle, keep ...[]byte) []byte {
	t.Helper()
	for _, k := range keep {
		if bytes.Equal(der, k) {
			return der
		}
	}
	var rv asn1.RawValue
	if _, err := asn1.Unmarshal(der, &rv); err != nil {
		t.Fatal(err)
	}
	id := der[:len(der)-len(rv.Bytes)]
	id = id[:1+len(id)-1-lengthOctets(id)]
	if !rv.IsCompound {
		if st.chunked && rv.Class == asn1.ClassUniversal && rv.Tag == asn1.TagOctetString && len(rv.Bytes) > 8 {
			out := []byte{0x24, 0x80}
			for b := rv.Bytes; len(b) > 0; {
				n := min(len(b), 8)
				out = append(out, derElement([]byte{0x04}, b[:n])...)
				b = b[n:]
			}
			return append(out, 0, 0)
		}
		if st.longForm {
			n := len(rv.Bytes)
			return append(append(append([]byte{}, id...), 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n)), rv.Bytes...)
		}
		return der
	}
	var body []byte
	for b := rv.Bytes; len(b) > 0; {
		var child asn1.RawValue
		rest, err := asn1.Unmarshal(b, &child)
		if err != nil {
			t.Fatal(err)
		}
		body = append(body, reencodeBER(t, child.FullBytes, st, keep...)...)
		b = rest
	}
	if st.indefinite {
		return append(append(append(append([]byte{}, id...), 0x80), body...), 0, 0)
	}
	return derElement(id, body)
}

// lengthOctets is the number of length octets of a DER header whose
// identifier and length make up hdr.
func lengthOctets(hdr []byte) int {
	for i := 1; i < len(hdr); i++ {
		if hdr[i-1]&0x80 == 0 || i == 1 { // end of the identifier
			if hdr[i] < 0x80 {
				return 1
			}
			return 1 + int(hdr[i]&0x7f)
		}
	}
	return 1
}

func TestParseBER(t *testing.T) {
	f := newFixture(t)
	der := f.sign(t, SignOptions{Chain: []*smx509.Certificate{f.inter, f.root}})
	sd, err := Parse(der)
	if err != nil || sd.BER {
		t.Fatalf("DER read as BER %v: %v", sd.BER, err)
	}
	attrs := sd.SignerInfos[0].RawSignedAttributes
	for name, st := range map[string]berStyle{
		"indefinite lengths":     {indefinite: true},
		"long-form lengths":      {longForm: true},
		"chunked octet strings":  {chunked: true},
		"every BER form at once": {indefinite: true, longForm: true, chunked: true},
	} {
		t.Run(name, func(t *testing.T) {
			ber := reencodeBER(t, der, st, attrs)
			if bytes.Equal(ber, der) {
				t.Fatal("nothing re-encoded")
			}
			if _, _, err := parse(ber); err == nil {
				t.Fatal("the DER parser reads the BER: the test proves nothing")
			}
			got, err := Parse(append(bytes.Clone(ber), 0, 0, 0))
			if err != nil {
				t.Fatal(err)
			}
			if !got.BER || !bytes.Equal(got.Raw, ber) {
				t.Fatalf("BER %t, Raw of %d bytes, want the %d received", got.BER, len(got.Raw), len(ber))
			}
			si := got.SignerInfos[0]
			if !bytes.Equal(si.RawSignedAttributes, attrs) || len(got.Certificates) != 3 {
				t.Fatal("signed attributes or certificates differ from the DER original")
			}
			if err := si.Verify(testDigest); err != nil {
				t.Fatal(err)
			}
			other := bytes.Clone(testDigest)
			other[0] ^= 1
			var ve *VerifyError
			if err := si.Verify(other); !errors.As(err, &ve) || ve.Reason != ReasonDigestMismatch {
				t.Fatalf("other content: %v", err)
			}
		})
	}
}

// Hostile BER: what RFC 5652 does not allow, what is not BER at all, and
// what would make the converter work without end.
func TestParseBERHostile(t *testing.T) {
	f := newFixture(t)
	der := f.sign(t, SignOptions{})
	sd, _ := Parse(der)
	si := sd.SignerInfos[0]
	attrs := si.RawSignedAttributes
	indef := reencodeBER(t, der, berStyle{indefinite: true}, attrs)
	sigAt := bytes.Index(indef, si.Signature)

	deep := bytes.Repeat([]byte{0x30, 0x80}, 200)
	deep = append(deep, bytes.Repeat([]byte{0, 0}, 200)...)
	flipSig := bytes.Clone(indef)
	flipSig[sigAt+5] ^= 1
	for _, c := range []struct {
		name string
		in   []byte
		// parse: Parse fails; else Verify fails with a bad signature
		parse bool
	}{
		{"signed attributes with indefinite lengths", reencodeBER(t, der, berStyle{indefinite: true}), true},
		{"signed attributes with long-form lengths", reencodeBER(t, der, berStyle{longForm: true}), true},
		{"no end-of-contents", indef[:len(indef)-2], true},
		{"end-of-contents cut short", indef[:len(indef)-1], true},
		{"non-zero byte after the end-of-contents", append(bytes.Clone(indef), 0, 7), true},
		{"indefinite length on a primitive", []byte{0x30, 0x80, 0x04, 0x80, 0x01, 0x00, 0x00, 0x00, 0x00}, true},
		{"nested 200 deep", deep, true},
		{"length past the end", []byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x00}, true},
		{"five length octets", []byte{0x30, 0x85, 0, 0, 0, 0, 1, 0}, true},
		{"reserved length octet", []byte{0x30, 0xff, 0x00}, true},
		{"constructed octet string of integers", []byte{0x30, 0x80, 0x24, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00}, true},
		{"child past a definite parent", []byte{0x30, 0x03, 0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00}, true},
		{"signature value changed", flipSig, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			sd, err := Parse(c.in)
			if c.parse {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v, want *ParseError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ve *VerifyError
			if err := sd.SignerInfos[0].Verify(testDigest); !errors.As(err, &ve) || ve.Reason != ReasonBadSignature {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

// BenchmarkParse compares reading eseal's DER with reading the same
// SignedData re-encoded as BER (indefinite lengths, chunked strings), as
// Bouncy Castle writes it.
func BenchmarkParse(b *testing.B) {
	f := newFixture(b)
	der := f.sign(b, SignOptions{Chain: []*smx509.Certificate{f.inter, f.root}})
	sd, _ := Parse(der)
	ber := reencodeBER(b, der, berStyle{indefinite: true, chunked: true}, sd.SignerInfos[0].RawSignedAttributes)
	for name, in := range map[string][]byte{"DER": der, "BER": ber} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for i := 0; i < b.N; i++ {
				if _, err := Parse(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
