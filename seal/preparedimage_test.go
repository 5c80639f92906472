package seal_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"eseal/archive"
	"eseal/pdf"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// TestPreparedSealImage: a new seal keeps its picture's PDF image streams
// beside it, made from its picture; a seal without them (made before they
// were kept) stamps as before and gets them written once; damaged ones stop
// the stamping with the object named instead of going into a document.
func TestPreparedSealImage(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	key := "seals/" + f.sealID + "/picture.pdfimage"
	stored, _, err := archive.GetBytes(ctx, f.store, key)
	if err != nil {
		t.Fatalf("a new seal has no prepared image: %v", err)
	}
	pic, err := f.reg.Picture(ctx, f.sealID)
	if err != nil {
		t.Fatal(err)
	}
	img, err := seal.DecodePicture(pic)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := pdf.NewImage(img)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := fresh.MarshalBinary(); !bytes.Equal(stored, want) {
		t.Fatal("the stored image is not the seal's picture prepared")
	}

	// stampFresh stamps with a registry opened anew, as a CLI process does.
	stampFresh := func() ([]byte, error) {
		reg, err := seal.OpenRegistry(ctx, f.store, f.kek, seal.Options{})
		if err != nil {
			t.Fatal(err)
		}
		in := pdftest.Document(pdftest.Options{})
		res, err := (&seal.Stamper{Registry: reg}).Stamp(ctx, bytes.NewReader(in), int64(len(in)),
			seal.SignRequest{SealID: f.sealID, Placement: seal.Placement{Page: 1, XMM: 120, YMM: 180}})
		if err != nil {
			return nil, err
		}
		return append(in, res.Update...), nil
	}
	v := f.verifier(t)
	check := func(doc []byte) {
		t.Helper()
		rep, err := v.VerifyPDF(ctx, bytes.NewReader(doc), int64(len(doc)))
		if err != nil || rep.Verdict != seal.Valid {
			t.Fatalf("%v %+v", err, rep)
		}
	}
	doc, err := stampFresh()
	if err != nil {
		t.Fatal(err)
	}
	check(doc)

	// A seal from before: no prepared image.
	if err := f.store.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if doc, err = stampFresh(); err != nil {
		t.Fatalf("a seal without a prepared image: %v", err)
	}
	check(doc)
	if again, _, err := archive.GetBytes(ctx, f.store, key); err != nil || !bytes.Equal(again, stored) {
		t.Fatalf("the prepared image was not written back as it was made (%v)", err)
	}

	// Damaged: one bit of a sample stream flipped.
	if err := f.store.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(stored)
	bad[len(bad)/3] ^= 0x10
	if _, err := archive.PutBytesIfAbsent(ctx, f.store, key, bad); err != nil {
		t.Fatal(err)
	}
	_, err = stampFresh()
	if !errors.As(err, new(*pdf.ImageError)) || !strings.Contains(err.Error(), "picture.pdfimage") {
		t.Fatalf("a damaged prepared image: got %v", err)
	}
}
