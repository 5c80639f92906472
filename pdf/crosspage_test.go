package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"eseal/pdf/pdftest"
)

// pdfsigCount returns how many signatures poppler's pdfsig lists.
func pdfsigCount(t *testing.T, pdf []byte) int {
	t.Helper()
	bin, err := exec.LookPath("pdfsig")
	if err != nil {
		if requireTools() {
			t.Fatal("pdfsig not on PATH")
		}
		t.Log("pdfsig not on PATH; skipped")
		return -1
	}
	f := filepath.Join(t.TempDir(), "in.pdf")
	os.WriteFile(f, pdf, 0o644)
	out, _ := exec.Command(bin, f).CombinedOutput()
	if bytes.Contains(out, []byte("Syntax Error")) || bytes.Contains(out, []byte("Syntax Warning")) {
		t.Fatalf("pdfsig complains:\n%s", out)
	}
	return len(regexp.MustCompile(`(?m)^Signature #\d+:`).FindAll(out, -1))
}

// widgetsOf returns the field's widgets (its /Kids, or itself) by page.
func widgetsOf(t *testing.T, d *Document, field string) map[int]Dict {
	t.Helper()
	cat, _ := d.Catalog()
	af, _ := d.acroForm(cat)
	var fd Dict
	for _, f := range af.fields {
		if fdict, _ := d.resolveDict(f); fdict != nil {
			if s, ok := fdict["T"].(String); ok && decodeText(s) == field {
				fd = fdict
			}
		}
	}
	if fd == nil {
		t.Fatalf("no field %s", field)
	}
	var widgets []Object
	if kids, ok := d.resolveArray(fd["Kids"]); ok {
		widgets = kids
	} else {
		widgets = Array{fd}
	}
	onPage := map[Ref]int{}
	for n := 1; n <= d.NumPages(); n++ {
		p, _ := d.Page(n)
		annots, _ := d.resolveArray(p.Dict["Annots"])
		for _, a := range annots {
			if r, ok := a.(Ref); ok {
				onPage[r] = n
			}
		}
	}
	out := map[int]Dict{}
	for _, w := range widgets {
		wd, _ := d.resolveDict(w)
		r, _ := w.(Ref)
		n := onPage[r]
		if p, ok := wd["P"].(Ref); !ok || wd.name("Subtype") != "Widget" || n == 0 {
			t.Fatalf("widget %v: not a widget on a page (%v)", w, wd)
		} else if pg, _ := d.Page(n); pg.Ref != p {
			t.Fatalf("widget %v: /P %v but in /Annots of page %d", w, p, n)
		}
		if _, dup := out[n]; dup {
			t.Fatalf("two widgets of %s on page %d", field, n)
		}
		out[n] = wd
	}
	return out
}

func noDisallowed(t *testing.T, d *Document, end int64) {
	t.Helper()
	changes, err := d.ChangesAfter(end)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		if !c.Kind.Allowed() {
			t.Errorf("disallowed change: %+v", c)
		}
	}
}

func hasDisallowed(t *testing.T, d *Document, end int64) bool {
	t.Helper()
	changes, err := d.ChangesAfter(end)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		if !c.Kind.Allowed() {
			t.Logf("flagged: %+v", c)
			return true
		}
	}
	return false
}

