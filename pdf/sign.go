package pdf

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"
	"unicode/utf16"
)

// SubFilter values PrepareSignature (the first three) and
// PrepareDocTimestamp (SubFilterRFC3161) write.
const (
	SubFilterPKCS7Detached = "adbe.pkcs7.detached"
	SubFilterCAdESDetached = "ETSI.CAdES.detached"
	// SubFilterGBT38540 marks a /Contents holding a GB/T 38540 SES_Signature
	// instead of a CMS (pattern B of docs/formats.md). No registry assigns a
	// name for it; this one says what is inside so that generic tools report
	// an unknown format rather than a corrupt CMS.
	SubFilterGBT38540 = "GBT38540.SES_Signature"
	// SubFilterRFC3161 marks a document timestamp: /Type /DocTimeStamp,
	// /Contents an RFC 3161 token over the bytes /ByteRange covers.
	SubFilterRFC3161 = "ETSI.RFC3161"
)

// DefaultContentsSize is the /Contents reservation used when the request
// leaves ContentsSize zero: room for a chain of a few certificates and a
// timestamp token.
const DefaultContentsSize = 16384

// A SignatureRequest describes one visible signature to add.
type SignatureRequest struct {
	Page int // 1-based
	// Top-left corner and size of the seal in millimetres, measured from the
	// top-left corner of the page as a viewer shows it (CropBox ∩ MediaBox,
	// after /Rotate).
	XMM, YMM, WidthMM, HeightMM float64
	Image                       *Image
	// FieldName must be unused in the document; empty picks "Seal1",
	// "Seal2", … avoiding existing names.
	FieldName                           string
	Name, Reason, Location, ContactInfo string
	SigningTime                         time.Time // zero means now
	SubFilter                           string    // default adbe.pkcs7.detached
	ContentsSize                        int       // bytes reserved for the CMS; zero means DefaultContentsSize
	// CrossPage, when set, makes the seal a cross-page seal (骑缝章)
	// instead of a seal on Page: see CrossPage.
	CrossPage *CrossPage
	// QR, when set, draws a QR code as a second widget of the same field
	// beside the seal (not with a cross-page seal).
	QR *QRCode
	// Certify, 1 to 3, makes the signature a certification signature
	// (ISO 32000-1 §12.8.2.2, DocMDP) with that /P: 1 no change allowed, 2
	// form filling and signing, 3 also annotations. Only the first
	// signature of a document can certify it.
	Certify int
}

// CertifyError says a certification signature cannot be made: the
// document is already signed, or /P is out of range.
type CertifyError struct{ Reason string }

func (e *CertifyError) Error() string { return "pdf: certification signature: " + e.Reason }

// An Update is one prepared incremental update: the bytes to append to the
// input, with a /Contents placeholder for the caller's CMS.
type Update struct {
	src       io.ReaderAt
	srcSize   int64
	buf       []byte
	lt, gt    int // buf indices of '<' and just after '>' of /Contents
	byteRange [4]int64
	reserved  int
	field     string
}

// ByteRange returns the signed ranges [0 a b c] over input ‖ update.
func (u *Update) ByteRange() [4]int64 { return u.byteRange }

// FieldName returns the name of the signature field the update adds.
func (u *Update) FieldName() string { return u.field }

// Digest writes the bytes the signature covers into h: the whole input,
// streamed from its ReaderAt, then the update around the /Contents string.
func (u *Update) Digest(h hash.Hash) error {
	buf := make([]byte, 64<<10)
	sr := io.NewSectionReader(u.src, 0, u.srcSize)
	for {
		n, err := sr.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("pdf: reading input for digest: %w", err)
		}
	}
	h.Write(u.buf[:u.lt])
	h.Write(u.buf[u.gt:])
	return nil
}

// SetContents writes der, hex-encoded and zero-padded, into the /Contents
// placeholder.
func (u *Update) SetContents(der []byte) error {
	if len(der) > u.reserved {
		return &ContentsTooLargeError{Need: len(der), Have: u.reserved}
	}
	dst := u.buf[u.lt+1 : u.gt-1]
	n := hex.Encode(dst, der)
	for i := n; i < len(dst); i++ {
		dst[i] = '0'
	}
	return nil
}

