package seal_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"testing"

	"eseal/keys"
	"eseal/keys/cms"
	"eseal/keys/tsa"
	"eseal/pdf"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// archived returns a document stamped with a signature timestamp, then
// given a DSS and a document timestamp (B-LTA), and the update's start.
func archived(t *testing.T, f *fixture) (doc []byte, tsStart int) {
	t.Helper()
	ctx := context.Background()
	srv, err := f.reg.TSA(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, signed, err := f.stampWith(t, pdftest.Document(pdftest.Options{}), seal.EmbeddedTSA{Server: srv}, true)
	if err != nil {
		t.Fatal(err)
	}
	upd, err := seal.AddArchiveTimestamp(ctx, f.reg, seal.EmbeddedTSA{Server: srv}, bytes.NewReader(signed), int64(len(signed)))
	if err != nil {
		t.Fatal(err)
	}
	return append(signed, upd...), len(signed)
}

func TestDocTimestamp(t *testing.T) {
	f := newFixture(t)
	doc, _ := archived(t, f)
	rep := f.verify(t, doc)
	if rep.Verdict != seal.Valid || len(rep.Signatures) != 2 || rep.Revisions != 4 {
		t.Fatalf("%s, %d signatures, %d revisions: %v", rep.Verdict, len(rep.Signatures), rep.Revisions, rep.Reasons)
	}
	ts := rep.Signatures[1]
	if ts.Kind != seal.KindDocTimestamp || ts.SubFilter != pdf.SubFilterRFC3161 || ts.Timestamp == nil || ts.Seal != nil ||
		checkResult(&ts, seal.CheckDocTimestamp) != seal.Pass || checkResult(&ts, "document digest") != seal.Pass {
		t.Fatalf("document timestamp: %+v", ts)
	}
	if ts.Revision != 4 || ts.ByteRange[2]+ts.ByteRange[3] != int64(len(doc)) {
		t.Fatalf("document timestamp covers revision %d, %v", ts.Revision, ts.ByteRange)
	}
	seal1 := rep.Signatures[0]
	if checkResult(&seal1, "later revisions") == seal.Fail {
		t.Fatalf("the document timestamp is not an allowed change: %v", seal1.Reasons)
	}
	// The TSA's root unknown: the timestamp cannot be trusted, nor failed.
	v := &seal.Verifier{Trust: keys.NewTrustStore()}
	r, _ := v.VerifyPDF(context.Background(), bytes.NewReader(doc), int64(len(doc)))
	if got := r.Signatures[1]; got.Verdict != seal.Indeterminate || checkResult(&got, seal.CheckDocTimestamp) != seal.Unknown {
		t.Errorf("untrusted TSA: %s %v", got.Verdict, got.Reasons)
	}
}

// One bit changed anywhere a document timestamp vouches for — the token's
// TSTInfo, its signature, the bytes its /ByteRange covers — is INVALID.
func TestDocTimestampTampered(t *testing.T) {
	f := newFixture(t)
	doc, start := archived(t, f)
	d, err := pdf.Open(bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		t.Fatal(err)
	}
	sigs, _ := d.Signatures()
	sd, err := cms.Parse(sigs[1].Contents)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tsa.ParseToken(sd.Raw)
	if err != nil {
		t.Fatal(err)
	}
	// flipHex changes one bit of the value v where /Contents holds it in hex.
	flipHex := func(v []byte, at int) []byte {
		t.Helper()
		h := []byte(hex.EncodeToString(v))
		i := bytes.Index(doc[start:], h)
		if i < 0 {
			i = bytes.Index(doc[start:], bytes.ToUpper(h))
		}
		if i < 0 {
			t.Fatal("value not found in /Contents")
		}
		out := bytes.Clone(doc)
		const digits = "0123456789abcdef"
		p := start + i + 2*at
		out[p] = digits[bytes.IndexByte([]byte(digits), out[p]|0x20)^1]
		return out
	}
	mAt := start + bytes.LastIndex(doc[start:], []byte("/M (D:")) + len("/M (D:") + 3
	inRange := bytes.Clone(doc)
	inRange[mAt] ^= 1 // a digit of the year in /M, inside the signed range
	// /Type /Sig with /SubFilter /ETSI.RFC3161: neither a signature nor a
	// document timestamp. (Same length: the byte range still fits; the
	// digest fails too, but the format is named first.)
	wrongType := bytes.Clone(doc)
	i := start + bytes.Index(doc[start:], []byte("/Type/DocTimeStamp"))
	copy(wrongType[i:], "/Type/Sig         ")
	for name, c := range map[string]struct {
		doc   []byte
		check string
	}{
		"TSTInfo":          {flipHex(tok.RawInfo, len(tok.RawInfo)-3), seal.CheckDocTimestamp},
		"token signature":  {flipHex(sd.SignerInfos[0].Signature, 20), seal.CheckDocTimestamp},
		"covered bytes":    {inRange, "document digest"},
		"imprint":          {flipHex(tok.Info.MessageImprint.HashedMessage, 0), seal.CheckDocTimestamp},
		"certificate hash": {flipHex(tok.Cert.Signature, 5), seal.CheckDocTimestamp},
		"/Type /Sig":       {wrongType, seal.CheckDocTimestamp},
	} {
		rep := f.verify(t, c.doc)
		var got *seal.SignatureReport
		for i := range rep.Signatures {
			if rep.Signatures[i].Kind == seal.KindDocTimestamp {
				got = &rep.Signatures[i]
			}
		}
		if rep.Verdict != seal.Invalid || got == nil || got.Verdict != seal.Invalid || checkResult(got, c.check) != seal.Fail {
			t.Errorf("%s changed: %s %v", name, rep.Verdict, rep.Reasons)
		}
		if rep.Signatures[0].Verdict != seal.Valid {
			t.Errorf("%s changed: the seal before it is %s %v", name, rep.Signatures[0].Verdict, rep.Signatures[0].Reasons)
		}
	}
}

// Renewal: the archive timestamp applied again adds validation data for
// the first document timestamp and a second one; the seal stays B-LTA and
// every timestamp VALID.
func TestDocTimestampRenewal(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	srv, err := f.reg.TSA(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in := pdftest.Document(pdftest.Options{})
	res, err := (&seal.Stamper{Registry: f.reg}).Stamp(ctx, bytes.NewReader(in), int64(len(in)), seal.SignRequest{
		SealID: f.sealID, Placement: seal.Placement{Page: 1}, Profile: seal.ProfilePAdES, Timestamps: seal.EmbeddedTSA{Server: srv}})
	if err != nil {
		t.Fatal(err)
	}
	doc := append(bytes.Clone(in), res.Update...)
	for range 2 {
		upd, err := seal.AddArchiveTimestamp(ctx, f.reg, seal.EmbeddedTSA{Server: srv}, bytes.NewReader(doc), int64(len(doc)))
		if err != nil {
			t.Fatal(err)
		}
		doc = append(doc, upd...)
	}
	rep := f.verify(t, doc)
	if rep.Verdict != seal.Valid || len(rep.Signatures) != 3 || rep.Signatures[0].PAdESLevel != seal.PAdESBLTA {
		t.Fatalf("%s, %d signatures: %v", rep.Verdict, len(rep.Signatures), rep.Reasons)
	}
	d, err := pdf.Open(bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		t.Fatal(err)
	}
	sigs, _ := d.Signatures()
	dss, err := d.DSS()
	if err != nil || dss == nil || dss.VRI[pdf.VRIKey(sigs[1].Contents)] == nil {
		t.Fatalf("the renewal's store has no validation data for the first document timestamp: %v", err)
	}
}
