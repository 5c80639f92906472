package pdf

// Keyword search: page content streams (and the Form XObjects they draw)
// are interpreted with the text state of ISO 32000-1 §9 to find where each
// glyph lands in default user space and what text it stands for, so a seal
// can be centred on words such as 盖章 or an authority's name.

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"unicode"
)

// Limits against hostile content. Exceeding a work limit makes FindText
// fail rather than run on; the glyph limit only stops collecting glyphs.
const (
	maxTextOps    = 1 << 23 // operators and glyphs interpreted per search
	formOpCost    = 64      // what running a Form XObject counts against maxTextOps
	maxTextBytes  = 1 << 28 // content bytes lexed per search
	maxPageGlyphs = 1 << 19 // glyphs kept per page
	maxFormDepth  = 8       // nesting of Form XObjects
	maxGStack     = 256     // depth of q/Q kept
	maxOperands   = 32      // operands kept before an operator
	maxFormCache  = 32 << 20
)

var errTextBudget = &FormatError{Offset: -1, Reason: "page content too large or too complex to search"}

// A TextMatch is one occurrence of a searched text.
type TextMatch struct {
	Page int        // 1-based
	Rect [4]float64 // llx, lly, urx, ury in default user space, covering the matched glyphs
}

// A matrix is [a b c d e f] as in the cm operator; points are row vectors.
type matrix [6]float64

var identity = matrix{1, 0, 0, 1, 0, 0}