// Bytes returns the bytes to append to the input.
func (u *Update) Bytes() []byte { return u.buf }

// WriteTo writes the update bytes (not the input) to w.
func (u *Update) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(u.buf)
	return int64(n), err
}

type xobj struct {
	num, gen int
	off      int64
}

// updateWriter accumulates the objects of an update and their offsets.
type updateWriter struct {
	base int64
	buf  []byte
	objs []xobj
}

func (w *updateWriter) begin(num, gen int) {
	w.objs = append(w.objs, xobj{num, gen, w.base + int64(len(w.buf))})
	w.buf = strconv.AppendInt(w.buf, int64(num), 10)
	w.buf = append(w.buf, ' ')
	w.buf = strconv.AppendInt(w.buf, int64(gen), 10)
	w.buf = append(w.buf, " obj\n"...)
}

func (w *updateWriter) end() { w.buf = append(w.buf, "\nendobj\n"...) }

func (w *updateWriter) object(r Ref, o Object) {
	w.begin(r.Num, r.Gen)
	w.buf = appendObject(w.buf, o)
	w.end()
}

// placement is a seal rectangle mapped into default user space.
type placement struct {
	rect   [4]float64 // widget /Rect
	bw, bh float64    // appearance BBox size (as seen upright)
	matrix [4]float64 // rotation of the appearance /Matrix
	img    [6]float64 // image cm inside the appearance
}

const ptPerMM = 72 / 25.4

func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e7 {
			return false
		}
	}
	return true
}

// place converts a rectangle given in millimetres from the visible page's
// top-left corner into user space, clipping it to the visible page.
func place(p *Page, xmm, ymm, wmm, hmm float64) (*placement, error) {
	if !finite(xmm, ymm, wmm, hmm) || wmm <= 0 || hmm <= 0 {
		return nil, &PlacementError{Reason: "seal size must be positive and finite"}
	}
	x0, y0, w, h := xmm*ptPerMM, ymm*ptPerMM, wmm*ptPerMM, hmm*ptPerMM
	W, H := p.displaySize()
	dx0, dy0 := max(x0, 0), max(y0, 0)
	dx1, dy1 := min(x0+w, W), min(y0+h, H)
	if dx1-dx0 < 0.01 || dy1-dy0 < 0.01 {
		return nil, &PlacementError{Reason: "seal lies wholly outside the visible page"}
	}
	ax, ay := p.toUser(dx0, dy0)
	bx, by := p.toUser(dx1, dy1)
	pl := &placement{
		rect: [4]float64{min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)},
		bw:   dx1 - dx0,
		bh:   dy1 - dy0,
		img:  [6]float64{w, 0, 0, h, x0 - dx0, dy1 - y0 - h},
	}
	switch p.Rotate {
	case 0:
		pl.matrix = [4]float64{1, 0, 0, 1}
	case 90: // the page turns clockwise, so the appearance turns back
		pl.matrix = [4]float64{0, 1, -1, 0}
	case 180:
		pl.matrix = [4]float64{-1, 0, 0, -1}
	case 270:
		pl.matrix = [4]float64{0, -1, 1, 0}
	}
	return pl, nil
}

// textString encodes s as a PDF text string: bytes as they are when ASCII,
// UTF-16BE with a byte order mark otherwise.
func textString(s string) String {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return String(s)
	}
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2, 2+2*len(u))
	b[0], b[1] = 0xfe, 0xff
	for _, c := range u {
		b = binary.BigEndian.AppendUint16(b, c)
	}
	return String(b)
}

// pdfDate formats t as D:YYYYMMDDHHmmSS+hh'mm'.
func pdfDate(t time.Time) string {
	_, off := t.Zone()
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	return fmt.Sprintf("D:%s%c%02d'%02d'", t.Format("20060102150405"), sign, off/3600, off%3600/60)
}

// acroForm locates the AcroForm and its /Fields as the catalog holds them.
type acroForm struct {
	dict      Dict // nil when absent
	ref       Ref  // set when the AcroForm is an indirect object
	indirect  bool
	fields    Array
	fieldsRef Ref
	fieldsInd bool
}

