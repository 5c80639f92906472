package pdf

// Fonts as text extraction needs them: how a shown string splits into
// character codes, each code's text and advance width, and the vertical
// extent of a glyph. Glyph outlines are never read.

import (
	"strings"
	"unicode/utf8"
)

const maxWidthEntries = 1 << 16 // /W and /Widths entries kept per font

// Predefined CMap kinds of Type0 fonts.
const (
	cmapOther    = iota // byte-oriented CJK encodings: 1 or 2 bytes, no Unicode without ToUnicode
	cmapIdentity        // 2-byte code = CID
	cmapUCS2            // 2-byte code = UCS-2
	cmapUTF16           // code = UTF-16BE unit(s)
	cmapUTF8            // code = UTF-8 sequence
	cmapUTF32           // 4-byte code = UTF-32
	cmapEmbedded        // an embedded CMap stream
)

type widthRange struct {
	lo, hi uint32
	w      []float64 // one per code, or a single width for the whole range
}

type font struct {
	composite bool
	vertical  bool
	kind      int   // for composite fonts, one of the cmap kinds
	enc       *cmap // embedded encoding CMap (cmapEmbedded)
	toUni     *cmap
	asciiCID  bool // predefined Unicode CMap over an Adobe CJK collection: ASCII codes → CIDs 1–95

	simpleText [256]string
	simpleW    [256]float64 // in thousandths of an em; <0 = unknown
	missingW   float64

	widths []widthRange // composite: CID → width, sorted by lo
	dw     float64
	dw2    [2]float64 // vertical: position vector y and displacement

	scale           float64 // glyph space → text space (0.001, or Type3 /FontMatrix)
	ascent, descent float64 // in em
}

// A glyphCode is one character code of a shown string.
type glyphCode struct {
	code uint32
	n    int // bytes
}

// newFallbackFont makes the font used when a text operator runs without a
// usable one.
func newFallbackFont(standardEncoding *[256]rune) *font {
	f := &font{scale: 0.001, ascent: 0.8, descent: -0.2, missingW: 500}
	for c := range 256 {
		f.simpleW[c] = -1
		if r := standardEncoding[c]; r != 0 {
			f.simpleText[c] = string(r)
		}
	}
	return f
}

// loadFont builds the font described by dict. It never fails: missing or
// broken parts fall back to defaults.
func (in *interp) loadFont(dict Dict) *font {
	d := in.d
	f := &font{scale: 0.001, ascent: 0.8, descent: -0.2, dw: 1000, dw2: [2]float64{880, -1000}, missingW: 500}
	subtype := dict.name("Subtype")
	if tu, _ := d.Resolve(dict["ToUnicode"]); tu != nil {
		if st, ok := tu.(*Stream); ok {
			f.toUni = in.cmapOf(st)
		}
	}
	if subtype == "Type0" {
		f.composite = true
		in.loadComposite(f, dict)
		return f
	}
	base := string(dict.name("BaseFont"))
	if i := strings.IndexByte(base, '+'); i == 6 {
		base = base[i+1:]
	}
	if subtype == "Type3" {
		if m, ok := d.resolveArray(dict["FontMatrix"]); ok && len(m) == 6 {
			if a, ok := d.number(m[0]); ok && a != 0 && finite(a) {
				f.scale = a
			}
		}
	}
	desc, _ := d.resolveDict(dict["FontDescriptor"])
	f.readDescriptor(d, desc)
	if mw, ok := d.number(desc["MissingWidth"]); ok && mw >= 0 {
		f.missingW = mw
	}

	// Widths.
	for c := range f.simpleW {
		f.simpleW[c] = -1
	}
	first, _ := d.number(dict["FirstChar"])
	if ws, ok := d.resolveArray(dict["Widths"]); ok {
		for i, w := range ws {
			c := int(first) + i
			if c < 0 || c > 255 {
				continue
			}
			if v, ok := d.number(w); ok && v >= 0 {
				f.simpleW[c] = v
			}
		}
	} else {
		for c := 0x20; c < 0x7f; c++ {
			if w, ok := standardWidth(base, c); ok {
				f.simpleW[c] = w
			}
		}
	}

	// Text through the encoding: base table, then /Differences.
	table := &tables().standardEncoding
	if subtype == "TrueType" {
		table = &tables().winAnsiEncoding
	}
	enc, _ := d.Resolve(dict["Encoding"])
	var diffs Array
	switch e := enc.(type) {
	case Name:
		table = baseEncoding(e, table)
	case Dict:
		if b := e.name("BaseEncoding"); b != "" {
			table = baseEncoding(b, table)
		}
		diffs, _ = d.resolveArray(e["Differences"])
	}
	for c := range 256 {
		if r := table[c]; r != 0 {
			f.simpleText[c] = string(r)
		}
	}
	code := -1
	for _, o := range diffs {
		o, _ = d.Resolve(o)
		switch v := o.(type) {
		case int64:
			code = int(v)
		case Name:
			if code >= 0 && code < 256 {
				if s, ok := glyphText(string(v)); ok {
					f.simpleText[code] = s
				} else {
					f.simpleText[code] = ""
				}
			}
			code++
		}
	}
	return f
}

