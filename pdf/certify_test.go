package pdf

import (
	"bytes"
	"errors"
	"testing"

	"eseal/pdf/pdftest"
)

// A certification signature: /Reference with the DocMDP transform in the
// signature dictionary, /Perms /DocMDP in the catalog; refused on a signed
// document or with /P out of range; /P read back, absent meaning 2.
func TestCertify(t *testing.T) {
	in := pdftest.Document(pdftest.Options{})
	for _, p := range []int{1, 2, 3} {
		out := sign(t, in, SignatureRequest{Page: 1, XMM: 20, YMM: 20, WidthMM: 40, HeightMM: 40, Certify: p})
		d, err := OpenStrict(bytes.NewReader(out), int64(len(out)))
		if err != nil {
			t.Fatal(err)
		}
		sigs, err := d.Signatures()
		if err != nil || len(sigs) != 1 || sigs[0].DocMDP != p || !sigs[0].DocMDPInForce {
			t.Fatalf("P %d: %v %+v", p, err, sigs)
		}
		d2, _ := Open(bytes.NewReader(out), int64(len(out)))
		_, err = d2.PrepareSignature(SignatureRequest{Page: 1, WidthMM: 40, HeightMM: 40, Image: testImage(t), Certify: 2})
		var ce *CertifyError
		if !errors.As(err, &ce) {
			t.Errorf("P %d: certifying a signed document: %v", p, err)
		}
	}
	d, _ := Open(bytes.NewReader(in), int64(len(in)))
	for _, p := range []int{-1, 4} {
		var ce *CertifyError
		if _, err := d.PrepareSignature(SignatureRequest{Page: 1, WidthMM: 40, HeightMM: 40, Image: testImage(t), Certify: p}); !errors.As(err, &ce) {
			t.Errorf("P %d: %v", p, err)
		}
	}
	plain := sign(t, in, SignatureRequest{Page: 1, XMM: 20, YMM: 20, WidthMM: 40, HeightMM: 40})
	d, _ = Open(bytes.NewReader(plain), int64(len(plain)))
	if sigs, _ := d.Signatures(); sigs[0].DocMDP != 0 || sigs[0].DocMDPInForce {
		t.Errorf("an approval signature reads as certification: %+v", sigs[0])
	}
	for _, c := range []struct {
		ref  string
		want int
	}{
		{"<</Reference [<</TransformMethod/DocMDP>>]>>", 2},
		{"<</Reference [<</TransformMethod/DocMDP/TransformParams<</P 3>>>>]>>", 3},
		{"<</Reference [<</TransformMethod/DocMDP/TransformParams<</P 9>>>>]>>", 1},
		{"<</Reference [<</TransformMethod/FieldMDP/TransformParams<</P 3>>>>]>>", 0},
		{"<</Reference 5>>", 0},
	} {
		o, err := newLexer(bytes.NewReader([]byte(c.ref)), int64(len(c.ref)), 0).object()
		if err != nil {
			t.Fatal(err)
		}
		if got := d.docMDP(o.(Dict)); got != c.want {
			t.Errorf("%s: P %d, want %d", c.ref, got, c.want)
		}
	}
}