func (d *Document) acroForm(cat Dict) (*acroForm, error) {
	af := &acroForm{}
	switch v := cat["AcroForm"].(type) {
	case Ref:
		o, err := d.Object(v)
		if err != nil {
			return nil, err
		}
		if dict, ok := o.(Dict); ok {
			af.dict, af.ref, af.indirect = dict, v, true
		}
	case Dict:
		af.dict = v
	}
	if af.dict == nil {
		return af, nil
	}
	switch v := af.dict["Fields"].(type) {
	case Ref:
		o, err := d.Object(v)
		if err != nil {
			return nil, err
		}
		if a, ok := o.(Array); ok {
			af.fields, af.fieldsRef, af.fieldsInd = a, v, true
		}
	case Array:
		af.fields = v
	}
	return af, nil
}

// fieldNames returns the fully qualified names of all fields under fields.
func (d *Document) fieldNames(fields Array) map[string]bool {
	names := map[string]bool{}
	d.walkFields(fields, func(_ Ref, fd Dict, name string, _ Name) {
		if _, ok := fd["T"].(String); ok {
			names[name] = true
		}
	})
	return names
}

// walkFields calls fn for every field dictionary in the tree under fields,
// with its fully qualified name and its field type (/FT, inherited). Each
// indirect field is visited once; the depth is bounded. ref is zero for a
// field written inline.
func (d *Document) walkFields(fields Array, fn func(ref Ref, fd Dict, name string, ft Name)) {
	seen := map[int]bool{}
	var walk func(a Array, prefix string, ft Name, depth int)
	walk = func(a Array, prefix string, ft Name, depth int) {
		if depth > maxTreeDepth {
			return
		}
		for _, f := range a {
			r, isRef := f.(Ref)
			if isRef {
				if seen[r.Num] {
					continue
				}
				seen[r.Num] = true
			}
			o, err := d.Resolve(f)
			if err != nil {
				continue
			}
			fd, ok := o.(Dict)
			if !ok {
				continue
			}
			name := prefix
			if t, ok := fd["T"].(String); ok {
				if name != "" {
					name += "."
				}
				name += decodeText(t)
			}
			fft := ft
			if t := fd.name("FT"); t != "" {
				fft = t
			}
			fn(r, fd, name, fft)
			if ko, _ := d.Resolve(fd["Kids"]); ko != nil {
				if kids, ok := ko.(Array); ok {
					walk(kids, name, fft, depth+1)
				}
			}
		}
	}
	walk(fields, "", "", 0)
}

