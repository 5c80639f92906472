package cms

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"github.com/emmansun/gmsm/smx509"
)

// SignedData is a parsed CMS SignedData.
type SignedData struct {
	// Raw is the ContentInfo as received, without any trailing padding.
	Raw []byte
	// BER is set when the ContentInfo was not DER but BER (RFC 5652 allows
	// it outside the signed attributes) and was read through its DER
	// equivalent.
	BER bool
	// ContentType is the outer content type: OIDSignedData or OIDGMSignedData.
	ContentType      asn1.ObjectIdentifier
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier
	// EncapContentType is the type of the signed content (usually OIDData or OIDGMData).
	EncapContentType asn1.ObjectIdentifier
	// Content is the encapsulated content; nil for a detached signature.
	Content []byte
	// Certificates are the embedded X.509 certificates that smx509 could
	// parse (each keeps its DER in Raw).
	Certificates []*smx509.Certificate
	// RawCertificates are the DER of every embedded X.509 certificate,
	// including any that could not be parsed.
	RawCertificates [][]byte
	SignerInfos     []*SignerInfo
}

// GM reports whether the GB/T 35275 content type identifiers were used.
func (sd *SignedData) GM() bool { return sd.ContentType.Equal(OIDGMSignedData) }

// SignerInfo is one parsed signer of a SignedData.
type SignerInfo struct {
	// Raw is the DER of the SignerInfo.
	Raw     []byte
	Version int
	// The signer identifier: either Issuer (DER Name) and SerialNumber, or
	// SubjectKeyID.
	Issuer       []byte
	SerialNumber *big.Int
	SubjectKeyID []byte

	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte

	// RawSignedAttributes is the signedAttrs element as received, with its
	// [0] IMPLICIT tag; nil when absent.
	RawSignedAttributes []byte
	SignedAttributes    []Attribute
	// RawUnsignedAttributes is the unsignedAttrs element as received, with
	// its [1] IMPLICIT tag; nil when absent.
	RawUnsignedAttributes []byte
	UnsignedAttributes    []Attribute

	// Values of the well-known signed attributes, zero when absent.
	ContentType   asn1.ObjectIdentifier
	MessageDigest []byte
	SigningTime   time.Time

	encapContentType asn1.ObjectIdentifier
	certs            []*smx509.Certificate
}

// Attribute returns the signed attribute of type oid.
func (si *SignerInfo) Attribute(oid asn1.ObjectIdentifier) (Attribute, bool) {
	return findAttribute(si.SignedAttributes, oid)
}

// AttributeOID is Attribute for a type encoding/asn1 cannot hold.
func (si *SignerInfo) AttributeOID(oid OID) (Attribute, bool) {
	return findAttributeOID(si.SignedAttributes, oid)
}

// UnsignedAttribute returns the first unsigned attribute of type oid (for
// example OIDAttrTimeStampToken).
func (si *SignerInfo) UnsignedAttribute(oid asn1.ObjectIdentifier) (Attribute, bool) {
	return findAttribute(si.UnsignedAttributes, oid)
}

func findAttribute(attrs []Attribute, oid asn1.ObjectIdentifier) (Attribute, bool) {
	return findAttributeOID(attrs, OIDOf(oid))
}

func findAttributeOID(attrs []Attribute, oid OID) (Attribute, bool) {
	for _, a := range attrs {
		if oid != nil && a.TypeOID().Equal(oid) {
			return a, true
		}
	}
	return Attribute{}, false
}

// SignerCertificate returns the certificate among certs that the signer
// identifier names, or a *VerifyError with ReasonNoSignerCert.
func (si *SignerInfo) SignerCertificate(certs []*smx509.Certificate) (*smx509.Certificate, error) {
	for _, c := range certs {
		if c == nil {
			continue
		}
		if si.SubjectKeyID != nil {
			if len(c.SubjectKeyId) > 0 && bytes.Equal(c.SubjectKeyId, si.SubjectKeyID) {
				return c, nil
			}
			continue
		}
		if si.SerialNumber != nil && bytes.Equal(c.RawIssuer, si.Issuer) && c.SerialNumber.Cmp(si.SerialNumber) == 0 {
			return c, nil
		}
	}
	return nil, &VerifyError{Reason: ReasonNoSignerCert}
}

type rawContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0"` // [0] EXPLICIT, unwrapped by hand
}

type rawSignedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	EncapContentInfo rawEncapContentInfo
	Certificates     asn1.RawValue   `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue   `asn1:"optional,tag:1"`
	SignerInfos      []asn1.RawValue `asn1:"set"`
}

type rawEncapContentInfo struct {
	EContentType asn1.ObjectIdentifier
	EContent     asn1.RawValue `asn1:"optional,tag:0"` // [0] EXPLICIT, unwrapped by hand
}

type rawSignerInfo struct {
	Raw                asn1.RawContent
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

// Parse parses a ContentInfo holding a SignedData, with PKCS#7 or
// GB/T 35275 content types. Zero bytes after it (the padding of a PDF
// /Contents) are ignored; any other trailing byte and malformed structures
// give a *ParseError.
//
// The input may be BER where RFC 5652 allows it (indefinite and long-form
// lengths, constructed strings): it is read through its DER equivalent and
// BER is set. The signed attributes must be DER as received, since the
// signature is over their DER: signed attributes that needed converting
// give a *ParseError.
func Parse(in []byte) (*SignedData, error) {
	sd, n, err := parse(in)
	if err == nil {
		sd.Raw = in[:n]
		return sd, nil
	}
	conv, n, berErr := berToDER(in)
	if berErr != nil || bytes.Equal(conv, in[:n]) {
		return nil, err // not BER either, or DER with another fault
	}
	for _, b := range in[n:] {
		if b != 0 {
			return nil, &ParseError{Detail: "non-zero bytes after the ContentInfo"}
		}
	}
	sd, _, err = parse(conv)
	if err != nil {
		return nil, err
	}
	sd.Raw, sd.BER = in[:n], true
	for i, si := range sd.SignerInfos {
		if si.RawSignedAttributes != nil && !bytes.Contains(in, si.RawSignedAttributes) {
			return nil, &ParseError{Detail: fmt.Sprintf("SignerInfo %d: signed attributes not in DER as received", i)}
		}
	}
	return sd, nil
}

// parse parses a DER ContentInfo followed by zero padding and returns it
// and the length of the ContentInfo.
func parse(der []byte) (*SignedData, int, error) {
	var ci rawContentInfo
	rest, err := asn1.Unmarshal(der, &ci)
	if err != nil {
		return nil, 0, &ParseError{Detail: "ContentInfo", Err: err}
	}
	for _, b := range rest {
		if b != 0 {
			return nil, 0, &ParseError{Detail: "non-zero bytes after the ContentInfo"}
		}
	}
	if !ci.ContentType.Equal(OIDSignedData) && !ci.ContentType.Equal(OIDGMSignedData) {
		return nil, 0, &ParseError{Detail: fmt.Sprintf("content type %v is not signedData", ci.ContentType)}
	}
	if !ci.Content.IsCompound {
		return nil, 0, &ParseError{Detail: "content not constructed"}
	}
	var raw rawSignedData
	if rest, err := asn1.Unmarshal(ci.Content.Bytes, &raw); err != nil {
		return nil, 0, &ParseError{Detail: "SignedData", Err: err}
	} else if len(rest) != 0 {
		return nil, 0, &ParseError{Detail: "trailing data in [0] of ContentInfo"}
	}
	sd := &SignedData{
		ContentType:      ci.ContentType,
		Version:          raw.Version,
		DigestAlgorithms: raw.DigestAlgorithms,
		EncapContentType: raw.EncapContentInfo.EContentType,
	}
	if ec := raw.EncapContentInfo.EContent; len(ec.FullBytes) > 0 {
		if rest, err := asn1.Unmarshal(ec.Bytes, &sd.Content); err != nil || !ec.IsCompound {
			return nil, 0, &ParseError{Detail: "eContent", Err: err}
		} else if len(rest) != 0 {
			return nil, 0, &ParseError{Detail: "trailing data in eContent"}
		}
		if sd.Content == nil {
			sd.Content = []byte{}
		}
	}
	if len(raw.Certificates.FullBytes) > 0 {
		if !raw.Certificates.IsCompound {
			return nil, 0, &ParseError{Detail: "certificates not constructed"}
		}
		for b := raw.Certificates.Bytes; len(b) > 0; {
			var choice asn1.RawValue
			b, err = asn1.Unmarshal(b, &choice)
			if err != nil {
				return nil, 0, &ParseError{Detail: "certificates", Err: err}
			}
			if choice.Class != asn1.ClassUniversal || choice.Tag != asn1.TagSequence {
				continue // attribute certificates and other choices are not used here
			}
			sd.RawCertificates = append(sd.RawCertificates, choice.FullBytes)
			if c, err := smx509.ParseCertificate(choice.FullBytes); err == nil {
				sd.Certificates = append(sd.Certificates, c)
			}
		}
	}
	for i, rv := range raw.SignerInfos {
		si, err := parseSignerInfo(rv.FullBytes)
		if err != nil {
			return nil, 0, &ParseError{Detail: fmt.Sprintf("SignerInfo %d", i), Err: err}
		}
		si.encapContentType = sd.EncapContentType
		si.certs = sd.Certificates
		sd.SignerInfos = append(sd.SignerInfos, si)
	}
	return sd, len(der) - len(rest), nil
}

func parseSignerInfo(der []byte) (*SignerInfo, error) {
	var raw rawSignerInfo
	if rest, err := asn1.Unmarshal(der, &raw); err != nil {
		return nil, err
	} else if len(rest) != 0 {
		return nil, fmt.Errorf("trailing data")
	}
	si := &SignerInfo{
		Raw:                raw.Raw,
		Version:            raw.Version,
		DigestAlgorithm:    raw.DigestAlgorithm,
		SignatureAlgorithm: raw.SignatureAlgorithm,
		Signature:          raw.Signature,
	}
	switch {
	case raw.SID.Class == asn1.ClassUniversal && raw.SID.Tag == asn1.TagSequence:
		var ias struct {
			Issuer       asn1.RawValue
			SerialNumber *big.Int
		}
		if rest, err := asn1.Unmarshal(raw.SID.FullBytes, &ias); err != nil {
			return nil, fmt.Errorf("issuerAndSerialNumber: %w", err)
		} else if len(rest) != 0 {
			return nil, fmt.Errorf("issuerAndSerialNumber: trailing data")
		}
		if ias.Issuer.Class != asn1.ClassUniversal || ias.Issuer.Tag != asn1.TagSequence {
			return nil, fmt.Errorf("issuerAndSerialNumber: issuer is not a Name")
		}
		si.Issuer = ias.Issuer.FullBytes
		si.SerialNumber = ias.SerialNumber
	case raw.SID.Class == asn1.ClassContextSpecific && raw.SID.Tag == 0 && !raw.SID.IsCompound:
		si.SubjectKeyID = raw.SID.Bytes
		if si.SubjectKeyID == nil {
			si.SubjectKeyID = []byte{}
		}
	default:
		return nil, fmt.Errorf("unknown signer identifier (class %d, tag %d)", raw.SID.Class, raw.SID.Tag)
	}
	if len(raw.SignedAttrs.FullBytes) > 0 {
		if !raw.SignedAttrs.IsCompound || raw.SignedAttrs.FullBytes[0] != 0xa0 {
			return nil, fmt.Errorf("signedAttrs not constructed")
		}
		attrs, err := parseAttributes(raw.SignedAttrs.Bytes)
		if err != nil {
			return nil, fmt.Errorf("signedAttrs: %w", err)
		}
		si.RawSignedAttributes = raw.SignedAttrs.FullBytes
		si.SignedAttributes = attrs
		if err := si.readWellKnown(); err != nil {
			return nil, err
		}
	}
	if len(raw.UnsignedAttrs.FullBytes) > 0 {
		if !raw.UnsignedAttrs.IsCompound {
			return nil, fmt.Errorf("unsignedAttrs not constructed")
		}
		attrs, err := parseAttributes(raw.UnsignedAttrs.Bytes)
		if err != nil {
			return nil, fmt.Errorf("unsignedAttrs: %w", err)
		}
		si.RawUnsignedAttributes = raw.UnsignedAttrs.FullBytes
		si.UnsignedAttributes = attrs
	}
	return si, nil
}

// readWellKnown fills ContentType, MessageDigest and SigningTime. Signed
// attributes may not repeat a type (RFC 5652 §5.3), and these three have
// exactly one value; anything else is malformed, so a verifier can never be
// shown one messageDigest while another was signed.
func (si *SignerInfo) readWellKnown() error {
	for i, a := range si.SignedAttributes {
		for _, b := range si.SignedAttributes[:i] {
			if a.OID.Equal(b.OID) {
				return fmt.Errorf("signed attribute %v repeated", a.OID)
			}
		}
		var target any
		switch {
		case a.Type.Equal(OIDAttrContentType):
			target = &si.ContentType
		case a.Type.Equal(OIDAttrMessageDigest):
			target = &si.MessageDigest
		case a.Type.Equal(OIDAttrSigningTime):
			target = &si.SigningTime
		default:
			continue
		}
		if len(a.Values) != 1 {
			return fmt.Errorf("signed attribute %v has %d values, want 1", a.Type, len(a.Values))
		}
		if rest, err := asn1.Unmarshal(a.Values[0].FullBytes, target); err != nil {
			return fmt.Errorf("signed attribute %v: %w", a.Type, err)
		} else if len(rest) != 0 {
			return fmt.Errorf("signed attribute %v: trailing data", a.Type)
		}
	}
	if si.MessageDigest == nil {
		if _, ok := si.Attribute(OIDAttrMessageDigest); ok {
			si.MessageDigest = []byte{}
		}
	}
	return nil
}

// parseAttributes parses the contents of a SET OF Attribute.
func parseAttributes(b []byte) ([]Attribute, error) {
	var attrs []Attribute
	for len(b) > 0 {
		var w wireAttribute
		var err error
		b, err = asn1.Unmarshal(b, &w)
		if err != nil {
			return nil, err
		}
		oid, err := parseOIDElement(w.Type)
		if err != nil {
			return nil, fmt.Errorf("attribute type: %w", err)
		}
		if len(w.Values) == 0 {
			return nil, fmt.Errorf("attribute %v has no values", oid)
		}
		a := Attribute{OID: oid, Values: w.Values}
		a.Type, _ = oid.ObjectIdentifier()
		attrs = append(attrs, a)
	}
	return attrs, nil
}
