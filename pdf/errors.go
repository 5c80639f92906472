package pdf

import (
	"errors"
	"fmt"
)

// ErrEncrypted is returned by Open for a document whose trailer has /Encrypt:
// signing one would need its encryption dictionary handled, which is out of scope.
var ErrEncrypted = errors.New("pdf: encrypted documents are not supported")

// A FormatError reports a file that is not a readable PDF: no startxref, a
// broken cross-reference section, an object not where the xref says, a loop in
// /Prev or in the page tree, an absurd size.
type FormatError struct {
	Offset int64 // byte offset where the problem was found, -1 when unknown
	Reason string
}

func (e *FormatError) Error() string {
	if e.Offset < 0 {
		return "pdf: malformed file: " + e.Reason
	}
	return fmt.Sprintf("pdf: malformed file at offset %d: %s", e.Offset, e.Reason)
}

// A PageRangeError reports a page number outside 1..NumPages.
type PageRangeError struct {
	Page, NumPages int
}

func (e *PageRangeError) Error() string {
	return fmt.Sprintf("pdf: page %d out of range (document has %d pages)", e.Page, e.NumPages)
}

// A PlacementError reports a seal rectangle that cannot be placed, such as one
// lying wholly outside the visible page.
type PlacementError struct {
	Reason string
}

func (e *PlacementError) Error() string { return "pdf: cannot place seal: " + e.Reason }

// A ContentsTooLargeError reports a CMS blob larger than the /Contents
// placeholder reserved by PrepareSignature. Both sizes are in bytes.
type ContentsTooLargeError struct {
	Need, Have int
}

func (e *ContentsTooLargeError) Error() string {
	return fmt.Sprintf("pdf: signature needs %d bytes but only %d were reserved", e.Need, e.Have)
}

// A FieldExistsError reports a requested signature field name that the
// document already uses.
type FieldExistsError struct {
	Name string
}

func (e *FieldExistsError) Error() string {
	return fmt.Sprintf("pdf: a form field named %q already exists", e.Name)
}

func formatErr(off int64, format string, args ...any) error {
	return &FormatError{Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// A TextNotFoundError reports a searched text that occurs on no page.
type TextNotFoundError struct {
	Text  string
	Pages int // pages searched
}

func (e *TextNotFoundError) Error() string {
	return fmt.Sprintf("pdf: text %q not found in %d pages", e.Text, e.Pages)
}

// An UnaccountedDataError reports bytes after a signed revision that no
// revision on the startxref and /Prev chain accounts for: data other readers
// may show (poppler and qpdf rebuild a cross-reference from what they find)
// although the chain this package follows never reaches it.
type UnaccountedDataError struct {
	Offset int64 // where the unaccounted bytes start
	Reason string
}

func (e *UnaccountedDataError) Error() string {
	return fmt.Sprintf("pdf: unaccounted data after the signed revision at offset %d: %s", e.Offset, e.Reason)
}
