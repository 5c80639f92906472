package seal

// Drawing a seal as staff expect one (制章): a red round seal, the unit's
// name set in an arc just inside the rim, a five-pointed star, and the
// seal's name in a line below the star, on a transparent background. The
// characters come from a CJK font found on the machine (scripts/deps.sh
// installs Debian's fonts-wqy-zenhei); without one the picture is drawn
// without names — never with missing-glyph boxes.

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"strings"
	"sync"

	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// DefaultSealFonts are the CJK fonts looked for, in order, when none is
// configured (ESEAL_SEAL_FONT or Options.SealFont).
var DefaultSealFonts = []string{
	"/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
	"/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
	"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
	"/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
	"/usr/share/fonts/truetype/arphic/uming.ttc",
}

// ErrNoSealFont means no CJK font was found for seal pictures.
var ErrNoSealFont = errors.New("no CJK font for seal pictures: install one (apt-get install fonts-wqy-zenhei) or set ESEAL_SEAL_FONT to a TTF/TTC/OTF file")

// SealFont is a parsed font for drawing seal pictures.
type SealFont struct {
	Path string
	font *sfnt.Font
	mu   sync.Mutex
	buf  sfnt.Buffer
}

// maxFontBytes bounds a font file read for seal pictures.
const maxFontBytes = 64 << 20

