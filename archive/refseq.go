package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Reference codes (档号) are numbered once, when a record is archived: each
// record takes the next number of its series — fonds, year, retention class
// and item — and keeps it. A transfer renders the code from the number
// (archive/transfer), so every transfer of a series carries the same codes.
//
// The series' counter is a run of write-once claims,
// refseq/<fonds>/<year>/<retention>/<item>/<NNNNNNNNN>.json, each naming its
// document: the next number is the first claim a put-if-absent wins, so
// replicas sharing the store never hand out one number twice. Numbers are
// claimed only after a stamping is committed and logged, and claims are
// never removed (they are locked for good), so a series has no gaps. The
// number is then kept with the document, RefNumberKey, locked with it.

// RefYearZone is the time zone in which a record's year is counted (a
// document stamped on 31 December at 20:00 UTC belongs to the next year).
var RefYearZone = time.FixedZone("CST", 8*3600)

// RefNumber is a record's place in its reference-code series.
type RefNumber struct {
	DocumentID string         `json:"document_id"`
	Fonds      string         `json:"fonds"`
	Year       int            `json:"year"`
	Retention  RetentionClass `json:"retention"`
	// Item is the record's item code with everything but ASCII letters and
	// digits removed (at most 32), "" for a record without one.
	Item string `json:"item"`
	// Seq is the record's number in the series, from 1.
	Seq int `json:"seq"`
}

// RefNumberKey is where a document's number is kept.
func RefNumberKey(docID string) string { return DocumentPrefix(docID) + "refcode.json" }

// RefItem is the item part of a series: the item code's ASCII letters and
// digits, at most 32.
func RefItem(code string) string {
	var b strings.Builder
	for i := 0; i < len(code) && b.Len() < 32; i++ {
		if c := code[i]; 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (n RefNumber) seriesPrefix() string {
	item := "no-item"
	if n.Item != "" {
		item = "item-" + n.Item
	}
	return fmt.Sprintf("refseq/%s/%04d/%s/%s/", n.Fonds, n.Year, n.Retention, item)
}

func claimKey(prefix string, seq int) string { return fmt.Sprintf("%s%09d.json", prefix, seq) }

// MaxRefSeq is the largest number of a series.
const MaxRefSeq = 999_999_999

// AssignRefNumber gives the document n.DocumentID the next number of n's
// series (n.Seq is ignored) and keeps it, locked until until; the claim is
// locked for good (Permanent from now), so a number is never handed out
// again, even after its record is disposed of. It is
// idempotent: a document that has its number keeps it. resumed says the
// caller may have claimed before and been cut short (the recovery sweep):
// then the series' claims are read to find it, so that no document holds
// two numbers.
func AssignRefNumber(ctx context.Context, s Store, n RefNumber, until, now time.Time, resumed bool) (*RefNumber, error) {
	if have, err := ReadRefNumber(ctx, s, n.DocumentID); err == nil {
		return have, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	prefix := n.seriesPrefix()
	count := 0
	var mine int
	err := s.List(ctx, prefix, func(o ObjectInfo) error {
		count++
		if resumed && mine == 0 {
			var c RefNumber
			b, _, err := GetBytes(ctx, s, o.Key)
			if err != nil {
				return err
			}
			if json.Unmarshal(b, &c) == nil && c.DocumentID == n.DocumentID {
				mine = c.Seq
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Claim and number are locked in their puts where the store can; a
	// claim found again (resumed) or stored unlocked is locked here.
	claimUntil := Permanent.Until(now)
	relock := mine > 0
	if relock {
		n.Seq = mine
	} else {
		for n.Seq = count + 1; ; n.Seq++ {
			if n.Seq > MaxRefSeq {
				return nil, fmt.Errorf("reference-code series %s is full", prefix)
			}
			b, _ := json.Marshal(n)
			_, err := PutRetained(ctx, s, claimKey(prefix, n.Seq), b, claimUntil)
			if err == nil || errors.Is(err, ErrStoredUnlocked) {
				relock = err != nil
				break
			}
			if !errors.Is(err, ErrExists) {
				return nil, err
			}
		}
	}
	if relock {
		if err := s.SetRetention(ctx, claimKey(prefix, n.Seq), claimUntil); err != nil {
			return nil, err
		}
	}
	b, _ := json.Marshal(n)
	_, err = PutRetained(ctx, s, RefNumberKey(n.DocumentID), b, until)
	if err == nil {
		return &n, nil
	}
	if !errors.Is(err, ErrExists) && !errors.Is(err, ErrStoredUnlocked) {
		return nil, err
	}
	if err := s.SetRetention(ctx, RefNumberKey(n.DocumentID), until); err != nil {
		return nil, err
	}
	// Stored before (a finish that ran twice): the number is the one kept.
	return ReadRefNumber(ctx, s, n.DocumentID)
}

// ReadRefNumber reads a document's number, or ErrNotFound for a document
// archived before numbers were kept (or without a fonds code).
func ReadRefNumber(ctx context.Context, s Store, docID string) (*RefNumber, error) {
	b, _, err := GetBytes(ctx, s, RefNumberKey(docID))
	if err != nil {
		return nil, err
	}
	var n RefNumber
	if err := json.Unmarshal(b, &n); err != nil || n.DocumentID != docID || n.Seq < 1 {
		return nil, fmt.Errorf("%s: not a reference number of this document", RefNumberKey(docID))
	}
	return &n, nil
}
