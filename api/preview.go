package api

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"

	"github.com/gorilla/mux"

	"eseal/pdf"
)

// The document an authorization request carried, as the responsible person
// sees it before deciding: the PDF itself, and its first page drawn as SVG
// from the text the page shows (pdf.PagePreview), which every phone can
// display without a PDF viewer. The request id is the capability, as for the
// approval page.

func (s *Server) requestDocument(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	st, err := s.Registry.AuthorizationRequest(r.Context(), mux.Vars(r)["request_id"])
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	b, err := s.Registry.RequestDocument(r.Context(), st)
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return b, true
}

func (s *Server) requestDocumentPDF(w http.ResponseWriter, r *http.Request) {
	b, ok := s.requestDocument(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", fmt.Sprintf("inline; filename=%q", mux.Vars(r)["request_id"]+".pdf"))
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b)
}

func (s *Server) requestPagePreview(w http.ResponseWriter, r *http.Request) {
	b, ok := s.requestDocument(w, r)
	if !ok {
		return
	}
	d, err := pdf.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	pv, err := d.PagePreview(1)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, _ = w.Write(previewSVG(pv))
}

// previewSVG draws a page preview: the page's outline and each glyph in its
// box, stretched to the box's width. Glyph boxes run from the font's descent
// to its ascent, so the baseline sits a fifth of the box above its bottom.
func previewSVG(pv *pdf.PagePreview) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.2f %.2f" width="%.0f" height="%.0f" font-family="sans-serif">`,
		pv.Width, pv.Height, pv.Width, pv.Height)
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%.2f" height="%.2f" fill="#fff" stroke="#888"/>`, pv.Width, pv.Height)
	for _, g := range pv.Glyphs {
		w, h := g.Box[2]-g.Box[0], g.Box[3]-g.Box[1]
		if w <= 0 || h <= 0 {
			continue
		}
		b.WriteString(`<text x="`)
		fmt.Fprintf(&b, `%.2f" y="%.2f" font-size="%.2f" textLength="%.2f" lengthAdjust="spacingAndGlyphs">`, g.Box[0], g.Box[3]-h/5, h*0.8, w)
		_ = xml.EscapeText(&b, []byte(g.Text))
		b.WriteString(`</text>`)
	}
	if pv.Truncated {
		fmt.Fprintf(&b, `<text x="4" y="%.2f" font-size="10" fill="#b00">（预览只显示前 %d 个字 preview truncated）</text>`, pv.Height-4, pdf.MaxPreviewGlyphs)
	}
	b.WriteString(`</svg>`)
	return b.Bytes()
}
