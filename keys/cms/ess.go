package cms

// ESS signing-certificate attributes (RFC 2634, RFC 5035): the signed
// attribute that binds the signer certificate to the signature by its
// hash. RFC 3161 requires one in a time-stamp token; PAdES (ETSI EN 319
// 142-1, B-B) requires signing-certificate-v2 in a signature.

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"hash"
	"math/big"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
)

// ESS attribute types.
var (
	// OIDAttrSigningCertificateV2 is id-aa-signingCertificateV2 (RFC 5035).
	OIDAttrSigningCertificateV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	// OIDAttrSigningCertificate is id-aa-signingCertificate (RFC 2634), read only.
	OIDAttrSigningCertificate = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
)

type issuerSerial struct {
	Issuer []asn1.RawValue // GeneralNames
	Serial *big.Int
}

type essCertIDv2 struct {
	HashAlgorithm pkix.AlgorithmIdentifier `asn1:"optional"` // DEFAULT id-sha256
	CertHash      []byte
	IssuerSerial  issuerSerial `asn1:"optional"`
}

type signingCertificateV2 struct {
	Certs    []essCertIDv2
	Policies asn1.RawValue `asn1:"optional"`
}

type essCertID struct {
	CertHash     []byte
	IssuerSerial issuerSerial `asn1:"optional"`
}

type signingCertificate struct {
	Certs    []essCertID
	Policies asn1.RawValue `asn1:"optional"`
}

var (
	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

// SigningCertificateV2 returns the signingCertificateV2 attribute for
// cert: one ESSCertIDv2 with the SM3 hash of the certificate and its
// issuer and serial number.
func SigningCertificateV2(cert *smx509.Certificate) (Attribute, error) {
	h := sm3.Sum(cert.Raw)
	return NewAttribute(OIDAttrSigningCertificateV2, signingCertificateV2{Certs: []essCertIDv2{{
		HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: OIDSM3},
		CertHash:      h[:],
		IssuerSerial: issuerSerial{
			Issuer: []asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: cert.RawIssuer}},
			Serial: cert.SerialNumber,
		},
	}}})
}

// CheckSigningCertificate checks that the first certificate identifier of
// the signingCertificateV2 attribute (SM3, SHA-256/384/512) or else of the
// signingCertificate attribute (SHA-1) names cert: its hash, and its issuer
// and serial number when given. Failures are a *VerifyError:
// ReasonMissingAttribute when neither attribute is there, else
// ReasonBadAttribute.
func CheckSigningCertificate(si *SignerInfo, cert *smx509.Certificate) error {
	bad := func(format string, args ...any) error {
		return &VerifyError{Reason: ReasonBadAttribute, Detail: "signing certificate: " + fmt.Sprintf(format, args...)}
	}
	var (
		alg  asn1.ObjectIdentifier
		want []byte
		is   issuerSerial
	)
	if a, ok := si.Attribute(OIDAttrSigningCertificateV2); ok {
		var sc signingCertificateV2
		if len(a.Values) != 1 {
			return bad("%d values", len(a.Values))
		}
		if rest, err := asn1.Unmarshal(a.Values[0].FullBytes, &sc); err != nil || len(rest) != 0 || len(sc.Certs) == 0 {
			return bad("malformed signingCertificateV2")
		}
		alg, want, is = sc.Certs[0].HashAlgorithm.Algorithm, sc.Certs[0].CertHash, sc.Certs[0].IssuerSerial
		if len(alg) == 0 {
			alg = oidSHA256
		}
	} else if a, ok := si.Attribute(OIDAttrSigningCertificate); ok {
		var sc signingCertificate
		if len(a.Values) != 1 {
			return bad("%d values", len(a.Values))
		}
		if rest, err := asn1.Unmarshal(a.Values[0].FullBytes, &sc); err != nil || len(rest) != 0 || len(sc.Certs) == 0 {
			return bad("malformed signingCertificate")
		}
		alg, want, is = oidSHA1, sc.Certs[0].CertHash, sc.Certs[0].IssuerSerial
	} else {
		return &VerifyError{Reason: ReasonMissingAttribute, Detail: "signing certificate (ESS signingCertificateV2)"}
	}
	var h hash.Hash
	switch {
	case alg.Equal(OIDSM3):
		h = sm3.New()
	case alg.Equal(oidSHA256):
		h = sha256.New()
	case alg.Equal(oidSHA384):
		h = sha512.New384()
	case alg.Equal(oidSHA512):
		h = sha512.New()
	case alg.Equal(oidSHA1):
		h = sha1.New()
	default:
		return bad("unsupported hash algorithm %v", alg)
	}
	h.Write(cert.Raw)
	if !bytes.Equal(h.Sum(nil), want) {
		return bad("certificate hash does not match the certificate")
	}
	if is.Serial != nil {
		if is.Serial.Cmp(cert.SerialNumber) != 0 {
			return bad("serial number does not match the certificate")
		}
		found := false
		for _, gn := range is.Issuer {
			found = found || (gn.Class == asn1.ClassContextSpecific && gn.Tag == 4 && bytes.Equal(gn.Bytes, cert.RawIssuer))
		}
		if !found {
			return bad("issuer does not match the certificate")
		}
	}
	return nil
}
