package seal_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"eseal/pdf/pdftest"
	"eseal/seal"
)

// requireSealFont returns the CJK font scripts/deps.sh installs; without it
// the test is skipped, unless ESEAL_REQUIRE_TOOLS says the tools must be there.
func requireSealFont(t *testing.T) *seal.SealFont {
	t.Helper()
	f, err := seal.LoadSealFont("")
	if err != nil {
		if os.Getenv("ESEAL_REQUIRE_TOOLS") == "1" || !errors.Is(err, seal.ErrNoSealFont) {
			t.Fatalf("%v (scripts/deps.sh installs fonts-wqy-zenhei)", err)
		}
		t.Skip(err)
	}
	return f
}

// rimShapes counts the separate red shapes (8-connected) in the band of the
// rim text, leaving out the bottom 120° where the rim text does not run.
func rimShapes(t *testing.T, pngBytes []byte) int {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	s := float64(b.Dx())
	c := s / 2
	in := func(x, y int) bool {
		dx, dy := float64(x)+0.5-c, float64(y)+0.5-c
		r := math.Hypot(dx, dy) / s
		if r < seal.RimTextInner-0.01 || r > seal.RimTextOuter+0.005 {
			return false
		}
		if angle := math.Atan2(math.Abs(dx), dy); dy > 0 && angle < math.Pi/3 { // within 60° of straight down
			return false
		}
		_, _, _, a := img.At(x, y).RGBA()
		return a > 0x8000
	}
	seen := make([]bool, b.Dx()*b.Dy())
	shapes := 0
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			if seen[y*b.Dx()+x] || !in(x, y) {
				continue
			}
			shapes++
			stack := []image.Point{{x, y}}
			seen[y*b.Dx()+x] = true
			for len(stack) > 0 {
				p := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						q := image.Point{p.X + dx, p.Y + dy}
						if q.X < 0 || q.Y < 0 || q.X >= b.Dx() || q.Y >= b.Dy() || seen[q.Y*b.Dx()+q.X] || !in(q.X, q.Y) {
							continue
						}
						seen[q.Y*b.Dx()+q.X] = true
						stack = append(stack, q)
					}
				}
			}
		}
	}
	return shapes
}

// TestSealPictureCarriesTheName: a drawn seal has its unit's name in the
// band inside the ring — at least as many separate red shapes as the name
// has characters — where the ring-and-star picture has none; a font that
// lacks a character draws no name rather than boxes. The picture is one red
// at 256 alphas (a paletted PNG, under 32 KB even for a long name): it
// travels inside every stamped document.
func TestSealPictureCarriesTheName(t *testing.T) {
	font := requireSealFont(t)
	for _, name := range []string{"测试市行政审批服务局", "余姚市行政审批管理办公室", "气象局", "浙江省宁波市鄞州区人民政府行政审批服务中心"} {
		pic, complete := seal.DrawSealPicture(seal.SealPictureSpec{Rim: name, Center: "行政审批专用章"}, font)
		if !complete {
			t.Fatalf("%s: not every character drawn with %s", name, font.Path)
		}
		img, err := seal.DecodePicture(pic)
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := img.(*image.Paletted); !ok || len(p.Palette) != 256 || len(pic) > 32<<10 {
			t.Errorf("%s: %T picture of %d bytes, want a paletted PNG of at most 32 KB", name, img, len(pic))
		}
		if n, want := rimShapes(t, pic), len([]rune(name)); n < want {
			t.Errorf("%s: %d shapes in the rim band, want at least %d", name, n, want)
		}
		if dir := os.Getenv("ESEAL_ARTIFACTS"); dir != "" {
			os.MkdirAll(dir, 0o755)
			os.WriteFile(filepath.Join(dir, "seal-"+name+".png"), pic, 0o644)
		}
	}
	// No font, or a character the font lacks: no name, no boxes — the ring
	// and the star alone, with nothing in the rim band.
	bare, complete := seal.DrawSealPicture(seal.SealPictureSpec{Rim: "测试市行政审批服务局", Center: "专用章"}, nil)
	if complete || rimShapes(t, bare) != 0 {
		t.Errorf("without a font: complete %v, %d shapes", complete, rimShapes(t, bare))
	}
	if _, complete := seal.DrawSealPicture(seal.SealPictureSpec{Rim: "测试\U000F0000局"}, font); complete {
		t.Error("a character outside the font was reported drawn")
	}
}

