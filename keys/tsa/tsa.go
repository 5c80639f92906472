// Package tsa is an RFC 3161 Time-Stamp Protocol server and client for SM2
// with SM3: requests carry an SM3 message imprint, tokens are CMS
// SignedData (keys/cms) over a DER TSTInfo, signed with SM2-with-SM3 and the
// default user id by a key whose certificate has the critical extended key
// usage timeStamping (keys.KindTSA).
//
// Neither gmsm library has a TSP implementation, hence this one, written
// with encoding/asn1. A token is checked in two parts: Token.Verify checks
// what the token itself proves (signature, messageDigest, the ESS signing
// certificate attribute, the imprint); the TSA certificate's chain,
// validity at GenTime and extended key usage are the trust store's job:
//
//	keys.TrustStore.Verify(tok.Cert, tok.Certificates, tok.GenTime, keys.UsageTimestamp)
package tsa

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"strings"
	"time"

	"eseal/keys/cms"
)

// Object identifiers used by the Time-Stamp Protocol.
var (
	// OIDTSTInfo is id-ct-TSTInfo, the eContentType of a token.
	OIDTSTInfo = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	// OIDSigningCertificateV2 is id-aa-signingCertificateV2 (RFC 5035).
	OIDSigningCertificateV2 = cms.OIDAttrSigningCertificateV2
	// OIDSigningCertificate is id-aa-signingCertificate (RFC 2634), read only.
	OIDSigningCertificate = cms.OIDAttrSigningCertificate
)

// MIME types of the HTTP transport (RFC 3161 §3.4).
const (
	ContentTypeQuery = "application/timestamp-query"
	ContentTypeReply = "application/timestamp-reply"
)

// MessageImprint is the hash of the stamped data. eseal uses SM3 only.
type MessageImprint struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	HashedMessage []byte
}

// isSM3 reports whether the imprint is SM3 (parameters absent or NULL) of
// the right length.
func (m MessageImprint) isSM3() bool {
	p := m.HashAlgorithm.Parameters
	noParams := len(p.FullBytes) == 0 || (len(p.FullBytes) == 2 && p.FullBytes[0] == 0x05 && p.FullBytes[1] == 0)
	return m.HashAlgorithm.Algorithm.Equal(cms.OIDSM3) && noParams
}

// TimeStampReq is an RFC 3161 request.
type TimeStampReq struct {
	Version        int // 1
	MessageImprint MessageImprint
	// ReqPolicy is a cms.OID: a TSA policy may be a UUID arc under 2.25,
	// which encoding/asn1's ObjectIdentifier cannot hold.
	ReqPolicy  cms.OID
	Nonce      *big.Int
	CertReq    bool
	Extensions []pkix.Extension
}

// NewRequest returns a version 1 request for the SM3 digest, asking for
// the TSA certificate when certReq is set. nonce may be nil.
func NewRequest(digest []byte, nonce *big.Int, certReq bool) (*TimeStampReq, error) {
	if len(digest) != 32 {
		return nil, &Error{Reason: BadInput, Detail: fmt.Sprintf("digest of %d bytes, want 32 (SM3)", len(digest))}
	}
	return &TimeStampReq{
		Version:        1,
		MessageImprint: MessageImprint{HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: cms.OIDSM3}, HashedMessage: append([]byte(nil), digest...)},
		Nonce:          nonce,
		CertReq:        certReq,
	}, nil
}

// Marshal returns the DER encoding of the request. The optional fields are
// written by hand: encoding/asn1 cannot hold every policy OID.
func (r *TimeStampReq) Marshal() ([]byte, error) {
	var body []byte
	add := func(v any) error {
		der, err := asn1.Marshal(v)
		body = append(body, der...)
		return err
	}
	if err := add(r.Version); err != nil {
		return nil, err
	}
	if err := add(r.MessageImprint); err != nil {
		return nil, err
	}
	if r.ReqPolicy != nil {
		if !r.ReqPolicy.Valid() {
			return nil, &Error{Reason: BadInput, Detail: "reqPolicy is not an object identifier"}
		}
		body = append(body, r.ReqPolicy.DER()...)
	}
	if r.Nonce != nil {
		if err := add(r.Nonce); err != nil {
			return nil, err
		}
	}
	if r.CertReq {
		if err := add(true); err != nil {
			return nil, err
		}
	}
	if len(r.Extensions) > 0 {
		ext, err := asn1.Marshal(r.Extensions)
		if err != nil {
			return nil, err
		}
		ext[0] = 0xa0 // [0] IMPLICIT Extensions
		body = append(body, ext...)
	}
	return asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
}

