package seal_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"eseal/pdf"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

func (f *fixture) stampAt(t *testing.T, in []byte, p seal.Placement) (*seal.Signed, []byte, error) {
	t.Helper()
	st := &seal.Stamper{Registry: f.reg}
	res, err := st.Stamp(context.Background(), bytes.NewReader(in), int64(len(in)), seal.SignRequest{SealID: f.sealID, Placement: p})
	if err != nil {
		return nil, nil, err
	}
	return res, append(append([]byte{}, in...), res.Update...), nil
}

func TestKeywordPlacement(t *testing.T) {
	f := newFixture(t)
	in := pdftest.Document(pdftest.Options{Title: "准予行政许可决定书", Pages: 3})
	res, signed, err := f.stampAt(t, in, seal.Placement{Keyword: "许可决定", Nth: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Page != 2 {
		t.Fatalf("second match is on page 2, the seal went to page %d", res.Page)
	}
	doc, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)))
	if err != nil {
		t.Fatal(err)
	}
	matches, _ := doc.FindText("许可决定")
	sigs, _ := doc.Signatures()
	m, r := matches[1].Rect, sigs[0].Rect
	cx, cy := (m[0]+m[2])/2, (m[1]+m[3])/2
	if cx < r[0] || cx > r[2] || cy < r[1] || cy > r[3] {
		t.Fatalf("the seal %v does not cover the keyword's centre (%.1f, %.1f)", r, cx, cy)
	}
	if rep := f.verify(t, signed); rep.Verdict != seal.Valid {
		t.Fatalf("%s %v", rep.Verdict, rep.Signatures[0].Reasons)
	}
	var tnf *pdf.TextNotFoundError
	if _, _, err := f.stampAt(t, in, seal.Placement{Keyword: "不存在的文字"}); !errors.As(err, &tnf) {
		t.Fatalf("absent keyword: %v", err)
	}
	if _, _, err := f.stampAt(t, in, seal.Placement{Keyword: "许可决定", Nth: 4}); !errors.As(err, &tnf) {
		t.Fatalf("fourth of three matches: %v", err)
	}
}

func TestCrossPageSeal(t *testing.T) {
	f := newFixture(t)
	for _, pages := range []int{2, 5, 30} {
		in := pdftest.Document(pdftest.Options{Pages: pages})
		_, signed, err := f.stampAt(t, in, seal.Placement{CrossPage: true})
		if err != nil {
			t.Fatal(err)
		}
		rep := f.verify(t, signed)
		s := rep.Signatures[0]
		if rep.Verdict != seal.Valid || s.Kind != "cross-page" || len(s.Pages) != pages {
			t.Fatalf("%d pages: %s, kind %s, pages %v, %v", pages, rep.Verdict, s.Kind, s.Pages, s.Reasons)
		}
	}
	in := pdftest.Document(pdftest.Options{Pages: 5})
	_, signed, err := f.stampAt(t, in, seal.Placement{CrossPage: true, FirstPage: 2, LastPage: 4})
	if err != nil {
		t.Fatal(err)
	}
	if s := f.verify(t, signed).Signatures[0]; len(s.Pages) != 3 || s.Pages[0] != 2 {
		t.Fatalf("range 2-4: pages %v", s.Pages)
	}
}
