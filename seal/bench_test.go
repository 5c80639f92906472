package seal_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"

	"eseal/pdf/pdftest"
	"eseal/seal"
)

// benchInputs are the documents of issue 2's benchmarks: one page, about
// 1 MB and about 10 MB.
var benchInputs = []struct {
	name string
	size int
}{
	{"1page", 0},
	{"1MB", 1 << 20},
	{"10MB", 10 << 20},
}

// BenchmarkStamp measures one stamping (read what is needed, build the
// incremental update, SM3 over the signed range, CMS with one SM2
// signature), in memory, next to BenchmarkFloor.
func BenchmarkStamp(b *testing.B) {
	f := newFixture(b)
	for _, in := range benchInputs {
		doc := pdftest.Document(pdftest.Options{Size: in.size})
		b.Run(in.name, func(b *testing.B) {
			st := &seal.Stamper{Registry: f.reg}
			req := seal.SignRequest{SealID: f.sealID, Placement: seal.Placement{Page: 1, XMM: 120, YMM: 180}}
			if _, err := st.Stamp(context.Background(), bytes.NewReader(doc), int64(len(doc)), req); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(doc)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := st.Stamp(context.Background(), bytes.NewReader(doc), int64(len(doc)), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFloor is what the hardware sets for a stamping: SM3 over the same
// bytes and one SM2 signature.
func BenchmarkFloor(b *testing.B) {
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	for _, in := range benchInputs {
		doc := pdftest.Document(pdftest.Options{Size: in.size})
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			for i := 0; i < b.N; i++ {
				sum := sm3.Sum(doc)
				if _, err := key.SignWithSM2(rand.Reader, nil, sum[:]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify measures verifying a stamped document: SM3 over the signed
// range, the CMS and seal signatures, two certificate chains.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	v := f.verifier(b)
	for _, in := range benchInputs {
		signed := f.stamp(b, pdftest.Document(pdftest.Options{Size: in.size}), 1)
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(signed)))
			for i := 0; i < b.N; i++ {
				rep, err := v.VerifyPDF(context.Background(), bytes.NewReader(signed), int64(len(signed)))
				if err != nil || rep.Verdict != seal.Valid {
					b.Fatalf("%v %+v", err, rep)
				}
			}
		})
	}
}

// BenchmarkVerifyTwice verifies documents stamped twice: the first
// signature's later revision is read strictly, compared object by object
// with the signed one, and its added annotations are listed.
func BenchmarkVerifyTwice(b *testing.B) {
	f := newFixture(b)
	v := f.verifier(b)
	for _, in := range benchInputs {
		signed := f.stamp(b, f.stamp(b, pdftest.Document(pdftest.Options{Size: in.size}), 1), 1)
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(signed)))
			for i := 0; i < b.N; i++ {
				rep, err := v.VerifyPDF(context.Background(), bytes.NewReader(signed), int64(len(signed)))
				if err != nil || rep.Summary != "VALID, with changes after signing" {
					b.Fatalf("%v %+v", err, rep)
				}
			}
		})
	}
}

// BenchmarkStampProfile measures one stamping of the one-page document in
// each signature profile (no timestamp): pades adds the ESS attribute, ses
// builds an SES_Signature instead of a CMS.
func BenchmarkStampProfile(b *testing.B) {
	f := newFixture(b)
	doc := pdftest.Document(pdftest.Options{})
	for _, p := range []seal.Profile{seal.ProfileCMS, seal.ProfilePAdES, seal.ProfileSES} {
		b.Run(string(p), func(b *testing.B) {
			st := &seal.Stamper{Registry: f.reg}
			req := seal.SignRequest{SealID: f.sealID, Placement: seal.Placement{Page: 1, XMM: 120, YMM: 180}, Profile: p}
			for i := 0; i < b.N; i++ {
				if _, err := st.Stamp(context.Background(), bytes.NewReader(doc), int64(len(doc)), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyArchived verifies a PAdES B-LTA document: the seal with
// its signature timestamp and document security store, then the document
// timestamp over the whole file.
func BenchmarkVerifyArchived(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	srv, err := f.reg.TSA(ctx)
	if err != nil {
		b.Fatal(err)
	}
	in := pdftest.Document(pdftest.Options{})
	res, err := (&seal.Stamper{Registry: f.reg}).Stamp(ctx, bytes.NewReader(in), int64(len(in)), seal.SignRequest{
		SealID: f.sealID, Placement: seal.Placement{Page: 1}, Profile: seal.ProfilePAdES, Timestamps: seal.EmbeddedTSA{Server: srv}})
	if err != nil {
		b.Fatal(err)
	}
	doc := append(bytes.Clone(in), res.Update...)
	upd, err := seal.AddArchiveTimestamp(ctx, f.reg, seal.EmbeddedTSA{Server: srv}, bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		b.Fatal(err)
	}
	doc = append(doc, upd...)
	v := f.verifier(b)
	b.SetBytes(int64(len(doc)))
	for i := 0; i < b.N; i++ {
		rep, err := v.VerifyPDF(ctx, bytes.NewReader(doc), int64(len(doc)))
		if err != nil || rep.Verdict != seal.Valid || rep.Signatures[0].PAdESLevel != seal.PAdESBLTA {
			b.Fatalf("%v %+v", err, rep)
		}
	}
}
