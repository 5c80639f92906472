package keys

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testKEKHex = "00112233445566778899aabbccddeeff"

func TestParseKEK(t *testing.T) {
	raw := []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"hex", testKEKHex, true},
		{"hex upper case with newline", strings.ToUpper(testKEKHex) + "\n", true},
		{"base64", base64.StdEncoding.EncodeToString(raw), true},
		{"base64 unpadded in spaces", "  " + base64.RawStdEncoding.EncodeToString(raw) + " \t\n", true},
		{"hex too short", testKEKHex[:30], false},
		{"hex with a non-digit", "g" + testKEKHex[1:], false},
		{"base64 of 15 bytes", base64.StdEncoding.EncodeToString(make([]byte, 15)), false},
		{"base64 of 17 bytes", base64.StdEncoding.EncodeToString(make([]byte, 17)), false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKEK(tt.in)
			if !tt.ok {
				var ke *KEKError
				if !errors.As(err, &ke) || ke.Reason != KEKBadEncoding {
					t.Fatalf("err = %v, want KEKBadEncoding", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(k.key[:], raw) {
				t.Fatalf("key = %x", k.key)
			}
		})
	}
}

func TestLoadKEK(t *testing.T) {
	tests := []struct {
		name   string
		value  *string
		reason KEKReason
	}{
		{"unset", nil, KEKNotConfigured},
		{"blank", ptr("  "), KEKNotConfigured},
		{"bad", ptr("not a key"), KEKBadEncoding},
		{"good", ptr(testKEKHex), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(KEKEnv, "")
			if tt.value == nil {
				os.Unsetenv(KEKEnv)
			} else {
				t.Setenv(KEKEnv, *tt.value)
			}
			k, err := LoadKEK()
			checkKEKErr(t, err, tt.reason)
			if tt.reason == 0 && k == nil {
				t.Fatal("nil KEK")
			}
		})
	}
}

func ptr(s string) *string { return &s }

func checkKEKErr(t *testing.T, err error, want KEKReason) {
	t.Helper()
	if want == 0 {
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	var ke *KEKError
	if !errors.As(err, &ke) || ke.Reason != want {
		t.Fatalf("err = %v, want KEKError reason %d", err, want)
	}
}

func TestLoadKEKFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		reason  KEKReason
	}{
		{"0600 hex", testKEKHex + "\n", 0o600, 0},
		{"0400 base64", base64.StdEncoding.EncodeToString(make([]byte, 16)), 0o400, 0},
		{"group readable", testKEKHex, 0o640, KEKInsecureFile},
		{"world readable", testKEKHex, 0o604, KEKInsecureFile},
		{"group writable", testKEKHex, 0o620, KEKInsecureFile},
		{"bad content", "password123", 0o600, KEKBadEncoding},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "kek"+string(rune('a'+i)))
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			_, err := LoadKEKFile(path)
			checkKEKErr(t, err, tt.reason)
			if tt.reason == KEKInsecureFile && !strings.Contains(err.Error(), "chmod 600") {
				t.Errorf("error does not say how to fix it: %v", err)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		_, err := LoadKEKFile(filepath.Join(dir, "nope"))
		checkKEKErr(t, err, KEKNotConfigured)
	})
	t.Run("directory", func(t *testing.T) {
		_, err := LoadKEKFile(dir)
		checkKEKErr(t, err, KEKUnreadable)
	})
}

func TestNewKEKDoesNotLeak(t *testing.T) {
	k, encoded, err := NewKEK()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ParseKEK(encoded)
	if err != nil || k2.key != k.key {
		t.Fatalf("encoding does not round-trip: %v", err)
	}
	for _, s := range []string{k.String(), k.GoString(), k.Fingerprint()} {
		if strings.Contains(s, encoded) {
			t.Fatalf("%q reveals the key", s)
		}
	}
	k3, _, _ := NewKEK()
	if k.Fingerprint() == k3.Fingerprint() {
		t.Fatal("two keys share a fingerprint")
	}
}