func TestCrossPage(t *testing.T) {
	tests := []struct {
		name        string
		in          []byte
		first, last int
		ymm         float64
		pages       []int
	}{
		{name: "2 pages", in: pdftest.Document(pdftest.Options{Pages: 2}), pages: []int{1, 2}},
		{name: "5 pages", in: pdftest.Document(pdftest.Options{Pages: 5}), pages: []int{1, 2, 3, 4, 5}},
		{name: "30 pages", in: pdftest.Document(pdftest.Options{Pages: 30}), pages: seq(1, 30)},
		{name: "range 2-4 at 20mm", in: pdftest.Document(pdftest.Options{Pages: 5}), first: 2, last: 4, ymm: 20, pages: []int{2, 3, 4}},
		{name: "page tree nodes, fields array", in: genPDF(genOpts{pages: 5, acroForm: "fieldsref"}), pages: seq(1, 5)},
		{name: "xref stream, rotate 180", in: genPDF(genOpts{xref: "stream", pages: 3, acroForm: "indirect", rotate: 180}), pages: seq(1, 3)},
		{name: "hybrid, rotate 90, cropbox", in: genPDF(genOpts{xref: "hybrid", pages: 2, rotate: 90, cropBox: "20 20 400 600", annotsRef: true}), pages: seq(1, 2)},
	}
	const sealW, sealH = 40.0, 40.0
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := sign(t, tc.in, SignatureRequest{WidthMM: sealW, HeightMM: sealH, YMM: tc.ymm,
				CrossPage: &CrossPage{FirstPage: tc.first, LastPage: tc.last}, Name: "骑缝章"})
			d, err := Open(bytes.NewReader(out), int64(len(out)))
			if err != nil {
				t.Fatal(err)
			}
			sigs, err := d.Signatures()
			if err != nil || len(sigs) != 1 {
				t.Fatalf("signatures %d: %v", len(sigs), err)
			}
			s := sigs[0]
			if s.FieldName != "Seal1" || !s.ByteRangeOK || !s.CoversRevision || s.RevisionEnd != int64(len(out)) {
				t.Fatalf("signature %+v", s)
			}
			if fmt.Sprint(s.Pages) != fmt.Sprint(tc.pages) || s.Page != tc.pages[0] {
				t.Fatalf("Pages %v Page %d, want %v", s.Pages, s.Page, tc.pages)
			}

			// One widget per page at the right edge; all draw one image.
			widgets := widgetsOf(t, d, "Seal1")
			if len(widgets) != len(tc.pages) {
				t.Fatalf("widgets on pages %v", widgets)
			}
			strip := sealW / float64(len(tc.pages)) * ptPerMM
			var img Object
			for i, n := range tc.pages {
				wd := widgets[n]
				if wd == nil {
					t.Fatalf("no widget on page %d", n)
				}
				// Found through the field's /Kids, without /Parent: with
				// it, poppler 22.12 lists every widget as an unsigned
				// field (PrepareSignature says why).
				if _, ok := wd["Parent"]; ok {
					t.Fatalf("page %d widget has /Parent", n)
				}
				p, _ := d.Page(n)
				r, _ := d.box(wd["Rect"])
				u0, t0 := p.toDisplay(r[0], r[1])
				u1, t1 := p.toDisplay(r[2], r[3])
				W, H := p.displaySize()
				left, right, top, bottom := min(u0, u1), max(u0, u1), min(t0, t1), max(t0, t1)
				wantTop := (H - sealH*ptPerMM) / 2
				if tc.ymm != 0 {
					wantTop = tc.ymm * ptPerMM
				}
				if math.Abs(right-W) > 0.01 || math.Abs(right-left-strip) > 0.01 || math.Abs(top-wantTop) > 0.01 || math.Abs(bottom-top-sealH*ptPerMM) > 0.01 {
					t.Fatalf("page %d strip at display %v-%v × %v-%v, page %vx%v", n, left, right, top, bottom, W, H)
				}
				ap, _ := d.resolveDict(wd["AP"])
				form, _ := d.Resolve(ap["N"])
				st := form.(*Stream)
				res, _ := d.resolveDict(st.Dict["Resources"])
				xo, _ := d.resolveDict(res["XObject"])
				if img == nil {
					img = xo["Im1"]
				} else if !equalObjects(img, xo["Im1"]) {
					t.Fatalf("page %d draws image %v, page %d drew %v", n, xo["Im1"], tc.pages[0], img)
				}
				data, _ := d.StreamData(st)
				want := fmt.Sprintf("%s 0 0 %s %s ", num(sealW*ptPerMM), num(sealH*ptPerMM), num(-float64(i)*strip))
				if !bytes.Contains(data, []byte(want)) {
					t.Fatalf("page %d appearance %q lacks %q", n, data, want)
				}
			}
			qpdfCheck(t, out)
			pdfcpuValidate(t, out)
			if n := pdfsigCount(t, out); n != 1 && n != -1 {
				t.Fatalf("pdfsig lists %d signatures", n)
			}

			// An ordinary signature afterwards changes nothing signed.
			out2 := sign(t, out, SignatureRequest{Page: tc.pages[0], XMM: 20, YMM: 20, WidthMM: 30, HeightMM: 30})
			d2, s1 := signatureNamed(t, out2, "Seal1")
			if !s1.ByteRangeOK || s1.RevisionEnd != int64(len(out)) || len(s1.Pages) != len(tc.pages) {
				t.Fatalf("cross-page signature after a second one: %+v", s1)
			}
			noDisallowed(t, d2, s1.RevisionEnd)
			if _, s2 := signatureNamed(t, out2, "Seal2"); fmt.Sprint(s2.Pages) != fmt.Sprint([]int{tc.pages[0]}) {
				t.Fatalf("ordinary signature Pages %v", s2.Pages)
			}
			qpdfCheck(t, out2)
			if n := pdfsigCount(t, out2); n != 2 && n != -1 {
				t.Fatalf("pdfsig lists %d signatures", n)
			}
		})
	}
}

func seq(a, b int) []int {
	var s []int
	for i := a; i <= b; i++ {
		s = append(s, i)
	}
	return s
}

