package pdf

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"testing"
)

// TestImageBinaryRoundTrip reads back what MarshalBinary wrote, with and
// without a soft mask, and stamps with it: the update is byte for byte the
// one the freshly prepared image makes.
func TestImageBinaryRoundTrip(t *testing.T) {
	for _, opaque := range []bool{false, true} {
		im, err := NewImage(sealPicture(opaque))
		if err != nil {
			t.Fatal(err)
		}
		b, err := im.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back Image
		if err := back.UnmarshalBinary(b); err != nil {
			t.Fatalf("opaque %v: %v", opaque, err)
		}
		if back.Width != im.Width || back.Height != im.Height || !bytes.Equal(back.rgb, im.rgb) ||
			!bytes.Equal(back.alpha, im.alpha) || (back.alpha == nil) != opaque {
			t.Fatalf("opaque %v: read back %dx%d rgb %d alpha %d", opaque, back.Width, back.Height, len(back.rgb), len(back.alpha))
		}
		in := genPDF(genOpts{})
		req := SignatureRequest{Page: 1, XMM: 20, YMM: 20, WidthMM: 40, HeightMM: 40, SigningTime: signTime}
		req.Image = im
		a := sign(t, in, req)
		req.Image = &back
		if b := sign(t, in, req); !bytes.Equal(a, b) {
			t.Fatalf("opaque %v: the read-back image stamps differently", opaque)
		}
	}
}

// TestImageBinaryHostile refuses damaged or forged binary forms with an
// ImageError and leaves the Image as it was.
func TestImageBinaryHostile(t *testing.T) {
	im := testImage(t)
	good, _ := im.MarshalBinary()
	z := func(n int) []byte { // a zlib stream of n zero bytes
		var buf bytes.Buffer
		zw := zlib.NewWriter(&buf)
		zw.Write(make([]byte, n))
		zw.Close()
		return buf.Bytes()
	}
	sealed := func(b []byte) []byte { // b with its checksum
		sum := sha256.Sum256(b)
		return append(b, sum[:]...)
	}
	header := func(vs ...uint64) []byte {
		b := []byte(imageMagic)
		for _, v := range vs {
			b = binary.AppendUvarint(b, v)
		}
		return b
	}
	form := func(w, h uint64, rgb, alpha []byte) []byte {
		b := header(w, h, uint64(len(rgb)), uint64(len(alpha)))
		return sealed(append(append(b, rgb...), alpha...))
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x10
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"other magic", sealed(append([]byte("eseal-pdf-image/2\n"), good[len(imageMagic):len(good)-sha256.Size]...))},
		{"header only", sealed([]byte(imageMagic))},
		{"truncated header", sealed(header(2, 2, 12))},
		{"cut short", good[:len(good)-1]},
		{"byte appended", append(bytes.Clone(good), 0)},
		{"one bit flipped", flipped},
		{"checksum missing", good[:len(good)-sha256.Size]},
		{"zero width", form(0, 2, z(0), nil)},
		{"too high", form(1, maxImageSide+1, z(3*(maxImageSide+1)), nil)},
		{"no RGB stream", form(2, 2, nil, nil)},
		{"RGB not zlib", form(2, 2, []byte("0123456789abcdef"), nil)},
		{"alpha not zlib", form(2, 2, z(12), []byte{0x78, 0x9d, 0})},
		{"preset dictionary", form(2, 2, []byte{0x78, 0xbb, 0, 0, 0, 0}, nil)},
		{"lengths disagree", sealed(append(header(2, 2, 100, 0), z(12)...))},
		{"huge RGB length", sealed(append(header(2, 2, 1<<63, 0), z(12)...))},
		{"long-form number", sealed(append(append([]byte(imageMagic), 0x82, 0x00), form(2, 2, z(12), nil)[len(imageMagic)+1:len(form(2, 2, z(12), nil))-sha256.Size]...))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			back := *im
			err := back.UnmarshalBinary(tc.data)
			if !errors.As(err, new(*ImageError)) {
				t.Fatalf("got %v, want an ImageError", err)
			}
			if back.Width != im.Width || !bytes.Equal(back.rgb, im.rgb) {
				t.Fatal("a refused form changed the image")
			}
		})
	}
}