// mul returns m × n: first m, then n.
func (m matrix) mul(n matrix) matrix {
	return matrix{
		m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4], m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

func (m matrix) apply(x, y float64) (float64, float64) {
	return x*m[0] + y*m[2] + m[4], x*m[1] + y*m[3] + m[5]
}

func translate(x, y float64) matrix { return matrix{1, 0, 0, 1, x, y} }

// gstate is the part of the graphics state text extraction needs.
type gstate struct {
	ctm                  matrix
	tc, tw, th, tl, rise float64
	font                 *font
	size                 float64
}

// A textGlyph is one shown glyph: its text and its box in user space.
type textGlyph struct {
	text string
	box  [4]float64
}

// interp runs content streams for one search; fonts and CMaps are parsed
// once per search.
type interp struct {
	d         *Document
	fonts     map[any]*font
	cmaps     map[*Stream]*cmap
	formData  map[*Stream][]byte
	formBytes int
	ops       int
	bytes     int64
	glyphs    []textGlyph
	forms     []*Stream // Form XObjects being run, for cycles
}

func newInterp(d *Document) *interp {
	return &interp{d: d, fonts: map[any]*font{}, cmaps: map[*Stream]*cmap{}, formData: map[*Stream][]byte{}}
}

// FindText returns every occurrence of text on every page, in page order
// and, within a page, in content stream order. White space is ignored on
// both sides (text is often drawn in separate runs or with positioning
// instead of spaces), full-width ASCII matches ASCII and Kangxi radicals
// match the ideographs they resemble. When text occurs nowhere the error is
// a *TextNotFoundError.
func (d *Document) FindText(text string) ([]TextMatch, error) {
	needle := foldText(text)
	if len(needle) == 0 {
		return nil, errors.New("pdf: empty search text")
	}
	in := newInterp(d)
	var out []TextMatch
	np := d.NumPages()
	for n := 1; n <= np; n++ {
		p, err := d.Page(n)
		if err != nil {
			return nil, err
		}
		glyphs, err := in.pageGlyphs(p)
		if err != nil {
			return nil, err
		}
		out = appendMatches(out, n, glyphs, needle)
	}
	if len(out) == 0 {
		return nil, &TextNotFoundError{Text: text, Pages: np}
	}
	return out, nil
}

// PlacementForMatch converts "centre a widthMM × heightMM seal on m,
// shifted by dxMM right and dyMM down as the page is seen" into the
// placement of SignatureRequest: the page and the seal's top-left corner in
// millimetres from the top-left corner of the visible page (CropBox ∩
// MediaBox, after /Rotate).
func (d *Document) PlacementForMatch(m TextMatch, widthMM, heightMM, dxMM, dyMM float64) (page int, xMM, yMM float64) {
	p, err := d.Page(m.Page)
	if err != nil {
		// PrepareSignature will report the page; keep the numbers sane.
		p = &Page{Number: m.Page, MediaBox: [4]float64{0, 0, 612, 792}, CropBox: [4]float64{0, 0, 612, 792}}
	}
	u, t := p.toDisplay((m.Rect[0]+m.Rect[2])/2, (m.Rect[1]+m.Rect[3])/2)
	return m.Page, u/ptPerMM - widthMM/2 + dxMM, t/ptPerMM - heightMM/2 + dyMM
}

// foldText is the rune sequence a text is matched by.
func foldText(s string) []rune {
	var out []rune
	for _, r := range s {
		if r = foldRune(r); !ignorable(r) {
			out = append(out, r)
		}
	}
	return out
}

func ignorable(r rune) bool {
	return unicode.IsSpace(r) || r == 0x200b || r == 0xfeff || r == 0xad || r == 0
}

// appendMatches finds needle in the page's glyphs (non-overlapping, left
// to right) and drops a match that repeats an earlier one in place, as
// producers do when they fake bold by drawing a run twice.
func appendMatches(out []TextMatch, page int, glyphs []textGlyph, needle []rune) []TextMatch {
	var hay []rune
	var owner []int
	for i, g := range glyphs {
		for _, r := range g.text {
			if r = foldRune(r); !ignorable(r) {
				hay = append(hay, r)
				owner = append(owner, i)
			}
		}
	}
	first := len(out)
	for i := 0; i+len(needle) <= len(hay); {
		if !runesAt(hay, i, needle) {
			i++
			continue
		}
		j := i + len(needle) - 1
		r := glyphs[owner[i]].box
		for k := owner[i] + 1; k <= owner[j]; k++ {
			b := glyphs[k].box
			r = [4]float64{min(r[0], b[0]), min(r[1], b[1]), max(r[2], b[2]), max(r[3], b[3])}
		}
		if !repeats(out[first:], r) {
			out = append(out, TextMatch{Page: page, Rect: r})
		}
		i = j + 1
	}
	return out
}

func runesAt(hay []rune, i int, needle []rune) bool {
	for k, r := range needle {
		if hay[i+k] != r {
			return false
		}
	}
	return true
}

func repeats(prev []TextMatch, r [4]float64) bool {
	tol := max(1, 0.15*(r[3]-r[1]))
	for _, m := range prev {
		if math.Abs(m.Rect[0]-r[0]) <= tol && math.Abs(m.Rect[1]-r[1]) <= tol && math.Abs(m.Rect[2]-r[2]) <= tol && math.Abs(m.Rect[3]-r[3]) <= tol {
			return true
		}
	}
	return false
}

// pageResources returns the page's /Resources, inherited through /Parent.
func (d *Document) pageResources(p *Page) Dict {
	node := p.Dict
	for i := 0; i < maxTreeDepth && node != nil; i++ {
		if r, ok := d.resolveDict(node["Resources"]); ok {
			return r
		}
		node, _ = d.resolveDict(node["Parent"])
	}
	return nil
}

// pageGlyphs interprets the page's content and returns its glyphs.
func (in *interp) pageGlyphs(p *Page) ([]textGlyph, error) {
	d := in.d
	in.glyphs = in.glyphs[:0]
	co, err := d.Resolve(p.Dict["Contents"])
	if err != nil {
		return nil, nil // unreadable content: nothing to find here
	}
	var streams []Object
	switch c := co.(type) {
	case *Stream:
		streams = []Object{c}
	case Array:
		streams = c
	}
	var data []byte
	for _, s := range streams {
		so, err := d.Resolve(s)
		if err != nil {
			continue
		}
		st, ok := so.(*Stream)
		if !ok {
			continue
		}
		if in.bytes += st.Length; in.bytes > maxTextBytes {
			return nil, errTextBudget
		}
		b, err := d.decodeStream(st)
		if err != nil {
			continue
		}
		data = append(append(data, b...), '\n')
		if int64(len(data)) > maxDecoded {
			return nil, errTextBudget
		}
	}
	gs := gstate{ctm: identity, th: 1}
	if err := in.run(data, d.pageResources(p), gs, 0); err != nil {
		return nil, err
	}
	return in.glyphs, nil
}

// run interprets one content stream.
func (in *interp) run(data []byte, res Dict, gs gstate, depth int) error {
	if in.bytes += int64(len(data)); in.bytes > maxTextBytes {
		return errTextBudget
	}
	l := newBytesLexer(data)
	var stack []gstate
	skipped := 0 // q operators not pushed because the stack was full
	tm, tlm := identity, identity
	ops := make([]Object, 0, maxOperands)
	for {
		l.skipWS()
		if l.pos >= l.size {
			return nil
		}
		start := l.pos
		o, err := l.object()
		if err != nil {
			if l.pos <= start {
				l.pos = start + 1
			}
			ops = ops[:0]
			continue
		}
		kw, isOp := o.(keyword)
		if !isOp {
			if len(ops) < maxOperands {
				ops = append(ops, o)
			}
			continue
		}
		if in.ops++; in.ops > maxTextOps {
			return errTextBudget
		}
		switch kw {
		case "q":
			if len(stack) < maxGStack {
				stack = append(stack, gs)
			} else {
				skipped++
			}
		case "Q":
			if skipped > 0 {
				skipped--
			} else if len(stack) > 0 {
				gs = stack[len(stack)-1]
				stack = stack[:len(stack)-1]
			}
		case "cm":
			if v, ok := operands(ops, 6); ok {
				gs.ctm = matrix(v).mul(gs.ctm)
			}
		case "BT":
			tm, tlm = identity, identity
		case "Tc", "Tw", "Tz", "TL", "Ts":
			if v, ok := operands(ops, 1); ok {
				switch kw {
				case "Tc":
					gs.tc = v[0]
				case "Tw":
					gs.tw = v[0]
				case "Tz":
					gs.th = v[0] / 100
				case "TL":
					gs.tl = v[0]
				case "Ts":
					gs.rise = v[0]
				}
			}
		case "Tf":
			if len(ops) >= 2 {
				name, _ := ops[len(ops)-2].(Name)
				if size, ok := toFloat(ops[len(ops)-1]); ok && finite(size) {
					gs.font = in.font(res, name)
					gs.size = size
				}
			}
		case "Td", "TD":
			if v, ok := operands(ops, 2); ok {
				if kw == "TD" {
					gs.tl = -v[1]
				}
				tlm = translate(v[0], v[1]).mul(tlm)
				tm = tlm
			}
		case "Tm":
			if v, ok := operands(ops, 6); ok {
				tlm = matrix(v)
				tm = tlm
			}
		case "T*":
			tlm = translate(0, -gs.tl).mul(tlm)
			tm = tlm
		case "Tj", "'", "\"":
			if len(ops) == 0 {
				break
			}
			s, ok := ops[len(ops)-1].(String)
			if !ok {
				break
			}
			if kw == "\"" {
				if v, ok := operands(ops[:len(ops)-1], 2); ok {
					gs.tw, gs.tc = v[0], v[1]
				}
			}
			if kw != "Tj" {
				tlm = translate(0, -gs.tl).mul(tlm)
				tm = tlm
			}
			if err := in.show(s, &gs, &tm); err != nil {
				return err
			}
		case "TJ":
			if len(ops) == 0 {
				break
			}
			arr, _ := ops[len(ops)-1].(Array)
			for _, e := range arr {
				if s, ok := e.(String); ok {
					if err := in.show(s, &gs, &tm); err != nil {
						return err
					}
				} else if n, ok := toFloat(e); ok && finite(n) {
					adj := -n / 1000 * gs.size
					if gs.font != nil && gs.font.vertical {
						tm = translate(0, adj).mul(tm)
					} else {
						tm = translate(adj*gs.th, 0).mul(tm)
					}
				}
			}
		case "Do":
			if len(ops) > 0 {
				if name, ok := ops[len(ops)-1].(Name); ok {
					if err := in.doForm(res, name, gs, depth); err != nil {
						return err
					}
				}
			}
		case "BI":
			skipInlineImage(l, data)
		}
		ops = ops[:0]
	}
}

// operands returns the last k operands as numbers.
func operands(ops []Object, k int) ([6]float64, bool) {
	var v [6]float64
	if len(ops) < k || k > 6 {
		return v, false
	}
	for i, o := range ops[len(ops)-k:] {
		f, ok := toFloat(o)
		if !ok || !finite(f) {
			return v, false
		}
		v[i] = f
	}
	return v, true
}

// show lays out the glyphs of one string.
func (in *interp) show(s String, gs *gstate, tm *matrix) error {
	f := gs.font
	if f == nil {
		f = tables().fallbackFont
	}
	for len(s) > 0 {
		if in.ops++; in.ops > maxTextOps {
			return errTextBudget
		}
		g := f.next(s)
		s = s[g.n:]
		w := f.width(g) * f.scale
		if len(in.glyphs) < maxPageGlyphs {
			trm := matrix{gs.size * gs.th, 0, 0, gs.size, 0, gs.rise}.mul(*tm).mul(gs.ctm)
			x0, y0, x1, y1 := 0.0, f.descent, w, f.ascent
			if f.vertical {
				x0, y0, x1, y1 = -w/2, f.dw2[1]/1000, w/2, 0
			}
			in.glyphs = append(in.glyphs, textGlyph{text: f.text(g), box: boxOf(trm, x0, y0, x1, y1)})
		}
		space := 0.0
		if g.n == 1 && g.code == ' ' {
			space = gs.tw
		}
		if f.vertical {
			*tm = translate(0, f.dw2[1]/1000*gs.size+gs.tc+space).mul(*tm)
		} else {
			*tm = translate((w*gs.size+gs.tc+space)*gs.th, 0).mul(*tm)
		}
	}
	return nil
}

// boxOf returns the bounding box of the rectangle (x0,y0)–(x1,y1) under m.
func boxOf(m matrix, x0, y0, x1, y1 float64) [4]float64 {
	b := [4]float64{1e300, 1e300, -1e300, -1e300}
	for _, p := range [4][2]float64{{x0, y0}, {x1, y0}, {x0, y1}, {x1, y1}} {
		x, y := m.apply(p[0], p[1])
		b = [4]float64{min(b[0], x), min(b[1], y), max(b[2], x), max(b[3], y)}
	}
	return b
}

// font returns the font named in the resources' /Font, parsed once.
func (in *interp) font(res Dict, name Name) *font {
	fonts, _ := in.d.resolveDict(res["Font"])
	entry, ok := fonts[name]
	if !ok {
		return nil
	}
	var key any
	if r, ok := entry.(Ref); ok {
		key = r
	}
	dict, ok := in.d.resolveDict(entry)
	if !ok {
		return nil
	}
	if key == nil {
		key = reflect.ValueOf(dict).UnsafePointer() // a direct font dictionary
	}
	if f, ok := in.fonts[key]; ok {
		return f
	}
	f := in.loadFont(dict)
	in.fonts[key] = f
	return f
}

// doForm runs a Form XObject; images and unknown XObjects are skipped
// without reading their data.
func (in *interp) doForm(res Dict, name Name, gs gstate, depth int) error {
	xobjs, _ := in.d.resolveDict(res["XObject"])
	o, err := in.d.Resolve(xobjs[name])
	if err != nil {
		return nil
	}
	st, ok := o.(*Stream)
	if !ok || st.Dict.name("Subtype") != "Form" || depth >= maxFormDepth {
		return nil
	}
	if in.ops += formOpCost; in.ops > maxTextOps {
		return errTextBudget
	}
	for _, f := range in.forms {
		if f == st {
			return nil
		}
	}
	data, ok := in.formData[st]
	if !ok {
		if in.bytes += st.Length; in.bytes > maxTextBytes {
			return errTextBudget
		}
		if data, err = in.d.decodeStream(st); err != nil {
			data = nil
		}
		if in.formBytes+len(data) <= maxFormCache {
			in.formBytes += len(data)
			in.formData[st] = data
		}
	}
	if m, ok := in.d.resolveArray(st.Dict["Matrix"]); ok && len(m) == 6 {
		var v [6]float64
		good := true
		for i := range m {
			if v[i], ok = in.d.number(m[i]); !ok {
				good = false
			}
		}
		if good {
			gs.ctm = matrix(v).mul(gs.ctm)
		}
	}
	fres, ok := in.d.resolveDict(st.Dict["Resources"])
	if !ok {
		fres = res
	}
	in.forms = append(in.forms, st)
	defer func() { in.forms = in.forms[:len(in.forms)-1] }()
	return in.run(data, fres, gs, depth+1)
}

// skipInlineImage moves l past BI … ID <data> EI.
func skipInlineImage(l *lexer, data []byte) {
	length := int64(-1)
	var key Name
	for i := 0; i < 2*maxOperands; i++ {
		l.skipWS()
		if l.pos >= l.size {
			return
		}
		start := l.pos
		o, err := l.object()
		if err != nil {
			if l.pos <= start {
				l.pos = start + 1
			}
			continue
		}
		if k, ok := o.(keyword); ok {
			if k == "ID" {
				break
			}
			continue
		}
		if key == "" {
			key, _ = o.(Name)
			continue
		}
		if v, ok := o.(int64); ok && (key == "L" || key == "Length") && v >= 0 {
			length = v
		}
		key = ""
	}
	l.pos++ // the single white-space byte after ID
	from := l.pos
	if length >= 0 && from+length <= l.size {
		l.pos = from + length
	}
	for p := l.pos; p < l.size; {
		i := bytes.Index(data[p:], []byte("EI"))
		if i < 0 {
			break
		}
		q := p + int64(i)
		before := q == from || isWS(int(data[q-1]))
		after := q+2 >= l.size || isWS(int(data[q+2])) || isDelim(int(data[q+2]))
		if before && after {
			l.pos = q + 2
			return
		}
		p = q + 1
	}
	l.pos = l.size
}
