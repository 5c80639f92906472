package ses

import (
	"fmt"
	"time"
)

// FormatReason says why bytes are not a well-formed seal or seal signature.
type FormatReason int

const (
	// Malformed means the bytes are not DER or not the expected ASN.1 shape.
	Malformed FormatReason = iota + 1
	// TrailingData means bytes follow a complete structure.
	TrailingData
	// BadHeaderID means the seal header ID is not "ES".
	BadHeaderID
	// UnsupportedVersion means a version number this package does not read.
	UnsupportedVersion
	// VersionMismatch means a signature and its embedded seal are of
	// different generations (V1 against V4/V5).
	VersionMismatch
)

func (r FormatReason) String() string {
	switch r {
	case Malformed:
		return "malformed"
	case TrailingData:
		return "trailing data"
	case BadHeaderID:
		return "header ID is not ES"
	case UnsupportedVersion:
		return "unsupported version"
	case VersionMismatch:
		return "version mismatch"
	}
	return fmt.Sprintf("FormatReason(%d)", int(r))
}

// FormatError reports a seal or signature that cannot be parsed.
type FormatError struct {
	Reason FormatReason
	// Field names the offending element, e.g. "eSealInfo.property.validEnd".
	Field string
	// Detail adds what was found, for people; do not match on it.
	Detail string
}

func (e *FormatError) Error() string {
	s := "ses: " + e.Reason.String()
	if e.Field != "" {
		s += " in " + e.Field
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// SignatureReason says why a maker or signer signature was not accepted.
type SignatureReason int

const (
	// UnsupportedAlgorithm means the signature algorithm is not SM2.
	UnsupportedAlgorithm SignatureReason = iota + 1
	// BadCertificate means the certificate cannot be parsed.
	BadCertificate
	// NotSM2Key means the certificate's public key is not an SM2 key.
	NotSM2Key
	// KeyMismatch means a signer's public key differs from its certificate's.
	KeyMismatch
	// Invalid means the signature value does not verify.
	Invalid
)

func (r SignatureReason) String() string {
	switch r {
	case UnsupportedAlgorithm:
		return "unsupported signature algorithm"
	case BadCertificate:
		return "unparsable certificate"
	case NotSM2Key:
		return "certificate key is not SM2"
	case KeyMismatch:
		return "signer key does not match certificate"
	case Invalid:
		return "signature does not verify"
	}
	return fmt.Sprintf("SignatureReason(%d)", int(r))
}

// SignatureError reports a signature that was not accepted.
type SignatureError struct {
	Reason SignatureReason
	// Detail adds what was found, for people; do not match on it.
	Detail string
}

func (e *SignatureError) Error() string {
	s := "ses: " + e.Reason.String()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// ValidityReason says why a seal is not valid at a given time.
type ValidityReason int

const (
	// NotYetValid means the time is before the seal's validStart.
	NotYetValid ValidityReason = iota + 1
	// Expired means the time is after the seal's validEnd.
	Expired
)

func (r ValidityReason) String() string {
	switch r {
	case NotYetValid:
		return "seal not yet valid"
	case Expired:
		return "seal expired"
	}
	return fmt.Sprintf("ValidityReason(%d)", int(r))
}

// ValidityError reports a time outside a seal's validity period.
type ValidityError struct {
	Reason     ValidityReason
	At         time.Time
	Start, End time.Time
}

func (e *ValidityError) Error() string {
	return fmt.Sprintf("ses: %s at %s (valid %s to %s)", e.Reason,
		e.At.UTC().Format(time.RFC3339), e.Start.UTC().Format(time.RFC3339), e.End.UTC().Format(time.RFC3339))
}

// SpecError reports builder input that cannot make a well-formed structure.
type SpecError struct {
	// Field names the offending spec field or argument.
	Field string
	// Reason says what is wrong with it.
	Reason string
}

func (e *SpecError) Error() string {
	return "ses: invalid " + e.Field + ": " + e.Reason
}
