package pdf

import (
	"bytes"
	"errors"
	"fmt"
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

// TestChangesAfterByNumber: whatever a later object claims to be, its number
// is compared with the signed revision; numbers signed content refers to
// cannot be filled in later; a new /Info is a change.
func TestChangesAfterByNumber(t *testing.T) {
	base := genPDF(genOpts{pages: 1})
	// The page draws an XObject that does not exist yet (object 150).
	base = appendRevision(base, map[int]string{
		100: pageDictWith(t, base, 1, func(d Dict) { d["Resources"] = Dict{"XObject": Dict{"X": Ref{150, 0}}} }),
	})
	signed := sign(t, base, SignatureRequest{Page: 1, XMM: 10, YMM: 10, WidthMM: 30, HeightMM: 30})
	content := "BT /F1 30 Tf 72 500 Td (FORGED) Tj ET"
	streamWith := func(dict string) string {
		return fmt.Sprintf("<<%s/Length %d>>\nstream\n%s\nendstream", dict, len(content), content)
	}
	tests := []struct {
		name   string
		objs   map[int]string
		object int
		detail string
	}{
		{"content claims /Type /XRef", map[int]string{101: streamWith("/Type/XRef")}, 101, "modified"},
		{"content claims /Type /ObjStm", map[int]string{101: streamWith("/Type/ObjStm/N 0/First 0")}, 101, "modified"},
		{"undefined XObject filled in", map[int]string{150: streamWith("/Type/XObject/Subtype/Form/BBox [0 0 9 9]")}, 150, "did not exist when signed"},
		{"new /Info", map[int]string{160: "<</Title (forged)>>", 7: ""}, 0, "/Info"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := map[int]string{}
			for n, b := range tc.objs {
				if b != "" {
					objs[n] = b
				}
			}
			out := appendRevision(signed, objs)
			if tc.object == 0 { // point the new trailer at the new /Info
				i := bytes.LastIndex(out, []byte("/Info 7 0 R"))
				out = append(append(append([]byte{}, out[:i]...), "/Info 160 0 R"...), out[i+len("/Info 7 0 R"):]...)
			}
			d, err := OpenStrict(bytes.NewReader(out), int64(len(out)))
			if err != nil {
				t.Fatal(err)
			}
			changes, err := d.ChangesAfter(int64(len(signed)))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range changes {
				if c.Object == tc.object && !c.Kind.Allowed() && strings.Contains(c.Detail, tc.detail) {
					if c.Revision != len(d.Revisions()) {
						t.Fatalf("change %+v names revision %d, want %d", c, c.Revision, len(d.Revisions()))
					}
					return
				}
			}
			t.Fatalf("object %d not reported as %q: %+v", tc.object, tc.detail, changes)
		})
	}
}

// TestCheckAppendedAfter: bytes after a signed revision must all belong to
// revisions on the chain.
func TestCheckAppendedAfter(t *testing.T) {
	signed := sign(t, genPDF(genOpts{}), SignatureRequest{Page: 1, WidthMM: 20, HeightMM: 20})
	good := appendRevision(signed, map[int]string{900: "<</Certs []>>"})
	obj := "101 0 obj\n<</Length 5>>\nstream\nBT ET\nendstream\nendobj\n"
	shadow := appendRevision(signed, map[int]string{900: "<</Certs []>>"})
	// A second, unlisted object inside the new revision's body.
	i := bytes.LastIndex(shadow, []byte("\nxref\n")) + 1
	shadow = append(append(append([]byte{}, shadow[:i]...), obj...), shadow[i:]...)
	fixXref := func(b []byte, delta int) []byte {
		j := bytes.LastIndex(b, []byte("startxref\n"))
		var v int
		fmt.Sscanf(string(b[j+len("startxref\n"):]), "%d", &v)
		return append(b[:j:j], fmt.Sprintf("startxref\n%d\n%%%%EOF\n", v+delta)...)
	}
	shadow = fixXref(shadow, len(obj))
	tests := []struct {
		name   string
		in     []byte
		reason string // "" for none
	}{
		{"one well-formed revision", good, ""},
		{"trailing white space", append(append([]byte{}, good...), "\n\r\n  "...), ""},
		{"object after %%EOF", append(append([]byte{}, signed...), obj...), "belong to no revision"},
		{"comment after %%EOF", append(append([]byte{}, good...), "%junk\n"...), "belong to no revision"},
		{"shadow object in a revision", shadow, "shadow object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := OpenStrict(bytes.NewReader(tc.in), int64(len(tc.in)))
			if err != nil {
				t.Fatal(err)
			}
			err = d.CheckAppendedAfter(int64(len(signed)))
			var ue *UnaccountedDataError
			switch {
			case tc.reason == "" && err != nil:
				t.Fatalf("unexpected %v", err)
			case tc.reason != "" && (!errors.As(err, &ue) || !strings.Contains(ue.Reason, tc.reason)):
				t.Fatalf("got %v, want an UnaccountedDataError saying %q", err, tc.reason)
			}
		})
	}
	// A startxref a few bytes off: Open corrects it, OpenStrict refuses.
	off := fixXref(append([]byte{}, good...), -2)
	if _, err := Open(bytes.NewReader(off), int64(len(off))); err != nil {
		t.Fatalf("tolerant Open: %v", err)
	}
	if _, err := OpenStrict(bytes.NewReader(off), int64(len(off))); !errors.As(err, new(*FormatError)) {
		t.Fatalf("OpenStrict accepted a startxref 2 bytes off: %v", err)
	}
}

