package cms

import (
	"bytes"
	"crypto/ecdsa"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// Verify checks the SignerInfo against contentDigest, the SM3 digest of
// the (external) content, with the signer certificate found among the
// SignedData's certificates. It does not validate that certificate: chain,
// validity and revocation are keys.TrustStore's job.
func (si *SignerInfo) Verify(contentDigest []byte) error {
	cert, err := si.SignerCertificate(si.certs)
	if err != nil {
		return err
	}
	return si.VerifyWith(cert, contentDigest)
}

// VerifyWith is like Verify with the signer certificate given, for a
// SignedData that does not embed it.
//
// Checks, in order: digest algorithm SM3 and signature algorithm SM2
// (1.2.156.10197.1.501, .301.1 or .301) else *UnsupportedAlgorithmError;
// signed attributes with messageDigest equal to contentDigest and
// contentType equal to the encapsulated content type; then the SM2
// signature (default user id) over the received signed attributes with
// their [0] tag replaced by the SET OF tag. Failures are *VerifyError.
func (si *SignerInfo) VerifyWith(cert *smx509.Certificate, contentDigest []byte) error {
	if cert == nil {
		return &VerifyError{Reason: ReasonNoSignerCert}
	}
	if !si.DigestAlgorithm.Algorithm.Equal(OIDSM3) {
		return &UnsupportedAlgorithmError{Role: "digest", OID: si.DigestAlgorithm.Algorithm}
	}
	supported := false
	for _, oid := range oidSignatureAlgorithms {
		supported = supported || si.SignatureAlgorithm.Algorithm.Equal(oid)
	}
	if !supported {
		return &UnsupportedAlgorithmError{Role: "signature", OID: si.SignatureAlgorithm.Algorithm}
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(pub) {
		return &UnsupportedAlgorithmError{Role: "public key"}
	}
	if len(si.RawSignedAttributes) == 0 {
		return &VerifyError{Reason: ReasonMissingAttribute, Detail: "no signed attributes"}
	}
	if si.MessageDigest == nil {
		return &VerifyError{Reason: ReasonMissingAttribute, Detail: "messageDigest"}
	}
	if !bytes.Equal(si.MessageDigest, contentDigest) {
		return &VerifyError{Reason: ReasonDigestMismatch}
	}
	if si.ContentType == nil {
		return &VerifyError{Reason: ReasonMissingAttribute, Detail: "contentType"}
	}
	if si.encapContentType != nil && !si.ContentType.Equal(si.encapContentType) {
		return &VerifyError{Reason: ReasonBadAttribute, Detail: "contentType differs from the encapsulated content type"}
	}
	msg := make([]byte, len(si.RawSignedAttributes))
	copy(msg, si.RawSignedAttributes)
	msg[0] = 0x31 // [0] IMPLICIT → SET OF, RFC 5652 §5.4
	if !sm2.VerifyASN1WithSM2(pub, nil, msg, si.Signature) {
		return &VerifyError{Reason: ReasonBadSignature}
	}
	return nil
}