// PrepareSignature builds one incremental update adding a visible signature
// field on the requested page with a zero-filled /Contents placeholder. It
// reads only the trailer, catalog, AcroForm and the page tree path.
func (d *Document) PrepareSignature(req SignatureRequest) (*Update, error) {
	if req.Image == nil {
		return nil, errors.New("pdf: SignatureRequest.Image is nil")
	}
	reserved := req.ContentsSize
	if reserved == 0 {
		reserved = DefaultContentsSize
	}
	if reserved < 0 || reserved > 1<<24 {
		return nil, fmt.Errorf("pdf: ContentsSize %d out of range", req.ContentsSize)
	}
	subFilter := req.SubFilter
	if subFilter == "" {
		subFilter = SubFilterPKCS7Detached
	}
	if subFilter != SubFilterPKCS7Detached && subFilter != SubFilterCAdESDetached && subFilter != SubFilterGBT38540 {
		return nil, fmt.Errorf("pdf: unsupported SubFilter %q", subFilter)
	}
	signingTime := req.SigningTime
	if signingTime.IsZero() {
		signingTime = time.Now()
	}

	var reference []byte
	if req.Certify != 0 {
		if req.Certify < 1 || req.Certify > 3 {
			return nil, &CertifyError{Reason: fmt.Sprintf("/P %d: want 1, 2 or 3", req.Certify)}
		}
		if sigs, err := d.Signatures(); err != nil {
			return nil, err
		} else if len(sigs) > 0 {
			return nil, &CertifyError{Reason: fmt.Sprintf("the document is already signed (%d signature(s)): only the first signature certifies", len(sigs))}
		}
		reference = fmt.Appendf(nil, "/Reference [<</Type/SigRef/TransformMethod/DocMDP/TransformParams<</Type/TransformParams/P %d/V/1.2>>>>]", req.Certify)
	}
	plans, err := d.planWidgets(req)
	if err != nil {
		return nil, err
	}
	cat, af, field, err := d.newField(req.FieldName, "Seal")
	if err != nil {
		return nil, err
	}

	w, alloc := d.newUpdate()
	// The update is mostly the image streams and /Contents: room for them
	// at once, rather than the buffer doubling its way there.
	w.buf = slices.Grow(w.buf, len(req.Image.rgb)+len(req.Image.alpha)+2*reserved+16<<10)
	imgNum := alloc(req.Image.objects())
	formNum := alloc(len(plans))
	sigNum := alloc(1)
	fieldRef := Ref{alloc(1), 0}
	// One widget is merged with its field; a cross-page seal's widgets are
	// the field's /Kids.
	widgetRefs := []Ref{fieldRef}
	if len(plans) > 1 {
		first := alloc(len(plans))
		widgetRefs = widgetRefs[:0]
		for i := range plans {
			widgetRefs = append(widgetRefs, Ref{first + i, 0})
		}
	}

	w.writeImage(req.Image, imgNum)
	for i, p := range plans {
		w.writeAppearance(formNum+i, p, Ref{imgNum, 0})
	}

	lt, gt, brPos := w.writeSigDict(sigNum, "Sig", subFilter, reserved, signingTime, [][2]string{
		{"Name", req.Name}, {"Reason", req.Reason}, {"Location", req.Location}, {"ContactInfo", req.ContactInfo}}, reference)

	widget := func(p widgetPlan, i int) Dict {
		return Dict{
			"Type": Name("Annot"), "Subtype": Name("Widget"), "P": p.page.Ref,
			"Rect": Array{p.pl.rect[0], p.pl.rect[1], p.pl.rect[2], p.pl.rect[3]},
			"F":    int64(132), "AP": Dict{"N": Ref{formNum + i, 0}},
		}
	}
	if len(plans) == 1 {
		// The merged signature field and widget annotation.
		wd := widget(plans[0], 0)
		wd["FT"], wd["T"], wd["V"] = Name("Sig"), textString(field), Ref{sigNum, 0}
		w.object(fieldRef, wd)
	} else {
		kids := make(Array, len(widgetRefs))
		for i, r := range widgetRefs {
			kids[i] = r
		}
		w.object(fieldRef, Dict{"FT": Name("Sig"), "T": textString(field), "V": Ref{sigNum, 0}, "Kids": kids})
		// The widgets carry no /Parent, though ISO 32000-1 12.5.6.19 asks
		// for it. Poppler 22.12 (Debian 12's pdfsig) cannot read a
		// signature field whose widget kids name it: FormField::FormField
		// (poppler/Form.cc 960-978) makes every kid with a /Parent a child
		// field of its own, whatever it holds; the child inherits /FT /Sig
		// and becomes a FormFieldSignature, whose parseInfo (Form.cc
		// 2250-2260) reads /V from the kid itself, not inherited, and so
		// finds it unsigned; PDFDoc::getSignatureFields (PDFDoc.cc 547-559)
		// lists every such leaf. An N-page seal is then N "not signed"
		// signatures; /V copied onto each kid would make N signed ones,
		// never one. Later poppler (26.04's Form.cc) takes a kid with
		// /Parent but no /T for a pure widget. Until Debian's pdfsig does,
		// readers find the widgets through the field's /Kids, as PDF 1.4
		// files have them.
		for i, p := range plans {
			w.object(widgetRefs[i], widget(p, i))
		}
	}

	// Each page's /Annots grows by its widget.
	if err := d.addAnnots(w, plans, widgetRefs); err != nil {
		return nil, err
	}

	var perms Dict
	if req.Certify != 0 {
		perms = Dict{"DocMDP": Ref{sigNum, 0}}
	}
	return d.finishUpdate(w, alloc, af, cat, perms, fieldRef, signingTime, field, lt, gt, brPos, reserved)
}

