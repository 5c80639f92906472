package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
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
// claimed only after a stamping is committed, each only once every number
// below it is claimed, and claims are never removed (they are locked for
// good), so a series has no gaps — which is what lets RefCounter find the
// next number without listing the series. The number is then kept with
// the document, RefNumberKey, locked with it.

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
// series with a counter of its own (RefCounter.Assign), which starts
// without knowing where the series stands: for one-off callers.
func AssignRefNumber(ctx context.Context, s Store, n RefNumber, until, now time.Time, resumed bool) (*RefNumber, error) {
	var c RefCounter
	return c.Assign(ctx, s, n, until, now, resumed)
}

// RefCounter finds the next number of a series without listing it: a
// series' claims are 1, 2, … n without a gap (a number is claimed only
// when the numbers below it are, and no claim is ever removed), so the
// first free number is found by probing claims — galloping up from the
// highest one known, then halving — in O(log n) reads, whatever the
// series' length. A replica then hands out the numbers after it to its
// own stampings one by one, each tried with a put-if-absent and no read;
// a number another replica took first sends it probing again, from there.
// A number whose put failed otherwise is handed out again first, so a
// store's hiccup leaves no gap behind a later claim for long. The zero
// value is ready; use one per store.
type RefCounter struct {
	mu     sync.Mutex
	series map[string]*refSeries
}

// refSeries is what a counter knows of one series.
type refSeries struct {
	// next is the number to hand out next (every number below it is
	// claimed or handed out); 0 until the series was probed.
	next int
	// again are numbers handed out whose put failed, not because another
	// replica had them: handed out again before next.
	again []int
}

// RefResumeWindow is how far before a resumed stamping began its own
// claim may be dated, at most: a claim's time is the store's, and a
// replica's clock may be behind it. Claims older than that are not read.
const RefResumeWindow = time.Hour

// Assign gives the document n.DocumentID the next number of n's series
// (n.Seq is ignored) and keeps it, locked until until; the claim is locked
// for good (Permanent from now), so a number is never handed out again,
// even after its record is disposed of. resumed says the caller may have
// claimed before and been cut short (the recovery sweep, or a stamping's
// second try): then a number kept already is returned as it is, and the
// series' claims made since the stamping began (resumedSince, less
// RefResumeWindow; all of them when zero) are read, newest first, to find
// one this document made, so that no document holds two numbers.
func (c *RefCounter) Assign(ctx context.Context, s Store, n RefNumber, until, now time.Time, resumed bool) (*RefNumber, error) {
	return c.assign(ctx, s, n, until, now, resumed, time.Time{})
}

// AssignSince is Assign for a resumed stamping that began at since: only
// claims made after since (less RefResumeWindow) can be its own.
func (c *RefCounter) AssignSince(ctx context.Context, s Store, n RefNumber, until, now, since time.Time) (*RefNumber, error) {
	return c.assign(ctx, s, n, until, now, true, since)
}

