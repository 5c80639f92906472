package pdf

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"encoding/binary"
	"errors"
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
