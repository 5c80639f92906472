package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

// pdfObj is one object of a hand-written test PDF: a body, or a stream
// dictionary (without << >>) plus data.
type pdfObj struct {
	body   string
	dict   string
	stream string
}

// buildPDF writes objs as objects 1… of a classic-xref PDF whose catalog is
// object 1.
func buildPDF(objs []pdfObj) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		if o.body != "" {
			fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o.body)
			continue
		}
		fmt.Fprintf(&b, "%d 0 obj\n<<%s/Length %d>>\nstream\n%s\nendstream\nendobj\n", i+1, o.dict, len(o.stream), o.stream)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(objs)+1)
	for _, off := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", off)
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, x)
	return b.Bytes()
}

const toUnicodeF1 = `/CIDInit /ProcSet findresource begin 12 dict begin begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identity-UCS def /CMapType 2 def
1 begincodespacerange <0000> <FFFF> endcodespacerange
4 beginbfchar <0003> <5BA1> <0004> <6279> <0008> <2F64> <0009> <0020> endbfchar
2 beginbfrange <0001> <0002> [<76D6> <7AE0>] <0005> <0007> <0041> endbfrange
endcmap CMapName currentdict /CMap defineresource pop end end`

// The embedded encoding CMap of F7: ASCII in one byte, a GBK-like range in two.
const encodingF7 = `/CIDInit /ProcSet findresource begin 12 dict begin begincmap
/CMapName /Test-H def /CMapType 1 def /WMode 0 def
2 begincodespacerange <00> <80> <8140> <FEFE> endcodespacerange
1 begincidrange <20> <7e> 1 endcidrange
1 begincidchar <8140> 100 endcidchar
1 begincidrange <8141> <8141> 101 endcidrange
endcmap`

const toUnicodeF7 = `begincmap 1 begincodespacerange <00> <80> endcodespacerange
1 begincodespacerange <8140> <FEFE> endcodespacerange
2 beginbfchar <8140> <7B7E> <8141> <53D1> endbfchar
1 beginbfrange <20> <7e> <0020> endbfrange endcmap`

const toUnicodeF6 = `begincmap 1 begincodespacerange <0000> <FFFF> endcodespacerange
1 beginbfrange <0001> <0002> [<9A91> <7F1D>] endbfrange endcmap`

