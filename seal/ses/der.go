package ses

// Small readers over encoding/asn1 that keep the received bytes of every
// element and accept the encodings that implementations disagree on.

import (
	"encoding/asn1"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

func malformed(field, format string, args ...any) *FormatError {
	return &FormatError{Reason: Malformed, Field: field, Detail: fmt.Sprintf(format, args...)}
}

// prefixed returns err with its Field placed under prefix.
func prefixed(prefix string, err error) error {
	fe, ok := err.(*FormatError)
	if !ok {
		return err
	}
	c := *fe
	if c.Field == "" {
		c.Field = prefix
	} else {
		c.Field = prefix + "." + c.Field
	}
	return &c
}

// topSequence parses der as exactly one SEQUENCE and returns its elements.
func topSequence(der []byte, field string) (asn1.RawValue, []asn1.RawValue, error) {
	var v asn1.RawValue
	rest, err := asn1.Unmarshal(der, &v)
	if err != nil {
		return v, nil, malformed(field, "%v", err)
	}
	if len(rest) != 0 {
		return v, nil, &FormatError{Reason: TrailingData, Field: field, Detail: fmt.Sprintf("%d bytes after the structure", len(rest))}
	}
	elems, err := sequence(v, field)
	return v, elems, err
}

// sequence returns the elements of v, which must be a universal SEQUENCE.
func sequence(v asn1.RawValue, field string) ([]asn1.RawValue, error) {
	if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagSequence || !v.IsCompound {
		return nil, malformed(field, "want SEQUENCE, got %s", describe(v))
	}
	return elements(v.Bytes, field)
}

// elements splits the content of a constructed value into its elements.
func elements(b []byte, field string) ([]asn1.RawValue, error) {
	var out []asn1.RawValue
	for len(b) > 0 {
		var e asn1.RawValue
		rest, err := asn1.Unmarshal(b, &e)
		if err != nil {
			return nil, malformed(field, "element %d: %v", len(out), err)
		}
		out = append(out, e)
		b = rest
	}
	return out, nil
}

func describe(v asn1.RawValue) string {
	cls := [...]string{"universal", "application", "context", "private"}[v.Class&3]
	return fmt.Sprintf("%s tag %d (compound %t)", cls, v.Tag, v.IsCompound)
}

func isUniversal(v asn1.RawValue, tag int, compound bool) bool {
	return v.Class == asn1.ClassUniversal && v.Tag == tag && v.IsCompound == compound
}

// explicitInner returns the single element inside a context-specific
// [tag] EXPLICIT wrapper.
func explicitInner(v asn1.RawValue, tag int, field string) (asn1.RawValue, error) {
	if v.Class != asn1.ClassContextSpecific || v.Tag != tag || !v.IsCompound {
		return asn1.RawValue{}, malformed(field, "want [%d], got %s", tag, describe(v))
	}
	el, err := elements(v.Bytes, field)
	if err != nil {
		return asn1.RawValue{}, err
	}
	if len(el) != 1 {
		return asn1.RawValue{}, malformed(field, "[%d] EXPLICIT holds %d elements", tag, len(el))
	}
	return el[0], nil
}

// decode unmarshals one element with encoding/asn1.
func decode(v asn1.RawValue, out any, field string) error {
	if _, err := asn1.Unmarshal(v.FullBytes, out); err != nil {
		return malformed(field, "%v", err)
	}
	return nil
}

func integer(v asn1.RawValue, field string) (int, error) {
	if !isUniversal(v, asn1.TagInteger, false) {
		return 0, malformed(field, "want INTEGER, got %s", describe(v))
	}
	var n int
	err := decode(v, &n, field)
	return n, err
}

func oid(v asn1.RawValue, field string) (asn1.ObjectIdentifier, error) {
	if !isUniversal(v, asn1.TagOID, false) {
		return nil, malformed(field, "want OBJECT IDENTIFIER, got %s", describe(v))
	}
	var o asn1.ObjectIdentifier
	err := decode(v, &o, field)
	return o, err
}

func octets(v asn1.RawValue, field string) ([]byte, error) {
	if !isUniversal(v, asn1.TagOctetString, false) {
		return nil, malformed(field, "want OCTET STRING, got %s", describe(v))
	}
	return v.Bytes, nil
}

// bits reads a BIT STRING whose length is a whole number of bytes; an
// OCTET STRING is accepted too, as some GM/T 0031 implementations write it.
func bits(v asn1.RawValue, field string) ([]byte, error) {
	if isUniversal(v, asn1.TagOctetString, false) {
		return v.Bytes, nil
	}
	if !isUniversal(v, asn1.TagBitString, false) {
		return nil, malformed(field, "want BIT STRING, got %s", describe(v))
	}
	var b asn1.BitString
	if err := decode(v, &b, field); err != nil {
		return nil, err
	}
	if b.BitLength%8 != 0 {
		return nil, malformed(field, "BIT STRING of %d bits is not whole bytes", b.BitLength)
	}
	return b.Bytes, nil
}

// boolean reads a BOOLEAN, taking any non-zero octet as true (BER) because
// some writers do not use 0xFF.
func boolean(v asn1.RawValue, field string) (bool, error) {
	if !isUniversal(v, asn1.TagBoolean, false) || len(v.Bytes) != 1 {
		return false, malformed(field, "want BOOLEAN, got %s", describe(v))
	}
	return v.Bytes[0] != 0, nil
}

// str reads any of the character-string types writers use for the same
// field (IA5String, PrintableString, UTF8String, VisibleString, BMPString).
// Content must be valid UTF-8 (UTF-16 for BMPString); the character set of
// IA5 and Printable is not enforced because vendors put Chinese in them.
func str(v asn1.RawValue, field string) (string, error) {
	if v.Class != asn1.ClassUniversal || v.IsCompound {
		return "", malformed(field, "want a string, got %s", describe(v))
	}
	switch v.Tag {
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, 26 /* VisibleString */ :
		if !utf8.Valid(v.Bytes) {
			return "", malformed(field, "string is not valid UTF-8")
		}
		return string(v.Bytes), nil
	case asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			return "", malformed(field, "odd-length BMPString")
		}
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		return string(utf16.Decode(u)), nil
	}
	return "", malformed(field, "want a string, got %s", describe(v))
}

// timeValue reads a GeneralizedTime or UTCTime; writers of both standards
// use either.
func timeValue(v asn1.RawValue, field string) (time.Time, error) {
	if !isUniversal(v, asn1.TagGeneralizedTime, false) && !isUniversal(v, asn1.TagUTCTime, false) {
		return time.Time{}, malformed(field, "want GeneralizedTime or UTCTime, got %s", describe(v))
	}
	var t time.Time
	err := decode(v, &t, field)
	return t, err
}

// timeText parses the time strings that GM/T 0031 writers put inside the
// timeInfo BIT STRING.
func timeText(b []byte) (time.Time, bool) {
	s := strings.TrimSpace(string(b))
	for _, layout := range []string{"20060102150405Z0700", "060102150405Z0700", "20060102150405", "2006-01-02 15:04:05", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
