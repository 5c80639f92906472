package pdf

import (
	"bytes"
	"io"
	"sort"
)

// Limits against hostile files.
const (
	maxSections   = 4096     // cross-reference sections in the /Prev chain
	maxObjectNum  = 10000000 // highest object number accepted
	maxDecoded    = 64 << 20 // bytes a single decoded stream may expand to
	maxRefHops    = 32       // chained indirect references resolved
	tailWindow    = 2048     // bytes searched for startxref at the end
	headerWindow  = 1024     // bytes searched for %PDF- at the start
	xrefFixWindow = 64       // tolerance when startxref is slightly off
)

type xrefEntry struct {
	typ uint8 // 0 free, 1 in file, 2 in object stream
	off int64 // file offset, or object stream number
	gen int   // generation, or index within the object stream
}

// A section is one cross-reference section of the /Prev chain.
type section struct {
	off     int64 // where startxref (or /Prev) points
	stream  bool  // cross-reference stream rather than classic table
	hybrid  bool  // classic table with /XRefStm
	trailer Dict
	end     int64 // offset just after the trailer dictionary or xref stream
	nums    []int // object numbers this section defines (in use or free)
	xrefNum int   // object number of the xref stream(s), 0 if none
	stmNum  int   // object number of /XRefStm stream, 0 if none
	// entries is what this section alone says of each number it defines;
	// xref holds the merged view, newest first.
	entries map[int]xrefEntry
}

// A Document is a PDF file opened for lazy reading. It is not safe for
// concurrent use.
type Document struct {
	r         io.ReaderAt
	size      int64
	startxref int64
	sections  []*section // newest first
	xref      map[int]xrefEntry
	maxNum    int
	trailer   Dict

	cache   map[int]Object
	loading map[int]bool
	objstms map[int]*objStm

	numPages int // -1 until computed

	// strict: no startxref tolerance, as a verifier must read (OpenStrict).
	strict bool
}

// Open reads the trailer, the cross-reference chain and the catalog of the
// PDF in r. Other objects are parsed on demand and cached.
func Open(r io.ReaderAt, size int64) (*Document, error) { return open(r, size, false) }

// OpenStrict opens r as a verifier must read it: startxref and every /Prev
// must point exactly at a cross-reference section — no search for a
// section a few bytes off, which other readers would not find. Stamping uses
// the tolerant Open; CheckAppendedAfter adds the checks on the bytes after a
// signed revision.
func OpenStrict(r io.ReaderAt, size int64) (*Document, error) { return open(r, size, true) }

