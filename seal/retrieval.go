package seal

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"

	"eseal/archive/lifecycle"
)

// Retrieval codes let a citizen download their document (/d/{code}) without
// an account. The service issues them; a code names its document by itself
// (lifecycle.DocumentIDFor), and the record keeps only the code's hash,
// which lifecycle.Documents.ByRetrievalCode checks.

// codeEntry is an index object naming a document: the idempotency markers,
// and the retrieval-code index of codes issued before 2026-12-02.
type codeEntry struct {
	DocumentID string `json:"document_id"`
}

// newRetrievalCode issues a code for a document of the unit with this tag:
// the unit's hint (lifecycle.UnitHint) and 80 random bits, as five groups
// of four base32 characters.
func newRetrievalCode(unitTag string) string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	s := lifecycle.UnitHint(unitTag) + base32.StdEncoding.EncodeToString(b[:])
	var out strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			out.WriteByte('-')
		}
		out.WriteString(s[i : i+4])
	}
	return out.String()
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
