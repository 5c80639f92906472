package pdf

import (
	"bytes"
	"strings"
	"testing"
)

func pageDictWith(t *testing.T, pdf []byte, n int, edit func(Dict)) string {
	t.Helper()
	d, err := Open(bytes.NewReader(pdf), int64(len(pdf)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := d.Page(n)
	if err != nil {
		t.Fatal(err)
	}
	pd := cloneDict(p.Dict)
	edit(pd)
	return string(appendObject(nil, pd))
}

func TestChangesAfter(t *testing.T) {
	base := genPDF(genOpts{pages: 4, acroForm: "indirect"})
	signed := sign(t, base, SignatureRequest{Page: 1, XMM: 10, YMM: 10, WidthMM: 30, HeightMM: 30})
	tests := []struct {
		name       string
		revision   func(t *testing.T, pdf []byte) []byte
		disallowed int // object expected to be reported, 0 for none
	}{
		{"content stream replaced", func(t *testing.T, pdf []byte) []byte {
			return appendRevision(pdf, map[int]string{
				900: "stream:BT /F1 30 Tf 72 500 Td (APPROVED x 100) Tj ET",
				100: pageDictWith(t, pdf, 1, func(d Dict) { d["Contents"] = Ref{900, 0} }),
			})
		}, 100},
		{"content stream object rewritten", func(t *testing.T, pdf []byte) []byte {
			return appendRevision(pdf, map[int]string{101: "stream:BT /F1 24 Tf 72 760 Td (Rejected) Tj ET"})
		}, 101},
		{"page tree kids swapped", func(t *testing.T, pdf []byte) []byte {
			return appendRevision(pdf, map[int]string{20: "<</Type/Pages/Parent 2 0 R/Kids [102 0 R 100 0 R]/Count 2>>"})
		}, 20},
		{"page resources changed", func(t *testing.T, pdf []byte) []byte {
			return appendRevision(pdf, map[int]string{102: pageDictWith(t, pdf, 2, func(d Dict) { d["Resources"] = Dict{} })})
		}, 102},
		{"annotation removed", func(t *testing.T, pdf []byte) []byte {
			return appendRevision(pdf, map[int]string{100: pageDictWith(t, pdf, 1, func(d Dict) { d["Annots"] = d["Annots"].(Array)[1:] })})
		}, 100},
		{"catalog gains OpenAction", func(t *testing.T, pdf []byte) []byte {
			return appendRevision(pdf, map[int]string{1: "<</Type/Catalog/Pages 2 0 R/AcroForm 8 0 R/OpenAction [100 0 R /Fit]>>"})
		}, 1},
		{"existing field value changed", func(t *testing.T, pdf []byte) []byte {
			return appendRevision(pdf, map[int]string{9: "<</Type/Annot/Subtype/Widget/FT/Tx/T (Applicant)/V (Li Si)/Rect [72 600 272 620]/P 100 0 R/F 4/DA (/Helv 10 Tf 0 g)/AP<</N 10 0 R>>>>"})
		}, 9},
		{"new text annotation and DSS", func(t *testing.T, pdf []byte) []byte {
			return appendRevision(pdf, map[int]string{
				901: "<</Type/Annot/Subtype/Text/Rect [10 10 30 30]/Contents (note)>>",
				902: "<</Certs []>>",
				100: pageDictWith(t, pdf, 1, func(d Dict) { d["Annots"] = append(append(Array{}, d["Annots"].(Array)...), Ref{901, 0}) }),
				1:   "<</Type/Catalog/Pages 2 0 R/AcroForm 8 0 R/DSS 902 0 R>>",
			})
		}, 0},
		{"identical rewrite", func(t *testing.T, pdf []byte) []byte {
			return appendRevision(pdf, map[int]string{102: pageDictWith(t, pdf, 2, func(Dict) {})})
		}, 0},
		{"second signature", func(t *testing.T, pdf []byte) []byte {
			return sign(t, pdf, SignatureRequest{Page: 2, XMM: 10, YMM: 10, WidthMM: 30, HeightMM: 30})
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := tc.revision(t, signed)
			d, s := signatureNamed(t, out, "Seal1")
			if !s.ByteRangeOK || s.RevisionEnd != int64(len(signed)) {
				t.Fatalf("signature: %q end %d", s.ByteRangeProblem, s.RevisionEnd)
			}
			changes, err := d.ChangesAfter(s.RevisionEnd)
			if err != nil {
				t.Fatal(err)
			}
			var bad []Change
			for _, c := range changes {
				if !c.Kind.Allowed() {
					bad = append(bad, c)
				}
			}
			if tc.disallowed == 0 {
				if len(bad) != 0 {
					t.Fatalf("unexpected disallowed changes %+v", bad)
				}
				return
			}
			for _, c := range bad {
				if c.Object == tc.disallowed {
					t.Logf("%+v", c)
					return
				}
			}
			t.Fatalf("object %d not reported; changes %+v", tc.disallowed, changes)
		})
	}
}

func TestRevisions(t *testing.T) {
	in := genPDF(genOpts{xref: "stream"})
	out1 := sign(t, in, SignatureRequest{Page: 1, WidthMM: 20, HeightMM: 20})
	out2 := sign(t, out1, SignatureRequest{Page: 1, WidthMM: 20, HeightMM: 20})
	d, _ := Open(bytes.NewReader(out2), int64(len(out2)))
	revs := d.Revisions()
	want := []int64{int64(len(in)), int64(len(out1)), int64(len(out2))}
	if len(revs) != 3 || revs[0] != want[0] || revs[1] != want[1] || revs[2] != want[2] {
		t.Fatalf("revisions %v, want %v", revs, want)
	}
	// A ByteRange whose gap is not the /Contents string is flagged.
	bad := []byte(strings.Replace(string(out1), "/Contents <30", "/Contents  <3", 1))
	d, _ = Open(bytes.NewReader(bad), int64(len(bad)))
	sigs, _ := d.Signatures()
	if len(sigs) != 1 || sigs[0].ByteRangeOK {
		t.Fatalf("shifted /Contents accepted: %+v", sigs)
	}
}
