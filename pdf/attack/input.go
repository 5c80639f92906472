// Package attack builds, from a PDF that eseal signed, one file for each
// class of the published attacks on PDF signatures — incremental saving,
// signature wrapping and universal forgery (Mladenov et al., CCS 2019),
// shadow hide, replace and hide-and-replace (Mainka et al., NDSS 2021),
// sneaky signature fields and annotation overlays (Mainka et al., S&P 2021)
// — each with what a verifier must say about it. It is the test corpus of
// eseal's verifier, as net/http/httptest serves handlers: the files are made
// in the tests, from documents stamped there.
package attack

import (
	"bytes"
	"fmt"
	"sort"
)

// Texts the input draws, and the texts the attacks put in their place.
const (
	// Permit is the title line of the input page.
	Permit = "PERMIT No. 2026-017"
	// Granted is the decision the signer saw, drawn by the cover XObject
	// over Refused.
	Granted = "Decision: GRANTED"
	// Refused lies under the cover in the signed page; shadow hide uncovers it.
	Refused = "Decision: REFUSED"
	// Forged is the text attacks that replace content draw.
	Forged = "REVOKED BY ATTACKER"
)

// Object numbers of the input document.
const (
	objCatalog  = 1
	objPages    = 2
	objPage     = 3
	objFont     = 4
	objContent  = 5
	objCover    = 6
	objInfo     = 7
	objMissing  = 8 // the page's XObject /Note, never defined: free
	objAcroForm = 10
	objTextFld  = 11
	objTextAP   = 12
	objEmptySig = 13 // an empty signature field, "Reviewer"
	// A shadow document: catalog, pages, page and content, in the body of
	// the input but in no cross-reference section.
	objShadowCatalog = 40
	objShadowPages   = 41
	objShadowPage    = 42
	objShadowContent = 43
)

// Input is the document the corpus signs: one A4 page whose text is drawn
// with Helvetica (so pdftotext reads it without CJK data), a text field, an
// empty signature field, a Form XObject the page draws that does not exist,
// and — as a shadow-attack author would prepare it — shadow
// objects in the body that no cross-reference section lists: another cover
// XObject (empty), another content stream and a whole other page tree.
func Input() []byte {
	content := fmt.Sprintf("BT /F1 20 Tf 72 760 Td (%s) Tj ET\nBT /F1 14 Tf 72 700 Td (%s) Tj ET\nq 1 0 0 1 60 690 cm /Cover Do Q\nq 1 0 0 1 72 640 cm /Note Do Q\n", Permit, Refused)
	cover := fmt.Sprintf("1 g 0 0 300 30 re f 0 g BT /F1 14 Tf 12 10 Td (%s) Tj ET\n", Granted)
	font := "<</Type/Font/Subtype/Type1/BaseFont/Helvetica/Encoding/WinAnsiEncoding>>"
	objs := []object{
		{num: objCatalog, body: "<</Type/Catalog/Pages 2 0 R/AcroForm 10 0 R>>"},
		{num: objPages, body: "<</Type/Pages/Kids [3 0 R]/Count 1>>"},
		{num: objPage, body: "<</Type/Page/Parent 2 0 R/MediaBox [0 0 595 842]/Resources<</Font<</F1 4 0 R>>/XObject<</Cover 6 0 R/Note 8 0 R>>>>/Contents 5 0 R/Annots [11 0 R 13 0 R]>>"},
		{num: objFont, body: font},
		{num: objContent, stream: []byte(content)},
		{num: objCover, body: "/Type/XObject/Subtype/Form/BBox [0 0 300 30]/Resources<</Font<</F1 4 0 R>>>>", stream: []byte(cover)},
		{num: objInfo, body: "<</Title (Permit 2026-017)/Producer (eseal attack corpus)>>"},
		{num: objAcroForm, body: "<</Fields [11 0 R 13 0 R]/DR<</Font<</Helv 4 0 R>>>>/DA (/Helv 0 Tf 0 g)>>"},
		{num: objTextFld, body: "<</Type/Annot/Subtype/Widget/FT/Tx/T (Applicant)/V (Zhang San)/Rect [72 600 272 620]/P 3 0 R/F 4/DA (/Helv 10 Tf 0 g)/AP<</N 12 0 R>>>>"},
		{num: objTextAP, body: "/Type/XObject/Subtype/Form/BBox [0 0 200 20]/Resources<</Font<</Helv 4 0 R>>>>", stream: []byte("/Tx BMC BT /Helv 10 Tf 0 g 2 6 Td (Zhang San) Tj ET EMC")},
		{num: objEmptySig, body: "<</Type/Annot/Subtype/Widget/FT/Sig/T (Reviewer)/Rect [350 80 500 140]/P 3 0 R/F 4>>"},
	}
	shadows := []object{
		{num: objCover, body: "/Type/XObject/Subtype/Form/BBox [0 0 300 30]", stream: []byte("% nothing\n")},
		{num: objContent, stream: []byte(fmt.Sprintf("BT /F1 20 Tf 72 760 Td (%s) Tj ET\nBT /F1 14 Tf 72 700 Td (%s) Tj ET\n", Permit, Forged))},
		{num: objShadowCatalog, body: "<</Type/Catalog/Pages 41 0 R>>"},
		{num: objShadowPages, body: "<</Type/Pages/Kids [42 0 R]/Count 1>>"},
		{num: objShadowPage, body: "<</Type/Page/Parent 41 0 R/MediaBox [0 0 595 842]/Resources<</Font<</F1 4 0 R>>>>/Contents 43 0 R>>"},
		{num: objShadowContent, stream: []byte(fmt.Sprintf("BT /F1 20 Tf 72 760 Td (%s) Tj ET\n", Forged))},
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	// Shadows first, so the listed objects are the later definitions a
	// reader rebuilding the cross-reference would also pick.
	for _, o := range shadows {
		writeObject(&b, o)
	}
	offs := map[int]int{}
	for _, o := range objs {
		offs[o.num] = b.Len()
		writeObject(&b, o)
	}
	x := b.Len()
	nums := make([]int, 0, len(offs))
	for n := range offs {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	b.WriteString("xref\n0 1\n0000000000 65535 f\r\n")
	for _, n := range nums {
		fmt.Fprintf(&b, "%d 1\n%010d 00000 n\r\n", n, offs[n])
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d/Root 1 0 R/Info 7 0 R/ID [<%032x><%032x>]>>\nstartxref\n%d\n%%%%EOF\n", objEmptySig+1, 17, 17, x)
	return b.Bytes()
}

// shadowOffsets finds the shadow definitions in the input: the first
// "n 0 obj" of each number, before the listed objects.
func shadowOffsets(b []byte) map[int]int64 {
	out := map[int]int64{}
	for _, n := range []int{objCover, objContent, objShadowCatalog, objShadowPages, objShadowPage, objShadowContent} {
		if i := bytes.Index(b, []byte(fmt.Sprintf("\n%d 0 obj\n", n))); i >= 0 {
			out[n] = int64(i + 1)
		}
	}
	return out
}
