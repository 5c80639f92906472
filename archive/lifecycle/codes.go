package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"eseal/archive"
)

// Retrieval codes let a citizen download their document (/d/{code}) without
// an account. The store keeps only a hash of each code: codes/<sha256 of
// the normalised code>.json names the document, and the record carries the
// same hash (RetrievalCodeHash).

// codesPrefix holds the retrieval-code index.
const codesPrefix = "codes/"

// RetrievalCodeLen is the length of a normalised retrieval code: 20 base32
// characters, 100 random bits, printed as five groups of four.
const RetrievalCodeLen = 20

// NormalizeCode drops separators and case so people can type codes
// loosely; "" for what cannot be a code.
func NormalizeCode(code string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(code) {
		switch {
		case r == '-' || r == ' ':
		case (r >= 'A' && r <= 'Z') || (r >= '2' && r <= '7'):
			b.WriteRune(r)
		default:
			return ""
		}
	}
	return b.String()
}

// CodeHash is the hash of a retrieval code that the store keeps: the hex
// SHA-256 of the normalised code.
func CodeHash(code string) string {
	sum := sha256.Sum256([]byte(NormalizeCode(code)))
	return hex.EncodeToString(sum[:])
}

// CodeKey is the index object of a retrieval code.
func CodeKey(code string) string { return codesPrefix + CodeHash(code) + ".json" }

// ByRetrievalCode finds the committed document a citizen's code opens, its
// record as the commit stored it. The index object is not pinned, so the
// record must carry the code's hash: an index object put around the
// service that names another document opens nothing.
func (d *Documents) ByRetrievalCode(ctx context.Context, code string) (*archive.Record, error) {
	if len(NormalizeCode(code)) != RetrievalCodeLen {
		return nil, archive.ErrNotFound
	}
	b, err := readSmall(ctx, d.Store, CodeKey(code))
	if err != nil {
		return nil, err
	}
	var e struct {
		DocumentID string `json:"document_id"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("%s: %w", CodeKey(code), err)
	}
	if !archive.ValidDocumentID(e.DocumentID) {
		return nil, archive.ErrNotFound
	}
	rec, err := d.CommittedRecord(ctx, e.DocumentID)
	if err != nil {
		return nil, err
	}
	if rec.RetrievalCodeHash != CodeHash(code) {
		return nil, archive.ErrNotFound
	}
	return rec, nil
}