// TestEmptySignatureField: an empty signature field may gain a value (and
// its appearance with it), not an appearance alone; a value without
// /ByteRange is listed as a signature with a problem, not dropped.
func TestEmptySignatureField(t *testing.T) {
	base := appendRevision(genPDF(genOpts{acroForm: "indirect"}), map[int]string{
		8:   "<</Fields [9 0 R 160 0 R]/DR<</Font<</Helv 3 0 R>>>>/DA (/Helv 0 Tf 0 g)/NeedAppearances false>>",
		160: "<</Type/Annot/Subtype/Widget/FT/Sig/T (Reviewer)/Rect [300 80 450 140]/F 4>>",
	})
	signed := sign(t, base, SignatureRequest{Page: 1, WidthMM: 20, HeightMM: 20})
	ap := "<</Type/XObject/Subtype/Form/BBox [0 0 150 60]/Length 10>>\nstream\n0 0 m 9 9 l\nendstream"
	for _, tc := range []struct {
		name    string
		field   string
		allowed bool
	}{
		{"appearance only", "<</Type/Annot/Subtype/Widget/FT/Sig/T (Reviewer)/Rect [300 80 450 140]/F 4/AP<</N 161 0 R>>>>", false},
		{"value and appearance", "<</Type/Annot/Subtype/Widget/FT/Sig/T (Reviewer)/Rect [300 80 450 140]/F 4/AP<</N 161 0 R>>/V 162 0 R>>", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := appendRevision(signed, map[int]string{160: tc.field, 161: ap, 162: "<</Type/Sig/Contents <30>>>"})
			d, err := OpenStrict(bytes.NewReader(out), int64(len(out)))
			if err != nil {
				t.Fatal(err)
			}
			changes, err := d.ChangesAfter(int64(len(signed)))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range changes {
				if c.Object == 160 {
					if c.Kind.Allowed() != tc.allowed || (tc.allowed && c.Kind != AllowedSignatureField) {
						t.Fatalf("field change %+v, want allowed=%v", c, tc.allowed)
					}
				}
			}
			if !tc.allowed {
				return
			}
			sigs, err := d.Signatures()
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range sigs {
				if s.FieldName == "Reviewer" {
					if s.ByteRangeOK || !strings.Contains(s.ByteRangeProblem, "no /ByteRange") || s.Field.Num != 160 {
						t.Fatalf("Reviewer: %+v", s)
					}
					return
				}
			}
			t.Fatalf("the field with a value without /ByteRange is not listed: %+v", sigs)
		})
	}
}

// FuzzLaterRevisions runs what a verifier asks of the revisions after each
// signed one — strict reading, the appended bytes, the comparison by object
// number, the added annotations — on arbitrary bytes, seeded with signed
// documents that have later revisions. None may panic; a revision end the
// strict reader lists must be accepted as an offset.
func FuzzLaterRevisions(f *testing.F) {
	signed := sign(f, genPDF(genOpts{pages: 2, acroForm: "indirect"}), SignatureRequest{Page: 1, WidthMM: 20, HeightMM: 20})
	f.Add(sign(f, signed, SignatureRequest{Page: 2, WidthMM: 20, HeightMM: 20}))
	f.Add(appendRevision(signed, map[int]string{101: "stream:BT /F1 9 Tf (x) Tj ET", 900: "<</Type/Annot/Subtype/Text/Rect [1 1 9 9]>>"}))
	xs := sign(f, genPDF(genOpts{xref: "stream", acroForm: "indirect"}), SignatureRequest{Page: 1, WidthMM: 20, HeightMM: 20})
	f.Add(sign(f, xs, SignatureRequest{Page: 1, XMM: 40, WidthMM: 20, HeightMM: 20}))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := OpenStrict(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		revs := d.Revisions()
		for _, end := range revs[:max(0, len(revs)-1)] {
			err := d.CheckAppendedAfter(end)
			var ue *UnaccountedDataError
			if err != nil && !errors.As(err, &ue) {
				t.Fatalf("CheckAppendedAfter(%d): untyped error %v", end, err)
			}
			d.ChangesAfter(end)
			d.AddedAnnotations(end)
		}
	})
}