func TestWrapUnwrap(t *testing.T) {
	kek, _, err := NewKEK()
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := NewKEK()
	priv := mustKey(t)
	const label = "seal/42/signer"
	wrapped, err := kek.Wrap(priv, label)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(wrapped)
	if block == nil || block.Type != WrappedKeyPEMType {
		t.Fatalf("not a %s PEM block:\n%s", WrappedKeyPEMType, wrapped)
	}
	again, _ := kek.Wrap(priv, label)
	if bytes.Equal(again, wrapped) {
		t.Fatal("two wraps are identical: nonce reused")
	}
	tamper := func(i int) []byte {
		b := &pem.Block{Type: block.Type, Bytes: bytes.Clone(block.Bytes)}
		b.Bytes[i] ^= 1
		return pem.EncodeToMemory(b)
	}
	tests := []struct {
		name   string
		kek    *KEK
		in     []byte
		label  string
		reason UnwrapReason
	}{
		{"round trip", kek, wrapped, label, 0},
		{"wrong KEK", other, wrapped, label, UnwrapAuthFailed},
		{"wrong label", kek, wrapped, "seal/43/signer", UnwrapAuthFailed},
		{"empty label", kek, wrapped, "", UnwrapAuthFailed},
		{"nonce flipped", kek, tamper(0), label, UnwrapAuthFailed},
		{"ciphertext flipped", kek, tamper(20), label, UnwrapAuthFailed},
		{"tag flipped", kek, tamper(len(block.Bytes) - 1), label, UnwrapAuthFailed},
		{"other PEM type", kek, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: block.Bytes}), label, UnwrapMalformed},
		{"too short", kek, pem.EncodeToMemory(&pem.Block{Type: WrappedKeyPEMType, Bytes: block.Bytes[:20]}), label, UnwrapMalformed},
		{"not PEM", kek, []byte("hello"), label, UnwrapMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.kek.Unwrap(tt.in, tt.label)
			if tt.reason == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if !got.Equal(priv) {
					t.Fatal("unwrapped another key")
				}
				return
			}
			var ue *UnwrapError
			if !errors.As(err, &ue) || ue.Reason != tt.reason {
				t.Fatalf("err = %v, want UnwrapError reason %d", err, tt.reason)
			}
		})
	}
}

func TestUnwrapRejectsNonSM2Payload(t *testing.T) {
	// A correctly encrypted payload that is not an SM2 PKCS#8 key.
	kek, _, _ := NewKEK()
	aead, err := kek.aead()
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, aead.NonceSize())
	ct := aead.Seal(nonce, nonce, []byte("not a key"), wrapAAD("l"))
	_, err = kek.Unwrap(pem.EncodeToMemory(&pem.Block{Type: WrappedKeyPEMType, Bytes: ct}), "l")
	var ue *UnwrapError
	if !errors.As(err, &ue) || ue.Reason != UnwrapMalformed {
		t.Fatalf("err = %v, want UnwrapMalformed", err)
	}
}

func FuzzUnwrap(f *testing.F) {
	kek, err := ParseKEK(testKEKHex)
	if err != nil {
		f.Fatal(err)
	}
	k, err := GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	w, err := kek.Wrap(k, "label")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(w, "label")
	f.Add([]byte("-----BEGIN "+WrappedKeyPEMType+"-----\nAAAA\n-----END "+WrappedKeyPEMType+"-----\n"), "")
	f.Fuzz(func(t *testing.T, in []byte, label string) {
		priv, err := kek.Unwrap(in, label)
		if (priv == nil) == (err == nil) {
			t.Fatalf("priv %v, err %v", priv, err)
		}
		if err != nil {
			var ue *UnwrapError
			if !errors.As(err, &ue) {
				t.Fatalf("untyped error %v", err)
			}
		}
	})
}