// LoadSealFont reads the font at path (the first face of a collection), or
// with path "" the one named by ESEAL_SEAL_FONT, else the first of
// DefaultSealFonts that exists; ErrNoSealFont when there is none.
func LoadSealFont(path string) (*SealFont, error) {
	if path == "" {
		path = os.Getenv("ESEAL_SEAL_FONT")
	}
	if path == "" {
		for _, p := range DefaultSealFonts {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		return nil, ErrNoSealFont
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("seal font: %w", err)
	}
	if fi.Size() > maxFontBytes {
		return nil, fmt.Errorf("seal font %s: %d bytes, more than %d", path, fi.Size(), maxFontBytes)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("seal font: %w", err)
	}
	face, err := firstFace(b)
	if err != nil {
		return nil, fmt.Errorf("seal font %s: %w", path, err)
	}
	f, err := sfnt.Parse(face)
	if err != nil {
		return nil, fmt.Errorf("seal font %s: %w", path, err)
	}
	return &SealFont{Path: path, font: f}, nil
}

// firstFace returns the first face of a font file (TTF, OTF, or a TTC/OTC
// collection) as a font file of its own whose tables start on four-byte
// boundaries: Debian's CJK collections (WenQuanYi, AR PL) do not align
// them, which the sfnt package refuses.
func firstFace(b []byte) ([]byte, error) {
	u16 := func(o int) int { return int(b[o])<<8 | int(b[o+1]) }
	u32 := func(o int) int { return int(b[o])<<24 | int(b[o+1])<<16 | int(b[o+2])<<8 | int(b[o+3]) }
	bad := errors.New("not a TrueType/OpenType font or collection")
	if len(b) < 12 {
		return nil, bad
	}
	off := 0
	if string(b[:4]) == "ttcf" {
		if len(b) < 16 || u32(8) < 1 {
			return nil, bad
		}
		off = u32(12)
	}
	if off < 0 || off+12 > len(b) {
		return nil, bad
	}
	n := u16(off + 4)
	dir := off + 12
	if n == 0 || n > 256 || dir+16*n > len(b) {
		return nil, bad
	}
	head := 12 + 16*n
	out := make([]byte, head, len(b))
	copy(out, b[off:off+12])
	for i := 0; i < n; i++ {
		rec := dir + 16*i
		o, l := u32(rec+8), u32(rec+12)
		if o < 0 || l < 0 || o > len(b) || l > len(b)-o {
			return nil, bad
		}
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
		at := len(out)
		out = append(out, b[o:o+l]...)
		r := out[12+16*i : 12+16*i+16]
		copy(r, b[rec:rec+16])
		r[8], r[9], r[10], r[11] = byte(at>>24), byte(at>>16), byte(at>>8), byte(at)
	}
	return out, nil
}

// Has reports whether the font has a glyph for every character of s.
func (f *SealFont) Has(s string) bool {
	if f == nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range s {
		if x, err := f.font.GlyphIndex(&f.buf, r); err != nil || x == 0 {
			return false
		}
	}
	return true
}

// glyph draws one character into r: its outline at ppem pixels per em, centred
// horizontally on x = 0 with its baseline at y = 0, then rotated by angle
// (radians, clockwise as seen) and moved to (tx, ty).
func (f *SealFont) glyph(r *vector.Rasterizer, ch rune, ppem float64, scaleX float64, angle, tx, ty float64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	x, err := f.font.GlyphIndex(&f.buf, ch)
	if err != nil || x == 0 {
		return fmt.Errorf("seal font: no glyph for %q", ch)
	}
	size := fixed.Int26_6(ppem * 64)
	adv, err := f.font.GlyphAdvance(&f.buf, x, size, 0)
	if err != nil {
		return err
	}
	segs, err := f.font.LoadGlyph(&f.buf, x, size, nil)
	if err != nil {
		return err
	}
	half := float64(adv) / 64 / 2
	sin, cos := math.Sin(angle), math.Cos(angle)
	pt := func(p fixed.Point26_6) (float32, float32) {
		gx, gy := (float64(p.X)/64-half)*scaleX, float64(p.Y)/64
		return float32(tx + gx*cos - gy*sin), float32(ty + gx*sin + gy*cos)
	}
	for _, s := range segs {
		switch s.Op {
		case sfnt.SegmentOpMoveTo:
			r.MoveTo(pt(s.Args[0]))
		case sfnt.SegmentOpLineTo:
			r.LineTo(pt(s.Args[0]))
		case sfnt.SegmentOpQuadTo:
			x1, y1 := pt(s.Args[0])
			x2, y2 := pt(s.Args[1])
			r.QuadTo(x1, y1, x2, y2)
		case sfnt.SegmentOpCubeTo:
			x1, y1 := pt(s.Args[0])
			x2, y2 := pt(s.Args[1])
			x3, y3 := pt(s.Args[2])
			r.CubeTo(x1, y1, x2, y2, x3, y3)
		}
	}
	r.ClosePath()
	return nil
}

// SealPictureSpec is what a drawn seal picture shows.
type SealPictureSpec struct {
	// Rim is set in an arc just inside the ring (the unit's name); Center
	// in a line below the star (the seal's name, e.g. 行政审批专用章).
	Rim, Center string
	// Size is the picture's width and height in pixels; 0 means 512.
	Size int
}

// Band of the rim text, as fractions of the picture's size from its centre:
// glyphs stand between these radii. Tests look for the name there.
const (
	RimTextInner = 0.27
	RimTextOuter = 0.43
)

// DrawSealPicture draws a round seal as PNG: the ring, the rim text in an
// arc over the top (up to 240°, centred on 12 o'clock), the star, and the
// centre text below it. With font nil, or a font lacking a character of a
// text, that text is left out; the second result says whether every text
// was drawn.
func DrawSealPicture(spec SealPictureSpec, font *SealFont) ([]byte, bool) {
	size := spec.Size
	if size == 0 {
		size = 512
	}
	s := float64(size)
	c := s / 2
	r := vector.NewRasterizer(size, size)
	circle := func(radius float64, clockwise bool) {
		const n = 240
		for i := 0; i <= n; i++ {
			a := 2 * math.Pi * float64(i) / n
			if clockwise {
				a = -a
			}
			x, y := float32(c+radius*math.Cos(a)), float32(c+radius*math.Sin(a))
			if i == 0 {
				r.MoveTo(x, y)
			} else {
				r.LineTo(x, y)
			}
		}
		r.ClosePath()
	}
	// The ring; the inner circle winds the other way to cut the hole.
	circle(0.49*s, false)
	circle(0.45*s, true)
	// The star, a little above the centre.
	sy := c - 0.02*s
	outer, inner := 0.15*s, 0.058*s
	for i := 0; i < 10; i++ {
		rad := outer
		if i%2 == 1 {
			rad = inner
		}
		a := -math.Pi/2 + float64(i)*math.Pi/5
		x, y := float32(c+rad*math.Cos(a)), float32(sy+rad*math.Sin(a))
		if i == 0 {
			r.MoveTo(x, y)
		} else {
			r.LineTo(x, y)
		}
	}
	r.ClosePath()

	complete := true
	rim := []rune(strings.TrimSpace(spec.Rim))
	if len(rim) > 0 {
		if font.Has(string(rim)) {
			drawRim(r, font, rim, s)
		} else {
			complete = false
		}
	}
	center := []rune(strings.TrimSpace(spec.Center))
	if len(center) > 0 {
		if font.Has(string(center)) {
			// One line below the star, at most 0.52 of the picture wide,
			// glyphs narrowed rather than shrunk when the name is long.
			ppem := 0.085 * s
			scaleX := math.Min(1, 0.52*s/(ppem*float64(len(center))))
			x0 := c - ppem*scaleX*float64(len(center))/2
			base := c + 0.26*s
			for i, ch := range center {
				_ = font.glyph(r, ch, ppem, scaleX, 0, x0+ppem*scaleX*(float64(i)+0.5), base)
			}
		} else {
			complete = false
		}
	}
	// The coverage is the picture's alpha; every pixel is the seal's red.
	// Stored as a palette of the red at each of 256 alphas, the PNG is less
	// than half the size of an RGBA one (24 against 51 KB for a long unit
	// name), and it travels in every stamped document (inside the SESeal).
	cover := image.NewAlpha(image.Rect(0, 0, size, size))
	r.Draw(cover, cover.Bounds(), image.Opaque, image.Point{})
	palette := make(color.Palette, 256)
	for a := range palette {
		palette[a] = color.NRGBA{R: 0xd7, G: 0x0f, B: 0x0f, A: uint8(a)}
	}
	img := &image.Paletted{Pix: cover.Pix, Stride: cover.Stride, Rect: cover.Rect, Palette: palette}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, img); err != nil {
		panic(err) // encoding an in-memory NRGBA cannot fail
	}
	return buf.Bytes(), complete
}

// drawRim sets text in an arc inside the ring: characters upright toward
// the rim, evenly spaced over up to 240° centred on the top, their tops at
// RimTextOuter.
func drawRim(r *vector.Rasterizer, font *SealFont, text []rune, s float64) {
	n := float64(len(text))
	span := math.Min(240, 24*n) * math.Pi / 180 // a customary spacing, up to 240°
	step := span / n
	// The glyph height fits the band; its width the arc each character has.
	ppem := math.Min((RimTextOuter-RimTextInner)*s*0.95, 0.8*step*(RimTextOuter*s-0.07*s))
	baseR := RimTextOuter*s - 0.88*ppem // the baseline: the tops reach RimTextOuter
	c := s / 2
	for i, ch := range text {
		a := -span/2 + step*(float64(i)+0.5) // from 12 o'clock, clockwise
		// At angle 0 the glyph stands upright on a baseline baseR above the
		// centre; rotating that frame by a around the centre places it.
		tx := c + baseR*math.Sin(a)
		ty := c - baseR*math.Cos(a)
		_ = font.glyph(r, ch, ppem, 1, a, tx, ty)
	}
}
