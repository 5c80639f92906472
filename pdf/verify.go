package pdf

import (
	"bytes"
	"encoding/binary"
	"sort"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// A Signature is one signature field found in the document, with the checks
// a verifier needs before it looks at the CMS.
type Signature struct {
	FieldName string
	// Type is the signature dictionary's /Type: "Sig", "DocTimeStamp"
	// (a document timestamp, ISO 32000-2 §12.8.5) or empty.
	Type        string
	Filter      string
	SubFilter   string
	ByteRange   [4]int64
	Contents    []byte // hex-decoded; trailing zero padding left for the CMS parser
	M           string // raw /M date string
	SigningTime time.Time
	Name        string
	Reason      string
	Location    string
	ContactInfo string
	Page        int // 0 when the widget is on no page
	Rect        [4]float64
	// Pages lists, ascending, every page with a widget of the field: one
	// page for an ordinary seal, several for a cross-page seal (骑缝章).
	Pages []int
	// DocMDP is the /P of a certification signature (its /Reference names
	// the DocMDP transform; 2 when /P is absent), 0 for any other;
	// DocMDPInForce says the catalog's /Perms /DocMDP points at this
	// signature dictionary.
	DocMDP        int
	DocMDPInForce bool
	Ref           Ref // the signature dictionary (zero Ref when direct)
	Field         Ref // the field (or merged field and widget) holding /V

	// ByteRangeOK is true when the range starts at 0, lies inside the file
	// and its gap is exactly this dictionary's /Contents hex string.
	ByteRangeOK      bool
	ByteRangeProblem string // why ByteRangeOK is false
	// RevisionEnd is the end of the revision whose %%EOF the range ends at;
	// CoversRevision says whether there is one.
	RevisionEnd    int64
	CoversRevision bool
}

// decodeText decodes a PDF text string (UTF-16BE with BOM, UTF-8 with BOM,
// otherwise PDFDocEncoding, read as Latin-1).
func decodeText(s String) string {
	if len(s) >= 2 && s[0] == 0xfe && s[1] == 0xff {
		u := make([]uint16, 0, len(s)/2)
		for i := 2; i+1 < len(s); i += 2 {
			u = append(u, binary.BigEndian.Uint16(s[i:]))
		}
		return string(utf16.Decode(u))
	}
	if len(s) >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf && utf8.Valid(s[3:]) {
		return string(s[3:])
	}
	r := make([]rune, len(s))
	for i, c := range s {
		r[i] = rune(c)
	}
	return string(r)
}

// ParseDate parses a PDF date string such as D:20240131120000+08'00'.
func ParseDate(s string) (time.Time, bool) {
	s = string(bytes.TrimPrefix([]byte(s), []byte("D:")))
	if len(s) < 4 {
		return time.Time{}, false
	}
	parts := []int{0, 1, 1, 0, 0, 0}
	widths := []int{4, 2, 2, 2, 2, 2}
	p := 0
	for i, w := range widths {
		if p+w > len(s) || !isDigit(int(s[p])) {
			break
		}
		v, err := strconv.Atoi(s[p : p+w])
		if err != nil {
			return time.Time{}, false
		}
		parts[i] = v
		p += w
	}
	loc := time.UTC
	if p < len(s) && (s[p] == '+' || s[p] == '-') {
		sign := 1
		if s[p] == '-' {
			sign = -1
		}
		rest := []byte(s[p+1:])
		rest = bytes.ReplaceAll(rest, []byte("'"), nil)
		hh, mm := 0, 0
		if len(rest) >= 2 {
			hh, _ = strconv.Atoi(string(rest[:2]))
		}
		if len(rest) >= 4 {
			mm, _ = strconv.Atoi(string(rest[2:4]))
		}
		loc = time.FixedZone("", sign*(hh*3600+mm*60))
	}
	return time.Date(parts[0], time.Month(parts[1]), parts[2], parts[3], parts[4], parts[5], 0, loc), true
}

// Revisions returns the end offset of each revision — each %%EOF that ends a
// cross-reference section of the startxref chain — oldest first.
func (d *Document) Revisions() []int64 {
	chain := map[int64]bool{}
	for _, s := range d.sections {
		chain[s.off] = true
	}
	ends := map[int64]bool{}
	for _, s := range d.sections {
		if e, ok := d.revisionEndAfter(s.end, chain); ok {
			ends[e] = true
		}
	}
	out := make([]int64, 0, len(ends))
	for e := range ends {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// revisionEndAfter finds "startxref N %%EOF" shortly after pos, with N one of
// the chain's sections, and returns the offset after %%EOF and its EOL.
func (d *Document) revisionEndAfter(pos int64, chain map[int64]bool) (int64, bool) {
	const window = 1024
	buf := make([]byte, min(window, max(0, d.size-pos)))
	n, _ := d.r.ReadAt(buf, pos)
	buf = buf[:n]
	i := bytes.Index(buf, []byte("startxref"))
	if i < 0 {
		return 0, false
	}
	l := newBytesLexer(buf)
	l.pos = int64(i + len("startxref"))
	v, ok := l.integer()
	if !ok || !chain[v] {
		return 0, false
	}
	l.skipWSNoComment()
	if !bytes.HasPrefix(buf[l.pos:], []byte("%%EOF")) {
		return 0, false
	}
	e := l.pos + 5
	if e < int64(len(buf)) && buf[e] == '\r' {
		e++
	}
	if e < int64(len(buf)) && buf[e] == '\n' {
		e++
	}
	return pos + e, true
}

func (l *lexer) skipWSNoComment() {
	for isWS(l.at(l.pos)) {
		l.pos++
	}
}

// Signatures returns every signature field with a value: fields under
// /AcroForm /Fields (with /Kids) and widgets on pages whose /V is a
// signature dictionary. A signature field whose /V is not a usable signature
// dictionary (no /ByteRange, not a dictionary) is returned with the problem
// in ByteRangeProblem.
func (d *Document) Signatures() ([]Signature, error) {
	cat, err := d.Catalog()
	if err != nil {
		return nil, err
	}
	pages, _ := d.pageRefs() // a broken page tree still lets fields be listed
	pageOf := map[int]int{}
	var widgets []Ref
	for i, p := range pages {
		pageOf[p.Num] = i + 1
		o, err := d.Object(p)
		if err != nil {
			continue
		}
		pd, _ := o.(Dict)
		ao, _ := d.Resolve(pd["Annots"])
		annots, _ := ao.(Array)
		for _, a := range annots {
			if r, ok := a.(Ref); ok {
				if _, dup := pageOf[-r.Num-1]; !dup {
					pageOf[-r.Num-1] = i + 1 // widget → page, keyed negatively
				}
				widgets = append(widgets, r)
			}
		}
	}
	var sigs []Signature
	seen := map[int]bool{}
	revs := d.Revisions()
	// add lists a field with a value. A signature field whose value is not
	// a usable signature dictionary is listed too, with the problem, so that
	// stripping /ByteRange or pointing /V elsewhere cannot make a signature
	// disappear from the report.
	add := func(ref Ref, fd Dict, name string, sigField bool) {
		if seen[ref.Num] {
			return
		}
		vo, err := d.Resolve(fd["V"])
		if err == nil && vo == nil {
			return // an empty field
		}
		sd, _ := vo.(Dict)
		problem := ""
		switch {
		case err != nil:
			problem = "/V cannot be read: " + err.Error()
		case sd == nil:
			problem = "/V is not a signature dictionary"
		case sd.name("Type") != "Sig" && sd.name("Type") != "DocTimeStamp" && sd.name("Type") != "":
			problem = "/V has /Type /" + string(sd.name("Type"))
		case sd["ByteRange"] == nil:
			problem = "the signature dictionary has no /ByteRange"
		}
		if problem != "" && !sigField {
			return
		}
		seen[ref.Num] = true
		sig := Signature{FieldName: name, Field: ref, Type: string(sd.name("Type")), Filter: string(sd.name("Filter")), SubFilter: string(sd.name("SubFilter"))}
		if r, ok := fd["V"].(Ref); ok {
			sig.Ref = r
		}
		if c, ok := sd["Contents"].(String); ok {
			sig.Contents = []byte(c)
		}
		sig.DocMDP = d.docMDP(sd)
		if pd, _ := d.resolveDict(cat["Perms"]); pd != nil && sig.Ref.Num != 0 {
			r, ok := pd["DocMDP"].(Ref)
			sig.DocMDPInForce = ok && r == sig.Ref
		}
		if m, ok := sd["M"].(String); ok {
			sig.M = string(m)
			sig.SigningTime, _ = ParseDate(sig.M)
		}
		for k, dst := range map[Name]*string{"Name": &sig.Name, "Reason": &sig.Reason, "Location": &sig.Location, "ContactInfo": &sig.ContactInfo} {
			if s, ok := sd[k].(String); ok {
				*dst = decodeText(s)
			}
		}
		if r, ok := d.box(fd["Rect"]); ok {
			sig.Rect = r
		}
		if p, ok := fd["P"].(Ref); ok {
			sig.Page = pageOf[p.Num]
		}
		if sig.Page == 0 {
			sig.Page = pageOf[-ref.Num-1]
		}
		d.widgetPages(&sig, ref, fd, pageOf)
		if problem != "" {
			sig.ByteRangeProblem = problem
		} else {
			d.checkByteRange(&sig, sd, ref, revs)
		}
		sigs = append(sigs, sig)
	}

	if af, err := d.acroForm(cat); err == nil {
		d.walkFields(af.fields, func(r Ref, fd Dict, name string, ft Name) {
			if ft == "Sig" && r.Num > 0 {
				add(r, fd, name, true)
			}
		})
	}
	for _, r := range widgets {
		o, err := d.Object(r)
		if err != nil {
			continue
		}
		if fd, ok := o.(Dict); ok && fd.name("Subtype") == "Widget" {
			name := ""
			if t, ok := fd["T"].(String); ok {
				name = decodeText(t)
			}
			add(r, fd, name, d.fieldType(fd) == "Sig")
		}
	}
	return sigs, nil
}

// docMDP returns the /P of the DocMDP transform a signature dictionary's
// /Reference names (2 when absent, as ISO 32000-1 Table 254 says), 0 when
// it names none; a /P out of 1..3 reads as 1, the strictest.
func (d *Document) docMDP(sd Dict) int {
	refs, _ := d.Resolve(sd["Reference"])
	arr, _ := refs.(Array)
	for _, o := range arr {
		ref, _ := d.resolveDict(o)
		if ref == nil || ref.name("TransformMethod") != "DocMDP" {
			continue
		}
		tp, _ := d.resolveDict(ref["TransformParams"])
		p, ok := tp["P"].(int64)
		switch {
		case !ok:
			return 2
		case p < 1 || p > 3:
			return 1
		}
		return int(p)
	}
	return 0
}

// checkByteRange fills the ByteRange checks of sig.
func (d *Document) checkByteRange(sig *Signature, sd Dict, field Ref, revs []int64) {
	ba, _ := sd["ByteRange"].(Array)
	if len(ba) != 4 {
		sig.ByteRangeProblem = "ByteRange does not have four numbers"
		return
	}
	for i, v := range ba {
		n, ok := v.(int64)
		if !ok || n < 0 {
			sig.ByteRangeProblem = "ByteRange holds a non-integer or negative value"
			return
		}
		sig.ByteRange[i] = n
	}
	br := sig.ByteRange
	end := br[2] + br[3]
	for _, r := range revs {
		if r == end {
			sig.RevisionEnd, sig.CoversRevision = r, true
		}
	}
	switch {
	case br[0] != 0:
		sig.ByteRangeProblem = "ByteRange does not start at 0"
		return
	case br[1] <= 0 || br[2] <= br[1] || end > d.size || end < br[2]:
		sig.ByteRangeProblem = "ByteRange is out of order or beyond the file"
		return
	}
	// Find where this dictionary's /Contents string lies in the file.
	holder := sig.Ref
	if holder == (Ref{}) {
		holder = field // a direct signature dictionary inside the field
	}
	e, ok := d.xref[holder.Num]
	if !ok || e.typ != 1 {
		sig.ByteRangeProblem = "signature dictionary is not stored as a plain object"
		return
	}
	l := newLexer(d.r, d.size, e.off)
	found := false
	var span [2]int64
	l.spanHook = func(dict Dict, spans map[Name][2]int64) {
		if found {
			return
		}
		if a, ok := dict["ByteRange"].(Array); ok && equalObjects(a, ba) {
			if s, ok := spans["Contents"]; ok {
				span, found = s, true
			}
		}
	}
	if _, ok := d.objectHeader(l); ok {
		l.object()
	}
	if !found {
		sig.ByteRangeProblem = "could not locate /Contents of the signature dictionary"
		return
	}
	if span[0] != br[1] || span[1] != br[2] {
		sig.ByteRangeProblem = "ByteRange gap is not exactly the /Contents string"
		return
	}
	var lt [1]byte
	if _, err := d.r.ReadAt(lt[:], br[1]); err != nil || lt[0] != '<' {
		sig.ByteRangeProblem = "/Contents is not a hex string"
		return
	}
	sig.ByteRangeOK = true
}

// widgetPages fills sig.Pages from the field's own widget and its widget
// /Kids; a field that is not itself a widget takes its page and /Rect from
// its first widget.
func (d *Document) widgetPages(sig *Signature, ref Ref, fd Dict, pageOf map[int]int) {
	seen := map[int]bool{}
	add := func(p int) {
		if p > 0 && !seen[p] {
			seen[p] = true
			sig.Pages = append(sig.Pages, p)
		}
	}
	if sig.Page > 0 {
		add(sig.Page)
	}
	kids, _ := d.resolveArray(fd["Kids"])
	for i, k := range kids {
		if i >= 10000 { // more widgets than any real field has
			break
		}
		kr, ok := k.(Ref)
		if !ok {
			continue
		}
		kd, ok := d.resolveDict(kr)
		if !ok || kd.name("Subtype") != "Widget" {
			continue
		}
		p := 0
		if pr, ok := kd["P"].(Ref); ok {
			p = pageOf[pr.Num]
		}
		if p == 0 {
			p = pageOf[-kr.Num-1]
		}
		if sig.Page == 0 && p > 0 {
			sig.Page = p
			if r, ok := d.box(kd["Rect"]); ok {
				sig.Rect = r
			}
		}
		add(p)
	}
	sort.Ints(sig.Pages)
}