func baseEncoding(n Name, def *[256]rune) *[256]rune {
	switch n {
	case "WinAnsiEncoding":
		return &tables().winAnsiEncoding
	case "MacRomanEncoding":
		return &tables().macRomanEncoding
	case "StandardEncoding":
		return &tables().standardEncoding
	}
	return def
}

func (f *font) readDescriptor(d *Document, desc Dict) {
	if desc == nil {
		return
	}
	a, ok1 := d.number(desc["Ascent"])
	dd, ok2 := d.number(desc["Descent"])
	if ok1 && ok2 && a > 0 && a <= 1500 && dd <= 0 && dd >= -1000 && a-dd >= 500 {
		f.ascent, f.descent = a/1000, dd/1000
	}
}

func (in *interp) loadComposite(f *font, dict Dict) {
	d := in.d
	enc, _ := d.Resolve(dict["Encoding"])
	switch e := enc.(type) {
	case Name:
		f.kind, f.vertical = predefinedCMap(string(e))
	case *Stream:
		f.kind = cmapEmbedded
		f.enc = in.cmapOf(e)
		f.vertical = f.enc.wmode == 1
		if v, ok := e.Dict["WMode"].(int64); ok {
			f.vertical = v == 1
		}
		if len(f.enc.spaces) == 0 && len(f.enc.cid) == 0 && len(f.enc.cidRanges) == 0 {
			// Only a usecmap of a predefined CMap.
			f.kind, _ = predefinedCMap(string(f.enc.useCMap))
		}
	default:
		f.kind = cmapIdentity
	}
	descs, _ := d.resolveArray(dict["DescendantFonts"])
	if len(descs) == 0 {
		return
	}
	cid, _ := d.resolveDict(descs[0])
	if cid == nil {
		return
	}
	if info, _ := d.resolveDict(cid["CIDSystemInfo"]); info != nil {
		if o, _ := d.Resolve(info["Ordering"]); o != nil {
			if s, ok := o.(String); ok {
				switch string(s) {
				case "GB1", "CNS1", "Japan1", "Korea1":
					f.asciiCID = f.kind == cmapUCS2 || f.kind == cmapUTF16 || f.kind == cmapUTF8 || f.kind == cmapUTF32
				}
			}
		}
	}
	desc, _ := d.resolveDict(cid["FontDescriptor"])
	f.readDescriptor(d, desc)
	if v, ok := d.number(cid["DW"]); ok && v >= 0 {
		f.dw = v
	}
	if a, ok := d.resolveArray(cid["DW2"]); ok && len(a) == 2 {
		y, ok1 := d.number(a[0])
		w, ok2 := d.number(a[1])
		if ok1 && ok2 {
			f.dw2 = [2]float64{y, w}
		}
	}
	w, _ := d.resolveArray(cid["W"])
	entries := 0
	for i := 0; i < len(w) && entries < maxWidthEntries; {
		lo, ok := d.number(w[i])
		if !ok || lo < 0 || lo > 0xffff || i+1 >= len(w) {
			break
		}
		next, _ := d.Resolve(w[i+1])
		if arr, ok := next.(Array); ok {
			ws := make([]float64, 0, min(len(arr), maxWidthEntries))
			for _, e := range arr {
				v, _ := d.number(e)
				ws = append(ws, v)
				if entries++; entries >= maxWidthEntries {
					break
				}
			}
			if len(ws) > 0 {
				f.widths = append(f.widths, widthRange{uint32(lo), uint32(lo) + uint32(len(ws)) - 1, ws})
			}
			i += 2
			continue
		}
		if i+2 >= len(w) {
			break
		}
		hi, ok1 := d.number(w[i+1])
		v, ok2 := d.number(w[i+2])
		if ok1 && ok2 && hi >= lo && hi <= 0xffff {
			f.widths = append(f.widths, widthRange{uint32(lo), uint32(hi), []float64{v}})
			entries++
		}
		i += 3
	}
	sortWidths(f.widths)
}

func sortWidths(ws []widthRange) {
	// insertion sort keeps this file free of another import; /W arrays
	// are nearly always sorted already
	for i := 1; i < len(ws); i++ {
		for j := i; j > 0 && ws[j].lo < ws[j-1].lo; j-- {
			ws[j], ws[j-1] = ws[j-1], ws[j]
		}
	}
}

// predefinedCMap classifies a predefined CMap name and tells whether it
// writes vertically.
func predefinedCMap(name string) (kind int, vertical bool) {
	vertical = name == "V" || strings.HasSuffix(name, "-V")
	switch {
	case strings.HasPrefix(name, "Identity"):
		return cmapIdentity, vertical
	case strings.Contains(name, "UCS2"):
		return cmapUCS2, vertical
	case strings.Contains(name, "UTF16"):
		return cmapUTF16, vertical
	case strings.Contains(name, "UTF8"):
		return cmapUTF8, vertical
	case strings.Contains(name, "UTF32"):
		return cmapUTF32, vertical
	}
	return cmapOther, vertical
}

