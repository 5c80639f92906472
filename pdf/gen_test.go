package pdf

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"sort"
	"strings"
)

// genOpts describes a small valid PDF for tests and fuzz seeds.
type genOpts struct {
	name      string
	xref      string // "table", "stream" (with object streams) or "hybrid"
	pages     int    // default 1
	rotate    int    // on the page
	inheritRo int    // /Rotate on the page tree root
	mediaBox  string // default "0 0 595 842"
	cropBox   string // optional
	acroForm  string // "", "inline", "indirect", "fieldsref"
	cjk       bool   // Type0 STSong-Light/UniGB-UCS2-H text
	annotsRef bool   // page /Annots as an indirect array
	noEOL     bool   // file ends right after %%EOF
	noID      bool
	pad       int // bytes of extra content per page (for big inputs)
}

// testShapes are the PDFs every signing test runs against; they are also
// written to testdata/ as fixtures and fuzz seeds.
var testShapes = []genOpts{
	{name: "classic"},
	{name: "classic-acroform-inline", acroForm: "inline", noID: true},
	{name: "classic-rotate90", rotate: 90, cjk: true},
	{name: "classic-rotate270-inherited", inheritRo: 270, annotsRef: true},
	{name: "classic-cropbox", cropBox: "50 100 545 742", noEOL: true},
	{name: "classic-multipage", pages: 5, acroForm: "fieldsref"},
	{name: "xrefstream", xref: "stream", cjk: true},
	{name: "xrefstream-acroform", xref: "stream", acroForm: "indirect", rotate: 180, pages: 3},
	{name: "hybrid", xref: "hybrid", acroForm: "indirect", cjk: true},
	{name: "hybrid-annotsref", xref: "hybrid", annotsRef: true, cropBox: "20 20 400 600", rotate: 90},
}

type genObj struct {
	num    int
	body   string
	stream []byte // non-nil for stream objects
}

