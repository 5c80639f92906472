// Command seedgen writes the seed PDFs of the stamping corpus by hand, object
// by object, so that every byte of a seed is known and no PDF library's
// habits leak into the corpus. build.sh derives the real-world shapes from
// these seeds with qpdf and pdfcpu; the seeds themselves are committed.
//
//	go run ./cmd/eseal/testdata/corpus/seedgen -out cmd/eseal/testdata/corpus/seeds
//
// The seeds:
//
//	approval-a4-cjk.pdf          1 A4 page, Chinese approval notice (STSong-Light, UniGB-UCS2-H), Flate streams
//	approval-a4-cjk-updated.pdf  the same plus one hand-appended revision (second trailer with /Prev)
//	letter-3p.pdf                3 US-letter pages of Latin text (Helvetica), uncompressed
//	form-acro.pdf                1 A4 page with an AcroForm text field and a checkbox, appearances included
//	landscape-a4.pdf             1 landscape A4 page, a Chinese monthly statistics table
//	landscape-a4-hybrid.pdf      the same as a hybrid-reference file (xref table + /XRefStm, object stream)
package main

import (
	"bytes"
	"compress/zlib"
	"crypto/md5"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf16"
)

func main() {
	out := flag.String("out", "seeds", "directory to write the seed PDFs into")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	approval := approvalNotice()
	landscape := landscapeTable()
	seeds := []struct {
		name string
		data []byte
	}{
		{"approval-a4-cjk.pdf", approval.classic()},
		{"approval-a4-cjk-updated.pdf", approvalUpdated(approval)},
		{"letter-3p.pdf", letterThreePages().classic()},
		{"form-acro.pdf", acroForm().classic()},
		{"landscape-a4.pdf", landscape.classic()},
		{"landscape-a4-hybrid.pdf", landscape.hybrid()},
	}
	for _, s := range seeds {
		if err := os.WriteFile(filepath.Join(*out, s.name), s.data, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

// doc is a PDF under construction: object n is objs[n-1], already serialised.
type doc struct {
	name  string
	objs  []string
	root  int
	info  int
	inObj map[int]bool // objects a hybrid file keeps in its object stream

	// The approval notice's page, its content stream and its font, which
	// the appended revision refers to.
	page, contents, font int
}

func (d *doc) add(body string) int {
	d.objs = append(d.objs, body)
	return len(d.objs)
}

func (d *doc) set(n int, body string) { d.objs[n-1] = body }

// id is the file identifier: fixed per document so the seeds are reproducible.
func (d *doc) id() string {
	sum := md5.Sum([]byte(d.name))
	return fmt.Sprintf("[<%X> <%X>]", sum, sum)
}

const header = "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"

// classic writes the document with a cross-reference table.
func (d *doc) classic() []byte {
	var b bytes.Buffer
	b.WriteString(header)
	offsets := make([]int, len(d.objs)+1)
	for i, body := range d.objs {
		offsets[i+1] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, body)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(d.objs)+1)
	for _, off := range offsets[1:] {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID %s >>\nstartxref\n%d\n%%%%EOF\n",
		len(d.objs)+1, d.root, d.info, d.id(), xref)
	return b.Bytes()
}

// hybrid writes a hybrid-reference file (ISO 32000-1 §7.5.8.4): the objects
// marked inObj live in an object stream that only the cross-reference stream
// named by the trailer's /XRefStm knows about; a PDF 1.4 reader that ignores
// /XRefStm sees the page and its content but not the fonts.
func (d *doc) hybrid() []byte {
	var b bytes.Buffer
	b.WriteString(header)
	n := len(d.objs)
	objStm, xrefStm, size := n+1, n+2, n+3
	offsets := make([]int, size)
	var packed []int
	for i, body := range d.objs {
		if d.inObj[i+1] {
			packed = append(packed, i+1)
			continue
		}
		offsets[i+1] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, body)
	}
	sort.Ints(packed)
	var head, body strings.Builder
	index := map[int]int{}
	for k, num := range packed {
		index[num] = k
		fmt.Fprintf(&head, "%d %d ", num, body.Len())
		body.WriteString(d.objs[num-1])
		body.WriteString("\n")
	}
	offsets[objStm] = b.Len()
	fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", objStm, stream(
		fmt.Sprintf("/Type /ObjStm /N %d /First %d", len(packed), head.Len()),
		[]byte(head.String()+body.String()), true))

	// Cross-reference stream covering every object, /W [1 4 2].
	offsets[xrefStm] = b.Len()
	var rows bytes.Buffer
	for num := 0; num < size; num++ {
		switch {
		case num == 0:
			rows.Write([]byte{0, 0, 0, 0, 0, 0xff, 0xff})
		case d.inObj[num]:
			rows.Write([]byte{2, 0, 0, byte(objStm >> 8), byte(objStm), 0, byte(index[num])})
		default:
			o := offsets[num]
			rows.Write([]byte{1, byte(o >> 24), byte(o >> 16), byte(o >> 8), byte(o), 0, 0})
		}
	}
	fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", xrefStm, stream(
		fmt.Sprintf("/Type /XRef /Size %d /W [1 4 2] /Root %d 0 R /Info %d 0 R /ID %s", size, d.root, d.info, d.id()),
		rows.Bytes(), true))

	// The table leaves the packed objects out (one subsection per run of
	// plain objects): readers take the first entry they see for an object,
	// so listing them as free would hide them from the stream's entries.
	xref := b.Len()
	b.WriteString("xref\n")
	for start := 0; start < size; {
		end := start
		for end < size && !d.inObj[end] {
			end++
		}
		if end > start {
			fmt.Fprintf(&b, "%d %d\n", start, end-start)
			for num := start; num < end; num++ {
				if num == 0 {
					b.WriteString("0000000000 65535 f \n")
				} else {
					fmt.Fprintf(&b, "%010d 00000 n \n", offsets[num])
				}
			}
		}
		start = end + 1
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID %s /XRefStm %d >>\nstartxref\n%d\n%%%%EOF\n",
		size, d.root, d.info, d.id(), offsets[xrefStm], xref)
	return b.Bytes()
}

