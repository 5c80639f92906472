package seal_test

import (
	"bytes"
	"context"
	"testing"

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