// TestCrossPageTamper removes and swaps pages of a cross-page-sealed
// 5-page document in later revisions.
func TestCrossPageTamper(t *testing.T) {
	for _, base := range []struct {
		name string
		in   []byte
	}{
		{"flat page tree", pdftest.Document(pdftest.Options{Pages: 5})},
		{"nested page tree", genPDF(genOpts{pages: 5, acroForm: "fieldsref"})},
	} {
		signed := sign(t, base.in, SignatureRequest{WidthMM: 40, HeightMM: 40, CrossPage: &CrossPage{}})
		d, _ := Open(bytes.NewReader(signed), int64(len(signed)))
		refs, err := d.pageRefs()
		if err != nil || len(refs) != 5 {
			t.Fatal(err, refs)
		}
		root, _ := d.pagesRoot()
		rootObj, _ := d.Object(root)
		rootDict := rootObj.(Dict)
		// Rewrite the page tree as one flat node listing the given pages.
		flat := func(order ...int) map[int]string {
			kids := Array{}
			for _, i := range order {
				kids = append(kids, refs[i])
			}
			nd := cloneDict(rootDict)
			nd["Kids"], nd["Count"] = kids, int64(len(kids))
			return map[int]string{root.Num: string(appendObject(nil, nd))}
		}
		for _, tc := range []struct {
			name string
			objs map[int]string
		}{
			{"page removed", flat(0, 1, 3, 4)},
			{"pages swapped", flat(0, 2, 1, 3, 4)},
			{"page replaced", func() map[int]string {
				m := flat(0, 1, 2, 3, 4)
				pd, _ := d.resolveDict(refs[2])
				np := cloneDict(pd)
				np["Contents"] = Ref{990, 0}
				m[989] = string(appendObject(nil, np))
				m[990] = "stream:BT /F1 20 Tf 72 700 Td (forged) Tj ET"
				kids := Array{refs[0], refs[1], Ref{989, 0}, refs[3], refs[4]}
				nd := cloneDict(rootDict)
				nd["Kids"] = kids
				m[root.Num] = string(appendObject(nil, nd))
				return m
			}()},
		} {
			t.Run(base.name+"/"+tc.name, func(t *testing.T) {
				out := appendRevision(signed, tc.objs)
				d, s := signatureNamed(t, out, "Seal1")
				if !s.ByteRangeOK || s.RevisionEnd != int64(len(signed)) {
					t.Fatalf("signature %+v", s)
				}
				if !hasDisallowed(t, d, s.RevisionEnd) {
					t.Fatal("tampering not flagged")
				}
			})
		}
	}
}

func TestCrossPageErrors(t *testing.T) {
	in := pdftest.Document(pdftest.Options{Pages: 3})
	d, _ := Open(bytes.NewReader(in), int64(len(in)))
	img := testImage(t)
	for _, tc := range []struct {
		cp   CrossPage
		w    float64
		want any
	}{
		{CrossPage{FirstPage: 2, LastPage: 2}, 40, new(*PlacementError)},
		{CrossPage{FirstPage: 3}, 40, new(*PlacementError)},
		{CrossPage{FirstPage: 2, LastPage: 4}, 40, new(*PageRangeError)},
		{CrossPage{FirstPage: -1}, 40, new(*PageRangeError)},
		{CrossPage{}, 0, new(*PlacementError)},
		{CrossPage{}, 0.01, new(*PlacementError)},
	} {
		_, err := d.PrepareSignature(SignatureRequest{WidthMM: tc.w, HeightMM: 40, Image: img, CrossPage: &tc.cp})
		if !errors.As(err, tc.want) {
			t.Errorf("%+v width %v: got %v", tc.cp, tc.w, err)
		}
	}
	one := pdftest.Document(pdftest.Options{Pages: 1})
	d, _ = Open(bytes.NewReader(one), int64(len(one)))
	if _, err := d.PrepareSignature(SignatureRequest{WidthMM: 40, HeightMM: 40, Image: img, CrossPage: &CrossPage{}}); !errors.As(err, new(*PlacementError)) {
		t.Errorf("one-page document: %v", err)
	}
}

// TestCrossPageAfterSignature adds a cross-page seal as a later revision:
// the earlier signature sees only allowed changes.
func TestCrossPageAfterSignature(t *testing.T) {
	in := genPDF(genOpts{pages: 4, acroForm: "indirect", annotsRef: true})
	out1 := sign(t, in, SignatureRequest{Page: 1, XMM: 20, YMM: 20, WidthMM: 30, HeightMM: 30})
	out2 := sign(t, out1, SignatureRequest{WidthMM: 40, HeightMM: 40, CrossPage: &CrossPage{}})
	d, s1 := signatureNamed(t, out2, "Seal1")
	noDisallowed(t, d, s1.RevisionEnd)
	if _, s2 := signatureNamed(t, out2, "Seal2"); !s2.ByteRangeOK || fmt.Sprint(s2.Pages) != "[1 2 3 4]" {
		t.Fatalf("cross-page signature %+v", s2)
	}
	qpdfCheck(t, out2)
	pdfcpuValidate(t, out2)
	if n := pdfsigCount(t, out2); n != 2 && n != -1 {
		t.Fatalf("pdfsig lists %d signatures", n)
	}
}
