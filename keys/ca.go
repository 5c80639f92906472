package keys

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
)

// CA is a certificate authority: a CA certificate and the signer of its key.
// A root made by NewRootCA and an intermediate issued with KindIntermediate
// (paired with its key) are both CAs.
type CA struct {
	Cert *smx509.Certificate
	Key  crypto.Signer
}

// CertKind selects the profile of a certificate issued by a CA.
type CertKind int

// Certificate profiles.
const (
	// KindSealMaker is the seal maker (制章者), which signs SESeal objects:
	// key usage digitalSignature.
	KindSealMaker CertKind = iota + 1
	// KindSigner is a seal's stamping key: key usage digitalSignature and
	// contentCommitment (nonRepudiation).
	KindSigner
	// KindTSA is a time-stamping authority: key usage digitalSignature and a
	// critical extended key usage timeStamping only (RFC 3161 §2.3).
	KindTSA
	// KindIntermediate is a subordinate CA that issues end-entity
	// certificates only (path length 0): key usage certSign and cRLSign.
	KindIntermediate
)

// String returns the kind's name.
func (k CertKind) String() string {
	switch k {
	case KindSealMaker:
		return "seal-maker"
	case KindSigner:
		return "signer"
	case KindTSA:
		return "tsa"
	case KindIntermediate:
		return "intermediate"
	}
	return fmt.Sprintf("CertKind(%d)", int(k))
}

// CertRequest describes a certificate for CA.Issue to make.
type CertRequest struct {
	Kind       CertKind
	CommonName string
	// Organisation is the subject's O attribute; it defaults to the
	// issuing CA's.
	Organisation string
	// PublicKey must be an SM2 public key (*ecdsa.PublicKey on the SM2 curve,
	// e.g. priv.Public() of an *sm2.PrivateKey).
	PublicKey crypto.PublicKey
	// NotBefore and NotAfter must lie within the CA certificate's validity.
	NotBefore, NotAfter time.Time
	// CRLURLs become the CRL distribution points, IssuerURLs the authority
	// information access caIssuers URLs (RFC 5280 §4.2.1.13, §4.2.2.1):
	// where a relying party fetches revocation data and the issuer's
	// certificate itself. Absolute http or https URLs.
	CRLURLs, IssuerURLs []string
}

// Revocation is one entry of a CRL.
type Revocation struct {
	Serial *big.Int
	Time   time.Time
	// Reason is an RFC 5280 CRLReason code: 0 unspecified, 1 keyCompromise,
	// 2 cACompromise, 3 affiliationChanged, 4 superseded,
	// 5 cessationOfOperation, 6 certificateHold, 8 removeFromCRL,
	// 9 privilegeWithdrawn, 10 aACompromise.
	Reason int
}

var (
	oidExtKeyUsage  = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	oidCRLReason    = asn1.ObjectIdentifier{2, 5, 29, 21}
)