// ParseRequest parses a DER TimeStampReq: one element, nothing after it,
// version 1, the optional fields in their order, each at most once.
// Anything else is a *Error with Reason Malformed. It does not judge the
// hash algorithm; Server.Stamp does.
func ParseRequest(der []byte) (*TimeStampReq, error) {
	bad := func(detail string, err error) (*TimeStampReq, error) {
		return nil, &Error{Reason: Malformed, Detail: detail, Err: err}
	}
	var seq asn1.RawValue
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil {
		return bad("TimeStampReq", err)
	}
	if len(rest) != 0 {
		return bad("data after the TimeStampReq", nil)
	}
	if seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence || !seq.IsCompound {
		return bad("TimeStampReq is not a SEQUENCE", nil)
	}
	var r TimeStampReq
	b := seq.Bytes
	if b, err = asn1.Unmarshal(b, &r.Version); err != nil {
		return bad("TimeStampReq version", err)
	}
	if r.Version != 1 {
		return bad(fmt.Sprintf("TimeStampReq version %d, want 1", r.Version), nil)
	}
	if b, err = asn1.Unmarshal(b, &r.MessageImprint); err != nil {
		return bad("TimeStampReq messageImprint", err)
	}
	// The optional fields, in the order RFC 3161 §2.4.1 gives them.
	next := 0
	for len(b) > 0 {
		var el asn1.RawValue
		if b, err = asn1.Unmarshal(b, &el); err != nil {
			return bad("TimeStampReq", err)
		}
		field := -1
		switch {
		case el.Class == asn1.ClassUniversal && el.Tag == asn1.TagOID:
			field = 0
			r.ReqPolicy, err = cms.ParseOIDElement(el.FullBytes)
		case el.Class == asn1.ClassUniversal && el.Tag == asn1.TagInteger:
			field = 1
			_, err = asn1.Unmarshal(el.FullBytes, &r.Nonce)
		case el.Class == asn1.ClassUniversal && el.Tag == asn1.TagBoolean:
			field = 2
			_, err = asn1.Unmarshal(el.FullBytes, &r.CertReq)
		case el.Class == asn1.ClassContextSpecific && el.Tag == 0 && el.IsCompound:
			field = 3
			_, err = asn1.UnmarshalWithParams(el.FullBytes, &r.Extensions, "tag:0")
		}
		if field < next {
			return bad(fmt.Sprintf("TimeStampReq: unexpected element (class %d, tag %d)", el.Class, el.Tag), nil)
		}
		if err != nil {
			return bad("TimeStampReq", err)
		}
		next = field + 1
	}
	return &r, nil
}

// PKIStatus is the status of a TimeStampResp (RFC 3161 §2.4.2).
type PKIStatus int

// PKIStatus values.
const (
	StatusGranted                PKIStatus = 0
	StatusGrantedWithMods        PKIStatus = 1
	StatusRejection              PKIStatus = 2
	StatusWaiting                PKIStatus = 3
	StatusRevocationWarning      PKIStatus = 4
	StatusRevocationNotification PKIStatus = 5
)

var statusNames = []string{"granted", "grantedWithMods", "rejection", "waiting", "revocationWarning", "revocationNotification"}

// String returns the ASN.1 name of the status.
func (s PKIStatus) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("PKIStatus(%d)", int(s))
}

// FailureInfo is the PKIFailureInfo bit set of a rejection; bit n of the
// ASN.1 BIT STRING is 1<<n.
type FailureInfo uint32

// PKIFailureInfo bits defined by RFC 3161.
const (
	FailBadAlg              FailureInfo = 1 << 0
	FailBadRequest          FailureInfo = 1 << 2
	FailBadDataFormat       FailureInfo = 1 << 5
	FailTimeNotAvailable    FailureInfo = 1 << 14
	FailUnacceptedPolicy    FailureInfo = 1 << 15
	FailUnacceptedExtension FailureInfo = 1 << 16
	FailAddInfoNotAvailable FailureInfo = 1 << 17
	FailSystemFailure       FailureInfo = 1 << 25
)

var failNames = map[int]string{0: "badAlg", 2: "badRequest", 5: "badDataFormat", 14: "timeNotAvailable",
	15: "unacceptedPolicy", 16: "unacceptedExtension", 17: "addInfoNotAvailable", 25: "systemFailure"}

// String lists the set bits by their ASN.1 names.
func (f FailureInfo) String() string {
	var names []string
	for i := 0; i < 32; i++ {
		if f&(1<<i) == 0 {
			continue
		}
		if n, ok := failNames[i]; ok {
			names = append(names, n)
		} else {
			names = append(names, fmt.Sprintf("bit%d", i))
		}
	}
	return strings.Join(names, "|")
}

