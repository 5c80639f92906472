package pdf

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eseal/pdf/pdftest"
)

// onePage builds a one-page PDF drawing content with font F1 (object 4,
// Identity-H with the ToUnicode stream toUnicode) and the given extra
// objects from number 6 on.
func onePage(content, toUnicode string, extra ...pdfObj) []byte {
	objs := []pdfObj{
		{body: "<</Type/Catalog/Pages 2 0 R>>"},
		{body: "<</Type/Pages/Kids [3 0 R]/Count 1/MediaBox [0 0 595 842]>>"},
		{body: "<</Type/Page/Parent 2 0 R/Contents 5 0 R/Resources<</Font<</F1 4 0 R>>/XObject<</Fm1 6 0 R/Fm2 7 0 R>>>>>>"},
		{body: "<</Type/Font/Subtype/Type0/BaseFont/X/Encoding/Identity-H/DescendantFonts [<</Type/Font/Subtype/CIDFontType2/BaseFont/X>>]/ToUnicode 8 0 R>>"},
		{stream: content},
	}
	objs = append(objs, extra...)
	for len(objs) < 7 {
		objs = append(objs, pdfObj{body: "null"})
	}
	objs = append(objs[:7], pdfObj{stream: toUnicode})
	return buildPDF(objs)
}

const simpleToUnicode = "begincmap 1 begincodespacerange <0000> <FFFF> endcodespacerange 1 beginbfchar <0001> <76D6> endbfchar endcmap"

func TestFindTextHostile(t *testing.T) {
	formLoop := "/Type/XObject/Subtype/Form/BBox [0 0 10 10]/Resources<</XObject<</Fm1 6 0 R/Fm2 7 0 R>>/Font<</F1 4 0 R>>>>"
	tests := []struct {
		name string
		pdf  []byte
		want error // nil: the text is found or not found, without error
	}{
		{"form draws itself", onePage("/Fm1 Do", simpleToUnicode,
			pdfObj{dict: formLoop, stream: "BT /F1 10 Tf 0 0 Td <0001> Tj ET /Fm1 Do"}), nil},
		{"two forms draw each other", onePage("/Fm1 Do", simpleToUnicode,
			pdfObj{dict: formLoop, stream: "/Fm2 Do /Fm2 Do"}, pdfObj{dict: formLoop, stream: "/Fm1 Do /Fm1 Do BT /F1 10 Tf <0001> Tj ET"}), nil},
		{"bfrange over all 4-byte codes", onePage("BT /F1 10 Tf <0001> Tj ET",
			"begincmap 1 beginbfrange <00000000> <FFFFFFFF> <0041> endbfrange 1 beginbfrange <0000> <FFFF> [<41>] endbfrange 1 beginbfchar <0001> <76D6> endbfchar endcmap"), nil},
		{"ToUnicode of garbage", onePage("BT /F1 10 Tf <0001> Tj ET", "begincmap {{{ ) > ] begincodespacerange <> <FFFFFFFFFF> 1 2 3 beginbfrange <01> [ endcmap"), nil},
		{"deep arrays and stray delimiters", onePage(strings.Repeat("[", 5000)+" ) } > BT /F1 10 Tf <0001> Tj ET", simpleToUnicode), nil},
		{"unterminated inline image", onePage("BT /F1 10 Tf <0001> Tj ET BI /W 1 ID xxxxx", simpleToUnicode), nil},
		{"huge q nesting", onePage(strings.Repeat("q ", 100000)+"BT /F1 10 Tf <0001> Tj ET"+strings.Repeat(" Q", 100000), simpleToUnicode), nil},
		{"non-finite numbers", onePage("1e999 0 0 1 0 0 cm BT /F1 1e400 Tf 1 0 0 1 nan inf Tm <0001> Tj ET", simpleToUnicode), nil},
		{"missing font", onePage("BT /F9 10 Tf (abc) Tj ET BT <0001> Tj ET", simpleToUnicode), nil},
		{"operator flood through forms", onePage(strings.Repeat("/Fm1 Do ", 2000), simpleToUnicode,
			pdfObj{dict: formLoop, stream: strings.Repeat("/Fm2 Do ", 2000)},
			pdfObj{dict: "/Type/XObject/Subtype/Form/BBox [0 0 1 1]", stream: strings.Repeat("0 0 m ", 20)}), errTextBudget},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Open(bytes.NewReader(tc.pdf), int64(len(tc.pdf)))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = d.FindText("盖")
			if el := time.Since(start); el > 10*time.Second {
				t.Errorf("took %v", el)
			}
			switch {
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("got %v, want %v", err, tc.want)
			case tc.want == nil && err != nil && !isNotFound(err):
				t.Fatalf("got %v", err)
			}
		})
	}
}

func FuzzFindText(f *testing.F) {
	f.Add(textFixture())
	f.Add(pdftest.Document(pdftest.Options{Pages: 2}))
	f.Add(onePage("/Fm1 Do", simpleToUnicode, pdfObj{dict: "/Subtype/Form", stream: "BT /F1 10 Tf <0001> Tj ET"}))
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.pdf"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := Open(bytes.NewReader(in), int64(len(in)))
		if err != nil {
			return
		}
		for _, k := range []string{"盖章", "A"} {
			m, err := d.FindText(k)
			if err == nil && len(m) == 0 {
				t.Fatal("no matches and no error")
			}
			for _, x := range m {
				d.PlacementForMatch(x, 40, 40, 0, 0)
			}
		}
	})
}

// TestFindTextMutations runs FindText over byte-mutated fixtures: a
// deterministic stand-in for FuzzFindText where the fuzzing engine cannot
// run. A hang fails through the test timeout.
func TestFindTextMutations(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.pdf"))
	seeds := [][]byte{textFixture()}
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		seeds = append(seeds, b)
	}
	rng := rand.New(rand.NewSource(1))
	for range n {
		in := append([]byte(nil), seeds[rng.Intn(len(seeds))]...)
		for k := 0; k < 1+rng.Intn(4); k++ {
			i := rng.Intn(len(in))
			switch rng.Intn(3) {
			case 0:
				in[i] = byte(rng.Intn(256))
			case 1:
				in[i] = "0123456789"[rng.Intn(10)]
			case 2:
				in = append(in[:i], in[min(len(in), i+rng.Intn(8)):]...)
			}
		}
		if d, err := Open(bytes.NewReader(in), int64(len(in))); err == nil {
			if m, err := d.FindText("盖章"); err == nil && len(m) == 0 {
				t.Fatal("no matches and no error")
			}
		}
	}
}