// NewRootCA creates a self-signed root for the organisation org: SM2 with
// SM3 signature (default user id), BasicConstraints CA, key usage certSign
// and cRLSign, subject key identifier. key must hold an SM2 key.
func NewRootCA(org string, key crypto.Signer, notBefore, notAfter time.Time) (*CA, error) {
	if org == "" {
		return nil, &RequestError{Field: "org", Problem: "empty"}
	}
	if key == nil || !isSM2(key.Public()) {
		return nil, &RequestError{Field: "key", Problem: "not an SM2 signer"}
	}
	if !notAfter.After(notBefore) {
		return nil, &RequestError{Field: "notAfter", Problem: "not after notBefore"}
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: org + " Root CA", Organization: []string{org}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          ski,
		AuthorityKeyId:        ski,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("keys: create root certificate: %w", err)
	}
	cert, err := smx509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Issue makes a certificate of the requested kind, signed by ca with SM2
// with SM3 and the default user id. The serial number is 128 random bits;
// the authority key identifier is the CA's subject key identifier.
func (ca *CA) Issue(req CertRequest) (*smx509.Certificate, error) {
	if ca == nil || ca.Cert == nil || ca.Key == nil {
		return nil, &RequestError{Field: "ca", Problem: "incomplete CA"}
	}
	if req.CommonName == "" {
		return nil, &RequestError{Field: "CommonName", Problem: "empty"}
	}
	if !isSM2(req.PublicKey) {
		return nil, &RequestError{Field: "PublicKey", Problem: fmt.Sprintf("%T is not an SM2 public key", req.PublicKey)}
	}
	// Certificates hold whole seconds; compare what will be written.
	req.NotBefore, req.NotAfter = req.NotBefore.Truncate(time.Second), req.NotAfter.Truncate(time.Second)
	if !req.NotAfter.After(req.NotBefore) {
		return nil, &RequestError{Field: "NotAfter", Problem: "not after NotBefore"}
	}
	if req.NotBefore.Before(ca.Cert.NotBefore) || req.NotAfter.After(ca.Cert.NotAfter) {
		return nil, &RequestError{Field: "NotBefore/NotAfter", Problem: "outside the CA certificate's validity"}
	}
	org := req.Organisation
	if org == "" {
		org = firstOrEmpty(ca.Cert.Subject.Organization)
	}
	for _, u := range append(append([]string{}, req.CRLURLs...), req.IssuerURLs...) {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return nil, &RequestError{Field: "CRLURLs/IssuerURLs", Problem: fmt.Sprintf("%q is not an absolute http(s) URL", u)}
		}
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(req.PublicKey)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: req.CommonName},
		NotBefore:             req.NotBefore,
		NotAfter:              req.NotAfter,
		BasicConstraintsValid: true,
		SubjectKeyId:          ski,
		CRLDistributionPoints: req.CRLURLs,
		IssuingCertificateURL: req.IssuerURLs,
	}
	if org != "" {
		tmpl.Subject.Organization = []string{org}
	}
	switch req.Kind {
	case KindSealMaker:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	case KindSigner:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	case KindTSA:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamping})
		if err != nil {
			return nil, err
		}
		// Go marks the EKU extension non-critical; RFC 3161 wants it critical,
		// so it goes in as an extra extension, which replaces the generated one.
		tmpl.ExtraExtensions = []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: eku}}
	case KindIntermediate:
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		tmpl.IsCA = true
		tmpl.MaxPathLenZero = true
	default:
		return nil, &RequestError{Field: "Kind", Problem: fmt.Sprintf("unknown kind %d", int(req.Kind))}
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, ca.Cert.ToX509(), req.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("keys: issue %s certificate: %w", req.Kind, err)
	}
	return smx509.ParseCertificate(der)
}

// IssueCRL makes a DER X.509 v2 CRL signed by ca (SM2 with SM3, default
// user id) listing revoked, with CRL number number. Reason 0 (unspecified)
// is written as no reasonCode extension, as RFC 5280 §5.3.1 asks.
func (ca *CA) IssueCRL(revoked []Revocation, number *big.Int, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	if ca == nil || ca.Cert == nil || ca.Key == nil {
		return nil, &RequestError{Field: "ca", Problem: "incomplete CA"}
	}
	if number == nil || number.Sign() < 0 {
		return nil, &RequestError{Field: "number", Problem: "missing or negative"}
	}
	if !nextUpdate.After(thisUpdate) {
		return nil, &RequestError{Field: "nextUpdate", Problem: "not after thisUpdate"}
	}
	entries := make([]pkix.RevokedCertificate, 0, len(revoked))
	for i, r := range revoked {
		if r.Serial == nil || r.Serial.Sign() <= 0 {
			return nil, &RequestError{Field: fmt.Sprintf("revoked[%d].Serial", i), Problem: "missing or not positive"}
		}
		if r.Reason < 0 || r.Reason > 10 || r.Reason == 7 {
			return nil, &RequestError{Field: fmt.Sprintf("revoked[%d].Reason", i), Problem: fmt.Sprintf("%d is not a CRLReason", r.Reason)}
		}
		e := pkix.RevokedCertificate{SerialNumber: r.Serial, RevocationTime: r.Time.UTC()}
		if r.Reason != 0 {
			v, err := asn1.Marshal(asn1.Enumerated(r.Reason))
			if err != nil {
				return nil, err
			}
			e.Extensions = []pkix.Extension{{Id: oidCRLReason, Value: v}}
		}
		entries = append(entries, e)
	}
	tmpl := &x509.RevocationList{
		Number:     number,
		ThisUpdate: thisUpdate,
		NextUpdate: nextUpdate,
	}
	//lint:ignore SA1019 smx509 v0.15.5 reads only the deprecated field.
	tmpl.RevokedCertificates = entries
	der, err := smx509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("keys: issue CRL: %w", err)
	}
	return der, nil
}

// randomSerial returns a positive serial number of 128 random bits.
func randomSerial() (*big.Int, error) {
	var b [16]byte
	for {
		if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
			return nil, err
		}
		if n := new(big.Int).SetBytes(b[:]); n.Sign() > 0 {
			return n, nil
		}
	}
}

// subjectKeyID is the leftmost 160 bits of SM3 over the subjectPublicKey
// BIT STRING contents (RFC 5280 §4.2.1.2 method 1, with SM3 for SHA-1 as
// RFC 7093 allows).
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	spki, err := smx509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		return nil, err
	}
	h := sm3.Sum(info.PublicKey.Bytes)
	return h[:20], nil
}

func firstOrEmpty(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
