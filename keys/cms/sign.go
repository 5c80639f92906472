package cms

import (
	"bytes"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"sort"
	"time"

	"eseal/keys"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
)

// SignOptions says who signs and what goes into the SignedData.
type SignOptions struct {
	// Signer holds the SM2 key of Cert. See keys.SignSM2 for what a signer
	// other than *sm2.PrivateKey must do.
	Signer crypto.Signer
	// Cert is the signer's certificate; it is embedded and identified by
	// issuer and serial number.
	Cert *smx509.Certificate
	// Chain holds further certificates to embed (intermediates, root).
	Chain []*smx509.Certificate
	// SigningTime is the signingTime attribute; time.Now() when zero.
	SigningTime time.Time
	// NoSigningTime leaves the signingTime attribute out, as PAdES (ETSI
	// EN 319 142-1) requires: the claimed time is then the PDF's /M.
	NoSigningTime bool
	// ExtraSignedAttributes are added to the signed attributes. They may not
	// repeat contentType, messageDigest or signingTime, nor each other.
	ExtraSignedAttributes []Attribute
	// GMOIDs selects the GB/T 35275 content types (1.2.156.10197.6.1.4.2.x)
	// instead of the PKCS#7 ones.
	GMOIDs bool
	// NoCertificates leaves the certificates field out (Cert still names
	// the signer), as RFC 3161 §2.4.1 requires of a time-stamp token when
	// the request's certReq is false.
	NoCertificates bool
	// Unsigned, when set, is called with the signature value once it is
	// made and returns the unsigned attributes to add — the RFC 3161
	// signatureTimeStampToken, whose imprint is over that value.
	Unsigned func(signature []byte) ([]Attribute, error)
}

// SignError reports unusable signing input.
type SignError struct {
	Field   string
	Problem string
	Err     error
}

func (e *SignError) Error() string {
	s := "cms: sign: " + e.Field + ": " + e.Problem
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *SignError) Unwrap() error { return e.Err }

type issuerAndSerialNumber struct {
	Issuer       asn1.RawValue
	SerialNumber *big.Int
}

type signerInfoOut struct {
	Version            int
	SID                issuerAndSerialNumber
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	// UnsignedAttrs is [1] IMPLICIT SET OF Attribute; empty when absent.
	UnsignedAttrs asn1.RawValue `asn1:"optional"`
}

type encapContentInfoOut struct {
	EContentType asn1.ObjectIdentifier
	// EContent is [0] EXPLICIT OCTET STRING; empty for a detached signature.
	EContent asn1.RawValue `asn1:"optional"`
}

type signedDataOut struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	EncapContentInfo encapContentInfoOut
	Certificates     asn1.RawValue   `asn1:"optional"`
	SignerInfos      []signerInfoOut `asn1:"set"`
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue
}

// SignDetached returns a DER ContentInfo holding a detached SignedData over
// external content whose SM3 digest is digest: one SignerInfo with signed
// attributes contentType, signingTime, messageDigest and the extra ones,
// signed with SM2-with-SM3 and the default user id over their DER SET OF
// encoding; the certificates are Cert and Chain.
func SignDetached(digest []byte, opts SignOptions) ([]byte, error) {
	if len(digest) != sm3.Size {
		return nil, &SignError{Field: "digest", Problem: fmt.Sprintf("%d bytes, want %d (SM3)", len(digest), sm3.Size)}
	}
	return sign(digest, nil, nil, opts)
}

// SignEncapsulated returns a DER ContentInfo holding a SignedData that
// carries content itself as eContent of type eContentType (for example an
// RFC 3161 TSTInfo under id-ct-TSTInfo). The SignerInfo is the one
// SignDetached makes, with messageDigest = SM3(content) and contentType =
// eContentType; opts.GMOIDs only changes the outer signedData identifier.
// Parse returns content in SignedData.Content.
func SignEncapsulated(content []byte, eContentType asn1.ObjectIdentifier, opts SignOptions) ([]byte, error) {
	if content == nil {
		return nil, &SignError{Field: "content", Problem: "nil"}
	}
	if len(eContentType) < 2 {
		return nil, &SignError{Field: "eContentType", Problem: "not an object identifier"}
	}
	digest := sm3.Sum(content)
	return sign(digest[:], content, eContentType, opts)
}

