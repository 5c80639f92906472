// Package pdftest writes small, valid PDFs for tests and benchmarks of the
// packages that stamp and verify them, as net/http/httptest serves handlers.
package pdftest

import (
	"bytes"
	"fmt"
	"math/rand"
	"strings"
)

// Options shape a generated document.
type Options struct {
	// Title is drawn in Chinese (STSong-Light, UniGB-UCS2-H) on every page.
	Title string
	// Pages is the page count; 0 means 1.
	Pages int
	// Size pads the document with drawing operators in the first page's
	// content stream until it is about this many bytes; 0 means no padding.
	Size int
}

// Document returns a classic-xref PDF 1.7 with A4 pages.
func Document(o Options) []byte {
	if o.Pages <= 0 {
		o.Pages = 1
	}
	if o.Title == "" {
		o.Title = "行政许可决定书"
	}
	var title strings.Builder
	for _, r := range o.Title {
		fmt.Fprintf(&title, "%04X", r)
	}
	// Objects: 1 catalog, 2 pages, 3 font, 4 descendant font, then per page
	// a page and its content stream.
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"", // pages, filled below
		"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H /DescendantFonts [4 0 R] >>",
		"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> /DW 1000 >>",
	}
	var kids []string
	for p := 1; p <= o.Pages; p++ {
		pageNum := len(objs) + 1
		kids = append(kids, fmt.Sprintf("%d 0 R", pageNum))
		content := fmt.Sprintf("BT /F1 22 Tf 160 760 Td <%s> Tj ET\nBT /F1 12 Tf 72 700 Td <%s> Tj ET\n", title.String(), ucs2(fmt.Sprintf("第%d页，共%d页", p, o.Pages)))
		if p == 1 && o.Size > 0 {
			content += padding(o.Size - len(content) - 1024)
		}
		objs = append(objs,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595.28 841.89] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", pageNum+1),
			fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", len(content), content))
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), o.Pages)
	var b bytes.Buffer
	b.Grow(o.Size + 4096)
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, obj := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, obj)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /ID [<%032x> <%032x>] >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, 1, 1, x)
	return b.Bytes()
}

// padding is n bytes of faint line drawing, the bulk of a scanned-looking page.
func padding(n int) string {
	if n <= 0 {
		return ""
	}
	rng := rand.New(rand.NewSource(int64(n)))
	var b strings.Builder
	b.Grow(n + 64)
	b.WriteString("0.9 G\n")
	for b.Len() < n {
		fmt.Fprintf(&b, "%d %d m %d %d l S\n", rng.Intn(595), rng.Intn(842), rng.Intn(595), rng.Intn(842))
	}
	return b.String()
}

func ucs2(s string) string {
	var b strings.Builder
	for _, r := range s {
		fmt.Fprintf(&b, "%04X", r)
	}
	return b.String()
}