// bitString returns f as a DER named-bit BIT STRING: no trailing zero bits.
func (f FailureInfo) bitString() asn1.BitString {
	if f == 0 {
		return asn1.BitString{}
	}
	n := 32
	for f&(1<<(n-1)) == 0 {
		n--
	}
	b := make([]byte, (n+7)/8)
	for i := 0; i < n; i++ {
		if f&(1<<i) != 0 {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	return asn1.BitString{Bytes: b, BitLength: n}
}

func failureInfoFrom(bs asn1.BitString) FailureInfo {
	var f FailureInfo
	for i := 0; i < bs.BitLength && i < 32; i++ {
		if bs.At(i) == 1 {
			f |= 1 << i
		}
	}
	return f
}

// StatusInfo is a PKIStatusInfo.
type StatusInfo struct {
	Status PKIStatus
	// StatusString is the PKIFreeText, UTF-8 strings for a human.
	StatusString []string
	FailInfo     FailureInfo
}

// TimeStampResp is an RFC 3161 response.
type TimeStampResp struct {
	Status StatusInfo
	// Token is the DER ContentInfo of the time-stamp token; nil unless
	// the status is granted or grantedWithMods.
	Token []byte
}

type rawStatusInfo struct {
	Status       int
	StatusString []asn1.RawValue `asn1:"optional"`
	FailInfo     asn1.BitString  `asn1:"optional"`
}

type rawTimeStampResp struct {
	Status rawStatusInfo
	Token  asn1.RawValue `asn1:"optional"`
}

// Marshal returns the DER encoding of the response.
func (r *TimeStampResp) Marshal() ([]byte, error) {
	raw := rawTimeStampResp{Status: rawStatusInfo{Status: int(r.Status.Status), FailInfo: r.Status.FailInfo.bitString()}}
	for _, s := range r.Status.StatusString {
		raw.Status.StatusString = append(raw.Status.StatusString, asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(s)})
	}
	if r.Token != nil {
		raw.Token = asn1.RawValue{FullBytes: r.Token}
	}
	return asn1.Marshal(raw)
}

// ParseResponse parses a DER TimeStampResp. It checks the structure only;
// the token, if any, is returned as received for ParseToken.
func ParseResponse(der []byte) (*TimeStampResp, error) {
	var raw rawTimeStampResp
	rest, err := asn1.Unmarshal(der, &raw)
	if err != nil {
		return nil, &Error{Reason: Malformed, Detail: "TimeStampResp", Err: err}
	}
	if len(rest) != 0 {
		return nil, &Error{Reason: Malformed, Detail: "data after the TimeStampResp"}
	}
	r := &TimeStampResp{Status: StatusInfo{Status: PKIStatus(raw.Status.Status), FailInfo: failureInfoFrom(raw.Status.FailInfo)}}
	for _, v := range raw.Status.StatusString {
		if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagUTF8String {
			return nil, &Error{Reason: Malformed, Detail: "statusString element is not a UTF8String"}
		}
		r.Status.StatusString = append(r.Status.StatusString, string(v.Bytes))
	}
	if len(raw.Token.FullBytes) > 0 {
		if raw.Token.Class != asn1.ClassUniversal || raw.Token.Tag != asn1.TagSequence {
			return nil, &Error{Reason: Malformed, Detail: "timeStampToken is not a ContentInfo"}
		}
		r.Token = raw.Token.FullBytes
	}
	return r, nil
}

// Accuracy is the TSTInfo accuracy: the time deviation either side of
// GenTime. The zero value means "not stated".
type Accuracy struct {
	Seconds int `asn1:"optional"`
	Millis  int `asn1:"optional,tag:0"`
	Micros  int `asn1:"optional,tag:1"`
}

// Duration returns the accuracy as a duration.
func (a Accuracy) Duration() time.Duration {
	return time.Duration(a.Seconds)*time.Second + time.Duration(a.Millis)*time.Millisecond + time.Duration(a.Micros)*time.Microsecond
}

// TSTInfo is the content a token signs (RFC 3161 §2.4.2).
type TSTInfo struct {
	Version int // 1
	// Policy is a cms.OID: the embedded TSA's is a UUID arc under 2.25.
	Policy         cms.OID
	MessageImprint MessageImprint
	SerialNumber   *big.Int
	// GenTime is written as GeneralizedTime in UTC, with as many fraction
	// digits as it has (none for whole seconds), as DER requires.
	GenTime  time.Time
	Accuracy Accuracy
	Ordering bool
	Nonce    *big.Int
	// TSA is the DER GeneralName naming the TSA (without the [0] tag of
	// the field); nil when absent.
	TSA        []byte
	Extensions []pkix.Extension
}

type rawTSTInfo struct {
	Version        int
	Policy         asn1.RawValue
	MessageImprint MessageImprint
	SerialNumber   *big.Int
	GenTime        asn1.RawValue
	Accuracy       Accuracy         `asn1:"optional"`
	Ordering       bool             `asn1:"optional"`
	Nonce          *big.Int         `asn1:"optional"`
	TSA            asn1.RawValue    `asn1:"optional,tag:0"`
	Extensions     []pkix.Extension `asn1:"optional,tag:1"`
}

const generalizedTimeLayout = "20060102150405.999999999Z"

// Marshal returns the DER encoding of the TSTInfo.
func (t *TSTInfo) Marshal() ([]byte, error) {
	if t.SerialNumber == nil || !t.Policy.Valid() {
		return nil, &Error{Reason: BadInput, Detail: "TSTInfo needs a serial number and a policy"}
	}
	raw := rawTSTInfo{
		Version:        t.Version,
		Policy:         t.Policy.RawValue(),
		MessageImprint: t.MessageImprint,
		SerialNumber:   t.SerialNumber,
		GenTime:        asn1.RawValue{Tag: asn1.TagGeneralizedTime, Bytes: []byte(t.GenTime.UTC().Format(generalizedTimeLayout))},
		Accuracy:       t.Accuracy,
		Ordering:       t.Ordering,
		Nonce:          t.Nonce,
		Extensions:     t.Extensions,
	}
	if t.TSA != nil {
		raw.TSA = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: t.TSA}
	}
	return asn1.Marshal(raw)
}

