package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// xrefStreamPDF builds a file whose only cross-reference section is an
// uncompressed xref stream (object 1) with the given rows (W [1 2 1]).
func xrefStreamPDF(objs string, rows [][3]int) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.5\n")
	b.WriteString(objs)
	xoff := b.Len()
	var data []byte
	for _, r := range rows {
		data = append(data, byte(r[0]), byte(r[1]>>8), byte(r[1]), byte(r[2]))
	}
	fmt.Fprintf(&b, "1 0 obj\n<</Type/XRef/Size %d/W [1 2 1]/Root 2 0 R/Length %d>>\nstream\n", len(rows), len(data))
	b.Write(data)
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", xoff)
	return b.Bytes()
}

func TestHostileInputs(t *testing.T) {
	classic := genPDF(genOpts{})
	startxref := bytes.LastIndex(classic, []byte("startxref"))
	withStartxref := func(v string) []byte {
		return append(append([]byte(nil), classic[:startxref]...), "startxref\n"+v+"\n%%EOF\n"...)
	}
	// A revision whose trailer /Prev points at itself.
	prevLoop := func() []byte {
		var b bytes.Buffer
		b.Write(classic)
		off := b.Len()
		fmt.Fprintf(&b, "xref\n0 1\n0000000000 65535 f\r\ntrailer\n<</Size 200/Root 1 0 R/Prev %d>>\nstartxref\n%d\n%%%%EOF\n", off, off)
		return b.Bytes()
	}()
	hugeLength := appendRevision(classic, map[int]string{2: "<</Type/Pages/Kids [100 0 R]/Count 1/Length 99999999999>>\nstream\nxx\nendstream"})
	// Objects 2 (catalog) lives in object stream 2: itself.
	selfObjStm := xrefStreamPDF("", [][3]int{{0, 0, 255}, {1, 9, 0}, {2, 2, 0}})
	// Object stream 3 whose /Length is itself.
	lengthSelf := xrefStreamPDF("3 0 obj\n<</Type/ObjStm/N 1/First 4/Length 3 0 R>>\nstream\n2 0 <<>>\nendstream\nendobj\n",
		[][3]int{{0, 0, 255}, {1, 76, 0}, {2, 3, 0}, {1, 9, 0}})

	tests := []struct {
		name string
		in   []byte
		want error // nil: any *FormatError
		page bool  // error expected from Page(1) rather than Open
	}{
		{name: "empty", in: nil},
		{name: "not a pdf", in: []byte("hello, world\n")},
		{name: "header only", in: []byte("%PDF-1.7\n")},
		{name: "truncated at 10", in: classic[:10]},
		{name: "truncated at a third", in: classic[:len(classic)/3]},
		{name: "truncated before startxref", in: classic[:startxref]},
		{name: "encrypted", in: bytes.Replace(classic, []byte("trailer\n<<"), []byte("trailer\n<</Encrypt<</Filter/Standard/V 2>>"), 1), want: ErrEncrypted},
		{name: "xref pointing nowhere", in: withStartxref("300")},
		{name: "xref past the end", in: withStartxref("99999999")},
		{name: "xref negative", in: withStartxref("-5")},
		{name: "prev loop", in: prevLoop},
		{name: "page tree loop", in: appendRevision(classic, map[int]string{2: "<</Type/Pages/Kids [2 0 R]/Count 1>>"}), page: true},
		{name: "page tree kid loop", in: appendRevision(classic, map[int]string{2: "<</Type/Pages/Kids [3 0 R]/Count 1>>", 3: "<</Type/Pages/Kids [2 0 R]/Count 1>>"}), page: true},
		{name: "huge length", in: hugeLength, page: true},
		{name: "absurd count", in: appendRevision(classic, map[int]string{2: "<</Type/Pages/Kids [100 0 R]/Count 99999999999>>"}), page: true},
		{name: "object stream in itself", in: selfObjStm},
		{name: "object stream length is itself", in: lengthSelf, page: true},
		{name: "object not where xref says", in: bytes.Replace(classic, []byte("1 0 obj"), []byte("7 0 obj"), 1)},
		{name: "deep nesting", in: appendRevision(classic, map[int]string{2: strings.Repeat("[", 10000)}), page: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Open(bytes.NewReader(tc.in), int64(len(tc.in)))
			if tc.page && err == nil {
				_, err = d.Page(1)
				if err == nil && d.NumPages() == 0 {
					err = &PageRangeError{Page: 1}
				}
			}
			if err == nil {
				t.Fatal("no error")
			}
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
				return
			}
			var fe *FormatError
			var pe *PageRangeError
			if !errors.As(err, &fe) && !errors.As(err, &pe) {
				t.Fatalf("got %T %v, want *FormatError", err, err)
			}
			t.Log(err)
		})
	}
	// Every truncation point opens or fails with a typed error, never panics.
	for n := 0; n < len(classic); n += 7 {
		in := classic[:n]
		d, err := Open(bytes.NewReader(in), int64(len(in)))
		if err != nil {
			if !errors.As(err, new(*FormatError)) {
				t.Fatalf("truncated at %d: %T %v", n, err, err)
			}
			continue
		}
		d.Page(1)
		d.Signatures()
	}
}

// seeds returns the fixture PDFs for the fuzz targets.
func seeds(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.pdf"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("%PDF-1.7\nxref\n0 1\n0000000000 65535 f\r\ntrailer<</Root 1 0 R/Size 1>>\nstartxref\n9\n%%EOF"))
}

func FuzzOpen(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		d.NumPages()
		d.Page(1)
		d.Signatures()
		d.Revisions()
	})
}

func FuzzPrepareSignature(f *testing.F) {
	seeds(f)
	im, err := NewImage(sealPicture(false))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		u, err := d.PrepareSignature(SignatureRequest{Page: 1, XMM: 10, YMM: 10, WidthMM: 30, HeightMM: 30,
			Image: im, ContentsSize: 64, SigningTime: signTime})
		if err != nil {
			return
		}
		if err := u.SetContents([]byte{0x30, 0x03, 1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		out := append(append([]byte(nil), b...), u.Bytes()...)
		d2, err := Open(bytes.NewReader(out), int64(len(out)))
		if err != nil {
			t.Fatalf("signed output does not re-open: %v", err)
		}
		sigs, err := d2.Signatures()
		if err != nil {
			t.Fatalf("signatures: %v", err)
		}
		for _, s := range sigs {
			if s.FieldName == u.FieldName() && s.ByteRange == u.ByteRange() {
				return
			}
		}
		t.Fatalf("new signature %q not found", u.FieldName())
	})
}
