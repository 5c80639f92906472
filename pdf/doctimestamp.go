package pdf

import (
	"fmt"
	"time"
)

// A DocTimestampRequest describes a document timestamp to add (ISO 32000-2
// §12.8.5; the B-LTA level of ETSI EN 319 142-1).
type DocTimestampRequest struct {
	// FieldName must be unused in the document; empty picks "Timestamp1",
	// "Timestamp2", … avoiding existing names.
	FieldName string
	// Time goes into /M; zero means now. The token's time is what counts.
	Time time.Time
	// ContentsSize is the room reserved for the token; zero means
	// DefaultContentsSize.
	ContentsSize int
}

// PrepareDocTimestamp builds one incremental update adding a document
// timestamp: a signature field with an invisible widget (/Rect [0 0 0 0],
// on no page) whose value is /Type /DocTimeStamp /SubFilter /ETSI.RFC3161
// with a zero-filled /Contents placeholder for the RFC 3161 token over the
// bytes the /ByteRange covers. Only the AcroForm (or the catalog) changes;
// no page does.
func (d *Document) PrepareDocTimestamp(req DocTimestampRequest) (*Update, error) {
	reserved := req.ContentsSize
	if reserved == 0 {
		reserved = DefaultContentsSize
	}
	if reserved < 0 || reserved > 1<<24 {
		return nil, fmt.Errorf("pdf: ContentsSize %d out of range", req.ContentsSize)
	}
	t := req.Time
	if t.IsZero() {
		t = time.Now()
	}
	cat, af, field, err := d.newField(req.FieldName, "Timestamp")
	if err != nil {
		return nil, err
	}
	w, alloc := d.newUpdate()
	sigNum := alloc(1)
	fieldRef := Ref{alloc(1), 0}
	lt, gt, brPos := w.writeSigDict(sigNum, "DocTimeStamp", SubFilterRFC3161, reserved, t, nil, nil)
	w.object(fieldRef, Dict{
		"Type": Name("Annot"), "Subtype": Name("Widget"), "FT": Name("Sig"), "T": textString(field),
		"V": Ref{sigNum, 0}, "Rect": Array{int64(0), int64(0), int64(0), int64(0)}, "F": int64(132),
	})
	return d.finishUpdate(w, alloc, af, cat, nil, fieldRef, t, field, lt, gt, brPos, reserved)
}
