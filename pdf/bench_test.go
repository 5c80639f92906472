package pdf

import (
	"bytes"
	"crypto/sha256"
	"testing"
)

// BenchmarkPrepare measures Open + PrepareSignature, the per-stamping PDF
// cost, on a one-page file and on a ~10 MB, 200-page file.
func BenchmarkPrepare(b *testing.B) {
	im, err := NewImage(sealPicture(false))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		in   []byte
	}{
		{"1page", genPDF(genOpts{acroForm: "indirect"})},
		{"10MB", genPDF(genOpts{pages: 200, pad: 50 << 10, acroForm: "indirect"})},
		{"10MB-xrefstream", genPDF(genOpts{pages: 200, pad: 50 << 10, xref: "stream"})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportMetric(float64(len(bc.in)), "input-bytes")
			req := SignatureRequest{Page: 1, XMM: 20, YMM: 20, WidthMM: 40, HeightMM: 40, Image: im, SigningTime: signTime}
			b.ReportAllocs()
			for b.Loop() {
				d, err := Open(bytes.NewReader(bc.in), int64(len(bc.in)))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := d.PrepareSignature(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDigest measures streaming the covered bytes into a hash.
func BenchmarkDigest(b *testing.B) {
	im, _ := NewImage(sealPicture(false))
	in := genPDF(genOpts{pages: 200, pad: 50 << 10})
	d, err := Open(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		b.Fatal(err)
	}
	u, err := d.PrepareSignature(SignatureRequest{Page: 1, WidthMM: 40, HeightMM: 40, Image: im})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		u.Digest(sha256.New())
	}
}
