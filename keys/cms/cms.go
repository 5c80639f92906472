// Package cms writes and reads RFC 5652 CMS SignedData for SM2 with SM3:
// the detached signatures eseal puts in a PDF's /Contents.
//
// Signing follows GB/T 35275 / GM/T 0010 conventions: digest algorithm SM3
// (1.2.156.10197.1.401), signature algorithm SM2-with-SM3
// (1.2.156.10197.1.501), the SM2 signature computed with the default user
// id over the DER of the signed attributes (tagged as a SET OF). Either the
// PKCS#7 content type identifiers or the GB/T 35275 ones can be written;
// both are read. Verification works on the received bytes and never
// re-encodes what was signed.
//
// github.com/emmansun/gmsm v0.15.5 has no pkcs7 package, hence this one,
// written with encoding/asn1.
package cms

import (
	"encoding/asn1"
	"fmt"
)

// Object identifiers used in SM2 CMS.
var (
	OIDData                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	OIDSignedData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	OIDGMData              = asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 1}
	OIDGMSignedData        = asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 2}
	OIDSM3                 = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 401}
	OIDSM2WithSM3          = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 501}
	OIDSM2Sign             = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301, 1}
	OIDSM2                 = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}
	OIDAttrContentType     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	OIDAttrMessageDigest   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	OIDAttrSigningTime     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	OIDAttrTimeStampToken  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	oidSignatureAlgorithms = []asn1.ObjectIdentifier{OIDSM2WithSM3, OIDSM2Sign, OIDSM2}
)

// Attribute is a CMS attribute: a type and a SET OF values, each value a
// complete DER element.
type Attribute struct {
	Type asn1.ObjectIdentifier
	// OID is the type as Parse read it, or, when set, the type to write
	// instead of Type: the way to name a type with an arc encoding/asn1
	// cannot hold (a UUID under 2.25). Parse always sets it and leaves Type
	// nil for such a type.
	OID    OID
	Values []asn1.RawValue
}

// TypeOID returns the attribute's type: OID when set, else Type.
func (a Attribute) TypeOID() OID {
	if a.OID != nil {
		return a.OID
	}
	return OIDOf(a.Type)
}

// wireAttribute is Attribute as encoding/asn1 reads and writes it.
type wireAttribute struct {
	Type   asn1.RawValue
	Values []asn1.RawValue `asn1:"set"`
}

func (a Attribute) marshal() ([]byte, error) {
	t := a.TypeOID()
	if !t.Valid() {
		return nil, fmt.Errorf("attribute type %v is not an object identifier", a.Type)
	}
	return asn1.Marshal(wireAttribute{Type: t.RawValue(), Values: a.Values})
}

// ParseError reports input that is not a well-formed SM2 CMS SignedData.
type ParseError struct {
	Detail string
	Err    error
}

func (e *ParseError) Error() string {
	s := "cms: malformed SignedData: " + e.Detail
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }

// UnsupportedAlgorithmError reports a digest, signature or key algorithm
// other than SM3 / SM2.
type UnsupportedAlgorithmError struct {
	// Role is "digest", "signature" or "public key".
	Role string
	OID  asn1.ObjectIdentifier
}

func (e *UnsupportedAlgorithmError) Error() string {
	return fmt.Sprintf("cms: unsupported %s algorithm %v", e.Role, e.OID)
}

// VerifyReason says why a SignerInfo did not verify.
type VerifyReason int

// Reasons carried by a *VerifyError.
const (
	// ReasonDigestMismatch: the messageDigest attribute differs from the
	// digest of the content.
	ReasonDigestMismatch VerifyReason = iota + 1
	// ReasonBadSignature: the signature does not verify with the signer's key.
	ReasonBadSignature
	// ReasonMissingAttribute: signed attributes, contentType or messageDigest absent.
	ReasonMissingAttribute
	// ReasonBadAttribute: an attribute is malformed, or contentType differs
	// from the encapsulated content type.
	ReasonBadAttribute
	// ReasonNoSignerCert: no certificate matches the signer identifier.
	ReasonNoSignerCert
)

var verifyReasonNames = map[VerifyReason]string{
	ReasonDigestMismatch:   "message digest mismatch",
	ReasonBadSignature:     "bad signature",
	ReasonMissingAttribute: "missing attribute",
	ReasonBadAttribute:     "bad attribute",
	ReasonNoSignerCert:     "signer certificate not found",
}

// String returns a short English name of the reason.
func (r VerifyReason) String() string {
	if s, ok := verifyReasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("VerifyReason(%d)", int(r))
}

// VerifyError reports a SignerInfo that did not verify.
type VerifyError struct {
	Reason VerifyReason
	Detail string
}

func (e *VerifyError) Error() string {
	s := "cms: verify: " + e.Reason.String()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}