// writeSigDict writes the signature dictionary as object sigNum: /Type
// typ, a fixed-width /ByteRange to fill in later and a zero-filled
// /Contents of reserved bytes, /M, and the text entries of extra that are
// not empty, then raw (further entries, already PDF). It returns the
// offsets in w.buf of /Contents' "<", of the byte after its ">" and of the
// /ByteRange numbers.
func (w *updateWriter) writeSigDict(sigNum int, typ Name, subFilter string, reserved int, t time.Time, extra [][2]string, raw []byte) (lt, gt, brPos int) {
	w.begin(sigNum, 0)
	w.buf = append(w.buf, "<</Type"...)
	w.buf = appendName(w.buf, typ)
	w.buf = append(w.buf, "/Filter/Adobe.PPKLite/SubFilter"...)
	w.buf = appendName(w.buf, Name(subFilter))
	w.buf = append(w.buf, "/ByteRange [0 "...)
	brPos = len(w.buf)
	w.buf = append(w.buf, "0          0          0         ]"...)
	w.buf = append(w.buf, "/Contents "...)
	lt = len(w.buf)
	w.buf = append(w.buf, '<')
	for i := 0; i < 2*reserved; i++ {
		w.buf = append(w.buf, '0')
	}
	w.buf = append(w.buf, '>')
	gt = len(w.buf)
	w.buf = append(w.buf, "/M "...)
	w.buf = appendString(w.buf, String(pdfDate(t)))
	for _, kv := range extra {
		if kv[1] != "" {
			w.buf = appendName(w.buf, Name(kv[0]))
			w.buf = append(w.buf, ' ')
			w.buf = appendString(w.buf, textString(kv[1]))
		}
	}
	w.buf = append(w.buf, raw...)
	w.buf = append(w.buf, ">>"...)
	w.end()
	return lt, gt, brPos
}

// finishUpdate adds fieldRef to the AcroForm (with /SigFlags 3), sets the
// catalog's /Perms when perms is not nil, writes the cross-reference
// section and fills in the /ByteRange: everything but the /Contents
// between lt and gt.
func (d *Document) finishUpdate(w *updateWriter, alloc func(int) int, af *acroForm, cat, perms Dict, fieldRef Ref, t time.Time, field string, lt, gt, brPos, reserved int) (*Update, error) {
	rootRef := d.trailer["Root"].(Ref)
	newAF := Dict{}
	if af.dict != nil {
		newAF = cloneDict(af.dict)
	}
	sigFlags, _ := newAF["SigFlags"].(int64)
	newAF["SigFlags"] = sigFlags | 3
	fields := append(append(Array{}, af.fields...), fieldRef)
	if af.fieldsInd {
		w.object(Ref{af.fieldsRef.Num, d.genOf(af.fieldsRef.Num)}, fields)
	} else {
		newAF["Fields"] = fields
	}
	nc := cloneDict(cat)
	if perms != nil {
		nc["Perms"] = perms
	}
	if af.indirect {
		w.object(Ref{af.ref.Num, d.genOf(af.ref.Num)}, newAF)
	} else if af.dict != nil {
		nc["AcroForm"] = newAF
	} else {
		afNum := alloc(1)
		w.object(Ref{afNum, 0}, newAF)
		nc["AcroForm"] = Ref{afNum, 0}
	}
	if !af.indirect || perms != nil {
		w.object(Ref{rootRef.Num, d.genOf(rootRef.Num)}, nc)
	}

	if err := d.writeXRef(w, alloc, t, field); err != nil {
		return nil, err
	}

	u := &Update{src: d.r, srcSize: d.size, buf: w.buf, lt: lt, gt: gt, reserved: reserved, field: field}
	a := d.size + int64(lt)
	b := d.size + int64(gt)
	c := d.size + int64(len(w.buf)) - b
	u.byteRange = [4]int64{0, a, b, c}
	br := fmt.Sprintf("%-10d %-10d %-10d", a, b, c)
	if len(br) != 32 {
		return nil, errors.New("pdf: file too large for the /ByteRange field")
	}
	copy(u.buf[brPos:], br)
	return u, nil
}