func open(r io.ReaderAt, size int64, strict bool) (*Document, error) {
	if size < 0 {
		return nil, formatErr(-1, "negative size")
	}
	head := make([]byte, min(size, headerWindow))
	n, _ := r.ReadAt(head, 0)
	if !bytes.Contains(head[:n], []byte("%PDF-")) {
		return nil, formatErr(0, "no %%PDF- header")
	}
	d := &Document{
		r:        r,
		size:     size,
		xref:     map[int]xrefEntry{},
		cache:    map[int]Object{},
		loading:  map[int]bool{},
		objstms:  map[int]*objStm{},
		numPages: -1,
		strict:   strict,
	}
	sx, err := d.findStartxref()
	if err != nil {
		return nil, err
	}
	d.startxref = sx
	if err := d.loadChain(sx); err != nil {
		return nil, err
	}
	d.trailer = d.sections[0].trailer
	for _, s := range d.sections {
		if _, ok := s.trailer["Encrypt"]; ok {
			return nil, ErrEncrypted
		}
	}
	if _, ok := d.trailer["Root"].(Ref); !ok {
		return nil, formatErr(d.sections[0].off, "trailer has no /Root reference")
	}
	// Reading the catalog now turns a broken file into an error at Open
	// rather than at first use.
	if _, err := d.Catalog(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Document) findStartxref() (int64, error) {
	n := min(d.size, tailWindow)
	tail := make([]byte, n)
	m, _ := d.r.ReadAt(tail, d.size-n)
	tail = tail[:m]
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 {
		return 0, formatErr(d.size, "no startxref at end of file")
	}
	l := newBytesLexer(tail)
	l.pos = int64(i + len("startxref"))
	v, ok := l.integer()
	if !ok || v < 0 || v >= d.size {
		return 0, formatErr(d.size-n+int64(i), "startxref value is missing or outside the file")
	}
	return v, nil
}

// loadChain follows startxref and /Prev, newest first; the newest definition
// of each object wins.
func (d *Document) loadChain(off int64) error {
	seen := map[int64]bool{}
	for {
		if seen[off] {
			return formatErr(off, "loop in /Prev chain")
		}
		if len(seen) >= maxSections {
			return formatErr(off, "too many cross-reference sections")
		}
		seen[off] = true
		s, err := d.readSection(off)
		if err != nil {
			return err
		}
		d.sections = append(d.sections, s)
		prev, ok := s.trailer["Prev"]
		if !ok {
			return nil
		}
		p, ok := toFloat(prev)
		if !ok || p < 0 || p >= float64(d.size) {
			return formatErr(off, "/Prev outside the file")
		}
		off = int64(p)
	}
}

// readSection parses the cross-reference section at off and merges its
// entries under the newer ones already known.
func (d *Document) readSection(off int64) (*section, error) {
	l := newLexer(d.r, d.size, off)
	l.skipWS()
	start := l.pos
	if l.token() == "xref" {
		return d.readTable(l, off)
	}
	l.pos = start
	if _, ok := d.objectHeader(l); ok {
		return d.readXRefStream(off, start)
	}
	if d.strict {
		return nil, formatErr(off, "no cross-reference section where startxref or /Prev points")
	}
	// Tolerate a startxref a few bytes off: look for the nearest "xref".
	lo := max(0, off-xrefFixWindow)
	win := make([]byte, min(d.size-lo, 2*xrefFixWindow))
	n, _ := d.r.ReadAt(win, lo)
	win = win[:n]
	best := int64(-1)
	for i := 0; i+4 <= len(win); i++ {
		if string(win[i:i+4]) == "xref" && (i == 0 || win[i-1] != 't') {
			p := lo + int64(i)
			if best < 0 || abs64(p-off) < abs64(best-off) {
				best = p
			}
		}
	}
	if best < 0 {
		return nil, formatErr(off, "no cross-reference section where startxref points")
	}
	l = newLexer(d.r, d.size, best+4)
	return d.readTable(l, best)
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// objectHeader reads "num gen obj".
func (d *Document) objectHeader(l *lexer) (Ref, bool) {
	n, ok := l.integer()
	if !ok || n < 0 || n > maxObjectNum {
		return Ref{}, false
	}
	g, ok := l.integer()
	if !ok || g < 0 || g > 65535 {
		return Ref{}, false
	}
	if l.keyword() != "obj" {
		return Ref{}, false
	}
	return Ref{int(n), int(g)}, true
}

func (d *Document) define(s *section, num int, e xrefEntry) {
	if num < 0 {
		return
	}
	s.nums = append(s.nums, num)
	if s.entries == nil {
		s.entries = map[int]xrefEntry{}
	}
	if _, ok := s.entries[num]; !ok {
		s.entries[num] = e
	}
	if _, ok := d.xref[num]; ok {
		return // a newer section already defines it
	}
	d.xref[num] = e
	if e.typ != 0 && num > d.maxNum {
		d.maxNum = num
	}
}

func (d *Document) readTable(l *lexer, off int64) (*section, error) {
	s := &section{off: off}
	type ent struct {
		num int
		e   xrefEntry
	}
	var entries []ent
	for {
		l.skipWS()
		if !isDigit(l.at(l.pos)) {
			break
		}
		first, ok1 := l.integer()
		count, ok2 := l.integer()
		if !ok1 || !ok2 || first < 0 || count < 0 || first > maxObjectNum || count > maxObjectNum ||
			count > (d.size-l.pos)/17+1 {
			return nil, l.errf("bad cross-reference subsection header")
		}
		for i := int64(0); i < count; i++ {
			o, ok1 := l.integer()
			g, ok2 := l.integer()
			k := l.keyword()
			if !ok1 || !ok2 || (k != "n" && k != "f") || o < 0 || g < 0 {
				return nil, l.errf("bad cross-reference entry")
			}
			// A common writer bug: the table starts "1 n" although it
			// lists object 0 first.
			if i == 0 && first == 1 && k == "f" && g == 65535 {
				first = 0
			}
			num := int(first + i)
			if num > maxObjectNum {
				return nil, l.errf("object number too large")
			}
			e := xrefEntry{typ: 1, off: o, gen: int(g)}
			if k == "f" || num == 0 {
				e = xrefEntry{typ: 0}
			} else if o >= d.size {
				// points past the end: treat as free, like most readers
				e = xrefEntry{typ: 0}
			}
			entries = append(entries, ent{num, e})
		}
	}
	if l.keyword() != "trailer" {
		return nil, l.errf("missing trailer after cross-reference table")
	}
	t, err := l.object()
	if err != nil {
		return nil, err
	}
	tr, ok := t.(Dict)
	if !ok {
		return nil, l.errf("trailer is not a dictionary")
	}
	s.trailer = tr
	s.end = l.pos
	// Hybrid file: the /XRefStm entries take precedence within this section.
	if x, ok := tr["XRefStm"]; ok {
		xo, ok := toFloat(x)
		if !ok || xo < 0 || xo >= float64(d.size) {
			return nil, formatErr(off, "/XRefStm outside the file")
		}
		s.hybrid = true
		xs, err := d.readXRefStream(int64(xo), int64(xo))
		if err != nil {
			return nil, err
		}
		s.stmNum = xs.xrefNum
		for _, n := range xs.nums {
			d.define(s, n, xs.entries[n]) // already merged; recorded for this section
		}
	}
	for _, e := range entries {
		d.define(s, e.num, e.e)
	}
	return s, nil
}

// readXRefStream parses a cross-reference stream object at pos.
func (d *Document) readXRefStream(off, pos int64) (*section, error) {
	l := newLexer(d.r, d.size, pos)
	ref, ok := d.objectHeader(l)
	if !ok {
		return nil, formatErr(pos, "no cross-reference stream object")
	}
	o, err := d.parseBody(l, ref)
	if err != nil {
		return nil, err
	}
	st, ok := o.(*Stream)
	if !ok {
		return nil, formatErr(pos, "cross-reference object is not a stream")
	}
	if t := st.Dict.name("Type"); t != "XRef" {
		return nil, formatErr(pos, "cross-reference stream has /Type /%s", t)
	}
	data, err := d.decodeStream(st)
	if err != nil {
		return nil, err
	}
	s := &section{off: off, stream: true, trailer: st.Dict, end: st.Offset + st.Length, xrefNum: ref.Num}
	wa, ok := st.Dict["W"].(Array)
	if !ok || len(wa) != 3 {
		return nil, formatErr(pos, "bad /W in cross-reference stream")
	}
	var w [3]int
	row := 0
	for i, x := range wa {
		v, ok := x.(int64)
		if !ok || v < 0 || v > 8 {
			return nil, formatErr(pos, "bad /W in cross-reference stream")
		}
		w[i] = int(v)
		row += int(v)
	}
	if row == 0 {
		return nil, formatErr(pos, "empty /W in cross-reference stream")
	}
	sizeV, _ := st.Dict["Size"].(int64)
	if sizeV < 0 || sizeV > maxObjectNum {
		return nil, formatErr(pos, "absurd /Size %d", sizeV)
	}
	index := Array{int64(0), sizeV}
	if ia, ok := st.Dict["Index"].(Array); ok {
		index = ia
	}
	if len(index)%2 != 0 {
		return nil, formatErr(pos, "odd /Index in cross-reference stream")
	}
	p := 0
	for i := 0; i < len(index); i += 2 {
		first, ok1 := index[i].(int64)
		count, ok2 := index[i+1].(int64)
		if !ok1 || !ok2 || first < 0 || count < 0 || first+count > maxObjectNum {
			return nil, formatErr(pos, "bad /Index in cross-reference stream")
		}
		if count > int64(len(data)-p)/int64(row) {
			return nil, formatErr(pos, "cross-reference stream shorter than /Index says")
		}
		for j := int64(0); j < count; j++ {
			f := [3]int64{1, 0, 0}
			for k := 0; k < 3; k++ {
				if w[k] == 0 {
					continue
				}
				var v int64
				for b := 0; b < w[k]; b++ {
					v = v<<8 | int64(data[p])
					p++
				}
				f[k] = v
			}
			num := int(first + j)
			var e xrefEntry
			switch f[0] {
			case 1:
				e = xrefEntry{typ: 1, off: f[1], gen: int(f[2])}
				if f[1] < 0 || f[1] >= d.size {
					e = xrefEntry{}
				}
			case 2:
				e = xrefEntry{typ: 2, off: f[1], gen: int(f[2])}
				if f[1] <= 0 || f[1] > maxObjectNum || f[2] < 0 || f[2] > maxObjectNum {
					e = xrefEntry{}
				}
			}
			if num == 0 {
				e = xrefEntry{}
			}
			d.define(s, num, e)
		}
	}
	return s, nil
}

// Trailer returns the newest trailer dictionary (for a cross-reference
// stream, its stream dictionary).
func (d *Document) Trailer() Dict { return d.trailer }

// Size returns the length of the file in bytes.
func (d *Document) Size() int64 { return d.size }

// Catalog returns the document catalog.
func (d *Document) Catalog() (Dict, error) {
	o, err := d.Resolve(d.trailer["Root"])
	if err != nil {
		return nil, err
	}
	c, ok := o.(Dict)
	if !ok {
		return nil, formatErr(-1, "catalog is not a dictionary")
	}
	return c, nil
}

// Resolve follows indirect references until it reaches a direct object.
func (d *Document) Resolve(o Object) (Object, error) {
	for i := 0; i < maxRefHops; i++ {
		r, ok := o.(Ref)
		if !ok {
			return o, nil
		}
		var err error
		if o, err = d.Object(r); err != nil {
			return nil, err
		}
	}
	return nil, formatErr(-1, "chain of references too long")
}

// Object returns the indirect object r. An object absent from the
// cross-reference or marked free is null, as ISO 32000 says.
func (d *Document) Object(r Ref) (Object, error) {
	if o, ok := d.cache[r.Num]; ok {
		return o, nil
	}
	e, ok := d.xref[r.Num]
	if !ok || e.typ == 0 {
		return nil, nil
	}
	if d.loading[r.Num] {
		return nil, formatErr(-1, "object %d refers to itself while loading", r.Num)
	}
	d.loading[r.Num] = true
	defer delete(d.loading, r.Num)
	var o Object
	var err error
	switch e.typ {
	case 1:
		o, err = d.readAt(r.Num, e)
	case 2:
		o, err = d.readCompressed(r.Num, e)
	}
	if err != nil {
		return nil, err
	}
	d.cache[r.Num] = o
	return o, nil
}

func (d *Document) readAt(num int, e xrefEntry) (Object, error) {
	l := newLexer(d.r, d.size, e.off)
	ref, ok := d.objectHeader(l)
	if !ok || ref.Num != num {
		return nil, formatErr(e.off, "object %d is not where the cross-reference says", num)
	}
	return d.parseBody(l, ref)
}

// parseBody parses the object after "n g obj", including stream extent.
func (d *Document) parseBody(l *lexer, ref Ref) (Object, error) {
	o, err := l.object()
	if err != nil {
		return nil, err
	}
	if k, ok := o.(keyword); ok {
		if k == "endobj" {
			return nil, nil
		}
		return nil, l.errf("unexpected %q in object %d", string(k), ref.Num)
	}
	dict, ok := o.(Dict)
	if !ok {
		return o, nil
	}
	save := l.pos
	if l.keyword() != "stream" {
		l.pos = save
		return dict, nil
	}
	// The data starts after CRLF or LF (a lone CR is tolerated).
	if l.at(l.pos) == '\r' {
		l.pos++
	}
	if l.at(l.pos) == '\n' {
		l.pos++
	}
	st := &Stream{Dict: dict, Offset: l.pos}
	lo := dict["Length"]
	if r, ok := lo.(Ref); ok {
		if r.Num == ref.Num {
			return nil, formatErr(l.pos, "stream /Length refers to its own object")
		}
		if lo, err = d.Resolve(r); err != nil {
			return nil, err
		}
	}
	n, ok := lo.(int64)
	if ok && (n < 0 || n > d.size-st.Offset) {
		return nil, formatErr(st.Offset, "stream /Length %d beyond end of file", n)
	}
	if !ok {
		n, err = d.scanEndstream(st.Offset)
		if err != nil {
			return nil, err
		}
	}
	st.Length = n
	return st, nil
}

// scanEndstream finds the data length of a stream without a usable /Length.
func (d *Document) scanEndstream(off int64) (int64, error) {
	const step = 64 << 10
	buf := make([]byte, step+16)
	for p := off; p < d.size; p += step {
		n, _ := d.r.ReadAt(buf, p)
		if i := bytes.Index(buf[:n], []byte("endstream")); i >= 0 {
			end := p + int64(i)
			// drop the EOL before endstream
			if end > off {
				var c [2]byte
				k := min(end-off, 2)
				d.r.ReadAt(c[2-k:], end-k)
				if c[1] == '\n' {
					end--
					if c[0] == '\r' && end > off {
						end--
					}
				} else if c[1] == '\r' {
					end--
				}
			}
			return end - off, nil
		}
		if n < len(buf) {
			break
		}
	}
	return 0, formatErr(off, "stream without /Length or endstream")
}

// RawStreamData returns the stream's encoded bytes.
func (d *Document) RawStreamData(s *Stream) ([]byte, error) {
	if s.Length > maxDecoded {
		return nil, formatErr(s.Offset, "stream too large")
	}
	b := make([]byte, s.Length)
	n, err := d.r.ReadAt(b, s.Offset)
	if int64(n) != s.Length {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, formatErr(s.Offset, "stream data truncated: %v", err)
	}
	return b, nil
}

// StreamData returns the stream's decoded bytes (FlateDecode with predictors,
// ASCIIHexDecode; other filters are an error).
func (d *Document) StreamData(s *Stream) ([]byte, error) { return d.decodeStream(s) }

func (d *Document) decodeStream(s *Stream) ([]byte, error) {
	raw, err := d.RawStreamData(s)
	if err != nil {
		return nil, err
	}
	filters, err := d.Resolve(s.Dict["Filter"])
	if err != nil {
		return nil, err
	}
	parms, err := d.Resolve(s.Dict["DecodeParms"])
	if err != nil {
		return nil, err
	}
	var fl []Object
	var pl []Object
	switch f := filters.(type) {
	case nil:
	case Name:
		fl = []Object{f}
		pl = []Object{parms}
	case Array:
		fl = f
		if pa, ok := parms.(Array); ok {
			pl = pa
		}
	default:
		return nil, formatErr(s.Offset, "bad /Filter")
	}
	data := raw
	for i, f := range fl {
		var p Dict
		if i < len(pl) {
			po, err := d.Resolve(pl[i])
			if err != nil {
				return nil, err
			}
			p, _ = po.(Dict)
		}
		data, err = decodeFilter(f, p, data)
		if err != nil {
			return nil, formatErr(s.Offset, "%v", err)
		}
	}
	return data, nil
}

// objStm is a parsed object stream header with its decoded data.
type objStm struct {
	data  []byte
	first int64
	nums  []int
	offs  []int64
}

func (d *Document) readCompressed(num int, e xrefEntry) (Object, error) {
	sn := int(e.off)
	os, ok := d.objstms[sn]
	if !ok {
		var err error
		if os, err = d.loadObjStm(sn); err != nil {
			return nil, err
		}
		d.objstms[sn] = os
	}
	idx := e.gen
	if idx < 0 || idx >= len(os.nums) || os.nums[idx] != num {
		idx = -1
		for i, n := range os.nums {
			if n == num {
				idx = i
				break
			}
		}
		if idx < 0 {
			return nil, formatErr(-1, "object %d not in object stream %d", num, sn)
		}
	}
	start := os.first + os.offs[idx]
	if start < 0 || start >= int64(len(os.data)) {
		return nil, formatErr(-1, "object %d outside object stream %d", num, sn)
	}
	l := newBytesLexer(os.data)
	l.pos = start
	o, err := l.object()
	if err != nil {
		return nil, err
	}
	if k, ok := o.(keyword); ok {
		return nil, formatErr(-1, "unexpected %q in object stream %d", string(k), sn)
	}
	return o, nil
}

func (d *Document) loadObjStm(sn int) (*objStm, error) {
	e, ok := d.xref[sn]
	if !ok || e.typ != 1 {
		return nil, formatErr(-1, "object stream %d is not a plain object", sn)
	}
	if d.loading[sn] {
		return nil, formatErr(-1, "object stream %d refers to itself", sn)
	}
	d.loading[sn] = true
	o, err := d.readAt(sn, e)
	delete(d.loading, sn)
	if err != nil {
		return nil, err
	}
	st, ok := o.(*Stream)
	if !ok || st.Dict.name("Type") != "ObjStm" {
		return nil, formatErr(e.off, "object %d is not an object stream", sn)
	}
	data, err := d.decodeStream(st)
	if err != nil {
		return nil, err
	}
	n, _ := st.Dict["N"].(int64)
	first, _ := st.Dict["First"].(int64)
	if n < 0 || n > int64(len(data))/2 || first < 0 || first > int64(len(data)) {
		return nil, formatErr(e.off, "absurd /N or /First in object stream %d", sn)
	}
	os := &objStm{data: data, first: first}
	l := newBytesLexer(data[:first])
	for i := int64(0); i < n; i++ {
		on, ok1 := l.integer()
		oo, ok2 := l.integer()
		if !ok1 || !ok2 || on < 0 || oo < 0 {
			return nil, formatErr(e.off, "bad object stream header in %d", sn)
		}
		os.nums = append(os.nums, int(on))
		os.offs = append(os.offs, oo)
	}
	return os, nil
}

// genOf returns the generation number an object is rewritten with.
func (d *Document) genOf(num int) int {
	if e, ok := d.xref[num]; ok && e.typ == 1 {
		return e.gen
	}
	return 0
}

// sortedNums returns the object numbers in the cross-reference, ascending.
func sortedNums(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}
