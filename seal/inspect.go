package seal

import (
	"errors"
	"io"

	"eseal/archive/transfer"
	"eseal/pdf"
)

// InspectPDF reads what the archive's usability checks (DA/T 70 可用性) ask
// of a PDF: that it parses, is not encrypted, has pages, and whether it
// embeds files.
func InspectPDF(r io.ReaderAt, size int64) transfer.Inspection {
	doc, err := pdf.Open(r, size)
	if errors.Is(err, pdf.ErrEncrypted) {
		return transfer.Inspection{Encrypted: true}
	}
	if err != nil {
		return transfer.Inspection{Err: err}
	}
	in := transfer.Inspection{Pages: doc.NumPages()}
	if _, err := doc.Page(1); err != nil {
		in.Err = err
		return in
	}
	if cat, err := doc.Catalog(); err == nil {
		if names, err := doc.Resolve(cat["Names"]); err == nil {
			if d, ok := names.(pdf.Dict); ok {
				_, in.EmbeddedFiles = d["EmbeddedFiles"]
			}
		}
	}
	return in
}
