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
// an account. The service issues them; the store keeps only their hash
// (lifecycle.CodeKey), where lifecycle.Documents.ByRetrievalCode looks them up.

// codeEntry is an index object naming a document: the retrieval-code index
// and the idempotency markers.
type codeEntry struct {
	DocumentID string `json:"document_id"`
}

func newRetrievalCode() string {
	var b [13]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	s := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])[:lifecycle.RetrievalCodeLen]
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
