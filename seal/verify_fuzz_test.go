package seal_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"eseal/pdf/pdftest"
	"eseal/seal"
)

// FuzzVerifyPDF feeds arbitrary bytes — seeded with real stamped documents —
// to the whole verification path (PDF, CMS, SESeal, timestamp, chains,
// later revisions). It must never panic and always give a verdict.
func FuzzVerifyPDF(f *testing.F) {
	fx := newFixture(f)
	srv, err := fx.reg.TSA(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	in := pdftest.Document(pdftest.Options{Pages: 2})
	once := fx.stamp(f, in, 1)
	f.Add(once)
	f.Add(fx.stamp(f, once, 2))
	st := &seal.Stamper{Registry: fx.reg}
	res, err := st.Stamp(context.Background(), bytes.NewReader(in), int64(len(in)), seal.SignRequest{
		SealID: fx.sealID, Placement: seal.Placement{CrossPage: true}, Timestamps: seal.EmbeddedTSA{Server: srv}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(append(append([]byte{}, in...), res.Update...))
	// The other profiles, certification and a document timestamp (B-LTA).
	for _, req := range []seal.SignRequest{{Profile: seal.ProfilePAdES, Timestamps: seal.EmbeddedTSA{Server: srv}, LTV: true, Certify: true}, {Profile: seal.ProfileSES}} {
		req.SealID, req.Placement = fx.sealID, seal.Placement{Page: 1, XMM: 100, YMM: 150}
		res, err := st.Stamp(context.Background(), bytes.NewReader(in), int64(len(in)), req)
		if err != nil {
			f.Fatal(err)
		}
		doc := append(append([]byte{}, in...), res.Update...)
		if req.Profile == seal.ProfilePAdES {
			ts, err := seal.AddDocTimestamp(context.Background(), seal.EmbeddedTSA{Server: srv}, bytes.NewReader(doc), int64(len(doc)), time.Now())
			if err != nil {
				f.Fatal(err)
			}
			doc = append(doc, ts...)
		}
		f.Add(doc)
	}
	v := fx.verifier(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := v.VerifyPDF(context.Background(), bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return // I/O only; a bytes.Reader has none
		}
		switch rep.Verdict {
		case seal.Valid, seal.Invalid, seal.Indeterminate:
		default:
			t.Fatalf("no verdict: %+v", rep)
		}
	})
}

// TestVerifyMutations runs many mutated stamped documents through the
// verifier without fuzzing instrumentation (which makes SM2 too slow for
// the fuzzer to get far): no panic, always a verdict, never VALID after a
// change of bytes.
func TestVerifyMutations(t *testing.T) {
	fx := newFixture(t)
	signed := fx.stamp(t, fx.stamp(t, pdftest.Document(pdftest.Options{Pages: 2}), 1), 2)
	v := fx.verifier(t)
	rng := uint64(1)
	next := func(n int) int {
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		return int(rng % uint64(n))
	}
	for i := 0; i < 400; i++ {
		b := append([]byte{}, signed...)
		switch i % 4 {
		case 0: // flip a byte
			b[next(len(b))] ^= byte(1 + next(255))
		case 1: // cut the tail
			b = b[:next(len(b))]
		case 2: // delete a run
			p := next(len(b))
			b = append(b[:p], b[min(len(b), p+1+next(64)):]...)
		case 3: // insert digits (shifts offsets, grows numbers)
			p := next(len(b))
			b = append(b[:p], append([]byte("99999"), b[p:]...)...)
		}
		rep, err := v.VerifyPDF(context.Background(), bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("mutation %d: %v", i, err)
		}
		// A cut can leave a complete earlier revision (and junk no reader
		// takes for a revision): that prefix is rightly VALID. Any change
		// of bytes is not.
		if rep.Verdict == seal.Valid && i%4 != 1 {
			t.Fatalf("mutation %d (kind %d) left the document VALID", i, i%4)
		}
	}
}

// FuzzVerifyStandalone feeds arbitrary bytes — seeded with the outside
// GB/T 38540 vectors and eseal's own seal and SES_Signature — to the
// verification of seal and seal-signature files, with and without data.
// It must never panic and always give a verdict.
func FuzzVerifyStandalone(f *testing.F) {
	fx := newFixture(f)
	for _, name := range []string{"v4_SignedValue.dat", "SignedValueV4.dat", "SESealData.DER", "UserV1.esl", "UserV5_ts.esl"} {
		b, err := os.ReadFile(filepath.Join("ses", "testdata", "gbt38540", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
	}
	sealDER, err := fx.reg.SESeal(context.Background(), fx.sealID)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealDER, false)
	in := pdftest.Document(pdftest.Options{})
	res, err := (&seal.Stamper{Registry: fx.reg}).Stamp(context.Background(), bytes.NewReader(in), int64(len(in)), seal.SignRequest{
		SealID: fx.sealID, Placement: seal.Placement{Page: 1}, SESignature: true})
	if err != nil {
		f.Fatal(err)
	}
	signed := append(append([]byte{}, in...), res.Update...)
	f.Add(res.SESignature, true)
	v := fx.verifier(f)
	f.Fuzz(func(t *testing.T, der []byte, withData bool) {
		var d *seal.StandaloneData
		if withData {
			d = &seal.StandaloneData{R: bytes.NewReader(signed), Size: int64(len(signed))}
		}
		rep, err := v.VerifyStandalone(context.Background(), der, d)
		if err != nil {
			return // data given with a seal
		}
		switch rep.Verdict {
		case seal.Valid, seal.Invalid, seal.Indeterminate:
		default:
			t.Fatalf("no verdict: %+v", rep)
		}
	})
}
