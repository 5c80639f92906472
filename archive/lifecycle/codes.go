package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/emmansun/gmsm/sm3"

	"eseal/archive"
)

// Retrieval codes let a citizen download their document (/d/{code}) without
// an account. A code names its document by itself: its first four
// characters are a hint of the document's unit (UnitHint), the other
// sixteen are 80 random bits, and the document's id is derived from the
// whole code (DocumentIDFor) — so a lookup reads the document's record and
// nothing else, and a stamping writes no index object for its code. The id
// reveals nothing of the code (SM3 is one-way over 80 unknown bits). The
// record carries the code's hash (RetrievalCodeHash), which the lookup
// checks. Codes issued before 2026-12-02 are 100 random bits with an index
// object, codes/<sha256 of the normalised code>.json, naming the document;
// they are still looked up there.

// codesPrefix holds the retrieval-code index of codes issued before
// 2026-12-02.
const codesPrefix = "codes/"

// RetrievalCodeLen is the length of a normalised retrieval code: 20 base32
// characters, printed as five groups of four.
const RetrievalCodeLen = 20

// UnitHintLen is the length of a code's unit hint, its first characters.
const UnitHintLen = 4

// UnitHint is the unit hint that begins the retrieval codes of the unit
// with this tag ("" for the first unit): 20 bits of its SM3, in base32.
func UnitHint(tag string) string {
	sum := sm3.Sum([]byte("eseal unit hint\x00" + tag))
	return base32.StdEncoding.EncodeToString(sum[:])[:UnitHintLen]
}

// DocumentIDFor is the id of the document a retrieval code of the unit
// with this tag opens: the unit's document prefix and 80 bits of the SM3
// of the normalised code (archive.ValidDocumentID).
func DocumentIDFor(tag, code string) string {
	sum := sm3.Sum([]byte("eseal document id\x00" + NormalizeCode(code)))
	id := strings.ToLower(base32.StdEncoding.EncodeToString(sum[:10]))
	if tag != "" {
		return "doc-" + tag + "-" + id
	}
	return "doc-" + id
}

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
// record as the commit stored it: the document whose id the code derives
// in each unit its hint may name, else (a code issued before 2026-12-02)
// the one its index object names. Either way the record must carry the
// code's hash, so neither an id that happens to match nor an index object
// put around the service opens another document.
func (d *Documents) ByRetrievalCode(ctx context.Context, code string) (*archive.Record, error) {
	n := NormalizeCode(code)
	if len(n) != RetrievalCodeLen {
		return nil, archive.ErrNotFound
	}
	tags := []string{""}
	if d.UnitTags != nil {
		var err error
		if tags, err = d.UnitTags(ctx, n[:UnitHintLen]); err != nil {
			return nil, err
		}
	} else if UnitHint("") != n[:UnitHintLen] {
		tags = nil
	}
	for _, tag := range tags {
		rec, err := d.CommittedRecord(ctx, DocumentIDFor(tag, n))
		if errors.Is(err, archive.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if rec.RetrievalCodeHash == CodeHash(n) {
			return rec, nil
		}
	}
	return d.byCodeIndex(ctx, n)
}

// byCodeIndex finds the document of a code issued before 2026-12-02 through
// its index object.
func (d *Documents) byCodeIndex(ctx context.Context, code string) (*archive.Record, error) {
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