// ParseTSTInfo parses a DER TSTInfo strictly: version 1, nothing after it,
// genTime in UTC ("Z") without trailing zeros in the fraction, accuracy
// millis and micros within 0..999.
func ParseTSTInfo(der []byte) (*TSTInfo, error) {
	var raw rawTSTInfo
	rest, err := asn1.Unmarshal(der, &raw)
	if err != nil {
		return nil, &Error{Reason: Malformed, Detail: "TSTInfo", Err: err}
	}
	if len(rest) != 0 {
		return nil, &Error{Reason: Malformed, Detail: "data after the TSTInfo"}
	}
	if raw.Version != 1 {
		return nil, &Error{Reason: Malformed, Detail: fmt.Sprintf("TSTInfo version %d, want 1", raw.Version)}
	}
	if raw.GenTime.Class != asn1.ClassUniversal || raw.GenTime.Tag != asn1.TagGeneralizedTime || raw.GenTime.IsCompound {
		return nil, &Error{Reason: Malformed, Detail: "genTime is not a GeneralizedTime"}
	}
	s := string(raw.GenTime.Bytes)
	gen, err := time.Parse(generalizedTimeLayout, s)
	if err != nil || gen.Format(generalizedTimeLayout) != s {
		return nil, &Error{Reason: Malformed, Detail: fmt.Sprintf("genTime %q is not DER GeneralizedTime", s), Err: err}
	}
	a := raw.Accuracy
	if a.Seconds < 0 || a.Millis < 0 || a.Millis > 999 || a.Micros < 0 || a.Micros > 999 {
		return nil, &Error{Reason: Malformed, Detail: "accuracy out of range"}
	}
	if raw.SerialNumber == nil {
		return nil, &Error{Reason: Malformed, Detail: "no serial number"}
	}
	policy, err := cms.ParseOIDElement(raw.Policy.FullBytes)
	if err != nil {
		return nil, &Error{Reason: Malformed, Detail: "policy", Err: err}
	}
	t := &TSTInfo{
		Version:        raw.Version,
		Policy:         policy,
		MessageImprint: raw.MessageImprint,
		SerialNumber:   raw.SerialNumber,
		GenTime:        gen,
		Accuracy:       a,
		Ordering:       raw.Ordering,
		Nonce:          raw.Nonce,
		Extensions:     raw.Extensions,
	}
	if len(raw.TSA.FullBytes) > 0 {
		if !raw.TSA.IsCompound {
			return nil, &Error{Reason: Malformed, Detail: "tsa is not a [0] EXPLICIT GeneralName"}
		}
		var gn asn1.RawValue
		if rest, err := asn1.Unmarshal(raw.TSA.Bytes, &gn); err != nil || len(rest) != 0 || gn.Class != asn1.ClassContextSpecific {
			return nil, &Error{Reason: Malformed, Detail: "tsa is not a GeneralName", Err: err}
		}
		t.TSA = gn.FullBytes
	}
	return t, nil
}