// FuzzImageUnmarshal: a prepared image read from the store either is
// refused with an ImageError or stamps, and marshals back to its input.
func FuzzImageUnmarshal(f *testing.F) {
	for _, opaque := range []bool{false, true} {
		im, _ := NewImage(sealPicture(opaque))
		b, _ := im.MarshalBinary()
		f.Add(b)
	}
	in := genPDF(genOpts{})
	d, err := Open(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var im Image
		if err := im.UnmarshalBinary(data); err != nil {
			if !errors.As(err, new(*ImageError)) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if b, _ := im.MarshalBinary(); !bytes.Equal(b, data) {
			t.Fatal("accepted a form that does not marshal back to itself")
		}
		if _, err := d.PrepareSignature(SignatureRequest{Page: 1, WidthMM: 40, HeightMM: 40, Image: &im}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestImageTransparentPixels: a transparent pixel's colour samples repeat
// the last visible colour (never seen, and what a smoothing viewer blends
// the edges with), visible pixels keep theirs, a paletted picture (a drawn
// seal's PNG) gives the same samples as the same picture in RGBA, and a
// one-colour seal's colour samples compress to almost nothing.
func TestImageTransparentPixels(t *testing.T) {
	inflate := func(z []byte) []byte {
		t.Helper()
		r, err := zlib.NewReader(bytes.NewReader(z))
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if _, err := b.ReadFrom(r); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	// A ring of partly and fully opaque red, and blue, on transparent
	// black, 64×64.
	const side = 64
	palette := color.Palette{color.NRGBA{}}
	for a := 1; a < 256; a++ {
		palette = append(palette, color.NRGBA{R: 0xd7, G: 0x0f, B: 0x0f, A: uint8(a)})
	}
	palette = append(palette[:255], color.NRGBA{B: 0xc0, A: 0xff})
	pal := image.NewPaletted(image.Rect(0, 0, side, side), palette)
	rgba := image.NewNRGBA(pal.Rect)
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			d := (x-side/2)*(x-side/2) + (y-side/2)*(y-side/2)
			i := uint8(0)
			switch {
			case d < 100 && x < side/2:
				i = 255 // blue
			case d >= 300 && d < 600:
				i = uint8(1 + (x*7+y)%254)
			}
			pal.Pix[pal.PixOffset(x, y)] = i
			rgba.Set(x, y, palette[i])
		}
	}
	a, err := NewImage(pal)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewImage(rgba)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.rgb, b.rgb) || !bytes.Equal(a.alpha, b.alpha) {
		t.Fatal("the paletted picture and the same picture in RGBA give different samples")
	}
	rgb, alpha := inflate(a.rgb), inflate(a.alpha)
	if len(rgb) != 3*side*side || len(alpha) != side*side {
		t.Fatalf("%d colour and %d alpha samples", len(rgb), len(alpha))
	}
	var last color.NRGBA
	for p := 0; p < side*side; p++ {
		c := palette[pal.Pix[p]].(color.NRGBA)
		if alpha[p] != c.A {
			t.Fatalf("pixel %d: alpha %d, want %d", p, alpha[p], c.A)
		}
		want := c
		if c.A == 0 {
			want = last
		} else {
			last = c
		}
		if got := (color.NRGBA{R: rgb[3*p], G: rgb[3*p+1], B: rgb[3*p+2]}); got.R != want.R || got.G != want.G || got.B != want.B {
			t.Fatalf("pixel %d (alpha %d): colour %v, want %v", p, c.A, got, want)
		}
	}
	// A seal in one colour: its 512×512 colour samples fit in 2 KB.
	seal := image.NewNRGBA(image.Rect(0, 0, 512, 512))
	for y := 0; y < 512; y++ {
		for x := 0; x < 512; x++ {
			if (x/9+y/7)%3 == 0 {
				seal.SetNRGBA(x, y, color.NRGBA{R: 0xd7, G: 0x0f, B: 0x0f, A: uint8(128 + x%128)})
			}
		}
	}
	im, err := NewImage(seal)
	if err != nil {
		t.Fatal(err)
	}
	if len(im.rgb) > 2048 {
		t.Fatalf("a one-colour seal's colour samples take %d bytes compressed", len(im.rgb))
	}
}