// writeAppearance writes the appearance of one widget as object num: the
// picture scaled to the seal size, clipped to the part of the seal on the
// visible page (or to the strip of a cross-page seal), turned upright on
// rotated pages.
func (w *updateWriter) writeAppearance(objNum int, p widgetPlan, img Ref) {
	if p.qr != nil {
		w.writeQRAppearance(objNum, p)
		return
	}
	pl := p.pl
	content := "q 0 0 " + num(pl.bw) + " " + num(pl.bh) + " re W n " +
		num(pl.img[0]) + " 0 0 " + num(pl.img[3]) + " " + num(pl.img[4]) + " " + num(pl.img[5]) +
		" cm /Im1 Do Q"
	w.begin(objNum, 0)
	w.buf = append(w.buf, "<</Type/XObject/Subtype/Form/BBox ["...)
	w.buf = append(w.buf, "0 0 "+num(pl.bw)+" "+num(pl.bh)+"]"...)
	if p.page.Rotate != 0 {
		m := pl.matrix
		w.buf = append(w.buf, "/Matrix ["+num(m[0])+" "+num(m[1])+" "+num(m[2])+" "+num(m[3])+" 0 0]"...)
	}
	w.buf = append(w.buf, "/Resources<</XObject<</Im1 "...)
	w.buf = appendObject(w.buf, img)
	w.buf = append(w.buf, ">>>>/Length "...)
	w.buf = strconv.AppendInt(w.buf, int64(len(content)), 10)
	w.buf = append(w.buf, ">>\nstream\n"...)
	w.buf = append(w.buf, content...)
	w.buf = append(w.buf, "\nendstream"...)
	w.end()
}

// addAnnots rewrites each page (or its indirect /Annots array) with its
// widget appended; a page or array shared by several widgets is written
// once.
func (d *Document) addAnnots(w *updateWriter, plans []widgetPlan, widgets []Ref) error {
	type pending struct {
		ref Ref
		obj Object
	}
	var order []*pending
	byNum := map[int]*pending{}
	get := func(r Ref, init func() Object) *pending {
		if p, ok := byNum[r.Num]; ok {
			return p
		}
		p := &pending{ref: Ref{r.Num, d.genOf(r.Num)}, obj: init()}
		byNum[r.Num] = p
		order = append(order, p)
		return p
	}
	for i, pl := range plans {
		page := pl.page
		if pd, ok := byNum[page.Ref.Num]; ok { // page already rewritten
			dict := pd.obj.(Dict)
			dict["Annots"] = append(dict["Annots"].(Array), widgets[i])
			continue
		}
		if a, ok := page.Dict["Annots"].(Ref); ok {
			o, err := d.Object(a)
			if err != nil {
				return err
			}
			if arr, ok := o.(Array); ok {
				p := get(a, func() Object { return append(Array{}, arr...) })
				p.obj = append(p.obj.(Array), widgets[i])
				continue
			}
		}
		p := get(page.Ref, func() Object {
			pd := cloneDict(page.Dict)
			old, _ := pd["Annots"].(Array)
			pd["Annots"] = append(Array{}, old...)
			return pd
		})
		dict := p.obj.(Dict)
		dict["Annots"] = append(dict["Annots"].(Array), widgets[i])
	}
	for _, p := range order {
		w.object(p.ref, p.obj)
	}
	return nil
}

