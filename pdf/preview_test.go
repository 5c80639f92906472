package pdf

import (
	"bytes"
	"strings"
	"testing"
)

// TestPagePreview: a preview holds the page's shown text in display
// coordinates, on plain and rotated, cropped pages, and leaves out what
// lies outside the visible page.
func TestPagePreview(t *testing.T) {
	in := textFixture()
	d, err := Open(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	glyph := func(pv *PagePreview, text string) [][4]float64 {
		var out [][4]float64
		for _, g := range pv.Glyphs {
			if g.Text == text {
				out = append(out, g.Box)
			}
		}
		return out
	}
	tests := []struct {
		page          int
		width, height float64
		text          string
		want          [4]float64
	}{
		// Page 1: A4-ish 595 × 842, no rotation: t = 842 − y.
		{1, 595, 842, "盖", [4]float64{100, 126, 120, 146}},
		// Page 2: /Rotate 90, CropBox [20 30 500 800]: u = y − 30, t = x − 20.
		{2, 770, 480, "盖", [4]float64{266, 130, 286, 150}},
		{2, 770, 480, "章", [4]float64{266, 150, 286, 170}},
		// Page 3: /Rotate 180 on the 595 × 842 MediaBox: u = 595 − x, t = y.
		{3, 595, 842, "盖", [4]float64{425, 296, 445, 316}},
	}
	for _, tc := range tests {
		pv, err := d.PagePreview(tc.page)
		if err != nil {
			t.Fatal(err)
		}
		if !near([4]float64{0, 0, pv.Width, pv.Height}, [4]float64{0, 0, tc.width, tc.height}, 0.01) {
			t.Fatalf("page %d: %g × %g, want %g × %g", tc.page, pv.Width, pv.Height, tc.width, tc.height)
		}
		boxes := glyph(pv, tc.text)
		found := false
		for _, b := range boxes {
			found = found || near(b, tc.want, 0.01)
		}
		if !found {
			t.Errorf("page %d %q: boxes %v, want one at %v", tc.page, tc.text, boxes, tc.want)
		}
		for _, g := range pv.Glyphs {
			if g.Box[2] <= 0 || g.Box[3] <= 0 || g.Box[0] >= pv.Width || g.Box[1] >= pv.Height || strings.TrimSpace(g.Text) == "" {
				t.Errorf("page %d: glyph %+v outside the page or blank", tc.page, g)
			}
		}
	}
	var all strings.Builder
	pv, _ := d.PagePreview(1)
	for _, g := range pv.Glyphs {
		all.WriteString(g.Text)
	}
	for _, want := range []string{"Approval", "审批", "Größe"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("page 1's preview text %q lacks %q", all.String(), want)
		}
	}
	if _, err := d.PagePreview(9); err == nil {
		t.Error("preview of a page that does not exist: no error")
	}
}

// FuzzPagePreview: any input either fails to open, fails with an error, or
// previews within the page.
func FuzzPagePreview(f *testing.F) {
	f.Add(textFixture())
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := Open(bytes.NewReader(in), int64(len(in)))
		if err != nil {
			return
		}
		pv, err := d.PagePreview(1)
		if err != nil {
			return
		}
		if len(pv.Glyphs) > MaxPreviewGlyphs {
			t.Fatalf("%d glyphs", len(pv.Glyphs))
		}
		for _, g := range pv.Glyphs {
			if g.Box[0] >= pv.Width || g.Box[1] >= pv.Height || g.Box[2] <= 0 || g.Box[3] <= 0 {
				t.Fatalf("glyph %+v outside %g × %g", g, pv.Width, pv.Height)
			}
		}
	})
}
