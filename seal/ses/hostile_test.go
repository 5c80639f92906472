package ses

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"testing"
)

// replaceOnce replaces the first old in b, failing the test if absent.
func replaceOnce(t testing.TB, b []byte, old, new string) []byte {
	t.Helper()
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%q not found", old)
	}
	return bytes.Replace(bytes.Clone(b), []byte(old), []byte(new), 1)
}

func TestHostileSeals(t *testing.T) {
	f := newFixtureSet(t)
	v5 := fixture(t, "UserV5_ts.esl")
	_, top, _ := topSequence(f.seal, "")
	content := top[0].FullBytes // a lone eSealInfo
	badPad := bytes.Clone(top[3].FullBytes)
	badPad[2] = 8 // unused-bits count above 7
	partial := bytes.Clone(top[3].FullBytes)
	partial[2] = 1
	partial[len(partial)-1] &^= 1
	cases := []struct {
		name string
		der  []byte
		want FormatReason // 0: any FormatReason
	}{
		{"nil", nil, Malformed},
		{"empty", []byte{}, Malformed},
		{"one byte", []byte{0x30}, Malformed},
		{"empty sequence", []byte{0x30, 0x00}, Malformed},
		{"not a sequence", []byte{0x04, 0x01, 0x00}, Malformed},
		{"indefinite length", append([]byte{0x30, 0x80}, f.seal[4:]...), Malformed},
		{"huge length 4 bytes", append([]byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff}, f.seal[4:]...), Malformed},
		{"huge length 8 bytes", append([]byte{0x30, 0x88, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, f.seal[4:]...), Malformed},
		{"non-minimal length", append([]byte{0x30, 0x82, 0x00, 0x03}, 0x02, 0x01, 0x01), Malformed},
		{"trailing garbage", append(bytes.Clone(f.seal), 0x00), TrailingData},
		{"trailing sequence", append(bytes.Clone(f.seal), 0x30, 0x00), TrailingData},
		{"three elements", derSequence(top[0].FullBytes, top[1].FullBytes, top[2].FullBytes), Malformed},
		{"six elements", derSequence(top[0].FullBytes, top[1].FullBytes, top[2].FullBytes, top[3].FullBytes, top[3].FullBytes, top[3].FullBytes), Malformed},
		{"eSealInfo only", content, Malformed},
		{"wrong header ID", replaceOnce(t, f.seal, "\x16\x02ES", "\x16\x02EX"), BadHeaderID},
		{"empty header ID", replaceOnce(t, f.seal, "\x16\x02ES\x02\x01\x04", "\x16\x00\x16\x00\x02\x01\x04"), 0},
		{"version 3", replaceOnce(t, f.seal, "ES\x02\x01\x04", "ES\x02\x01\x03"), UnsupportedVersion},
		{"version 6", replaceOnce(t, f.seal, "ES\x02\x01\x04", "ES\x02\x01\x06"), UnsupportedVersion},
		{"version -4", replaceOnce(t, f.seal, "ES\x02\x01\x04", "ES\x02\x01\xfc"), UnsupportedVersion},
		{"V5 version 1", replaceOnce(t, v5, "ES\x02\x01\x05", "ES\x02\x01\x01"), UnsupportedVersion},
		{"header ID as INTEGER", replaceOnce(t, f.seal, "\x16\x02ES", "\x02\x02ES"), Malformed},
		{"bad BIT STRING padding", derSequence(top[0].FullBytes, top[1].FullBytes, top[2].FullBytes, badPad), Malformed},
		{"partial-byte BIT STRING", derSequence(top[0].FullBytes, top[1].FullBytes, top[2].FullBytes, partial), Malformed},
		{"certListType 3", replaceOnce(t, f.seal, "\x02\x01\x01\x30", "\x02\x01\x03\x30"), Malformed},
		{"timestamp [1]", derSequence(top[0].FullBytes, top[1].FullBytes, top[2].FullBytes, top[3].FullBytes, []byte{0xa1, 0x02, 0x05, 0x00}), Malformed},
		{"timestamp [0] empty", derSequence(top[0].FullBytes, top[1].FullBytes, top[2].FullBytes, top[3].FullBytes, []byte{0xa0, 0x00}), Malformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := ParseSeal(c.der)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("got seal %t, error %v; want FormatError", s != nil, err)
			}
			if c.want != 0 && fe.Reason != c.want {
				t.Errorf("reason %v (%v), want %v", fe.Reason, err, c.want)
			}
		})
	}
}

