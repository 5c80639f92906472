package pdf

import (
	"errors"
	"io"
)

// Inspection is what a quick look at a PDF found: what an archive's usability
// checks (DA/T 70 可用性) ask of a file.
type Inspection struct {
	// Err says why the file does not parse or its first page does not load.
	Err           error
	Encrypted     bool
	Pages         int
	EmbeddedFiles bool
}

// Inspect reads the PDF in r (size bytes): whether it parses, is encrypted,
// how many pages it has, whether its first page loads and whether it embeds
// files. It never fails; what went wrong is in Inspection.Err.
func Inspect(r io.ReaderAt, size int64) Inspection {
	doc, err := Open(r, size)
	if errors.Is(err, ErrEncrypted) {
		return Inspection{Encrypted: true}
	}
	if err != nil {
		return Inspection{Err: err}
	}
	in := Inspection{Pages: doc.NumPages()}
	if _, err := doc.Page(1); err != nil {
		in.Err = err
		return in
	}
	if cat, err := doc.Catalog(); err == nil {
		if names, err := doc.Resolve(cat["Names"]); err == nil {
			if d, ok := names.(Dict); ok {
				_, in.EmbeddedFiles = d["EmbeddedFiles"]
			}
		}
	}
	return in
}
