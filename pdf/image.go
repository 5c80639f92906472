package pdf

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
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
	if w <= 0 || h <= 0 || w > maxImageSide || h > maxImageSide {
		return nil, errors.New("pdf: seal image size out of range")
	}
	rgb := make([]byte, 0, w*h*3)
	alpha := make([]byte, 0, w*h)
	opaque := true
	// A transparent pixel's colour is never seen, so it repeats the last
	// visible one: the colour samples of a one-colour seal compress to
	// almost nothing (a drawn seal's to under 1 KB, from 9 KB when its
	// transparent pixels were black), and a viewer that smooths the
	// picture when scaling it blends the edges with the seal's colour,
	// not a dark fringe.
	var fill color.NRGBA
	var palette []color.NRGBA
	if p, ok := img.(*image.Paletted); ok {
		palette = make([]color.NRGBA, len(p.Palette))
		for i, c := range p.Palette {
			palette[i] = color.NRGBAModel.Convert(c).(color.NRGBA)
		}
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			var c color.NRGBA
			switch m := img.(type) {
			case *image.NRGBA:
				i := m.PixOffset(x, y)
				c = color.NRGBA{m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3]}
			case *image.Paletted:
				if i := int(m.Pix[m.PixOffset(x, y)]); i < len(palette) {
					c = palette[i]
				} // past the palette (png.Decode never leaves one): transparent
			default:
				c = color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			}
			if c.A == 0 {
				c.R, c.G, c.B = fill.R, fill.G, fill.B
			} else {
				fill = c
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

// imageMagic begins the binary form of an Image (MarshalBinary).
const imageMagic = "eseal-pdf-image/1\n"

// maxImageSide bounds an image's width and height, in pixels.
const maxImageSide = 1 << 14

// An ImageError says why the binary form of an Image was refused.
type ImageError struct{ Reason string }

func (e *ImageError) Error() string { return "pdf: prepared image: " + e.Reason }

// MarshalBinary returns the prepared image as UnmarshalBinary reads it back
// without compressing anything again (docs/formats.md, "Prepared seal
// image"): compressing the samples is almost all NewImage costs, so a seal
// keeps this next to its picture, made once when the seal is made.
func (im *Image) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, len(imageMagic)+4*binary.MaxVarintLen64+len(im.rgb)+len(im.alpha)+sha256.Size)
	b = append(b, imageMagic...)
	for _, v := range []int{im.Width, im.Height, len(im.rgb), len(im.alpha)} {
		b = binary.AppendUvarint(b, uint64(v))
	}
	b = append(b, im.rgb...)
	b = append(b, im.alpha...)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...), nil
}

// UnmarshalBinary reads what MarshalBinary wrote. The trailing SHA-256
// catches a damaged object, which would otherwise go unseen into signed
// revisions (never rewritten); the streams are not inflated again, which
// cost 4 ms in a profile of a process that stamps once.
func (im *Image) UnmarshalBinary(data []byte) error {
	if len(data) < len(imageMagic)+sha256.Size || !bytes.HasPrefix(data, []byte(imageMagic)) {
		return &ImageError{"no eseal-pdf-image/1 header"}
	}
	body := data[:len(data)-sha256.Size]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], data[len(body):]) {
		return &ImageError{"checksum does not match: damaged"}
	}
	rest := body[len(imageMagic):]
	var v [4]uint64
	for i := range v {
		x, n := binary.Uvarint(rest)
		if n <= 0 {
			return &ImageError{"truncated header"}
		}
		if n != len(binary.AppendUvarint(nil, x)) {
			return &ImageError{"header number not in its shortest form"}
		}
		v[i], rest = x, rest[n:]
	}
	w, h, nrgb, nalpha := v[0], v[1], v[2], v[3]
	if w == 0 || h == 0 || w > maxImageSide || h > maxImageSide {
		return &ImageError{fmt.Sprintf("size %d×%d out of range", w, h)}
	}
	if nrgb > uint64(len(rest)) || nalpha != uint64(len(rest))-nrgb {
		return &ImageError{fmt.Sprintf("stream lengths %d + %d for %d bytes", nrgb, nalpha, len(rest))}
	}
	rgb, alpha := rest[:nrgb:nrgb], rest[nrgb:]
	if !zlibHeader(rgb) || nalpha != 0 && !zlibHeader(alpha) {
		return &ImageError{"a sample stream is not a zlib stream"}
	}
	if nalpha == 0 {
		alpha = nil
	}
	*im = Image{Width: int(w), Height: int(h), rgb: rgb, alpha: alpha}
	return nil
}

// zlibHeader reports whether z begins with a zlib header (RFC 1950) that
// PDF's FlateDecode reads: deflate, no preset dictionary.
func zlibHeader(z []byte) bool {
	return len(z) >= 2 && z[0]&0x0f == 8 && z[0]>>4 <= 7 && z[1]&0x20 == 0 && (uint16(z[0])<<8|uint16(z[1]))%31 == 0
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