// Truncating a good seal or signature anywhere, or shortening the outer
// SEQUENCE so that inner elements are cut, gives a FormatError.
func TestTruncated(t *testing.T) {
	f := newFixtureSet(t)
	sig, err := BuildSignature(SignatureSpec{SealDER: f.seal, TimeInfo: t0, DataHash: make([]byte, 32), PropertyInfo: "p"}, f.signerKey, f.signerCert)
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string]struct {
		der   []byte
		parse func([]byte) error
	}{
		"seal":              {f.seal, func(b []byte) error { _, err := ParseSeal(b); return err }},
		"V1 seal":           {fixture(t, "UserV1.esl"), func(b []byte) error { _, err := ParseSeal(b); return err }},
		"V5 seal":           {fixture(t, "UserV5_ts.esl"), func(b []byte) error { _, err := ParseSeal(b); return err }},
		"signature":         {sig, func(b []byte) error { _, err := ParseSignature(b); return err }},
		"fixture signature": {fixture(t, "v4_SignedValue.dat"), func(b []byte) error { _, err := ParseSignature(b); return err }},
	}
	for name, in := range inputs {
		var v asn1.RawValue
		if _, err := asn1.Unmarshal(in.der, &v); err != nil {
			t.Fatal(err)
		}
		step := len(in.der)/97 + 1
		for n := 0; n < len(in.der); n += step {
			var fe *FormatError
			if err := in.parse(in.der[:n]); !errors.As(err, &fe) {
				t.Errorf("%s cut at %d: %v, want FormatError", name, n, err)
			}
			if n < len(v.Bytes) {
				if err := in.parse(derSequence(v.Bytes[:n])); !errors.As(err, &fe) {
					t.Errorf("%s content cut at %d: %v, want FormatError", name, n, err)
				}
			}
		}
	}
}

func TestHostileSignatures(t *testing.T) {
	f := newFixtureSet(t)
	good, err := BuildSignature(SignatureSpec{SealDER: f.seal, TimeInfo: t0, DataHash: make([]byte, 32), PropertyInfo: "p"}, f.signerKey, f.signerCert)
	if err != nil {
		t.Fatal(err)
	}
	_, top, _ := topSequence(good, "")
	tbs, _ := sequence(top[0], "")
	rewrap := func(tbsParts ...[]byte) []byte {
		return derSequence(derSequence(tbsParts...), top[1].FullBytes, top[2].FullBytes, top[3].FullBytes)
	}
	cases := []struct {
		name string
		der  []byte
		want FormatReason
	}{
		{"empty", nil, Malformed},
		{"trailing", append(bytes.Clone(good), 0), TrailingData},
		{"seal instead of signature", f.seal, Malformed},
		{"three elements", derSequence(top[0].FullBytes, top[1].FullBytes, top[2].FullBytes), Malformed},
		{"version 3", rewrap(mustMarshal(t, 3), tbs[1].FullBytes, tbs[2].FullBytes, tbs[3].FullBytes, tbs[4].FullBytes), UnsupportedVersion},
		{"V1 seal in V4 signature", rewrap(tbs[0].FullBytes, fixture(t, "UserV1.esl"), tbs[2].FullBytes, tbs[3].FullBytes, tbs[4].FullBytes), VersionMismatch},
		{"bad embedded seal", rewrap(tbs[0].FullBytes, replaceOnce(t, f.seal, "\x16\x02ES", "\x16\x02XX"), tbs[2].FullBytes, tbs[3].FullBytes, tbs[4].FullBytes), BadHeaderID},
		{"timeInfo as INTEGER", rewrap(tbs[0].FullBytes, tbs[1].FullBytes, mustMarshal(t, 7), tbs[3].FullBytes, tbs[4].FullBytes), Malformed},
		{"four TBS elements", rewrap(tbs[0].FullBytes, tbs[1].FullBytes, tbs[2].FullBytes, tbs[3].FullBytes), Malformed},
		{"extDatas [1]", rewrap(tbs[0].FullBytes, tbs[1].FullBytes, tbs[2].FullBytes, tbs[3].FullBytes, tbs[4].FullBytes, []byte{0xa1, 0x02, 0x30, 0x00}), Malformed},
		{"V1 layout with V4 seal", derSequence(derSequence(mustMarshal(t, 1), f.seal, tbs[3].FullBytes, tbs[3].FullBytes, tbs[4].FullBytes, top[1].FullBytes, top[2].FullBytes), top[3].FullBytes), VersionMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSignature(c.der)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want FormatError", err)
			}
			if fe.Reason != c.want {
				t.Errorf("reason %v (%v), want %v", fe.Reason, err, c.want)
			}
		})
	}
}
