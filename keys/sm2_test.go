package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"testing"

	"github.com/emmansun/gmsm/sm2"
)

// opaqueSigner hides *sm2.PrivateKey's SignWithSM2 method, as an HSM signer
// would; with ignoreOpts it treats the message as a finished digest, which
// is the emmansun/gmsm trap SignSM2 must catch.
type opaqueSigner struct {
	k          *sm2.PrivateKey
	ignoreOpts bool
}

func (s opaqueSigner) Public() crypto.PublicKey { return s.k.Public() }
func (s opaqueSigner) Sign(r io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if s.ignoreOpts {
		opts = nil
	}
	return s.k.Sign(r, msg, opts)
}

func TestSignSM2(t *testing.T) {
	k := mustKey(t)
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("批准 approval 2025-001")
	tests := []struct {
		name    string
		signer  crypto.Signer
		wantErr bool
	}{
		{"sm2 private key", k, false},
		{"opaque signer honouring the option", opaqueSigner{k: k}, false},
		{"opaque signer ignoring the option", opaqueSigner{k: k, ignoreOpts: true}, true},
		{"not sm2", p256, true},
		{"nil", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig, err := SignSM2(tt.signer, msg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if !VerifySM2(tt.signer.Public(), msg, sig) {
				t.Fatal("VerifySM2 rejected a fresh signature")
			}
			// The Z value with the default id is part of the signed hash.
			if !sm2.VerifyASN1WithSM2(&k.PublicKey, []byte(DefaultUID), msg, sig) {
				t.Fatal("not a signature with the default user id")
			}
			if sm2.VerifyASN1(&k.PublicKey, msg, sig) {
				t.Fatal("signature made without Z")
			}
			if VerifySM2(tt.signer.Public(), append(msg, '!'), sig) {
				t.Fatal("VerifySM2 accepted another message")
			}
			if VerifySM2(p256.Public(), msg, sig) {
				t.Fatal("VerifySM2 accepted a non-SM2 key")
			}
		})
	}
}
