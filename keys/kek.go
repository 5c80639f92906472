package keys

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
	"github.com/emmansun/gmsm/smx509"
)

// KEKEnv is the environment variable LoadKEK reads.
const KEKEnv = "ESEAL_MASTER_KEY"

// WrappedKeyPEMType is the PEM block type of a private key wrapped by a KEK.
const WrappedKeyPEMType = "ESEAL WRAPPED PRIVATE KEY"

// kekSize is the size of an SM4 key in bytes.
const kekSize = 16

// wrapAADPrefix separates eseal's additional data from any other use of the
// same key; the label follows it.
const wrapAADPrefix = "eseal wrapped private key v1\x00"

// KEK is a 128-bit SM4 key-encryption key that wraps private keys at rest.
// Its String and GoString methods never reveal the key.
type KEK struct {
	key [kekSize]byte
}

// KEKReason says why a KEK could not be loaded.
type KEKReason int

// Reasons carried by a *KEKError.
const (
	// KEKNotConfigured: neither the environment variable nor a file is set.
	KEKNotConfigured KEKReason = iota + 1
	// KEKBadEncoding: the value is neither 32 hex digits nor base64 of 16 bytes.
	KEKBadEncoding
	// KEKInsecureFile: the key file can be read or written by group or others.
	KEKInsecureFile
	// KEKUnreadable: the key file could not be read.
	KEKUnreadable
)

// KEKError reports a key-encryption key that could not be loaded.
type KEKError struct {
	Reason KEKReason
	// Source is where the key was looked for: the environment variable or a path.
	Source string
	Detail string
	Err    error
}

func (e *KEKError) Error() string {
	var r string
	switch e.Reason {
	case KEKNotConfigured:
		r = "master key not configured"
	case KEKBadEncoding:
		r = "master key is not 32 hex digits or base64 of 16 bytes"
	case KEKInsecureFile:
		r = "master key file is accessible by group or others"
	case KEKUnreadable:
		r = "master key file unreadable"
	default:
		r = fmt.Sprintf("master key error %d", int(e.Reason))
	}
	s := "keys: " + r
	if e.Source != "" {
		s += " (" + e.Source + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *KEKError) Unwrap() error { return e.Err }

// UnwrapReason says why a wrapped key could not be unwrapped.
type UnwrapReason int

// Reasons carried by an *UnwrapError.
const (
	// UnwrapMalformed: not a PEM block of type WrappedKeyPEMType, too short,
	// or the decrypted content is not an SM2 PKCS#8 private key.
	UnwrapMalformed UnwrapReason = iota + 1
	// UnwrapAuthFailed: authentication failed — wrong KEK, wrong label, or
	// the wrapped bytes were modified.
	UnwrapAuthFailed
)

// UnwrapError reports a wrapped private key that could not be unwrapped.
type UnwrapError struct {
	Reason UnwrapReason
	Detail string
	Err    error
}

func (e *UnwrapError) Error() string {
	s := "keys: unwrap private key: "
	switch e.Reason {
	case UnwrapMalformed:
		s += "malformed"
	case UnwrapAuthFailed:
		s += "authentication failed (wrong master key or label, or tampered)"
	default:
		s += fmt.Sprintf("error %d", int(e.Reason))
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *UnwrapError) Unwrap() error { return e.Err }

// NewKEK generates a random KEK and returns it with its hex encoding, the
// form to put in ESEAL_MASTER_KEY or a key file.
func NewKEK() (*KEK, string, error) {
	k := new(KEK)
	if _, err := io.ReadFull(rand.Reader, k.key[:]); err != nil {
		return nil, "", err
	}
	return k, hex.EncodeToString(k.key[:]), nil
}

// ParseKEK decodes a KEK from 32 hex digits or from standard base64 (padded
// or not) of 16 bytes; a value of 32 characters is always read as hex.
// Surrounding white space is ignored.
func ParseKEK(s string) (*KEK, error) {
	s = strings.TrimSpace(s)
	var b []byte
	var err error
	switch {
	case len(s) == 2*kekSize:
		b, err = hex.DecodeString(s)
	case strings.HasSuffix(s, "="):
		b, err = base64.StdEncoding.DecodeString(s)
	default:
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, &KEKError{Reason: KEKBadEncoding, Err: err}
	}
	if len(b) != kekSize {
		return nil, &KEKError{Reason: KEKBadEncoding, Detail: fmt.Sprintf("decodes to %d bytes, want %d", len(b), kekSize)}
	}
	k := new(KEK)
	copy(k.key[:], b)
	return k, nil
}

// LoadKEK reads the KEK from the environment variable ESEAL_MASTER_KEY. It
// returns a *KEKError with Reason KEKNotConfigured when the variable is unset
// or empty.
func LoadKEK() (*KEK, error) {
	v, ok := os.LookupEnv(KEKEnv)
	if !ok || strings.TrimSpace(v) == "" {
		return nil, &KEKError{Reason: KEKNotConfigured, Source: KEKEnv}
	}
	k, err := ParseKEK(v)
	if err != nil {
		err.(*KEKError).Source = KEKEnv
		return nil, err
	}
	return k, nil
}

// LoadKEKFile reads the KEK from a file holding it in the encodings of
// ParseKEK. On Unix it refuses a file whose mode gives group or others any
// access (readable keys leak, writable keys can be swapped): chmod 600.
func LoadKEKFile(path string) (*KEK, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &KEKError{Reason: KEKNotConfigured, Source: path, Err: err}
		}
		return nil, &KEKError{Reason: KEKUnreadable, Source: path, Err: err}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, &KEKError{Reason: KEKUnreadable, Source: path, Err: err}
	}
	if !fi.Mode().IsRegular() {
		return nil, &KEKError{Reason: KEKUnreadable, Source: path, Detail: "not a regular file"}
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, &KEKError{Reason: KEKInsecureFile, Source: path,
			Detail: fmt.Sprintf("mode %04o; run chmod 600 %s", fi.Mode().Perm(), path)}
	}
	// A key is 32 hex digits; anything much longer is not a key file.
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return nil, &KEKError{Reason: KEKUnreadable, Source: path, Err: err}
	}
	k, err := ParseKEK(string(b))
	if err != nil {
		err.(*KEKError).Source = path
		return nil, err
	}
	return k, nil
}