// writeXRef appends the cross-reference section in the form of the previous
// one, the trailer, startxref and %%EOF.
func (d *Document) writeXRef(w *updateWriter, alloc func(int) int, t time.Time, field string) error {
	prev := d.trailer
	// /ID: keep the first element, derive a new second one.
	h := md5.New()
	fmt.Fprintf(h, "%d %d %s %s", d.size, d.startxref, t.Format(time.RFC3339Nano), field)
	id1 := String(h.Sum(nil))
	id := Array{id1, id1}
	if a, ok := prev["ID"].(Array); ok && len(a) == 2 {
		if s, ok := a[0].(String); ok {
			id = Array{s, id1}
		}
	}
	tr := Dict{}
	if d.sections[0].stream {
		for _, k := range []Name{"Root", "Info"} {
			if v, ok := prev[k]; ok {
				tr[k] = v
			}
		}
	} else {
		for k, v := range prev {
			switch k {
			case "Prev", "XRefStm", "Size":
			default:
				tr[k] = v
			}
		}
	}
	tr["ID"] = id
	// The section actually read, not a startxref a few bytes off that the
	// tolerant reader corrected: a strict reader follows /Prev exactly.
	tr["Prev"] = d.sections[0].off

	if d.sections[0].stream {
		xnum := alloc(1)
		w.begin(xnum, 0)
		objs := append([]xobj(nil), w.objs...)
		sort.Slice(objs, func(i, j int) bool { return objs[i].num < objs[j].num })
		maxOff := objs[len(objs)-1].off
		for _, o := range objs {
			maxOff = max(maxOff, o.off)
		}
		ow := 1
		for maxOff >= 1<<(8*ow) && ow < 8 {
			ow++
		}
		var index Array
		var data []byte
		for i := 0; i < len(objs); {
			j := i
			for j+1 < len(objs) && objs[j+1].num == objs[j].num+1 {
				j++
			}
			index = append(index, int64(objs[i].num), int64(j-i+1))
			for k := i; k <= j; k++ {
				data = append(data, 1)
				for b := ow - 1; b >= 0; b-- {
					data = append(data, byte(objs[k].off>>(8*b)))
				}
				data = append(data, byte(objs[k].gen>>8), byte(objs[k].gen))
			}
			i = j + 1
		}
		tr["Type"] = Name("XRef")
		tr["Size"] = int64(xnum + 1)
		tr["W"] = Array{int64(1), int64(ow), int64(2)}
		tr["Index"] = index
		tr["Length"] = int64(len(data))
		xoff := w.objs[len(w.objs)-1].off
		w.buf = appendObject(w.buf, tr)
		w.buf = append(w.buf, "\nstream\n"...)
		w.buf = append(w.buf, data...)
		w.buf = append(w.buf, "\nendstream"...)
		w.end()
		w.buf = fmt.Appendf(w.buf, "startxref\n%d\n%%%%EOF\n", xoff)
		return nil
	}

	objs := append([]xobj(nil), w.objs...)
	sort.Slice(objs, func(i, j int) bool { return objs[i].num < objs[j].num })
	xoff := w.base + int64(len(w.buf))
	w.buf = append(w.buf, "xref\n"...)
	for i := 0; i < len(objs); {
		j := i
		for j+1 < len(objs) && objs[j+1].num == objs[j].num+1 {
			j++
		}
		w.buf = fmt.Appendf(w.buf, "%d %d\n", objs[i].num, j-i+1)
		for k := i; k <= j; k++ {
			w.buf = fmt.Appendf(w.buf, "%010d %05d n\r\n", objs[k].off, objs[k].gen)
		}
		i = j + 1
	}
	tr["Size"] = int64(objs[len(objs)-1].num + 1)
	if s, ok := prev["Size"].(int64); ok && s > tr["Size"].(int64) {
		tr["Size"] = s
	}
	w.buf = append(w.buf, "trailer\n"...)
	w.buf = appendObject(w.buf, tr)
	w.buf = fmt.Appendf(w.buf, "\nstartxref\n%d\n%%%%EOF\n", xoff)
	return nil
}

// newUpdate starts an incremental update: a writer whose buffer begins on a
// new line, and an allocator numbering new objects from the previous /Size
// (or past the highest object actually used, when /Size lies).
func (d *Document) newUpdate() (*updateWriter, func(n int) int) {
	w := &updateWriter{base: d.size}
	var last [1]byte
	if d.size > 0 {
		d.r.ReadAt(last[:], d.size-1)
	}
	if last[0] != '\n' && last[0] != '\r' {
		w.buf = append(w.buf, '\n')
	}
	next := d.maxNum + 1
	if s, ok := d.trailer["Size"].(int64); ok && s > int64(next) && s <= maxObjectNum {
		next = int(s)
	}
	return w, func(n int) int { r := next; next += n; return r }
}

// newField reads the catalog and AcroForm a new signature field goes into
// and names the field: the requested name, refused when taken, else
// prefix1, prefix2, … — the first one free.
func (d *Document) newField(requested, prefix string) (Dict, *acroForm, string, error) {
	cat, err := d.Catalog()
	if err != nil {
		return nil, nil, "", err
	}
	af, err := d.acroForm(cat)
	if err != nil {
		return nil, nil, "", err
	}
	names := d.fieldNames(af.fields)
	if requested != "" {
		if names[requested] {
			return nil, nil, "", &FieldExistsError{Name: requested}
		}
		return cat, af, requested, nil
	}
	for i := 1; ; i++ {
		if field := prefix + strconv.Itoa(i); !names[field] {
			return cat, af, field, nil
		}
	}
}