func flate(b []byte) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func genPDF(o genOpts) []byte {
	if o.pages == 0 {
		o.pages = 1
	}
	if o.mediaBox == "" {
		o.mediaBox = "0 0 595 842"
	}
	var objs []genObj
	add := func(num int, body string) { objs = append(objs, genObj{num: num, body: body}) }
	addStream := func(num int, dict string, data []byte) {
		objs = append(objs, genObj{num: num, body: dict, stream: data})
	}
	// 1 catalog, 2 page root, 3 Helvetica, 4-6 CJK font, 7 info,
	// 8 AcroForm, 9 text field, 10 its appearance, 11 fields array,
	// 12 annots array, 20+ intermediate nodes, 100+ pages and contents.
	cat := "<</Type/Catalog/Pages 2 0 R"
	switch o.acroForm {
	case "inline":
		cat += "/AcroForm<</Fields [9 0 R]/DR<</Font<</Helv 3 0 R>>>>/DA (/Helv 0 Tf 0 g)>>"
	case "indirect":
		cat += "/AcroForm 8 0 R"
		add(8, "<</Fields [9 0 R]/DR<</Font<</Helv 3 0 R>>>>/DA (/Helv 0 Tf 0 g)/NeedAppearances false>>")
	case "fieldsref":
		cat += "/AcroForm 8 0 R"
		add(8, "<</Fields 11 0 R/DR<</Font<</Helv 3 0 R>>>>/DA (/Helv 0 Tf 0 g)>>")
		add(11, "[9 0 R]")
	}
	add(1, cat+">>")
	add(3, "<</Type/Font/Subtype/Type1/BaseFont/Helvetica/Encoding/WinAnsiEncoding>>")
	if o.cjk {
		add(4, "<</Type/Font/Subtype/Type0/BaseFont/STSong-Light/Encoding/UniGB-UCS2-H/DescendantFonts [5 0 R]>>")
		add(5, "<</Type/Font/Subtype/CIDFontType0/BaseFont/STSong-Light/CIDSystemInfo<</Registry (Adobe)/Ordering (GB1)/Supplement 2>>/FontDescriptor 6 0 R/DW 1000>>")
		add(6, "<</Type/FontDescriptor/FontName/STSong-Light/Flags 6/FontBBox [-25 -254 1000 880]/ItalicAngle 0/Ascent 880/Descent -120/CapHeight 880/StemV 93>>")
	}
	add(7, "<</Producer (eseal pdf tests)/Title (Approval \\(test\\))>>")

	// Page tree: more than two pages go through intermediate nodes.
	pageNums := make([]int, o.pages)
	for i := range pageNums {
		pageNums[i] = 100 + 2*i
	}
	refs := func(nums []int) string {
		s := make([]string, len(nums))
		for i, n := range nums {
			s[i] = fmt.Sprintf("%d 0 R", n)
		}
		return strings.Join(s, " ")
	}
	parentOf := map[int]int{}
	rootExtra := ""
	if o.inheritRo != 0 {
		rootExtra = fmt.Sprintf("/Rotate %d", o.inheritRo)
	}
	if o.pages > 2 {
		half := o.pages / 2
		a, b := pageNums[:half], pageNums[half:]
		add(20, fmt.Sprintf("<</Type/Pages/Parent 2 0 R/Kids [%s]/Count %d>>", refs(a), len(a)))
		add(21, fmt.Sprintf("<</Type/Pages/Parent 2 0 R/Kids [%s]/Count %d>>", refs(b), len(b)))
		for _, n := range a {
			parentOf[n] = 20
		}
		for _, n := range b {
			parentOf[n] = 21
		}
		add(2, fmt.Sprintf("<</Type/Pages/Kids [20 0 R 21 0 R]/Count %d/MediaBox [%s]%s>>", o.pages, o.mediaBox, rootExtra))
	} else {
		for _, n := range pageNums {
			parentOf[n] = 2
		}
		add(2, fmt.Sprintf("<</Type/Pages/Kids [%s]/Count %d/MediaBox [%s]%s>>", refs(pageNums), o.pages, o.mediaBox, rootExtra))
	}
	for i, pn := range pageNums {
		fonts := "/F1 3 0 R"
		text := fmt.Sprintf("BT /F1 24 Tf 72 760 Td (Approval page %d) Tj ET\n", i+1)
		if o.cjk {
			fonts += "/F2 4 0 R"
			text += "BT /F2 18 Tf 72 720 Td <5BA1627994C167DC> Tj ET\n" // 审批结果
		}
		if o.pad > 0 {
			var sb strings.Builder
			for sb.Len() < o.pad {
				fmt.Fprintf(&sb, "0.9 g %d %d 2 2 re f\n", sb.Len()%500, sb.Len()%700)
			}
			text += sb.String()
		}
		addStream(pn+1, "", []byte(text))
		page := fmt.Sprintf("<</Type/Page/Parent %d 0 R/Contents %d 0 R/Resources<</Font<<%s>>>>", parentOf[pn], pn+1, fonts)
		if i == 0 {
			if o.rotate != 0 {
				page += fmt.Sprintf("/Rotate %d", o.rotate)
			}
			if o.cropBox != "" {
				page += "/CropBox [" + o.cropBox + "]"
			}
			hasField := o.acroForm != ""
			switch {
			case o.annotsRef && hasField:
				page += "/Annots 12 0 R"
				add(12, "[9 0 R]")
			case o.annotsRef:
				page += "/Annots 12 0 R"
				add(12, "[]")
			case hasField:
				page += "/Annots [9 0 R]"
			}
			if hasField {
				add(9, fmt.Sprintf("<</Type/Annot/Subtype/Widget/FT/Tx/T (Applicant)/V (Zhang San)/Rect [72 600 272 620]/P %d 0 R/F 4/DA (/Helv 10 Tf 0 g)/AP<</N 10 0 R>>>>", pn))
				addStream(10, "/Type/XObject/Subtype/Form/BBox [0 0 200 20]/Resources<</Font<</Helv 3 0 R>>>>", []byte("/Tx BMC BT /Helv 10 Tf 0 g 2 6 Td (Zhang San) Tj ET EMC"))
			}
		}
		add(pn, page+">>")
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].num < objs[j].num })

	var buf bytes.Buffer
	buf.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := map[int]int{}
	writeObj := func(g genObj) {
		offsets[g.num] = buf.Len()
		if g.stream != nil {
			fmt.Fprintf(&buf, "%d 0 obj\n<<%s/Length %d>>\nstream\n", g.num, g.body, len(g.stream))
			buf.Write(g.stream)
			buf.WriteString("\nendstream\nendobj\n")
			return
		}
		fmt.Fprintf(&buf, "%d 0 obj\n%s\nendobj\n", g.num, g.body)
	}
	maxNum := objs[len(objs)-1].num
	id := "/ID [<0123456789ABCDEF0123456789ABCDEF><0123456789ABCDEF0123456789ABCDEF>]"
	if o.noID {
		id = ""
	}
	trailerKeys := fmt.Sprintf("/Root 1 0 R/Info 7 0 R%s", id)

	switch o.xref {
	case "", "table":
		for _, g := range objs {
			writeObj(g)
		}
		xref := buf.Len()
		writeTable(&buf, offsets, maxNum+1, nil)
		fmt.Fprintf(&buf, "trailer\n<</Size %d%s>>\nstartxref\n%d\n%%%%EOF", maxNum+1, trailerKeys, xref)
	case "stream", "hybrid":
		// Non-stream objects go into one object stream (number maxNum+1),
		// the xref stream is maxNum+2.
		stmNum, xrefNum := maxNum+1, maxNum+2
		var head, body bytes.Buffer
		inStm := map[int]int{} // num → index
		for _, g := range objs {
			if g.stream != nil {
				writeObj(g)
				continue
			}
			inStm[g.num] = len(inStm)
			fmt.Fprintf(&head, "%d %d ", g.num, body.Len())
			body.WriteString(g.body)
			body.WriteString("\n")
		}
		data := append(head.Bytes(), body.Bytes()...)
		z := flate(data)
		offsets[stmNum] = buf.Len()
		fmt.Fprintf(&buf, "%d 0 obj\n<</Type/ObjStm/N %d/First %d/Filter/FlateDecode/Length %d>>\nstream\n", stmNum, len(inStm), head.Len(), len(z))
		buf.Write(z)
		buf.WriteString("\nendstream\nendobj\n")

		// Rows: type(1) field2(4) field3(2), PNG Up predictor.
		row := func(typ byte, f2 int, f3 int) []byte {
			return []byte{typ, byte(f2 >> 24), byte(f2 >> 16), byte(f2 >> 8), byte(f2), byte(f3 >> 8), byte(f3)}
		}
		var rows [][]byte
		var index []int
		size := xrefNum + 1
		if o.xref == "stream" {
			offsets[xrefNum] = buf.Len()
			for n := 0; n < size; n++ {
				switch {
				case n == 0:
					rows = append(rows, row(0, 0, 65535))
				case inStmHas(inStm, n):
					rows = append(rows, row(2, stmNum, inStm[n]))
				default:
					if off, ok := offsets[n]; ok {
						rows = append(rows, row(1, off, 0))
					} else {
						rows = append(rows, row(0, 0, 0))
					}
				}
			}
			index = []int{0, size}
		} else {
			// Hybrid: the stream lists only the compressed objects.
			nums := make([]int, 0, len(inStm))
			for n := range inStm {
				nums = append(nums, n)
			}
			sort.Ints(nums)
			for _, n := range nums {
				index = append(index, n, 1)
				rows = append(rows, row(2, stmNum, inStm[n]))
			}
		}
		var pred bytes.Buffer
		prev := make([]byte, 7)
		for _, r := range rows {
			pred.WriteByte(2)
			for i := range r {
				pred.WriteByte(r[i] - prev[i])
			}
			prev = r
		}
		z = flate(pred.Bytes())
		idx := make([]string, len(index))
		for i, v := range index {
			idx[i] = fmt.Sprint(v)
		}
		xoff := buf.Len()
		offsets[xrefNum] = xoff
		extra := trailerKeys
		if o.xref == "hybrid" {
			extra = ""
		}
		fmt.Fprintf(&buf, "%d 0 obj\n<</Type/XRef/Size %d/W [1 4 2]/Index [%s]/Filter/FlateDecode/DecodeParms<</Predictor 12/Columns 7>>%s/Length %d>>\nstream\n",
			xrefNum, size, strings.Join(idx, " "), extra, len(z))
		buf.Write(z)
		buf.WriteString("\nendstream\nendobj\n")
		if o.xref == "stream" {
			fmt.Fprintf(&buf, "startxref\n%d\n%%%%EOF", xoff)
		} else {
			table := buf.Len()
			plain := map[int]int{}
			for n, off := range offsets {
				if _, c := inStm[n]; !c {
					plain[n] = off
				}
			}
			writeTable(&buf, plain, size, nil)
			fmt.Fprintf(&buf, "trailer\n<</Size %d%s/XRefStm %d>>\nstartxref\n%d\n%%%%EOF", size, trailerKeys, xoff, table)
		}
	}
	if !o.noEOL {
		buf.WriteString("\n")
	}
	return buf.Bytes()
}