// String returns a redacted description, so that logging a KEK never leaks it.
func (k *KEK) String() string { return "KEK(" + k.Fingerprint() + ")" }

// GoString is like String.
func (k *KEK) GoString() string { return k.String() }

// Fingerprint returns a short, non-secret identifier of the key (the first
// 8 bytes of SM3 over a fixed prefix and the key, in hex), for logs and for
// telling which KEK wrapped what.
func (k *KEK) Fingerprint() string {
	h := sm3.New()
	h.Write([]byte("eseal kek fingerprint\x00"))
	h.Write(k.key[:])
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func (k *KEK) aead() (cipher.AEAD, error) {
	b, err := sm4.NewCipher(k.key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func wrapAAD(label string) []byte {
	return append([]byte(wrapAADPrefix), label...)
}

// Wrap encrypts priv under k and returns a PEM block of type
// WrappedKeyPEMType whose bytes are nonce ‖ SM4-GCM(PKCS#8 DER of priv).
// The label (for example the seal id and key purpose) is authenticated as
// additional data, so a wrapped key moved to another label does not unwrap.
func (k *KEK) Wrap(priv *sm2.PrivateKey, label string) ([]byte, error) {
	if priv == nil {
		return nil, &RequestError{Field: "priv", Problem: "nil"}
	}
	der, err := smx509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	aead, err := k.aead()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(der)+aead.Overhead())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, err
	}
	out := aead.Seal(nonce, nonce, der, wrapAAD(label))
	return pem.EncodeToMemory(&pem.Block{Type: WrappedKeyPEMType, Bytes: out}), nil
}

// Unwrap reverses Wrap. It returns an *UnwrapError with Reason
// UnwrapAuthFailed for a wrong KEK, a wrong label or modified bytes, and
// UnwrapMalformed for anything that is not a wrapped SM2 key.
func (k *KEK) Unwrap(pemBytes []byte, label string) (*sm2.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, &UnwrapError{Reason: UnwrapMalformed, Detail: "no PEM block"}
	}
	if block.Type != WrappedKeyPEMType {
		return nil, &UnwrapError{Reason: UnwrapMalformed, Detail: fmt.Sprintf("PEM type %q, want %q", block.Type, WrappedKeyPEMType)}
	}
	aead, err := k.aead()
	if err != nil {
		return nil, err
	}
	ns := aead.NonceSize()
	if len(block.Bytes) < ns+aead.Overhead() {
		return nil, &UnwrapError{Reason: UnwrapMalformed, Detail: "too short"}
	}
	der, err := aead.Open(nil, block.Bytes[:ns], block.Bytes[ns:], wrapAAD(label))
	if err != nil {
		return nil, &UnwrapError{Reason: UnwrapAuthFailed}
	}
	defer clear(der)
	key, err := smx509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, &UnwrapError{Reason: UnwrapMalformed, Detail: "decrypted content is not PKCS#8", Err: err}
	}
	priv, ok := key.(*sm2.PrivateKey)
	if !ok {
		return nil, &UnwrapError{Reason: UnwrapMalformed, Detail: fmt.Sprintf("wrapped key is %T, not SM2", key)}
	}
	return priv, nil
}
