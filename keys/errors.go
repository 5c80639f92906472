package keys

import (
	"fmt"
	"time"

	"github.com/emmansun/gmsm/smx509"
)

// CertReason says why a certificate was rejected.
type CertReason int

// Reasons carried by a *CertificateError.
const (
	// ReasonMalformed: the certificate could not be parsed or is unusable
	// (for example a non-SM2 key, or an unhandled critical extension).
	ReasonMalformed CertReason = iota + 1
	// ReasonExpired: the time in question is after the certificate's NotAfter.
	ReasonExpired
	// ReasonNotYetValid: the time in question is before the certificate's NotBefore.
	ReasonNotYetValid
	// ReasonUnknownAuthority: no chain to a trusted root could be built.
	ReasonUnknownAuthority
	// ReasonBadSignature: a candidate issuer was found but the certificate's
	// signature does not verify with its key.
	ReasonBadSignature
	// ReasonRevoked: the certificate was revoked at or before the time in question.
	ReasonRevoked
	// ReasonBadKeyUsage: the certificate may not be used for the requested purpose.
	ReasonBadKeyUsage
	// ReasonConstraintViolation: an issuer is not a CA, may not sign
	// certificates, or its path length constraint is exceeded.
	ReasonConstraintViolation
)

var certReasonNames = map[CertReason]string{
	ReasonMalformed:           "malformed",
	ReasonExpired:             "expired",
	ReasonNotYetValid:         "not yet valid",
	ReasonUnknownAuthority:    "unknown authority",
	ReasonBadSignature:        "bad signature",
	ReasonRevoked:             "revoked",
	ReasonBadKeyUsage:         "bad key usage",
	ReasonConstraintViolation: "constraint violation",
}

// String returns a short English name of the reason.
func (r CertReason) String() string {
	if s, ok := certReasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("CertReason(%d)", int(r))
}

// CertificateError reports a certificate that failed parsing or validation.
type CertificateError struct {
	// Cert is the offending certificate; nil when it could not be parsed.
	Cert *smx509.Certificate
	// Reason says what is wrong with it.
	Reason CertReason
	// Detail is a human-readable explanation; may be empty.
	Detail string
	// RevokedAt and RevocationReason (an RFC 5280 CRLReason code) are set
	// when Reason is ReasonRevoked.
	RevokedAt        time.Time
	RevocationReason int
	// Err is the underlying error, if any.
	Err error
}

func (e *CertificateError) Error() string {
	s := "keys: certificate"
	if e.Cert != nil {
		s += fmt.Sprintf(" %q (serial %x)", e.Cert.Subject.CommonName, e.Cert.SerialNumber)
	}
	s += ": " + e.Reason.String()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *CertificateError) Unwrap() error { return e.Err }

// CRLReason says why a CRL was rejected.
type CRLReason int

// Reasons carried by a *CRLError.
const (
	// CRLMalformed: the bytes are not a parsable X.509 v2 CRL.
	CRLMalformed CRLReason = iota + 1
	// CRLUnknownIssuer: no trusted certificate has the CRL's issuer name.
	CRLUnknownIssuer
	// CRLBadSignature: a trusted certificate with the issuer's name exists,
	// but the CRL's signature does not verify with it (or it may not sign CRLs).
	CRLBadSignature
)

// CRLError reports a CRL that the trust store refused.
type CRLError struct {
	Reason CRLReason
	Detail string
	Err    error
}

func (e *CRLError) Error() string {
	var r string
	switch e.Reason {
	case CRLMalformed:
		r = "malformed CRL"
	case CRLUnknownIssuer:
		r = "CRL from an untrusted issuer"
	case CRLBadSignature:
		r = "CRL signature does not verify"
	default:
		r = fmt.Sprintf("CRL error %d", int(e.Reason))
	}
	s := "keys: " + r
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *CRLError) Unwrap() error { return e.Err }

// RequestError reports an invalid argument to a CA operation (NewRootCA,
// Issue, IssueCRL) or to SignSM2.
type RequestError struct {
	// Field names the offending argument or request field.
	Field string
	// Problem says what is wrong with it.
	Problem string
	// Err is the underlying error, if any.
	Err error
}

func (e *RequestError) Error() string {
	s := "keys: invalid " + e.Field + ": " + e.Problem
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *RequestError) Unwrap() error { return e.Err }