func (c *RefCounter) assign(ctx context.Context, s Store, n RefNumber, until, now time.Time, resumed bool, since time.Time) (*RefNumber, error) {
	if resumed {
		if have, err := ReadRefNumber(ctx, s, n.DocumentID); err == nil {
			return have, nil
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	prefix := n.seriesPrefix()
	// Claim and number are locked in their puts where the store can; a
	// claim found again (resumed) or stored unlocked is locked here.
	claimUntil := Permanent.Until(now)
	mine := 0
	if resumed {
		var err error
		if mine, err = findClaim(ctx, s, prefix, n.DocumentID, since); err != nil {
			return nil, err
		}
	}
	relock := mine > 0
	if relock {
		n.Seq = mine
	} else {
		var err error
		if n.Seq, relock, err = c.claim(ctx, s, prefix, n, claimUntil); err != nil {
			return nil, err
		}
	}
	if relock {
		if err := s.SetRetention(ctx, claimKey(prefix, n.Seq), claimUntil); err != nil {
			return nil, err
		}
	}
	b, _ := json.Marshal(n)
	_, err := PutRetained(ctx, s, RefNumberKey(n.DocumentID), b, until)
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

// claim puts n's claim at the series' first free number, locked until
// claimUntil, and returns the number and whether the claim was stored
// unlocked.
func (c *RefCounter) claim(ctx context.Context, s Store, prefix string, n RefNumber, claimUntil time.Time) (seq int, unlocked bool, err error) {
	if seq, err = c.handOut(ctx, s, prefix); err != nil {
		return 0, false, err
	}
	for {
		if seq > MaxRefSeq {
			return 0, false, fmt.Errorf("reference-code series %s is full", prefix)
		}
		n.Seq = seq
		b, _ := json.Marshal(n)
		_, err := PutRetained(ctx, s, claimKey(prefix, seq), b, claimUntil)
		if err == nil || errors.Is(err, ErrStoredUnlocked) {
			return seq, err != nil, nil
		}
		if !errors.Is(err, ErrExists) {
			c.giveBack(prefix, seq)
			return 0, false, err
		}
		// Another replica took it: probe on from there.
		free, err := firstFree(ctx, s, prefix, seq)
		if err != nil {
			return 0, false, err
		}
		seq = c.reserveFrom(prefix, free)
	}
}

// handOut gives a stamping of this replica a number of the series to try:
// one given back, or the next — after probing the store, the first time.
func (c *RefCounter) handOut(ctx context.Context, s Store, prefix string) (int, error) {
	c.mu.Lock()
	r := c.series[prefix]
	if r != nil && len(r.again) > 0 {
		seq := r.again[len(r.again)-1]
		r.again = r.again[:len(r.again)-1]
		c.mu.Unlock()
		return seq, nil
	}
	if r != nil && r.next > 0 {
		r.next++
		seq := r.next - 1
		c.mu.Unlock()
		return seq, nil
	}
	c.mu.Unlock()
	free, err := firstFree(ctx, s, prefix, 0)
	if err != nil {
		return 0, err
	}
	return c.reserveFrom(prefix, free), nil
}

// reserveFrom hands out free — the series' first free number as probed —
// unless this replica handed it out already, then the next one it has not.
func (c *RefCounter) reserveFrom(prefix string, free int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.series == nil {
		c.series = map[string]*refSeries{}
	}
	r := c.series[prefix]
	if r == nil {
		r = &refSeries{}
		c.series[prefix] = r
	}
	if r.next <= free {
		r.next = free
	}
	r.next++
	return r.next - 1
}

// giveBack returns a number whose claim was not stored, to be handed out
// again.
func (c *RefCounter) giveBack(prefix string, seq int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.series[prefix]; r != nil {
		r.again = append(r.again, seq)
	}
}

// firstFree finds the series' first unclaimed number, knowing that every
// number up to known is claimed (LastInSeries: gallop, then halve).
func firstFree(ctx context.Context, s Store, prefix string, known int) (int, error) {
	last, err := LastInSeries(ctx, s, func(n uint64) string { return claimKey(prefix, int(n)) }, uint64(known), MaxRefSeq)
	return int(last) + 1, err
}

// findClaim looks for a claim of docID in the series, newest first, back
// to the claims made before since less RefResumeWindow; 0 when there is
// none.
func findClaim(ctx context.Context, s Store, prefix, docID string, since time.Time) (int, error) {
	free, err := firstFree(ctx, s, prefix, 0)
	if err != nil {
		return 0, err
	}
	for seq := free - 1; seq >= 1; seq-- {
		b, info, err := GetBytesMax(ctx, s, claimKey(prefix, seq), 64<<10)
		if err != nil {
			return 0, err
		}
		var cl RefNumber
		if json.Unmarshal(b, &cl) == nil && cl.DocumentID == docID {
			return seq, nil
		}
		if !since.IsZero() && info.ModTime.Before(since.Add(-RefResumeWindow)) {
			return 0, nil
		}
	}
	return 0, nil
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
