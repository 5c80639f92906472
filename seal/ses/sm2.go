package ses

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/asn1"
	"math/big"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// acceptedSignAlg reports whether alg names SM2 with SM3. Writers use the
// curve OID or the SM2-1 OID for the same thing.
func acceptedSignAlg(alg asn1.ObjectIdentifier) bool {
	return alg.Equal(OIDSM2WithSM3) || alg.Equal(OIDSM2Sign) || alg.Equal(OIDSM2)
}

// certSM2Key returns the SM2 public key of a DER certificate.
func certSM2Key(certDER []byte) (*ecdsa.PublicKey, error) {
	cert, err := smx509.ParseCertificate(certDER)
	if err != nil {
		return nil, &SignatureError{Reason: BadCertificate, Detail: err.Error()}
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(pub) {
		return nil, &SignatureError{Reason: NotSM2Key}
	}
	return pub, nil
}

// verifySM2 checks an SM2 signature (default user id) over msg with the
// key of certDER. sig is DER SEQUENCE{r, s}, or raw 64-byte r‖s as some
// writers put in the BIT STRING.
func verifySM2(certDER []byte, alg asn1.ObjectIdentifier, msg, sig []byte) error {
	if !acceptedSignAlg(alg) {
		return &SignatureError{Reason: UnsupportedAlgorithm, Detail: alg.String()}
	}
	pub, err := certSM2Key(certDER)
	if err != nil {
		return err
	}
	if sm2.VerifyASN1WithSM2(pub, nil, msg, sig) {
		return nil
	}
	if len(sig) == 64 {
		der, err := asn1.Marshal(struct{ R, S *big.Int }{
			new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]),
		})
		if err == nil && sm2.VerifyASN1WithSM2(pub, nil, msg, der) {
			return nil
		}
	}
	return &SignatureError{Reason: Invalid}
}

// signSM2 signs msg with SM2-with-SM3 and the default user id, and checks
// the result against certDER so a signer that ignores the SM2 options (and
// signs msg as if it were a digest) is caught here, not by a verifier.
func signSM2(signer crypto.Signer, certDER, msg []byte) ([]byte, error) {
	pub, err := certSM2Key(certDER)
	if err != nil {
		return nil, err
	}
	if sp, ok := signer.Public().(*ecdsa.PublicKey); !ok || !pub.Equal(sp) {
		return nil, &SignatureError{Reason: KeyMismatch}
	}
	var sig []byte
	if priv, ok := signer.(*sm2.PrivateKey); ok {
		sig, err = priv.Sign(rand.Reader, msg, sm2.NewSM2SignerOption(true, nil))
	} else {
		sig, err = signer.Sign(rand.Reader, msg, sm2.NewSM2SignerOption(true, nil))
	}
	if err != nil {
		return nil, err
	}
	if !sm2.VerifyASN1WithSM2(pub, nil, msg, sig) {
		return nil, &SignatureError{Reason: Invalid, Detail: "signer output does not verify; does it honour sm2.SM2SignerOption?"}
	}
	return sig, nil
}
