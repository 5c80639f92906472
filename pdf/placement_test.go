package pdf

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func TestPlacement(t *testing.T) {
	const k = 72 / 25.4
	tests := []struct {
		name   string
		shape  genOpts
		x, y   float64 // mm
		w, h   float64 // mm
		want   [4]float64
		bbox   [2]float64 // appearance BBox width/height in points
		offErr bool
	}{
		{name: "upright", shape: genOpts{}, x: 10, y: 20, w: 60, h: 30,
			want: [4]float64{10 * k, 842 - 50*k, 70 * k, 842 - 20*k}, bbox: [2]float64{60 * k, 30 * k}},
		{name: "rotate90", shape: genOpts{rotate: 90}, x: 10, y: 20, w: 60, h: 30,
			want: [4]float64{20 * k, 10 * k, 50 * k, 70 * k}, bbox: [2]float64{60 * k, 30 * k}},
		{name: "rotate180", shape: genOpts{rotate: 180}, x: 10, y: 20, w: 60, h: 30,
			want: [4]float64{595 - 70*k, 20 * k, 595 - 10*k, 50 * k}, bbox: [2]float64{60 * k, 30 * k}},
		{name: "rotate270 inherited", shape: genOpts{inheritRo: 270}, x: 10, y: 20, w: 60, h: 30,
			want: [4]float64{595 - 50*k, 842 - 70*k, 595 - 20*k, 842 - 10*k}, bbox: [2]float64{60 * k, 30 * k}},
		{name: "cropbox offset", shape: genOpts{cropBox: "50 100 545 742"}, x: 10, y: 20, w: 60, h: 30,
			want: [4]float64{50 + 10*k, 742 - 50*k, 50 + 70*k, 742 - 20*k}, bbox: [2]float64{60 * k, 30 * k}},
		{name: "mediabox offset and rotate90 cropbox", shape: genOpts{mediaBox: "100 100 695 942", cropBox: "0 150 600 900", rotate: 90},
			x: 10, y: 20, w: 60, h: 30,
			// visible = 100 150 600 900
			want: [4]float64{100 + 20*k, 150 + 10*k, 100 + 50*k, 150 + 70*k}, bbox: [2]float64{60 * k, 30 * k}},
		{name: "clipped top-left", shape: genOpts{}, x: -10, y: -10, w: 40, h: 40,
			want: [4]float64{0, 842 - 30*k, 30 * k, 842}, bbox: [2]float64{30 * k, 30 * k}},
		{name: "clipped bottom-right", shape: genOpts{}, x: 190, y: 280, w: 40, h: 40,
			want: [4]float64{190 * k, 0, 595, 842 - 280*k}, bbox: [2]float64{595 - 190*k, 842 - 280*k}},
		{name: "wholly right", shape: genOpts{}, x: 300, y: 20, w: 40, h: 40, offErr: true},
		{name: "wholly above", shape: genOpts{}, x: 10, y: -50, w: 40, h: 40, offErr: true},
		{name: "outside cropbox only", shape: genOpts{cropBox: "50 100 545 742"}, x: 10, y: 230, w: 20, h: 20, offErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := genPDF(tc.shape)
			req := SignatureRequest{Page: 1, XMM: tc.x, YMM: tc.y, WidthMM: tc.w, HeightMM: tc.h}
			if tc.offErr {
				d, _ := Open(bytes.NewReader(in), int64(len(in)))
				req.Image = testImage(t)
				_, err := d.PrepareSignature(req)
				if !errors.As(err, new(*PlacementError)) {
					t.Fatalf("got %v, want PlacementError", err)
				}
				return
			}
			out := sign(t, in, req)
			d, s := signatureNamed(t, out, "Seal1")
			for i := range tc.want {
				if math.Abs(s.Rect[i]-tc.want[i]) > 0.01 {
					t.Fatalf("Rect %v, want %v", s.Rect, tc.want)
				}
			}
			// The appearance BBox is the clipped seal, upright.
			fo, _ := d.Object(Ref{s.Ref.Num - 1, 0})
			form := fo.(*Stream)
			bb, _ := d.box(form.Dict["BBox"])
			if math.Abs(bb[2]-tc.bbox[0]) > 0.01 || math.Abs(bb[3]-tc.bbox[1]) > 0.01 {
				t.Fatalf("BBox %v, want %v", bb, tc.bbox)
			}
		})
	}
}

func TestPageRange(t *testing.T) {
	in := genPDF(genOpts{pages: 3})
	d, err := Open(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, -1, 4} {
		_, err := d.PrepareSignature(SignatureRequest{Page: n, WidthMM: 10, HeightMM: 10, Image: testImage(t)})
		var pe *PageRangeError
		if !errors.As(err, &pe) || pe.NumPages != 3 {
			t.Errorf("page %d: %v", n, err)
		}
	}
	for n := 1; n <= 3; n++ {
		p, err := d.Page(n)
		if err != nil || p.Ref.Num != 100+2*(n-1) {
			t.Errorf("page %d: %v %+v", n, err, p)
		}
	}
}

func TestFieldNames(t *testing.T) {
	in := genPDF(genOpts{acroForm: "indirect"})
	out := sign(t, in, SignatureRequest{Page: 1, WidthMM: 10, HeightMM: 10, FieldName: "Seal2"})
	out = sign(t, out, SignatureRequest{Page: 1, WidthMM: 10, HeightMM: 10})                  // Seal1
	out = sign(t, out, SignatureRequest{Page: 1, WidthMM: 10, HeightMM: 10})                  // Seal3
	out = sign(t, out, SignatureRequest{Page: 1, WidthMM: 10, HeightMM: 10, FieldName: "印章"}) // non-ASCII
	d, _ := Open(bytes.NewReader(out), int64(len(out)))
	sigs, _ := d.Signatures()
	var names []string
	for _, s := range sigs {
		names = append(names, s.FieldName)
	}
	if len(names) != 4 || names[0] != "Seal2" || names[1] != "Seal1" || names[2] != "Seal3" || names[3] != "印章" {
		t.Fatalf("names %v", names)
	}
	_, err := d.PrepareSignature(SignatureRequest{Page: 1, WidthMM: 10, HeightMM: 10, FieldName: "Applicant", Image: testImage(t)})
	if !errors.As(err, new(*FieldExistsError)) {
		t.Fatalf("duplicate name: %v", err)
	}
	// The existing AcroForm kept its /DR and /DA.
	cat, _ := d.Catalog()
	af, _ := d.Resolve(cat["AcroForm"])
	if afd := af.(Dict); afd["DR"] == nil || afd["DA"] == nil || afd["SigFlags"] != int64(3) || len(afd["Fields"].(Array)) != 5 {
		t.Fatalf("AcroForm %v", af)
	}
}

func TestOpaqueImageHasNoSMask(t *testing.T) {
	im, err := NewImage(sealPicture(true))
	if err != nil || im.alpha != nil {
		t.Fatalf("opaque image: %v alpha=%v", err, im.alpha != nil)
	}
	if im2 := testImage(t); im2.alpha == nil {
		t.Fatal("transparent image lost its SMask")
	}
}
