package pdf

import (
	"bytes"
	"compress/zlib"
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
	form := func(w, h uint64, rgb, alpha []byte) []byte {
		b := []byte(imageMagic)
		for _, v := range []uint64{w, h, uint64(len(rgb)), uint64(len(alpha))} {
			b = binary.AppendUvarint(b, v)
		}
		return append(append(b, rgb...), alpha...)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)-3] ^= 1 // inside the alpha stream's checksum
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"other magic", append([]byte("eseal-pdf-image/2\n"), good[len(imageMagic):]...)},
		{"header only", []byte(imageMagic)},
		{"truncated header", good[:len(imageMagic)+2]},
		{"truncated streams", good[:len(good)-1]},
		{"byte appended", append(bytes.Clone(good), 0)},
		{"zero width", form(0, 2, z(0), nil)},
		{"too high", form(1, maxImageSide+1, z(3*(maxImageSide+1)), nil)},
		{"no RGB stream", form(2, 2, nil, nil)},
		{"RGB too short", form(2, 2, z(11), nil)},
		{"RGB too long", form(2, 2, z(13), nil)},
		{"alpha too short", form(2, 2, z(12), z(3))},
		{"not zlib", form(2, 2, []byte("0123456789abcdef"), nil)},
		{"bytes after the stream", form(2, 2, append(z(12), 0), nil)},
		{"checksum broken", flipped},
		{"huge RGB length", append(binary.AppendUvarint([]byte(imageMagic+"\x02\x02"), 1<<63), 0)},
		{"long-form number", append([]byte(imageMagic+"\x82\x00"), form(2, 2, z(12), nil)[len(imageMagic)+1:]...)},
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