func inStmHas(inStm map[int]int, n int) bool {
	_, ok := inStm[n]
	return ok
}

// writeTable writes a classic xref table: object 0 and one subsection per
// run of consecutive objects present in offsets.
func writeTable(buf *bytes.Buffer, offsets map[int]int, _ int, _ []int) {
	nums := []int{0}
	for n := range offsets {
		if n != 0 {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	buf.WriteString("xref\n")
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		fmt.Fprintf(buf, "%d %d\n", nums[i], j-i+1)
		for k := i; k <= j; k++ {
			if nums[k] == 0 {
				buf.WriteString("0000000000 65535 f\r\n")
			} else {
				fmt.Fprintf(buf, "%010d 00000 n\r\n", offsets[nums[k]])
			}
		}
		i = j + 1
	}
}

// appendRevision appends an incremental update to pdf that redefines the
// given objects (num → body; a body starting with "stream:" becomes a stream
// with that content) using a classic table.
func appendRevision(pdf []byte, objs map[int]string) []byte {
	d, err := Open(bytes.NewReader(pdf), int64(len(pdf)))
	if err != nil {
		panic(err)
	}
	var buf bytes.Buffer
	buf.Write(pdf)
	if pdf[len(pdf)-1] != '\n' {
		buf.WriteByte('\n')
	}
	nums := make([]int, 0, len(objs))
	for n := range objs {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	offs := map[int]int{}
	maxNum := 0
	for _, n := range nums {
		offs[n] = buf.Len()
		maxNum = max(maxNum, n)
		body := objs[n]
		if s, ok := strings.CutPrefix(body, "stream:"); ok {
			fmt.Fprintf(&buf, "%d 0 obj\n<</Length %d>>\nstream\n%s\nendstream\nendobj\n", n, len(s), s)
		} else {
			fmt.Fprintf(&buf, "%d 0 obj\n%s\nendobj\n", n, body)
		}
	}
	xref := buf.Len()
	buf.WriteString("xref\n")
	for _, n := range nums {
		fmt.Fprintf(&buf, "%d 1\n%010d %05d n\r\n", n, offs[n], d.genOf(n))
	}
	size := max(int(d.trailer["Size"].(int64)), maxNum+1)
	tr := Dict{"Size": int64(size), "Prev": d.startxref, "Root": d.trailer["Root"]}
	if id, ok := d.trailer["ID"]; ok {
		tr["ID"] = id
	}
	if info, ok := d.trailer["Info"]; ok {
		tr["Info"] = info
	}
	buf.WriteString("trailer\n")
	buf.Write(appendObject(nil, tr))
	fmt.Fprintf(&buf, "\nstartxref\n%d\n%%%%EOF\n", xref)
	return buf.Bytes()
}
