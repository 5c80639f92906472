package keys

// A responsible person's own SM2 credential, as a desk tool or a demo
// enrolment needs it: a private key in a PEM file (as OpenSSL writes it) and
// a self-signed certificate. eseal pins the certificate it enrols, whoever
// issued it, so self-signed is enough.

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// SelfSignedPersonCertificate makes a self-signed SM2/SM3 certificate
// (default user id) for a person's key, valid for digital signatures.
func SelfSignedPersonCertificate(name string, key *sm2.PrivateKey, notBefore, notAfter time.Time) (*smx509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return smx509.ParseCertificate(der)
}

// MarshalPrivateKeyPEM encodes an SM2 private key as PKCS#8 PEM ("PRIVATE
// KEY"), the form `openssl genpkey -algorithm SM2` writes.
func MarshalPrivateKeyPEM(key *sm2.PrivateKey) ([]byte, error) {
	der, err := smx509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKeyPEM reads an unencrypted SM2 private key: PKCS#8 ("PRIVATE
// KEY") or SEC 1 ("EC PRIVATE KEY", "SM2 PRIVATE KEY").
func ParsePrivateKeyPEM(b []byte) (*sm2.PrivateKey, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, errors.New("keys: no PEM private key found")
		}
		var k any
		var err error
		switch blk.Type {
		case "PRIVATE KEY":
			k, err = smx509.ParsePKCS8PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY", "SM2 PRIVATE KEY":
			k, err = smx509.ParseSM2PrivateKey(blk.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("keys: the private key is encrypted; decrypt it first (openssl pkey -in KEY -out PLAIN)")
		default:
			continue // EC PARAMETERS and the like
		}
		if err != nil {
			return nil, fmt.Errorf("keys: %s: %w", blk.Type, err)
		}
		sk, ok := k.(*sm2.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("keys: the private key is %T, not SM2", k)
		}
		return sk, nil
	}
}
