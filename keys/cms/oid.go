package cms

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
)

// OID is an OBJECT IDENTIFIER of any size, held as the content octets of
// its DER encoding. encoding/asn1's ObjectIdentifier keeps each arc in an
// int, so it cannot hold a UUID arc under 2.25 (ITU-T X.667: one arc of up
// to 128 bits); split into several ints such an OID is another OID.
type OID []byte

// NewOID returns the OID of the arcs, each a non-negative integer of any
// size: the first two as X.690 §8.19.4 combines them (first 0, 1 or 2;
// second below 40 unless the first is 2), every arc base-128 with the
// fewest octets. It panics on arcs that break those rules: it is meant for
// the constants of this code.
func NewOID(arcs ...*big.Int) OID {
	if len(arcs) < 2 || arcs[0].Sign() < 0 || arcs[0].Cmp(big.NewInt(2)) > 0 ||
		arcs[1].Sign() < 0 || (arcs[0].Int64() < 2 && arcs[1].Cmp(big.NewInt(40)) >= 0) {
		panic("cms: NewOID: malformed first arcs")
	}
	first := new(big.Int).Mul(arcs[0], big.NewInt(40))
	first.Add(first, arcs[1])
	out := appendBase128(nil, first)
	for _, a := range arcs[2:] {
		if a.Sign() < 0 {
			panic("cms: NewOID: negative arc")
		}
		out = appendBase128(out, a)
	}
	return out
}

// ParseOIDString reads a dotted OID such as
// "2.25.64693171627294065741459426975091645976"; arcs may be of any size.
func ParseOIDString(s string) (OID, error) {
	parts := strings.Split(s, ".")
	arcs := make([]*big.Int, len(parts))
	for i, p := range parts {
		n, ok := new(big.Int).SetString(p, 10)
		if !ok || n.Sign() < 0 || p == "" || p[0] == '+' || (len(p) > 1 && p[0] == '0') {
			return nil, errors.New("cms: OID " + s + ": arc " + p + " is not a decimal number")
		}
		arcs[i] = n
	}
	if len(arcs) < 2 || arcs[0].Cmp(big.NewInt(2)) > 0 || (arcs[0].Int64() < 2 && arcs[1].Cmp(big.NewInt(40)) >= 0) {
		return nil, errors.New("cms: OID " + s + ": malformed first arcs")
	}
	return NewOID(arcs...), nil
}

// MustOID is ParseOIDString for constants; it panics on a malformed OID.
func MustOID(s string) OID {
	o, err := ParseOIDString(s)
	if err != nil {
		panic(err)
	}
	return o
}

// OIDOf returns the OID of an encoding/asn1 ObjectIdentifier.
func OIDOf(id asn1.ObjectIdentifier) OID {
	der, err := asn1.Marshal(id)
	if err != nil {
		return nil // not an OID: fewer than two arcs or a malformed first arc
	}
	var rv asn1.RawValue
	if _, err := asn1.Unmarshal(der, &rv); err != nil {
		return nil
	}
	return OID(rv.Bytes)
}

func appendBase128(out []byte, n *big.Int) []byte {
	if n.Sign() == 0 {
		return append(out, 0)
	}
	var groups []byte
	v := new(big.Int).Set(n)
	mask := big.NewInt(0x7f)
	for v.Sign() > 0 {
		groups = append(groups, byte(new(big.Int).And(v, mask).Int64()))
		v.Rsh(v, 7)
	}
	for i := len(groups) - 1; i >= 0; i-- {
		b := groups[i]
		if i > 0 {
			b |= 0x80
		}
		out = append(out, b)
	}
	return out
}

// Valid reports whether o is a well-formed DER OID body: not empty, every
// arc ending with a byte below 0x80 and none starting with the padding
// byte 0x80.
func (o OID) Valid() bool {
	if len(o) == 0 || o[len(o)-1]&0x80 != 0 {
		return false
	}
	start := true
	for _, b := range o {
		if start && b == 0x80 {
			return false
		}
		start = b&0x80 == 0
	}
	return true
}

// Equal reports whether o and p are the same OID.
func (o OID) Equal(p OID) bool { return bytes.Equal(o, p) }

// Is reports whether o is the encoding/asn1 ObjectIdentifier id.
func (o OID) Is(id asn1.ObjectIdentifier) bool { return len(id) > 0 && o.Equal(OIDOf(id)) }

// ObjectIdentifier returns o as encoding/asn1 holds it, and false when an
// arc does not fit an int.
func (o OID) ObjectIdentifier() (asn1.ObjectIdentifier, bool) {
	var id asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(o.DER(), &id); err != nil {
		return nil, false
	}
	return id, true
}

// DER returns the complete DER element: tag 6, length, o.
func (o OID) DER() []byte {
	der, _ := asn1.Marshal(o.RawValue())
	return der
}

// RawValue returns o as an element for encoding/asn1 to marshal.
func (o OID) RawValue() asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagOID, Bytes: o}
}

// String returns o in dotted decimal, every arc whole.
func (o OID) String() string {
	if !o.Valid() {
		return "malformed OID"
	}
	var arcs []string
	v := new(big.Int)
	first := true
	for _, b := range o {
		v.Lsh(v, 7)
		v.Or(v, big.NewInt(int64(b&0x7f)))
		if b&0x80 != 0 {
			continue
		}
		if first {
			switch {
			case v.Cmp(big.NewInt(40)) < 0:
				arcs = append(arcs, "0", v.String())
			case v.Cmp(big.NewInt(80)) < 0:
				arcs = append(arcs, "1", new(big.Int).Sub(v, big.NewInt(40)).String())
			default:
				arcs = append(arcs, "2", new(big.Int).Sub(v, big.NewInt(80)).String())
			}
			first = false
		} else {
			arcs = append(arcs, v.String())
		}
		v = new(big.Int)
	}
	return strings.Join(arcs, ".")
}

// parseOIDElement reads a complete OBJECT IDENTIFIER element.
func parseOIDElement(rv asn1.RawValue) (OID, error) {
	if rv.Class != asn1.ClassUniversal || rv.Tag != asn1.TagOID || rv.IsCompound {
		return nil, errors.New("not an OBJECT IDENTIFIER")
	}
	o := OID(rv.Bytes)
	if !o.Valid() {
		return nil, errors.New("malformed OBJECT IDENTIFIER")
	}
	return o, nil
}

// ParseOIDElement reads the DER of one OBJECT IDENTIFIER element and
// nothing after it.
func ParseOIDElement(der []byte) (OID, error) {
	var rv asn1.RawValue
	rest, err := asn1.Unmarshal(der, &rv)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, errors.New("data after the OBJECT IDENTIFIER")
	}
	return parseOIDElement(rv)
}
