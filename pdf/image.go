package pdf

import (
	"bytes"
	"compress/zlib"
	"errors"
	"image"
	"image/color"
	"strconv"
)

// An Image is a seal picture prepared once as PDF image XObject bodies
// (8-bit RGB plus a DeviceGray soft mask when it has transparency), ready to
// be copied into every update that stamps it.
type Image struct {
	Width, Height int
	rgb           []byte // Flate-compressed RGB samples
	alpha         []byte // Flate-compressed alpha samples, nil when opaque
}

// NewImage converts img into PDF image XObject bodies.
func NewImage(img image.Image) (*Image, error) {
	if img == nil {
		return nil, errors.New("pdf: nil seal image")
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 || w > 1<<14 || h > 1<<14 {
		return nil, errors.New("pdf: seal image size out of range")
	}
	rgb := make([]byte, 0, w*h*3)
	alpha := make([]byte, 0, w*h)
	opaque := true
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			var c color.NRGBA
			switch m := img.(type) {
			case *image.NRGBA:
				i := m.PixOffset(x, y)
				c = color.NRGBA{m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3]}
			default:
				c = color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			}
			rgb = append(rgb, c.R, c.G, c.B)
			alpha = append(alpha, c.A)
			if c.A != 0xff {
				opaque = false
			}
		}
	}
	im := &Image{Width: w, Height: h, rgb: deflate(rgb)}
	if !opaque {
		im.alpha = deflate(alpha)
	}
	return im, nil
}

func deflate(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// objects returns how many indirect objects the image needs.
func (im *Image) objects() int {
	if im.alpha != nil {
		return 2
	}
	return 1
}

// writeImage copies the prepared image (and its soft mask) into the update
// as objects imgNum and imgNum+1.
func (w *updateWriter) writeImage(im *Image, imgNum int) {
	head := "<</Type/XObject/Subtype/Image/Width " + strconv.Itoa(im.Width) +
		"/Height " + strconv.Itoa(im.Height) + "/BitsPerComponent 8/Filter/FlateDecode"
	if im.alpha != nil {
		w.begin(imgNum+1, 0)
		w.buf = append(w.buf, head...)
		w.buf = append(w.buf, "/ColorSpace/DeviceGray/Length "...)
		w.buf = strconv.AppendInt(w.buf, int64(len(im.alpha)), 10)
		w.buf = append(w.buf, ">>\nstream\n"...)
		w.buf = append(w.buf, im.alpha...)
		w.buf = append(w.buf, "\nendstream"...)
		w.end()
	}
	w.begin(imgNum, 0)
	w.buf = append(w.buf, head...)
	w.buf = append(w.buf, "/ColorSpace/DeviceRGB"...)
	if im.alpha != nil {
		w.buf = append(w.buf, "/SMask "...)
		w.buf = appendObject(w.buf, Ref{imgNum + 1, 0})
	}
	w.buf = append(w.buf, "/Length "...)
	w.buf = strconv.AppendInt(w.buf, int64(len(im.rgb)), 10)
	w.buf = append(w.buf, ">>\nstream\n"...)
	w.buf = append(w.buf, im.rgb...)
	w.buf = append(w.buf, "\nendstream"...)
	w.end()
}
