package attack

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"eseal/pdf"
)

// An Expect is what a verifier must conclude about an attack file.
type Expect int

const (
	// Tampered: the signed content was changed; the signature is INVALID,
	// and the reason contains Case.Reason.
	Tampered Expect = iota
	// Allowed: only additions a signature allows; VALID, with changes after
	// signing, and the later changes name Case.Reason.
	Allowed
)

func (e Expect) String() string {
	if e == Tampered {
		return "tampered"
	}
	return "allowed"
}

// A Case is one attack file.
type Case struct {
	Name  string // short, unique, usable as a file name
	Class string // the attack class as the papers name it
	PDF   []byte
	Want  Expect
	// Reason must occur in the verifier's reasons (Tampered) or in the
	// details of its later changes (Allowed): it names the object and the
	// revision, or the offset, that give the attack away.
	Reason string
	// Shows is text poppler's pdftotext finds in the attack file and not in
	// the signed one; Hides, text it finds in the signed file and not in
	// the attack file; Title, the /Title pdfinfo shows instead of the
	// signed one. They prove the attack changed what a reader sees.
	Shows, Hides, Title string
}

// The signed document as the attacks see it.
type target struct {
	signed    []byte
	rev       int // the signed revision: the attacks append revision rev+1
	page      pdf.Dict
	acroForm  pdf.Dict
	sealField int // the seal's merged field and widget
	sealValue int // its signature dictionary
	sealRect  [4]float64
	sealName  string
	shadows   map[int]int64
}

// Build returns the attack files made from signed: Input() stamped by eseal
// with one seal on page 1, nothing else appended.
func Build(signed []byte) ([]Case, error) {
	d, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)))
	if err != nil {
		return nil, err
	}
	t := &target{signed: signed, rev: len(d.Revisions()), shadows: shadowOffsets(signed)}
	if len(t.shadows) != 6 {
		return nil, errors.New("attack: the signed document was not made from Input()")
	}
	p, err := d.Page(1)
	if err != nil {
		return nil, err
	}
	t.page = p.Dict
	af, err := d.Resolve(pdf.Ref{Num: objAcroForm})
	if err != nil {
		return nil, err
	}
	t.acroForm, _ = af.(pdf.Dict)
	sigs, err := d.Signatures()
	if err != nil {
		return nil, err
	}
	if len(sigs) != 1 || sigs[0].Ref.Num == 0 {
		return nil, fmt.Errorf("attack: want one signature with an indirect value, found %d", len(sigs))
	}
	t.sealField, t.sealValue, t.sealRect, t.sealName = sigs[0].Field.Num, sigs[0].Ref.Num, sigs[0].Rect, sigs[0].FieldName

	var cases []Case
	for _, mk := range []func(*target) (Case, error){
		isaContent, isaPage, isaTypeXRef, isaTypeObjStm, isaXRefStreamNumber, isaObjectStream,
		isaUndefined, isaInfo, isaStartxref, isaAfterEOF,
		swaContentsGap, usfStripByteRange, usfValueElsewhere,
		shadowHide, shadowReplace, shadowHideAndReplace,
		sneakyEmptyFieldAppearance, sneakyFakeSignature, sneakyNewField,
		overlayFreeText, overlayStampOnSeal,
	} {
		c, err := mk(t)
		if err != nil {
			return nil, err
		}
		cases = append(cases, c)
	}
	usf, err := usfVariants(t)
	if err != nil {
		return nil, err
	}
	return append(cases, usf...), nil
}

func (t *target) next() int { return t.rev + 1 }

// objRev names an object and the revision that changes it, as the
// verifier's reasons do.
func (t *target) objRev(num int) string {
	return fmt.Sprintf("object %d (revision %d)", num, t.next())
}

func (t *target) append(r revision) ([]byte, error) { return appendRevision(t.signed, r) }

func forgedContent() []byte {
	return []byte(fmt.Sprintf("BT /F1 20 Tf 72 760 Td (%s) Tj ET\nBT /F1 14 Tf 72 700 Td (%s) Tj ET\n", Permit, Forged))
}

// Incremental saving attacks (ISA): a new revision redefines signed objects.

func isaContent(t *target) (Case, error) {
	b, err := t.append(revision{objects: []object{{num: objContent, stream: forgedContent()}}})
	return Case{Name: "isa-content", Class: "incremental saving: content stream replaced", PDF: b, Want: Tampered,
		Reason: t.objRev(objContent), Shows: Forged}, err
}

func isaPage(t *target) (Case, error) {
	const fresh = 60
	b, err := t.append(revision{objects: []object{
		{num: fresh, stream: forgedContent()},
		{num: objPage, body: withEntries(t.page, map[string]string{"Contents": "60 0 R"})},
	}})
	return Case{Name: "isa-page", Class: "incremental saving: page points at new content", PDF: b, Want: Tampered,
		Reason: t.objRev(objPage), Shows: Forged}, err
}