// textFixture is a 4-page PDF exercising fonts, encodings and the text
// state; page 1 holds the cases of TestFindText, pages 2–4 are rotated.
func textFixture() []byte {
	page1 := strings.Join([]string{
		// 1. Identity-H with ToUnicode (bfrange array), no descriptor.
		"BT /F1 20 Tf 100 700 Td <00010002> Tj ET",
		// 2. TJ kerning between runs of one word, widths from /W.
		"BT /F1 10 Tf 100 600 Td [<0003> -500 <0004>] TJ ET",
		// 3. CTM, horizontal scaling, character spacing, rise; simple
		//    TrueType with /Differences naming uniXXXX glyphs.
		"q 2 0 0 2 50 50 cm BT /F2 10 Tf 50 Tz 1 Tc 3 Ts 10 100 Td (AB) Tj ET Q",
		// 4. A Form XObject with its own /Matrix and resources.
		"/Fm1 Do",
		// 5. UniGB-UTF16-H: a surrogate pair and a BMP ideograph.
		"BT /F4 10 Tf 300 300 Td <D840DC00 4E00> Tj ET",
		// 6. Type3 with a /FontMatrix of 0.01.
		"BT /F5 12 Tf 400 400 Td <0102> Tj ET",
		// 7. Identity-V: the second glyph goes below the first.
		"BT /F6 10 Tf 500 500 Td <00010002> Tj ET",
		// 8. TL, ' and " operators with standard Helvetica metrics.
		"BT /F3 10 Tf 12 TL 50 200 Td (Line) Tj (Key) ' 2 1 (Word) \" 0 Tc 0 Tw ET",
		// 9. Fake bold: the same run drawn twice, 0.3 pt apart.
		"BT /F1 10 Tf 300 100 Td <0007> Tj ET BT /F1 10 Tf 300.3 100 Td <0007> Tj ET",
		// 10. A Kangxi radical (U+2F64) in ToUnicode; words split by spaces.
		"BT /F1 10 Tf 300 50 Td <0008> Tj <0009> Tj ET BT /F1 10 Tf 320 50 Td <0002> Tj ET",
		// 11. Embedded encoding CMap with one- and two-byte codes.
		"BT /F7 10 Tf 200 450 Td <5A 8140 8141> Tj ET",
		// 12. An inline image whose data holds EI, then text.
		"BI /W 2 /H 1 /BPC 8 /CS /G ID xEIx EI BT /F1 10 Tf 10 10 Td <0006> Tj ET",
		// 13. MacRoman and WinAnsi upper halves.
		"BT /F8 10 Tf 50 150 Td (Gr\\232\\247e) Tj ET BT /F9 10 Tf 150 150 Td (\\200100) Tj ET",
	}, "\n")
	rotated := "BT /F1 20 Tf 150 300 Td <00010002> Tj ET"
	fonts := "/Font<</F1 4 0 R/F2 7 0 R/F3 8 0 R/F4 9 0 R/F5 11 0 R/F6 13 0 R/F7 16 0 R/F8 20 0 R/F9 21 0 R>>"
	return buildPDF([]pdfObj{
		/* 1 */ {body: "<</Type/Catalog/Pages 2 0 R>>"},
		/* 2 */ {body: "<</Type/Pages/Kids [3 0 R 22 0 R 24 0 R 26 0 R]/Count 4/MediaBox [0 0 595 842]/Resources<<" + fonts + ">>>>"},
		/* 3 */ {body: "<</Type/Page/Parent 2 0 R/Contents 17 0 R/Resources<<" + fonts + "/XObject<</Fm1 18 0 R>>>>>>"},
		/* 4 */ {body: "<</Type/Font/Subtype/Type0/BaseFont/ABCDEF+Test/Encoding/Identity-H/DescendantFonts [5 0 R]/ToUnicode 6 0 R>>"},
		/* 5 */ {body: "<</Type/Font/Subtype/CIDFontType2/BaseFont/ABCDEF+Test/CIDSystemInfo<</Registry (Adobe)/Ordering (Identity)/Supplement 0>>/W [3 4 900]/DW 1000>>"},
		/* 6 */ {dict: "", stream: toUnicodeF1},
		/* 7 */ {body: "<</Type/Font/Subtype/TrueType/BaseFont/Test2/FirstChar 65/LastChar 66/Widths [1000 1000]/Encoding<</BaseEncoding/WinAnsiEncoding/Differences [65 /uni76D6 /uni7AE0.alt]>>>>"},
		/* 8 */ {body: "<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>"},
		/* 9 */ {body: "<</Type/Font/Subtype/Type0/BaseFont/STSong-Light/Encoding/UniGB-UTF16-H/DescendantFonts [10 0 R]>>"},
		/* 10 */ {body: "<</Type/Font/Subtype/CIDFontType0/BaseFont/STSong-Light/CIDSystemInfo<</Registry (Adobe)/Ordering (GB1)/Supplement 4>>>>"},
		/* 11 */ {body: "<</Type/Font/Subtype/Type3/FontBBox [0 0 100 100]/FontMatrix [0.01 0 0 0.01 0 0]/CharProcs 12 0 R/Resources<<>>/FirstChar 1/LastChar 2/Widths [50 50]/Encoding<</Differences [1 /uni5370 /uni9274]>>>>"},
		/* 12 */ {body: "<<>>"},
		/* 13 */ {body: "<</Type/Font/Subtype/Type0/BaseFont/Test6/Encoding/Identity-V/DescendantFonts [14 0 R]/ToUnicode 15 0 R>>"},
		/* 14 */ {body: "<</Type/Font/Subtype/CIDFontType2/BaseFont/Test6/CIDSystemInfo<</Registry (Adobe)/Ordering (Identity)/Supplement 0>>>>"},
		/* 15 */ {stream: toUnicodeF6},
		/* 16 */ {body: "<</Type/Font/Subtype/Type0/BaseFont/Test7/Encoding 19 0 R/DescendantFonts [<</Type/Font/Subtype/CIDFontType0/BaseFont/Test7/CIDSystemInfo<</Registry (Adobe)/Ordering (GB1)/Supplement 2>>/W [59 [250] 100 [600 700]]>>]/ToUnicode 23 0 R>>"},
		/* 17 */ {stream: page1},
		/* 18 */ {dict: "/Type/XObject/Subtype/Form/BBox [0 0 595 842]/Matrix [1 0 0 1 200 0]/Resources<</Font<</F3 8 0 R>>>>", stream: "BT /F3 10 Tf 0 500 Td (Approval) Tj ET"},
		/* 19 */ {dict: "/Type/CMap/CMapName/Test-H/CIDSystemInfo<</Registry (Adobe)/Ordering (GB1)/Supplement 2>>", stream: encodingF7},
		/* 20 */ {body: "<</Type/Font/Subtype/Type1/BaseFont/Times-Roman/Encoding/MacRomanEncoding>>"},
		/* 21 */ {body: "<</Type/Font/Subtype/Type1/BaseFont/Courier/Encoding/WinAnsiEncoding>>"},
		/* 22 */ {body: "<</Type/Page/Parent 2 0 R/Contents 28 0 R/Rotate 90/CropBox [20 30 500 800]>>"},
		/* 23 */ {stream: toUnicodeF7},
		/* 24 */ {body: "<</Type/Page/Parent 2 0 R/Contents 28 0 R/Rotate 180>>"},
		/* 25 */ {body: "<<>>"},
		/* 26 */ {body: "<</Type/Page/Parent 2 0 R/Contents 28 0 R/Rotate 270/MediaBox [50 60 600 900]/CropBox [0 0 580 880]>>"},
		/* 27 */ {body: "<<>>"},
		/* 28 */ {stream: rotated},
	})
}