// sign makes the SignedData of SignDetached (content nil) or
// SignEncapsulated.
func sign(digest, content []byte, eContentType asn1.ObjectIdentifier, opts SignOptions) ([]byte, error) {
	if opts.Signer == nil {
		return nil, &SignError{Field: "Signer", Problem: "nil"}
	}
	if opts.Cert == nil {
		return nil, &SignError{Field: "Cert", Problem: "nil"}
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pub, ok := opts.Signer.Public().(equaler); !ok || !pub.Equal(opts.Cert.PublicKey) {
		return nil, &SignError{Field: "Signer", Problem: "key does not match the certificate"}
	}
	dataOID, signedDataOID := OIDData, OIDSignedData
	if opts.GMOIDs {
		dataOID, signedDataOID = OIDGMData, OIDGMSignedData
	}
	if eContentType != nil {
		dataOID = eContentType
	}
	signingTime := opts.SigningTime
	if signingTime.IsZero() {
		signingTime = time.Now()
	}

	attrs := []Attribute{mustAttribute(OIDAttrContentType, dataOID)}
	if !opts.NoSigningTime {
		// encoding/asn1 writes UTCTime for 1950–2049 and GeneralizedTime
		// otherwise, as RFC 5652 §11.3 requires.
		attrs = append(attrs, mustAttribute(OIDAttrSigningTime, signingTime.UTC().Truncate(time.Second)))
	}
	attrs = append(attrs, mustAttribute(OIDAttrMessageDigest, digest))
	for i, a := range opts.ExtraSignedAttributes {
		if len(a.Values) == 0 {
			return nil, &SignError{Field: fmt.Sprintf("ExtraSignedAttributes[%d]", i), Problem: "no values"}
		}
		for _, b := range attrs {
			if a.TypeOID().Equal(b.TypeOID()) {
				return nil, &SignError{Field: fmt.Sprintf("ExtraSignedAttributes[%d]", i), Problem: fmt.Sprintf("attribute %v given twice", a.TypeOID())}
			}
		}
		attrs = append(attrs, a)
	}
	set, err := encodeSetOf(attrs)
	if err != nil {
		return nil, &SignError{Field: "ExtraSignedAttributes", Problem: "cannot encode", Err: err}
	}
	// The signature covers the attributes as a SET OF (tag 0x31); the
	// SignerInfo carries the same contents under [0] IMPLICIT.
	toSign, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: set})
	if err != nil {
		return nil, err
	}
	if _, err := parseAttributes(set); err != nil {
		return nil, &SignError{Field: "ExtraSignedAttributes", Problem: "not well-formed DER", Err: err}
	}
	sig, err := keys.SignSM2(opts.Signer, toSign)
	if err != nil {
		return nil, &SignError{Field: "Signer", Problem: "signing failed", Err: err}
	}

	var certDER [][]byte
	for _, c := range append([]*smx509.Certificate{opts.Cert}, opts.Chain...) {
		if c == nil {
			return nil, &SignError{Field: "Chain", Problem: "nil certificate"}
		}
		dup := false
		for _, d := range certDER {
			dup = dup || bytes.Equal(d, c.Raw)
		}
		if !dup {
			certDER = append(certDER, c.Raw)
		}
	}
	// DER orders the elements of a SET OF; parsers find the signer by its identifier.
	sort.Slice(certDER, func(i, j int) bool { return bytes.Compare(certDER[i], certDER[j]) < 0 })

	if opts.NoCertificates {
		certDER = nil
	}
	sm3Alg := pkix.AlgorithmIdentifier{Algorithm: OIDSM3}
	sd := signedDataOut{
		Version:          1,
		DigestAlgorithms: []pkix.AlgorithmIdentifier{sm3Alg},
		EncapContentInfo: encapContentInfoOut{EContentType: dataOID},

		SignerInfos: []signerInfoOut{{
			Version:            1,
			SID:                issuerAndSerialNumber{Issuer: asn1.RawValue{FullBytes: opts.Cert.RawIssuer}, SerialNumber: opts.Cert.SerialNumber},
			DigestAlgorithm:    sm3Alg,
			SignedAttrs:        asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: set},
			SignatureAlgorithm: pkix.AlgorithmIdentifier{Algorithm: OIDSM2WithSM3},
			Signature:          sig,
		}},
	}
	if opts.Unsigned != nil {
		unsigned, err := opts.Unsigned(sig)
		if err != nil {
			return nil, &SignError{Field: "Unsigned", Problem: "unsigned attributes", Err: err}
		}
		if len(unsigned) > 0 {
			uset, err := encodeSetOf(unsigned)
			if err != nil {
				return nil, &SignError{Field: "Unsigned", Problem: "cannot encode", Err: err}
			}
			sd.SignerInfos[0].UnsignedAttrs = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: uset}
		}
	}
	if len(certDER) > 0 {
		sd.Certificates = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: bytes.Join(certDER, nil)}
	}
	if content != nil {
		octets, err := asn1.Marshal(content)
		if err != nil {
			return nil, err
		}
		sd.EncapContentInfo.EContent = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: octets}
		// RFC 5652 §5.1: version 3 when eContentType is not id-data.
		if !eContentType.Equal(OIDData) && !eContentType.Equal(OIDGMData) {
			sd.Version = 3
		}
	}
	sdDER, err := asn1.Marshal(sd)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(contentInfo{
		ContentType: signedDataOID,
		Content:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sdDER},
	})
}

// NewAttribute returns an attribute with one value, the DER encoding of v
// (as encoding/asn1 marshals it).
func NewAttribute(oid asn1.ObjectIdentifier, v any) (Attribute, error) {
	der, err := asn1.Marshal(v)
	if err != nil {
		return Attribute{}, err
	}
	return Attribute{Type: oid, Values: []asn1.RawValue{{FullBytes: der}}}, nil
}

func mustAttribute(oid asn1.ObjectIdentifier, v any) Attribute {
	a, err := NewAttribute(oid, v)
	if err != nil {
		panic(err) // only called with values encoding/asn1 always encodes
	}
	return a
}

// encodeSetOf returns the contents (without tag and length) of the DER
// SET OF attrs: each attribute encoded, then sorted as DER requires.
func encodeSetOf(attrs []Attribute) ([]byte, error) {
	enc := make([][]byte, len(attrs))
	for i, a := range attrs {
		der, err := a.marshal()
		if err != nil {
			return nil, err
		}
		enc[i] = der
	}
	sort.Slice(enc, func(i, j int) bool { return bytes.Compare(enc[i], enc[j]) < 0 })
	return bytes.Join(enc, nil), nil
}
