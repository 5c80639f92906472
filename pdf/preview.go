package pdf

import (
	"strings"
	"unicode"
)

// A PagePreview is the text of one page laid out as a viewer shows it: what
// a responsible person reads on the approval page before deciding. It holds
// the glyphs the content stream shows (the same interpretation as
// FindText), not pictures or vector graphics.
type PagePreview struct {
	Page int
	// Width and Height are the visible page's size in points, after /Rotate.
	Width, Height float64
	// Glyphs are in display coordinates: points right and down from the
	// top-left corner of the visible page. Glyphs outside it, white space
	// and control characters are left out.
	Glyphs []PreviewGlyph
	// Truncated is true when the page shows more glyphs than a preview
	// holds.
	Truncated bool
}

// A PreviewGlyph is one shown glyph and its box (left, top, right, bottom)
// in display coordinates.
type PreviewGlyph struct {
	Text string
	Box  [4]float64
}

// MaxPreviewGlyphs bounds a page preview: a dense A4 page of text holds
// about 3,000.
const MaxPreviewGlyphs = 20000

// PagePreview lays out the text of page n (1-based). A page whose content
// cannot be read previews empty; one beyond the interpretation budget is an
// error, as for FindText.
func (d *Document) PagePreview(n int) (*PagePreview, error) {
	p, err := d.Page(n)
	if err != nil {
		return nil, err
	}
	w, h := p.displaySize()
	pv := &PagePreview{Page: n, Width: w, Height: h}
	glyphs, err := newInterp(d).pageGlyphs(p)
	if err != nil {
		return nil, err
	}
	for _, g := range glyphs {
		if len(pv.Glyphs) == MaxPreviewGlyphs {
			pv.Truncated = true
			break
		}
		if !previewable(g.text) {
			continue
		}
		u0, t0 := p.toDisplay(g.box[0], g.box[1])
		u1, t1 := p.toDisplay(g.box[2], g.box[3])
		b := [4]float64{min(u0, u1), min(t0, t1), max(u0, u1), max(t0, t1)}
		if b[2] <= 0 || b[3] <= 0 || b[0] >= w || b[1] >= h || b[2]-b[0] > w || b[3]-b[1] > h {
			continue // outside the visible page, or absurd
		}
		pv.Glyphs = append(pv.Glyphs, PreviewGlyph{Text: g.text, Box: b})
	}
	return pv, nil
}

// previewable reports whether a glyph's text is worth drawing: something
// visible, no control characters.
func previewable(s string) bool {
	if strings.TrimSpace(s) == "" {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == unicode.ReplacementChar || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}