// TestStampedSealRendering: a seal drawn with its unit's name, stamped and
// rendered by poppler, shows in red on the page; the picture and the
// rendering are kept as artefacts. The revision a stamping adds — written
// twice on the durable path and archived for decades — is under 96 KB
// for this unit's seal (157 KB when the picture was stored in RGBA and
// transparent pixels were black).
func TestStampedSealRendering(t *testing.T) {
	requireSealFont(t)
	f := newFixture(t)
	in := pdftest.Document(pdftest.Options{Title: "准予行政许可决定书"})
	doc := f.stamp(t, in, 1)
	if n := len(doc) - len(in); n > 96<<10 {
		t.Errorf("a stamping adds %d bytes to the document, want at most 96 KB", n)
	}
	pdftoppm, err := exec.LookPath("pdftoppm")
	if err != nil {
		if os.Getenv("ESEAL_REQUIRE_TOOLS") == "1" {
			t.Fatal("pdftoppm not on PATH (scripts/deps.sh installs poppler-utils)")
		}
		t.Skip("pdftoppm not on PATH")
	}
	pic, err := f.reg.Picture(context.Background(), f.sealID)
	if err != nil {
		t.Fatal(err)
	}
	if n := rimShapes(t, pic); n < len([]rune("测试市行政审批服务局")) {
		t.Fatalf("the seal init-style creation drew has %d shapes on its rim", n)
	}
	dir := t.TempDir()
	if out, err := exec.Command(pdftoppm, "-r", "100", "-f", "1", "-l", "1", "-png", "-singlefile", writeTemp(t, dir, "stamped.pdf", doc), filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "page.png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	red := 0
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r > 0xa000 && g < 0x6000 && bl < 0x6000 {
				red++
			}
		}
	}
	// A 42 mm seal at 100 dpi is about 165 pixels across; its ring alone is
	// thousands of red pixels.
	if red < 3000 {
		t.Fatalf("the rendered page has %d red pixels: the seal does not show", red)
	}
	if art := os.Getenv("ESEAL_ARTIFACTS"); art != "" {
		os.MkdirAll(art, 0o755)
		os.WriteFile(filepath.Join(art, "seal-picture.png"), pic, 0o644)
		os.WriteFile(filepath.Join(art, "seal-stamped-page.png"), b, 0o644)
	}
}

func writeTemp(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSealFontHostile: a font file that is not one, or is cut short, is a
// clear error, never a panic or a picture with boxes.
func TestSealFontHostile(t *testing.T) {
	real, err := seal.LoadSealFont("")
	var good []byte
	if err == nil {
		good, _ = os.ReadFile(real.Path)
	}
	dir := t.TempDir()
	cases := map[string][]byte{
		"empty":            {},
		"garbage":          []byte("not a font at all, just words"),
		"ttc, huge offset": append([]byte("ttcf\x00\x01\x00\x00\x00\x00\x00\x01"), 0x7f, 0xff, 0xff, 0xff),
		"ttf, no tables":   {0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	}
	if good != nil {
		cases["cut to 100 bytes"] = good[:100]
		cases["cut to 64 KiB"] = good[:64<<10]
	}
	for name, b := range cases {
		if _, err := seal.LoadSealFont(writeTemp(t, dir, "f", b)); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	if _, err := seal.LoadSealFont(filepath.Join(dir, "missing.ttf")); err == nil {
		t.Error("a missing font file loaded")
	}
}
