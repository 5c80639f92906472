package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"

	"github.com/emmansun/gmsm/sm2"
)

// DefaultUID is the SM2 user id used for every signature eseal makes or
// checks (GB/T 35276): the 16 ASCII bytes "1234567812345678".
const DefaultUID = "1234567812345678"

// GenerateKey returns a new SM2 private key from crypto/rand.
func GenerateKey() (*sm2.PrivateKey, error) {
	return sm2.GenerateKey(rand.Reader)
}

// SignSM2 signs msg (the message itself, not a digest) with signer using SM2
// with SM3 and the default user id, and returns the ASN.1 SEQUENCE{r, s}.
//
// For an *sm2.PrivateKey (or anything with its SignWithSM2 method) the Z
// value is applied by SignWithSM2. Any other crypto.Signer, such as an HSM
// signer, is called as Sign(rand, msg, sm2.NewSM2SignerOption(true, nil))
// and must honour that option: hash Z‖msg itself. Because a signer that
// ignores the option would silently produce signatures over the wrong
// value, such a signer's result is verified before it is returned. (The
// emmansun implementation behind SignWithSM2 is trusted as it is, which saves
// one verification on the stamping path.)
func SignSM2(signer crypto.Signer, msg []byte) ([]byte, error) {
	if signer == nil {
		return nil, &RequestError{Field: "signer", Problem: "nil"}
	}
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(pub) {
		return nil, &RequestError{Field: "signer", Problem: "public key is not SM2"}
	}
	if s, ok := signer.(*sm2.PrivateKey); ok {
		return s.SignWithSM2(rand.Reader, nil, msg)
	}
	sig, err := signer.Sign(rand.Reader, msg, sm2.NewSM2SignerOption(true, nil))
	if err != nil {
		return nil, err
	}
	if !sm2.VerifyASN1WithSM2(pub, nil, msg, sig) {
		return nil, errors.New("keys: signer returned a signature that does not verify as SM2 with the default user id")
	}
	return sig, nil
}

// VerifySM2 reports whether sig (ASN.1 SEQUENCE{r, s}) is a valid SM2
// signature over msg by pub with the default user id.
func VerifySM2(pub crypto.PublicKey, msg, sig []byte) bool {
	p, ok := pub.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(p) {
		return false
	}
	return sm2.VerifyASN1WithSM2(p, nil, msg, sig)
}

// isSM2 reports whether pub is an SM2 public key.
func isSM2(pub crypto.PublicKey) bool { return sm2.IsSM2PublicKey(pub) }
