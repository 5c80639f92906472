package seal

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"

	"eseal/archive"
)

// Retrieval codes let a citizen download their document (/d/{code}) without
// an account. The store keeps only a hash of each code: codes/<sha256>.json
// names the document.

// codePrefix holds the retrieval-code index.
const codePrefix = "codes/"

// codeEntry is an index object naming a document: the retrieval-code index
// and the idempotency markers.
type codeEntry struct {
	DocumentID string `json:"document_id"`
}

// ByRetrievalCode finds the committed document a citizen's code opens.
func (s *Service) ByRetrievalCode(ctx context.Context, code string) (*archive.Record, error) {
	n := normalizeCode(code)
	if len(n) != retrievalCodeLen {
		return nil, archive.ErrNotFound
	}
	var ce codeEntry
	if err := getJSON(ctx, s.Store, codePrefix+hashHex(n)+".json", &ce); err != nil {
		return nil, err
	}
	if !ValidDocumentID(ce.DocumentID) {
		return nil, archive.ErrNotFound
	}
	return s.CommittedRecord(ctx, ce.DocumentID)
}

// retrievalCodeLen is the length of a normalised retrieval code: 20 base32
// characters, 100 random bits, printed as five groups of four.
const retrievalCodeLen = 20

func newRetrievalCode() string {
	var b [13]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	s := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])[:retrievalCodeLen]
	var out strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			out.WriteByte('-')
		}
		out.WriteString(s[i : i+4])
	}
	return out.String()
}

// normalizeCode drops separators and case so people can type codes loosely.
func normalizeCode(code string) string {
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

func codeKey(code string) string { return codePrefix + hashHex(normalizeCode(code)) + ".json" }

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
