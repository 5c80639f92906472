package attack

import (
	"bytes"
	"fmt"
	"math/rand"

	"eseal/pdf"
)

// RandomRevision appends to b one random, well-formed incremental update
// of the kinds that a viewer, a form filler or an attacker writes: new
// content, page attributes, annotations (visible, hidden, over the text),
// field values, identical rewrites, unreferenced objects, validation data;
// in a cross-reference table or stream. It returns the new file and what
// the update did. b must be made from Input() (stamped any number of times).
func RandomRevision(rng *rand.Rand, b []byte) ([]byte, string, error) {
	d, err := pdf.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, "", err
	}
	size, _ := d.Trailer()["Size"].(int64)
	fresh := int(size) + rng.Intn(3)
	p, err := d.Page(1)
	if err != nil {
		return nil, "", err
	}
	page := p.Dict
	dictOf := func(num int) pdf.Dict {
		o, _ := d.Object(pdf.Ref{Num: num})
		dict, _ := o.(pdf.Dict)
		return dict
	}
	rect := func() string {
		x, y := rng.Intn(500), rng.Intn(780)
		return fmt.Sprintf("[%d %d %d %d]", x, y, x+10+rng.Intn(200), y+10+rng.Intn(60))
	}
	text := func() string {
		words := []string{"GRANTED", "REFUSED", "PAID", "VOID", "COPY", "2026", "No.", "approved"}
		return words[rng.Intn(len(words))] + " " + words[rng.Intn(len(words))]
	}
	drawing := func() []byte {
		switch rng.Intn(3) {
		case 0:
			return []byte(fmt.Sprintf("BT /F1 %d Tf %d %d Td (%s) Tj ET\n", 8+rng.Intn(20), rng.Intn(400), rng.Intn(800), text()))
		case 1:
			return []byte(fmt.Sprintf("%.2f g %d %d %d %d re f\n", rng.Float64(), rng.Intn(500), rng.Intn(800), 5+rng.Intn(200), 5+rng.Intn(100)))
		}
		return []byte("% nothing drawn\n")
	}
	appearance := func(num int) object {
		return object{num: num, body: "/Type/XObject/Subtype/Form/BBox [0 0 300 80]/Resources<</Font<</F1 4 0 R>>>>", stream: drawing()}
	}
	addAnnot := func(annot string, extra ...object) (revision, string) {
		annots, _ := d.Resolve(page["Annots"])
		arr, _ := annots.(pdf.Array)
		objs := append([]object{{num: fresh, body: annot},
			{num: objPage, body: withEntries(page, map[string]string{"Annots": format(append(append(pdf.Array{}, arr...), pdf.Ref{Num: fresh}))})}}, extra...)
		return revision{objects: objs}, annot
	}
	var r revision
	var what string
	switch rng.Intn(15) {
	case 0:
		r, what = revision{objects: []object{{num: objContent, stream: append(drawing(), drawing()...)}}}, "content stream replaced"
	case 1:
		r, what = revision{objects: []object{{num: objContent, stream: forgedContent()}}}, "content stream replaced by other text"
	case 2:
		mb := fmt.Sprintf("[0 0 %d %d]", 400+rng.Intn(300), 600+rng.Intn(300))
		r, what = revision{objects: []object{{num: objPage, body: withEntries(page, map[string]string{"MediaBox": mb})}}}, "page /MediaBox "+mb
	case 3:
		r, what = revision{objects: []object{{num: objPage, body: withEntries(page, map[string]string{"Rotate": "90"})}}}, "page rotated"
	case 4:
		subtypes := []string{"FreeText", "Square", "Stamp", "Text", "Highlight"}
		st := subtypes[rng.Intn(len(subtypes))]
		flags := []int{4, 4, 2, 32, 0}[rng.Intn(5)]
		r, what = addAnnot(fmt.Sprintf("<</Type/Annot/Subtype/%s/Rect %s/F %d/Contents (%s)/AP<</N %d 0 R>>>>", st, rect(), flags, text(), fresh+1), appearance(fresh+1))
	case 5:
		r, what = addAnnot(fmt.Sprintf("<</Type/Annot/Subtype/Square/Rect %s/F 4/C [1 0 0]>>", rect()))
	case 6:
		r, what = revision{objects: []object{{num: objTextFld, body: withEntries(dictOf(objTextFld), map[string]string{"V": "(" + text() + ")", "AP": fmt.Sprintf("<</N %d 0 R>>", fresh)})}, appearance(fresh)}}, "text field value changed"
	case 7:
		r, what = revision{objects: []object{{num: objPage, body: format(page)}, {num: objFont, body: format(dictOf(objFont))}}}, "identical rewrite"
	case 8:
		r, what = revision{objects: []object{appearance(fresh)}}, "unreferenced new object"
	case 9:
		cat, _ := d.Catalog()
		r, what = revision{objects: []object{{num: fresh, body: "<</Certs []/CRLs []>>"},
			{num: objCatalog, body: withEntries(cat, map[string]string{"DSS": fmt.Sprintf("%d 0 R", fresh)})}}}, "validation data (/DSS)"
	case 10:
		r, what = revision{objects: []object{{num: objFont, body: "<</Type/Font/Subtype/Type1/BaseFont/Courier/Encoding/WinAnsiEncoding>>"}}}, "font replaced"
	case 11:
		r, what = revision{objects: []object{{num: objCover, body: "/Type/XObject/Subtype/Form/BBox [0 0 300 30]/Resources<</Font<</F1 4 0 R>>>>", stream: drawing()}}}, "cover XObject replaced"
	case 12:
		n := []int{objCover, objContent}[rng.Intn(2)]
		r, what = revision{point: map[int]int64{n: shadowOffsets(b)[n]}}, fmt.Sprintf("object %d pointed at its shadow", n)
	case 13:
		mb := fmt.Sprintf("[0 0 %d %d]", 500+rng.Intn(200), 700+rng.Intn(200))
		r, what = revision{inStream: []object{{num: objPage, body: withEntries(page, map[string]string{"MediaBox": mb})}}, objStm: fresh}, "page rewritten in an object stream"
	case 14:
		sigs, err := d.Signatures()
		if err != nil || len(sigs) == 0 {
			return nil, "", fmt.Errorf("attack: no seal to cover: %v", err)
		}
		x := sigs[rng.Intn(len(sigs))].Rect
		r, what = addAnnot(fmt.Sprintf("<</Type/Annot/Subtype/Square/Rect [%.0f %.0f %.0f %.0f]/F 4/IC [1 1 1]/C [1 1 1]>>", x[0], x[1], x[2], x[3]))
	}
	r.xrefStream = rng.Intn(3) == 0
	out, err := appendRevision(b, r)
	if r.xrefStream {
		what += " (cross-reference stream)"
	}
	return out, what, err
}