// stream serialises a stream object body, Flate-compressed when asked.
func stream(dict string, data []byte, compress bool) string {
	if compress {
		var z bytes.Buffer
		w, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
		w.Write(data)
		w.Close()
		data = z.Bytes()
		dict += " /Filter /FlateDecode"
	}
	return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

// ucs2 encodes s for a font with /Encoding /UniGB-UCS2-H.
func ucs2(s string) string {
	var b strings.Builder
	b.WriteByte('<')
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	b.WriteByte('>')
	return b.String()
}

// latin escapes s as a PDF literal string.
func latin(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`)
	return "(" + r.Replace(s) + ")"
}

// wrap cuts s into lines of at most n characters (CJK text has no spaces to
// break at; a full-width character is one em, which is what n counts).
func wrap(s string, n int) []string {
	var lines []string
	r := []rune(s)
	for len(r) > n {
		lines = append(lines, string(r[:n]))
		r = r[n:]
	}
	return append(lines, string(r))
}

// songFont adds the non-embedded Adobe-GB1 font every Chinese reader has
// (STSong-Light through the UniGB-UCS2-H CMap) and returns the Type0 font.
func songFont(d *doc) int {
	desc := d.add("<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880]" +
		" /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>")
	cid := d.add(fmt.Sprintf("<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light"+
		" /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> /FontDescriptor %d 0 R"+
		" /DW 1000 /W [1 95 500] >>", desc))
	return d.add(fmt.Sprintf("<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H"+
		" /DescendantFonts [%d 0 R] >>", cid))
}

func helvetica(d *doc) int {
	return d.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
}

func info(d *doc, title string) int {
	return d.add(fmt.Sprintf("<< /Title %s /Author (eseal corpus) /Creator (seedgen) /Producer (eseal seedgen)"+
		" /CreationDate (D:20181203090000+08'00') /ModDate (D:20181203090000+08'00') >>", title))
}

func utf16Text(s string) string {
	return "<FEFF" + strings.Trim(ucs2(s), "<>") + ">"
}

const (
	a4W, a4H         = 595.28, 841.89
	letterW, letterH = 612, 792
)

var approvalBody = []string{
	"宁波市统一受理平台、各相关部门：",
	"你中心《关于推进“一件事情”最多跑一次联合审批的请示》收悉。经研究，现批复如下：",
	"一、同意实行“一窗受理、并联审批、一窗出件”的联合审批模式，全面实现“线上线下”一窗受理服务。",
	"二、同意首批“一件事情”最多跑一次清单，涉及全市19个市级部门57个行业，其中证照联办类45项，其他类12项，涵盖网吧、旅馆、汽车维修等多个市场领域。",
	"三、凡是同一事项申办的不同审理阶段，需多次反复提供的重复材料一律取消；凡是能通过网络核验的各类证明和手续一律取消。",
	"四、按照“一次告知、一库共享、容缺受理”的要求，对非关键性材料实行“容缺受理”，真正实现让企业和群众“一事只跑一窗、一事只跑一次”的目标。",
	"特此批复。",
}

// approvalNotice is a one-page 批复 on A4 with room for the seal bottom right.
func approvalNotice() *doc {
	d := &doc{name: "approval-a4-cjk"}
	catalog := d.add("")
	tree := d.add("")
	page := d.add("")
	song := songFont(d)

	var c strings.Builder
	c.WriteString("q 0.8 0 0 RG 1.5 w 72 752 m 523.28 752 l S Q\n")
	text := func(size, x, y float64, s string, red bool) {
		if red {
			c.WriteString("0.8 0 0 rg ")
		} else {
			c.WriteString("0 g ")
		}
		fmt.Fprintf(&c, "BT /F1 %g Tf %g %g Td %s Tj ET\n", size, x, y, ucs2(s))
	}
	text(22, 122, 770, "余姚市行政审批管理办公室文件", true)
	text(12, 228, 726, "余审管〔2018〕57号", false)
	text(16, 96, 690, "关于推进“一件事情”最多跑一次的批复", false)
	y := 650.0
	for i, para := range approvalBody {
		lines := wrap(para, 35)
		if i > 0 {
			lines = wrap("　　"+para, 35)
		}
		for _, l := range lines {
			text(12, 80, y, l, false)
			y -= 20
		}
		y -= 6
	}
	text(12, 360, 200, "余姚市行政审批管理办公室", false)
	text(12, 390, 178, "2018年12月3日", false)
	text(9, 72, 60, "抄送：市审管办、市场监管局、卫生计生局、文广局。", false)
	contents := d.add(stream("", []byte(c.String()), true))

	d.set(catalog, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R /Lang (zh-CN) >>", tree))
	d.set(tree, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", page))
	d.set(page, fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %g %g] /Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>",
		tree, a4W, a4H, song, contents))
	d.root = catalog
	d.info = info(d, utf16Text("关于推进“一件事情”最多跑一次的批复"))
	d.page, d.contents, d.font = page, contents, song
	return d
}

// approvalUpdated appends a second revision to the approval notice the way
// an editor saves changes: a new content stream with a handling note, the
// page rewritten to draw it, a new Info, and a trailer whose /Prev points at
// the first cross-reference table.
func approvalUpdated(d *doc) []byte {
	page, oldContents, song := d.page, d.contents, d.font
	d = &doc{name: "approval-a4-cjk-updated", objs: append([]string(nil), d.objs...), root: d.root, info: d.info}
	base := d.classic()
	prev := bytes.LastIndex(base, []byte("startxref\n"))
	var startxref int
	fmt.Sscanf(string(base[prev+len("startxref\n"):]), "%d", &startxref)

	note := fmt.Sprintf("q 0 0 0.6 rg BT /F1 10 Tf 80 230 Td %s Tj ET Q\n", ucs2("经办人：业务科　　联系电话：0574-62700000"))
	size := len(d.objs) + 1
	noteObj, infoObj := size, d.info
	changed := map[int]string{
		noteObj: stream("", []byte(note), true),
		page: fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] /Resources << /Font << /F1 %d 0 R >> >> /Contents [%d 0 R %d 0 R] >>",
			a4W, a4H, song, oldContents, noteObj),
		infoObj: fmt.Sprintf("<< /Title %s /Author (eseal corpus) /Creator (seedgen) /Producer (eseal seedgen)"+
			" /CreationDate (D:20181203090000+08'00') /ModDate (D:20181204103000+08'00') >>",
			utf16Text("关于推进“一件事情”最多跑一次的批复")),
	}
	var b bytes.Buffer
	b.Write(base)
	nums := make([]int, 0, len(changed))
	for n := range changed {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	offsets := map[int]int{}
	for _, n := range nums {
		offsets[n] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", n, changed[n])
	}
	xref := b.Len()
	b.WriteString("xref\n0 1\n0000000000 65535 f \n")
	for _, n := range nums {
		fmt.Fprintf(&b, "%d 1\n%010d 00000 n \n", n, offsets[n])
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID %s /Prev %d >>\nstartxref\n%d\n%%%%EOF\n",
		noteObj+1, d.root, d.info, d.id(), startxref, xref)
	return b.Bytes()
}

var letterParagraphs = []string{
	"Subject: Approval of the joint handling of \"one thing\" cases",
	"",
	"Following the review of your request, the Administrative Service Center approves",
	"the joint approval model \"one window accepts, departments approve in parallel,",
	"one window delivers\" for the first list of 57 \"one thing\" cases, covering 19",
	"municipal departments, 45 joint licence items and 12 other items.",
	"",
	"Repeated materials required at different stages of the same application are",
	"abolished. Certificates that can be checked online are no longer requested.",
	"Where non-essential materials are missing, the application is accepted and the",
	"applicant is told once, in writing, what remains to be supplied.",
}

// letterThreePages is a three-page US-letter letter in Latin text.
func letterThreePages() *doc {
	d := &doc{name: "letter-3p"}
	catalog := d.add("")
	tree := d.add("")
	kids := []int{d.add(""), d.add(""), d.add("")}
	helv := helvetica(d)
	for i, p := range kids {
		var c strings.Builder
		fmt.Fprintf(&c, "BT /F1 16 Tf 72 720 Td %s Tj ET\n", latin("Yuyao Administrative Service Center"))
		fmt.Fprintf(&c, "BT /F1 10 Tf 72 700 Td %s Tj ET\n", latin(fmt.Sprintf("Ref. YSG-2018-057   Page %d of 3", i+1)))
		c.WriteString("0.5 G 72 690 m 540 690 l S\n")
		y := 660.0
		for rep := 0; rep < 3; rep++ {
			for _, l := range letterParagraphs {
				if l != "" {
					fmt.Fprintf(&c, "BT /F1 11 Tf 72 %g Td %s Tj ET\n", y, latin(l))
				}
				y -= 15
			}
			y -= 10
		}
		if i == 2 {
			fmt.Fprintf(&c, "BT /F1 11 Tf 360 140 Td %s Tj ET\n", latin("Yuyao Administrative Service Center"))
			fmt.Fprintf(&c, "BT /F1 11 Tf 360 124 Td %s Tj ET\n", latin("3 December 2018"))
		}
		contents := d.add(stream("", []byte(c.String()), false))
		d.set(p, fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>",
			tree, letterW, letterH, helv, contents))
	}
	d.set(catalog, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", tree))
	d.set(tree, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R %d 0 R %d 0 R] /Count 3 >>", kids[0], kids[1], kids[2]))
	d.root = catalog
	d.info = info(d, latin("Approval of the joint handling of one-thing cases"))
	return d
}

// acroForm is an application form: a filled text field and a ticked
// checkbox, each with its appearance streams, and the usual /DR and /DA.
func acroForm() *doc {
	d := &doc{name: "form-acro"}
	catalog := d.add("")
	tree := d.add("")
	page := d.add("")
	helv := helvetica(d)
	song := songFont(d)

	var c strings.Builder
	fmt.Fprintf(&c, "BT /F2 18 Tf 150 770 Td %s Tj ET\n", ucs2("“一件事情”联合审批申请表"))
	fmt.Fprintf(&c, "BT /F1 11 Tf 72 720 Td %s Tj ET\n", latin("Applicant / company name:"))
	fmt.Fprintf(&c, "BT /F2 11 Tf 72 680 Td %s Tj ET\n", ucs2("本人承诺所提交材料真实有效"))
	fmt.Fprintf(&c, "BT /F1 11 Tf 72 640 Td %s Tj ET\n", latin("Submitted through the unified acceptance platform of Ningbo."))
	contents := d.add(stream("", []byte(c.String()), false))

	res := fmt.Sprintf("<< /Font << /Helv %d 0 R >> >>", helv)
	textAP := d.add(stream(fmt.Sprintf("/Type /XObject /Subtype /Form /BBox [0 0 280 20] /Resources %s", res),
		[]byte("/Tx BMC q BT /Helv 11 Tf 0 g 2 6 Td (Yuyao Lianhe Catering Co., Ltd.) Tj ET Q EMC"), false))
	textField := d.add(fmt.Sprintf("<< /Type /Annot /Subtype /Widget /FT /Tx /T (applicant) /TU (Applicant)"+
		" /V (Yuyao Lianhe Catering Co., Ltd.) /DA (/Helv 11 Tf 0 g) /Rect [220 712 500 732] /F 4 /P %d 0 R"+
		" /MK << /BC [0 0 0] >> /AP << /N %d 0 R >> >>", page, textAP))
	onAP := d.add(stream("/Type /XObject /Subtype /Form /BBox [0 0 14 14]",
		[]byte("q 0 g 1 w 0.5 0.5 13 13 re S 3 7 m 6 3 l 11 11 l S Q"), false))
	offAP := d.add(stream("/Type /XObject /Subtype /Form /BBox [0 0 14 14]",
		[]byte("q 0 g 1 w 0.5 0.5 13 13 re S Q"), false))
	checkbox := d.add(fmt.Sprintf("<< /Type /Annot /Subtype /Widget /FT /Btn /T (promise) /TU (Promise)"+
		" /V /Yes /AS /Yes /Rect [52 677 66 691] /F 4 /P %d 0 R /MK << /BC [0 0 0] /CA (4) >>"+
		" /AP << /N << /Yes %d 0 R /Off %d 0 R >> >> >>", page, onAP, offAP))

	d.set(catalog, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R /AcroForm << /Fields [%d 0 R %d 0 R] /DR %s /DA (/Helv 0 Tf 0 g) >> >>",
		tree, textField, checkbox, res))
	d.set(tree, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", page))
	d.set(page, fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %g %g] /Resources << /Font << /F1 %d 0 R /F2 %d 0 R >> >>"+
		" /Contents %d 0 R /Annots [%d 0 R %d 0 R] >>", tree, a4W, a4H, helv, song, contents, textField, checkbox))
	d.root = catalog
	d.info = info(d, utf16Text("“一件事情”联合审批申请表"))
	return d
}

var tableRows = [][]string{
	{"分中心", "本月收件数", "本月办结数", "本月收费（元）", "累计收件数", "累计办结数", "累计收费（元）"},
	{"交警分中心", "7761", "7761", "312745", "126757", "126758", "4950815"},
	{"国税分中心", "16509", "16509", "0", "116993", "116993", "0"},
	{"农机分中心", "198", "198", "0", "2192", "2192", "0"},
	{"出入境分中心", "1000", "1000", "0", "28855", "28855", "0"},
	{"人社分中心", "46807", "46807", "0", "382661", "382661", "0"},
	{"婚姻登记分中心", "467", "467", "0", "5064", "5064", "1920"},
	{"泗门分中心", "6067", "6084", "1539217.91", "65034", "64907", "4086945.69"},
	{"合计", "78809", "78826", "1851962.91", "727556", "727430", "9039680.69"},
}

// landscapeTable is a landscape A4 statistics table (分中心审批服务情况月报表).
func landscapeTable() *doc {
	d := &doc{name: "landscape-a4"}
	catalog := d.add("")
	tree := d.add("")
	page := d.add("")
	song := songFont(d)
	prefs := d.add("<< /DisplayDocTitle true >>")

	var c strings.Builder
	fmt.Fprintf(&c, "BT /F1 20 Tf 291 540 Td %s Tj ET\n", ucs2("分中心审批服务情况月报表"))
	fmt.Fprintf(&c, "BT /F1 11 Tf 700 510 Td %s Tj ET\n", ucs2("2017年11月"))
	x0, y0, rowH := 60.0, 490.0, 36.0
	colW := []float64{130, 96, 96, 110, 96, 96, 110}
	width := 0.0
	for _, w := range colW {
		width += w
	}
	c.WriteString("0.6 w\n")
	for r := 0; r <= len(tableRows); r++ {
		fmt.Fprintf(&c, "%g %g m %g %g l S\n", x0, y0-float64(r)*rowH, x0+width, y0-float64(r)*rowH)
	}
	x := x0
	for i := 0; i <= len(colW); i++ {
		fmt.Fprintf(&c, "%g %g m %g %g l S\n", x, y0, x, y0-float64(len(tableRows))*rowH)
		if i < len(colW) {
			x += colW[i]
		}
	}
	for r, row := range tableRows {
		x := x0
		for i, cell := range row {
			fmt.Fprintf(&c, "BT /F1 10 Tf %g %g Td %s Tj ET\n", x+6, y0-float64(r)*rowH-22, ucs2(cell))
			x += colW[i]
		}
	}
	contents := d.add(stream("", []byte(c.String()), true))

	d.set(catalog, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R /ViewerPreferences %d 0 R >>", tree, prefs))
	d.set(tree, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", page))
	d.set(page, fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %g %g] /Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>",
		tree, a4H, a4W, song, contents))
	d.root = catalog
	d.info = info(d, utf16Text("分中心审批服务情况月报表"))
	// In the hybrid form the fonts, the viewer preferences and the Info
	// dictionary move into the object stream.
	d.inObj = map[int]bool{song - 2: true, song - 1: true, song: true, prefs: true, d.info: true}
	return d
}
