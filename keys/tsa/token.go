package tsa

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"time"

	"eseal/keys/cms"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
)

// Token is a parsed time-stamp token.
type Token struct {
	// Raw is the DER ContentInfo as received.
	Raw []byte
	// SignedData is the parsed CMS; its Content is RawInfo.
	SignedData *cms.SignedData
	// RawInfo is the DER TSTInfo that was signed.
	RawInfo []byte
	Info    *TSTInfo
	// GenTime, Serial and Policy repeat Info's fields of the same meaning.
	GenTime time.Time
	Serial  *big.Int
	Policy  cms.OID
	// Cert is the TSA certificate the SignerInfo names, found among the
	// embedded certificates; nil when the token does not carry it.
	Cert *smx509.Certificate
	// Certificates are all embedded certificates, for building Cert's chain.
	Certificates []*smx509.Certificate
}

// ParseToken parses a DER time-stamp token: a CMS SignedData (PKCS#7 or
// GB/T 35275 outer type) with exactly one SignerInfo, encapsulating a
// TSTInfo under id-ct-TSTInfo, with nothing after it. Malformed input is a
// *Error with Reason Malformed. Nothing is verified; see Verify.
func ParseToken(der []byte) (*Token, error) {
	sd, err := cms.Parse(der)
	if err != nil {
		return nil, &Error{Reason: Malformed, Detail: "token", Err: err}
	}
	if len(sd.Raw) != len(der) {
		return nil, &Error{Reason: Malformed, Detail: "data after the token"}
	}
	if !sd.EncapContentType.Equal(OIDTSTInfo) {
		return nil, &Error{Reason: Malformed, Detail: fmt.Sprintf("encapsulated content type %v is not id-ct-TSTInfo", sd.EncapContentType)}
	}
	if sd.Content == nil {
		return nil, &Error{Reason: Malformed, Detail: "no encapsulated TSTInfo"}
	}
	if len(sd.SignerInfos) != 1 {
		return nil, &Error{Reason: Malformed, Detail: fmt.Sprintf("%d SignerInfos, want 1", len(sd.SignerInfos))}
	}
	info, err := ParseTSTInfo(sd.Content)
	if err != nil {
		return nil, err
	}
	tok := &Token{
		Raw:          der,
		SignedData:   sd,
		RawInfo:      sd.Content,
		Info:         info,
		GenTime:      info.GenTime,
		Serial:       info.SerialNumber,
		Policy:       info.Policy,
		Certificates: sd.Certificates,
	}
	tok.Cert, _ = sd.SignerInfos[0].SignerCertificate(sd.Certificates)
	return tok, nil
}

// Verify checks the token for imprint, the SM3 digest of the stamped data:
// the SignerInfo with the embedded TSA certificate (SM3 messageDigest over
// the encapsulated TSTInfo, contentType id-ct-TSTInfo, SM2 signature with
// the default user id), the ESS signing-certificate attribute against that
// certificate, and then the imprint (SM3, equal bytes).
//
// Failures are a *Error with Reason Invalid or ImprintMismatch. The TSA
// certificate itself — chain, validity at GenTime, extended key usage
// timeStamping — is not checked here: use keys.TrustStore.Verify with
// keys.UsageTimestamp.
func (t *Token) Verify(imprint []byte) error {
	if err := t.verifySignature(); err != nil {
		return err
	}
	mi := t.Info.MessageImprint
	if !mi.isSM3() {
		return &Error{Reason: ImprintMismatch, Detail: fmt.Sprintf("imprint hash algorithm %v, want SM3", mi.HashAlgorithm.Algorithm)}
	}
	if !bytes.Equal(mi.HashedMessage, imprint) {
		return &Error{Reason: ImprintMismatch}
	}
	return nil
}

// ImprintHash returns a new hash of the algorithm the token's imprint
// names — SM3, SHA-256, SHA-384 or SHA-512, what document timestamps made
// by other systems use — and its name; an *Error with Reason Unsupported
// for any other.
func (t *Token) ImprintHash() (hash.Hash, string, error) {
	alg := t.Info.MessageImprint.HashAlgorithm.Algorithm
	for _, h := range imprintHashes {
		if alg.Equal(h.oid) {
			return h.new(), h.name, nil
		}
	}
	return nil, "", &Error{Reason: Unsupported, Detail: fmt.Sprintf("imprint hash algorithm %v", alg)}
}

var imprintHashes = []struct {
	oid  asn1.ObjectIdentifier
	name string
	new  func() hash.Hash
}{
	{cms.OIDSM3, "SM3", sm3.New},
	{oidSHA256, "SHA-256", sha256.New},
	{oidSHA384, "SHA-384", sha512.New384},
	{oidSHA512, "SHA-512", sha512.New},
}

// VerifyData is Verify for a token over data of any length hashed with
// ImprintHash: sum is that hash's Sum of the stamped data. This is how a
// document timestamp (ETSI.RFC3161) is checked against the bytes its
// /ByteRange covers.
func (t *Token) VerifyData(sum []byte) error {
	if err := t.verifySignature(); err != nil {
		return err
	}
	h, _, err := t.ImprintHash()
	if err != nil {
		return err
	}
	if len(sum) != h.Size() || !bytes.Equal(t.Info.MessageImprint.HashedMessage, sum) {
		return &Error{Reason: ImprintMismatch}
	}
	return nil
}

// verifySignature checks the token's SignerInfo and its ESS
// signing-certificate attribute against the embedded TSA certificate.
func (t *Token) verifySignature() error {
	if t.Cert == nil {
		return &Error{Reason: Invalid, Detail: "the token does not carry the TSA certificate"}
	}
	si := t.SignedData.SignerInfos[0]
	if err := checkSigningCertificate(si, t.Cert); err != nil {
		return err
	}
	digest := sm3.Sum(t.RawInfo)
	if err := si.VerifyWith(t.Cert, digest[:]); err != nil {
		var ua *cms.UnsupportedAlgorithmError
		if errors.As(err, &ua) {
			return &Error{Reason: Unsupported, Detail: "CMS signature", Err: err}
		}
		return &Error{Reason: Invalid, Detail: "CMS signature", Err: err}
	}
	return nil
}

var (
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

// checkSigningCertificate checks the ESS signing-certificate attribute
// (cms.CheckSigningCertificate) that RFC 3161 §2.4.2 requires of a token.
func checkSigningCertificate(si *cms.SignerInfo, cert *smx509.Certificate) error {
	if err := cms.CheckSigningCertificate(si, cert); err != nil {
		return &Error{Reason: Invalid, Detail: "signing certificate attribute", Err: err}
	}
	return nil
}

// directoryName returns the GeneralName directoryName [4] EXPLICIT Name.
func directoryName(name []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: name}
}