func near(a, b [4]float64, tol float64) bool {
	for i := range a {
		if math.Abs(a[i]-b[i]) > tol {
			return false
		}
	}
	return true
}

func TestFindText(t *testing.T) {
	in := textFixture()
	d, err := Open(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text string
		want []TextMatch
	}{
		// Case 3: A at x 0..5 (Tz 50), y -2..8 (+3 rise) from 10,100, then ×2+50;
		// B 5.5 later (Tc 1, halved by Tz).
		{"盖章", []TextMatch{{1, [4]float64{100, 696, 140, 716}}, {1, [4]float64{70, 252, 91, 272}}, {2, [4]float64{150, 296, 190, 316}}, {3, [4]float64{150, 296, 190, 316}}, {4, [4]float64{150, 296, 190, 316}}}},
		{"审批", []TextMatch{{1, [4]float64{100, 598, 123, 608}}}},
		{"盖 章 ", nil}, // same text as above with spaces: same matches
		{"Approval", []TextMatch{{1, [4]float64{200, 498, 239.46, 508}}}},
		{"𠀀一", []TextMatch{{1, [4]float64{300, 298, 320, 308}}}},
		{"印鉴", []TextMatch{{1, [4]float64{400, 397.6, 412, 409.6}}}},
		{"骑缝", []TextMatch{{1, [4]float64{495, 480, 505, 500}}}},
		{"Key", []TextMatch{{1, [4]float64{50, 186, 67.23, 196}}}},
		// Tw 2 does not apply (no space), Tc 1 does: 9.44+1 + 5.56+1 + 3.33+1 + 5.56.
		{"Word", []TextMatch{{1, [4]float64{50, 174, 76.89, 184}}}},
		{"C", []TextMatch{{1, [4]float64{300, 98, 310, 108}}}}, // the fake bold pair counts once
		{"用章", []TextMatch{{1, [4]float64{300, 48, 330, 58}}}},
		{"签发", []TextMatch{{1, [4]float64{202.5, 448, 215.5, 458}}}},
		// Times G r e; ö and ß have no standard width here: /MissingWidth default 500.
		{"Größe", []TextMatch{{1, [4]float64{50, 148, 74.99, 158}}}},
		{"€100", []TextMatch{{1, [4]float64{150, 148, 173, 158}}}}, // € 500: not ASCII
		{"B", []TextMatch{{1, [4]float64{10, 8, 20, 18}}}},
		{"Z", []TextMatch{{1, [4]float64{200, 448, 202.5, 458}}}},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			got, err := d.FindText(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i].Page != tc.want[i].Page || !near(got[i].Rect, tc.want[i].Rect, 0.01) {
					t.Fatalf("match %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestFindTextNotFound(t *testing.T) {
	in := textFixture()
	d, _ := Open(bytes.NewReader(in), int64(len(in)))
	for _, text := range []string{"不存在的关键字", "Approvals", "盖章章"} {
		_, err := d.FindText(text)
		var nf *TextNotFoundError
		if !errors.As(err, &nf) || nf.Text != text || nf.Pages != 4 {
			t.Errorf("%q: %v", text, err)
		}
	}
	if _, err := d.FindText(" \t"); err == nil || errors.As(err, new(*TextNotFoundError)) {
		t.Errorf("blank search: %v", err)
	}
}

// TestPlacementForMatch signs centred on each match (pages rotated 0, 90,
// 180 and 270, with CropBox and MediaBox offsets) and checks the widget
// lands on the text, offsets going right and down as the page is seen.
func TestPlacementForMatch(t *testing.T) {
	in := textFixture()
	d, _ := Open(bytes.NewReader(in), int64(len(in)))
	matches, err := d.FindText("盖章")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range matches {
		for _, off := range [][2]float64{{0, 0}, {10, 5}} {
			t.Run(fmt.Sprintf("page %d offset %v", m.Page, off), func(t *testing.T) {
				page, x, y := d.PlacementForMatch(m, 30, 20, off[0], off[1])
				if page != m.Page {
					t.Fatalf("page %d", page)
				}
				out := sign(t, in, SignatureRequest{Page: page, XMM: x, YMM: y, WidthMM: 30, HeightMM: 20})
				d2, s := signatureNamed(t, out, "Seal1")
				p, _ := d2.Page(page)
				su, st := p.toDisplay((s.Rect[0]+s.Rect[2])/2, (s.Rect[1]+s.Rect[3])/2)
				mu, mt := p.toDisplay((m.Rect[0]+m.Rect[2])/2, (m.Rect[1]+m.Rect[3])/2)
				if math.Abs(su-mu-off[0]*ptPerMM) > 0.01 || math.Abs(st-mt-off[1]*ptPerMM) > 0.01 {
					t.Fatalf("seal centre %v,%v; text centre %v,%v (display pt)", su, st, mu, mt)
				}
				// The seal's size is as asked, upright as the page is seen.
				u0, t0 := p.toDisplay(s.Rect[0], s.Rect[1])
				u1, t1 := p.toDisplay(s.Rect[2], s.Rect[3])
				if math.Abs(math.Abs(u1-u0)-30*ptPerMM) > 0.01 || math.Abs(math.Abs(t1-t0)-20*ptPerMM) > 0.01 {
					t.Fatalf("seal %v", s.Rect)
				}
			})
		}
	}
}

func TestDisplayRoundTrip(t *testing.T) {
	for _, rot := range []int{0, 90, 180, 270} {
		p := &Page{MediaBox: [4]float64{10, 20, 600, 900}, CropBox: [4]float64{0, 50, 500, 1000}, Rotate: rot}
		for _, pt := range [][2]float64{{0, 0}, {12.5, 300}, {400, 7}} {
			x, y := p.toUser(pt[0], pt[1])
			u, v := p.toDisplay(x, y)
			if math.Abs(u-pt[0]) > 1e-9 || math.Abs(v-pt[1]) > 1e-9 {
				t.Errorf("rotate %d: %v → %v,%v → %v,%v", rot, pt, x, y, u, v)
			}
		}
	}
}
