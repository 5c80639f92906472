package seal

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"

	"golang.org/x/image/vector"
)

// Limits on seal pictures. A seal is a small emblem; anything larger is a
// mistake or an attack on the stamping path, which embeds the picture in every
// signed revision.
const (
	MaxPictureBytes  = 1 << 20 // encoded PNG
	MaxPicturePixels = 2048    // width or height
	MinPictureMM     = 10
	MaxPictureMM     = 100
)

// PictureError says why a seal picture was refused.
type PictureError struct{ Reason string }

func (e *PictureError) Error() string { return "seal picture: " + e.Reason }

// DecodePicture checks an uploaded seal picture: a PNG of sensible size. The
// returned image keeps its alpha channel, which becomes the PDF soft mask.
func DecodePicture(data []byte) (image.Image, error) {
	if len(data) == 0 {
		return nil, &PictureError{"empty"}
	}
	if len(data) > MaxPictureBytes {
		return nil, &PictureError{fmt.Sprintf("%d bytes, the limit is %d", len(data), MaxPictureBytes)}
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, &PictureError{"not a PNG: " + err.Error()}
	}
	if cfg.Width < 16 || cfg.Height < 16 || cfg.Width > MaxPicturePixels || cfg.Height > MaxPicturePixels {
		return nil, &PictureError{fmt.Sprintf("%d×%d pixels; allowed 16–%d", cfg.Width, cfg.Height, MaxPicturePixels)}
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, &PictureError{"broken PNG: " + err.Error()}
	}
	return img, nil
}

// DemoPicture draws the picture of the demo seal: a red ring with a
// five-pointed star on a transparent background, the shape of an official
// round seal, as PNG. Real seals upload the picture issued by the seal maker.
func DemoPicture(size int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	r := vector.NewRasterizer(size, size)
	s := float32(size)
	c := s / 2
	circle := func(radius float32, clockwise bool) {
		const n = 180
		for i := 0; i <= n; i++ {
			a := 2 * math.Pi * float64(i) / n
			if clockwise {
				a = -a
			}
			x := c + radius*float32(math.Cos(a))
			y := c + radius*float32(math.Sin(a))
			if i == 0 {
				r.MoveTo(x, y)
			} else {
				r.LineTo(x, y)
			}
		}
		r.ClosePath()
	}
	// Outer ring, then a thin inner ring; inner circles wind the other way to cut holes.
	circle(0.49*s, false)
	circle(0.44*s, true)
	circle(0.40*s, false)
	circle(0.39*s, true)
	// Five-pointed star in the middle.
	outer, inner := 0.17*s, 0.065*s
	for i := 0; i < 10; i++ {
		rad := outer
		if i%2 == 1 {
			rad = inner
		}
		a := -math.Pi/2 + float64(i)*math.Pi/5
		x := c + rad*float32(math.Cos(a))
		y := c + rad*float32(math.Sin(a))
		if i == 0 {
			r.MoveTo(x, y)
		} else {
			r.LineTo(x, y)
		}
	}
	r.ClosePath()
	// A band under the star where a real seal carries its serial number.
	band := func(x0, y0, x1, y1 float32) {
		r.MoveTo(x0, y0)
		r.LineTo(x1, y0)
		r.LineTo(x1, y1)
		r.LineTo(x0, y1)
		r.ClosePath()
	}
	band(0.30*s, 0.70*s, 0.70*s, 0.725*s)
	red := image.NewUniform(color.NRGBA{R: 0xd7, G: 0x0f, B: 0x0f, A: 0xff})
	r.Draw(img, img.Bounds(), red, image.Point{})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err) // encoding an in-memory NRGBA cannot fail
	}
	return buf.Bytes()
}
