package ses

import (
	"bytes"
	"encoding/asn1"
	"testing"
	"time"
)

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// explicit0 wraps der in [0] EXPLICIT.
func explicit0(t testing.TB, der []byte) []byte {
	return mustMarshal(t, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: der})
}

// TBS_Sign.extDatas and SES_Signature.timeStamp are read both [0] EXPLICIT
// and untagged, and the signature still verifies over the received toSign.
func TestSignatureTagVariants(t *testing.T) {
	f := newFixtureSet(t)
	exts := mustMarshal(t, []extDataASN1{{ID: asn1.ObjectIdentifier{1, 2, 3}, Critical: true, Value: []byte("v")}})
	token := []byte("a timestamp token")
	tsBits := mustMarshal(t, asn1.BitString{Bytes: token, BitLength: 8 * len(token)})

	for _, c := range []struct {
		name             string
		extDatas, tstamp []byte
	}{
		{"explicit both", explicit0(t, exts), explicit0(t, tsBits)},
		{"untagged both", exts, tsBits},
		{"explicit ext, untagged ts", explicit0(t, exts), tsBits},
		{"untagged ext, explicit ts", exts, explicit0(t, tsBits)},
	} {
		t.Run(c.name, func(t *testing.T) {
			tbs := derSequence(
				mustMarshal(t, 4),
				f.seal,
				mustMarshal(t, t0),
				mustMarshal(t, asn1.BitString{Bytes: make([]byte, 32), BitLength: 256}),
				mustMarshal(t, asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte("p")}),
				c.extDatas,
			)
			sig, err := signSM2(f.signerKey, f.signerCert, tbs)
			if err != nil {
				t.Fatal(err)
			}
			der := derSequence(tbs,
				mustMarshal(t, f.signerCert),
				mustMarshal(t, OIDSM2WithSM3),
				mustMarshal(t, asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}),
				c.tstamp)
			sg, err := ParseSignature(der)
			if err != nil {
				t.Fatal(err)
			}
			if err := sg.Verify(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sg.TimeStamp, token) {
				t.Errorf("timestamp %q", sg.TimeStamp)
			}
			if len(sg.Extensions) != 1 || !sg.Extensions[0].Critical || string(sg.Extensions[0].Value) != "v" {
				t.Errorf("extensions %+v", sg.Extensions)
			}
		})
	}
}

// A V5 seal's timeStamp is read both [0] EXPLICIT and untagged, and an
// [0]-wrapped extDatas in eSealInfo is accepted too.
func TestSealTagVariants(t *testing.T) {
	f := newFixtureSet(t)
	s, _ := ParseSeal(f.seal)
	_, top, _ := topSequence(f.seal, "")
	token := []byte{9, 8, 7}
	tsBits := mustMarshal(t, asn1.BitString{Bytes: token, BitLength: 24})
	for name, ts := range map[string][]byte{"explicit": explicit0(t, tsBits), "untagged": tsBits} {
		der := derSequence(top[0].FullBytes, top[1].FullBytes, top[2].FullBytes, top[3].FullBytes, ts)
		got, err := ParseSeal(der)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got.TimeStamp, token) || got.VerifyMakerSignature() != nil {
			t.Errorf("%s: timestamp %x", name, got.TimeStamp)
		}
	}

	// eSealInfo with extDatas wrapped in [0] EXPLICIT.
	info, _ := sequence(top[0], "")
	wrapped := derSequence(info[0].FullBytes, info[1].FullBytes, info[2].FullBytes, info[3].FullBytes, explicit0(t, info[4].FullBytes))
	sig, err := signSM2(f.makerKey, f.makerCert, wrapped)
	if err != nil {
		t.Fatal(err)
	}
	der := derSequence(wrapped, top[1].FullBytes, top[2].FullBytes, mustMarshal(t, asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}))
	got, err := ParseSeal(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Extensions) != len(s.Extensions) || got.VerifyMakerSignature() != nil {
		t.Errorf("[0] extDatas: %+v", got.Extensions)
	}
}

// A V1 SES_Signature (GM/T 0031 layout) around the V1 fixture seal.
func TestSignatureV1Layout(t *testing.T) {
	key, cert := newIdentity(t, "v1 signer")
	v1seal := fixture(t, "UserV1.esl")
	for _, c := range []struct {
		name     string
		timeInfo []byte
		wantTime time.Time
	}{
		{"time string", []byte("20200501120000Z"), time.Date(2020, 5, 1, 12, 0, 0, 0, time.UTC)},
		{"token", []byte{0x30, 0x03, 0x02, 0x01, 0x01}, time.Time{}},
	} {
		tbs := derSequence(
			mustMarshal(t, 1),
			v1seal,
			mustMarshal(t, asn1.BitString{Bytes: c.timeInfo, BitLength: 8 * len(c.timeInfo)}),
			mustMarshal(t, asn1.BitString{Bytes: make([]byte, 32), BitLength: 256}),
			mustMarshal(t, asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte("doc")}),
			mustMarshal(t, cert),
			mustMarshal(t, OIDSM2WithSM3),
		)
		sig, err := signSM2(key, cert, tbs)
		if err != nil {
			t.Fatal(err)
		}
		sg, err := ParseSignature(derSequence(tbs, mustMarshal(t, asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)})))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if sg.Version != 1 || sg.Seal.Version != 1 || sg.PropertyInfo != "doc" || !sg.TimeInfo.Equal(c.wantTime) {
			t.Errorf("%s: %+v", c.name, sg)
		}
		if c.wantTime.IsZero() && !bytes.Equal(sg.TimeStamp, c.timeInfo) {
			t.Errorf("%s: token not kept", c.name)
		}
		if err := sg.Verify(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if err := sg.Seal.VerifyMakerSignature(); err != nil {
			t.Errorf("%s: seal %v", c.name, err)
		}
	}
}