func isaTypeXRef(t *target) (Case, error) {
	b, err := t.append(revision{objects: []object{{num: objContent, body: "/Type/XRef", stream: forgedContent()}}})
	return Case{Name: "isa-type-xref", Class: "incremental saving: content replaced by a stream claiming /Type /XRef", PDF: b, Want: Tampered,
		Reason: t.objRev(objContent), Shows: Forged}, err
}

func isaTypeObjStm(t *target) (Case, error) {
	b, err := t.append(revision{objects: []object{{num: objContent, body: "/Type/ObjStm/N 0/First 0", stream: forgedContent()}}})
	return Case{Name: "isa-type-objstm", Class: "incremental saving: content replaced by a stream claiming /Type /ObjStm", PDF: b, Want: Tampered,
		Reason: t.objRev(objContent), Shows: Forged}, err
}

// isaXRefStreamNumber: the new cross-reference stream takes the number of
// the signed content stream, and lists that number at new content.
func isaXRefStreamNumber(t *target) (Case, error) {
	b, err := t.append(revision{objects: []object{{num: objContent, stream: forgedContent()}}, xrefStream: true, xrefNum: objContent})
	return Case{Name: "isa-xref-stream-number", Class: "incremental saving: cross-reference stream reusing a signed object's number", PDF: b,
		Want: Tampered, Reason: t.objRev(objContent), Shows: Forged}, err
}

// isaObjectStream: the page, rewritten inside a new object stream, points
// at new content.
func isaObjectStream(t *target) (Case, error) {
	const fresh, stm = 60, 61
	b, err := t.append(revision{
		objects:  []object{{num: fresh, stream: forgedContent()}},
		inStream: []object{{num: objPage, body: withEntries(t.page, map[string]string{"Contents": "60 0 R"})}},
		objStm:   stm,
	})
	return Case{Name: "isa-object-stream", Class: "incremental saving: page rewritten in an object stream", PDF: b, Want: Tampered,
		Reason: t.objRev(objPage), Shows: Forged}, err
}

// isaUndefined fills in the object the signed page lists in /Contents but
// that did not exist when signed.
func isaUndefined(t *target) (Case, error) {
	b, err := t.append(revision{objects: []object{{num: objMissing, body: "/Type/XObject/Subtype/Form/BBox [0 0 400 30]/Resources<</Font<</F1 4 0 R>>>>",
		stream: []byte(fmt.Sprintf("BT /F1 14 Tf 0 10 Td (%s) Tj ET\n", Forged))}}})
	return Case{Name: "isa-undefined-object", Class: "incremental saving: object referred to by signed content defined later", PDF: b,
		Want: Tampered, Reason: t.objRev(objMissing), Shows: Forged}, err
}

func isaInfo(t *target) (Case, error) {
	const fresh = 60
	b, err := t.append(revision{objects: []object{{num: fresh, body: "<</Title (Permit revoked)/Producer (attacker)>>"}},
		trailer: map[string]string{"Info": "60 0 R"}})
	return Case{Name: "isa-info", Class: "incremental saving: new /Info through the trailer", PDF: b, Want: Tampered,
		Reason: fmt.Sprintf("trailer (revision %d): trailer /Info changed", t.next()), Title: "Permit revoked"}, err
}

// isaStartxref appends new content and a startxref a few bytes off the
// signed cross-reference section: a tolerant reader falls back to the signed
// revision, poppler rebuilds the cross-reference and shows the new object.
func isaStartxref(t *target) (Case, error) {
	st, err := stateOf(t.signed)
	if err != nil {
		return Case{}, err
	}
	var buf bytes.Buffer
	buf.Write(t.signed)
	writeObject(&buf, object{num: objContent, stream: forgedContent()})
	fmt.Fprintf(&buf, "startxref\n%d\n%%%%EOF\n", st.startxref+3)
	return Case{Name: "isa-startxref", Class: "incremental saving: startxref off the cross-reference section", PDF: buf.Bytes(),
		Want: Tampered, Reason: "no cross-reference section where startxref or /Prev points", Shows: Forged}, nil
}

// isaAfterEOF appends a whole revision after the last %%EOF without
// chaining it: startxref still names the signed section.
func isaAfterEOF(t *target) (Case, error) {
	st, err := stateOf(t.signed)
	if err != nil {
		return Case{}, err
	}
	var buf bytes.Buffer
	buf.Write(t.signed)
	off := buf.Len()
	writeObject(&buf, object{num: objContent, stream: forgedContent()})
	fmt.Fprintf(&buf, "%%%% a comment\nstartxref\n%d\n%%%%EOF\n", st.startxref)
	return Case{Name: "isa-after-eof", Class: "incremental saving: objects after the signed revision on no chain", PDF: buf.Bytes(),
		Want: Tampered, Reason: "unaccounted data after the signed revision at byte " + strconv.Itoa(off)}, nil
}
