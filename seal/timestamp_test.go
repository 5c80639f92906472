package seal_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"eseal/keys/cms"
	"eseal/keys/tsa"
	"eseal/pdf"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

type downTSA struct{}

func (downTSA) Timestamp(context.Context, []byte) ([]byte, error) {
	return nil, &tsa.Error{Reason: tsa.Unavailable}
}

func (f *fixture) stampWith(t *testing.T, in []byte, src seal.TimestampSource, require bool) (*seal.Signed, []byte, error) {
	t.Helper()
	st := &seal.Stamper{Registry: f.reg}
	res, err := st.Stamp(context.Background(), bytes.NewReader(in), int64(len(in)), seal.SignRequest{
		SealID: f.sealID, Placement: seal.Placement{Page: 1, XMM: 100, YMM: 150}, Timestamps: src, RequireTimestamp: require,
	})
	if err != nil {
		return nil, nil, err
	}
	return res, append(append([]byte{}, in...), res.Update...), nil
}

func TestTimestamps(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	srv, err := f.reg.TSA(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in := pdftest.Document(pdftest.Options{})
	res, signed, err := f.stampWith(t, in, seal.EmbeddedTSA{Server: srv}, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Timestamp.IsZero() || len(res.Warnings) != 0 {
		t.Fatalf("timestamp %v, warnings %v", res.Timestamp, res.Warnings)
	}
	rep := f.verify(t, signed)
	if rep.Verdict != seal.Valid || rep.Signatures[0].Timestamp == nil {
		t.Fatalf("timestamped stamp: %s, timestamp %v, %v", rep.Verdict, rep.Signatures[0].Timestamp, rep.Signatures[0].Reasons)
	}

	t.Run("tampered token", func(t *testing.T) {
		// The token sits in /Contents, outside the signed range: only the
		// token's own signature can catch a change to it.
		doc, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)))
		if err != nil {
			t.Fatal(err)
		}
		sigs, _ := doc.Signatures()
		sd, err := cms.Parse(sigs[0].Contents)
		if err != nil {
			t.Fatal(err)
		}
		attr, _ := sd.SignerInfos[0].UnsignedAttribute([]int{1, 2, 840, 113549, 1, 9, 16, 2, 14})
		tok, err := tsa.ParseToken(attr.Values[0].FullBytes)
		if err != nil {
			t.Fatal(err)
		}
		// Flip a byte inside the TSTInfo (its serial number).
		hexInfo := []byte(hex.EncodeToString(tok.RawInfo))
		i := bytes.Index(signed, hexInfo)
		if i < 0 {
			hexInfo = bytes.ToUpper(hexInfo)
			i = bytes.Index(signed, hexInfo)
		}
		if i < 0 {
			t.Fatal("TSTInfo not found in /Contents")
		}
		bad := append([]byte{}, signed...)
		pos := i + len(hexInfo) - 2
		if bad[pos] == '0' {
			bad[pos] = '1'
		} else {
			bad[pos] = '0'
		}
		if r := f.verify(t, bad); r.Verdict != seal.Invalid {
			t.Fatalf("tampered token: %s %v", r.Verdict, r.Signatures[0].Reasons)
		}
	})

	t.Run("TSA down", func(t *testing.T) {
		res, signed, err := f.stampWith(t, in, downTSA{}, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Warnings) != 1 || res.Warnings[0] != seal.WarnNoTimestamp {
			t.Fatalf("warnings %v", res.Warnings)
		}
		if r := f.verify(t, signed); r.Verdict != seal.Valid || r.Signatures[0].Timestamp != nil {
			t.Fatalf("stamp without token: %s", r.Verdict)
		}
		var te *seal.TimestampError
		if _, _, err := f.stampWith(t, in, downTSA{}, true); !errors.As(err, &te) {
			t.Fatalf("required timestamp, TSA down: %v", err)
		}
	})

	t.Run("revoked after a timestamped signature", func(t *testing.T) {
		_, plain, err := f.stampWith(t, in, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		f.now = time.Now().Add(time.Hour)
		if err := f.reg.RevokeSignerCertificate(ctx, f.sealID, "key compromise", "test"); err != nil {
			t.Fatal(err)
		}
		if r := f.verify(t, signed); r.Verdict != seal.Valid {
			t.Fatalf("timestamped before revocation: %s %v", r.Verdict, r.Signatures[0].Reasons)
		}
		if r := f.verify(t, plain); r.Verdict != seal.Indeterminate {
			t.Fatalf("untimestamped, revoked later: %s", r.Verdict)
		}
	})
}