// next splits the next code off s.
func (f *font) next(s []byte) glyphCode {
	n := 1
	if f.composite {
		switch f.kind {
		case cmapIdentity, cmapUCS2:
			n = 2
		case cmapUTF16:
			n = 2
			if len(s) >= 4 && s[0] >= 0xd8 && s[0] <= 0xdb {
				n = 4
			}
		case cmapUTF8:
			switch {
			case s[0] >= 0xf0:
				n = 4
			case s[0] >= 0xe0:
				n = 3
			case s[0] >= 0xc0:
				n = 2
			}
		case cmapUTF32:
			n = 4
		case cmapEmbedded:
			if n = f.enc.codeLen(s); n == 0 {
				n = f.enc.shortest()
			}
		default:
			if s[0] >= 0x81 && s[0] <= 0xfe {
				n = 2
			}
		}
	}
	n = max(1, min(n, len(s)))
	return glyphCode{codeValue(s[:n]), n}
}

// text returns the Unicode text of a code ("\uFFFD" when unknown).
func (f *font) text(g glyphCode) string {
	k := codeKey{uint8(g.n), g.code}
	if f.toUni != nil {
		if s, ok := f.toUni.lookupText(k); ok {
			return s
		}
	}
	if !f.composite {
		if s := f.simpleText[g.code&0xff]; s != "" {
			return s
		}
		return "\ufffd"
	}
	switch f.kind {
	case cmapUCS2, cmapUTF32:
		if utf8.ValidRune(rune(g.code)) {
			return string(rune(g.code))
		}
	case cmapUTF16:
		if g.n == 4 {
			return string(utf16Text([]byte{byte(g.code >> 24), byte(g.code >> 16), byte(g.code >> 8), byte(g.code)}))
		}
		if utf8.ValidRune(rune(g.code)) {
			return string(rune(g.code))
		}
	case cmapUTF8:
		b := []byte{byte(g.code >> 24), byte(g.code >> 16), byte(g.code >> 8), byte(g.code)}[4-g.n:]
		if r, size := utf8.DecodeRune(b); size == len(b) && r != utf8.RuneError {
			return string(r)
		}
	}
	return "\ufffd"
}

// width returns the horizontal advance of a code in thousandths of an em
// (glyph space units for Type3 fonts).
func (f *font) width(g glyphCode) float64 {
	if !f.composite {
		if w := f.simpleW[g.code&0xff]; w >= 0 {
			return w
		}
		return f.missingW
	}
	cid, ok := f.cidOf(g)
	if !ok {
		return f.dw
	}
	lo, hi := 0, len(f.widths)
	for lo < hi { // last range with lo <= cid
		m := (lo + hi) / 2
		if f.widths[m].lo <= cid {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo > 0 {
		r := f.widths[lo-1]
		if cid <= r.hi {
			if len(r.w) == 1 {
				return r.w[0]
			}
			return r.w[cid-r.lo]
		}
	}
	return f.dw
}

func (f *font) cidOf(g glyphCode) (uint32, bool) {
	switch f.kind {
	case cmapIdentity:
		return g.code, true
	case cmapEmbedded:
		return f.enc.cidOf(codeKey{uint8(g.n), g.code})
	}
	// Adobe's CJK collections put proportional ASCII at CIDs 1–95.
	if f.asciiCID && g.code >= 0x20 && g.code <= 0x7e {
		return g.code - 0x1f, true
	}
	return 0, false
}

// cmapOf parses a CMap stream once per search.
func (in *interp) cmapOf(st *Stream) *cmap {
	if m, ok := in.cmaps[st]; ok {
		return m
	}
	var m *cmap
	if st.Length > maxDecoded {
		m = parseCMap(nil)
	} else if data, err := in.d.decodeStream(st); err == nil {
		m = parseCMap(data)
	} else {
		m = parseCMap(nil)
	}
	in.cmaps[st] = m
	return m
}

// Small typed accessors that resolve references.

func (d *Document) number(o Object) (float64, bool) {
	o, err := d.Resolve(o)
	if err != nil {
		return 0, false
	}
	v, ok := toFloat(o)
	return v, ok && finite(v)
}

func (d *Document) resolveArray(o Object) (Array, bool) {
	o, err := d.Resolve(o)
	if err != nil {
		return nil, false
	}
	a, ok := o.(Array)
	return a, ok
}

func (d *Document) resolveDict(o Object) (Dict, bool) {
	o, err := d.Resolve(o)
	if err != nil {
		return nil, false
	}
	switch v := o.(type) {
	case Dict:
		return v, true
	case *Stream:
		return v.Dict, true
	}
	return nil, false
}
