package transfer

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"eseal/archive"
)

// China is the time zone in which years and dates of records are counted
// (a document stamped on 31 December at 20:00 UTC belongs to the next year).
var China = time.FixedZone("CST", 8*3600)

// Rule is how reference codes (档号, DA/T 13) are made:
//
//	FONDS-YEAR-RETENTION-ITEM-SEQUENCE      e.g. Z001-2026-D30-330000XK0001-0001
//
// FONDS is the fonds code (全宗号, 1–16 letters and digits); YEAR the record's
// year (four digits, counted in Location); RETENTION the retention code
// (default DA/T 22: Y 永久, D30 定期30年, D10 定期10年; RetentionCodes may
// change it, e.g. to Y030); ITEM the record's item code (事项编码) with
// everything but letters and digits removed, or NoItemCode when it has none;
// SEQUENCE the item number (件号) within fonds, year, retention and item,
// from 1, zero-padded to SeqWidth digits. Within one package the sequence of
// every group runs 1, 2, … n without gaps, which Check verifies.
type Rule struct {
	// Fonds is the fonds code (全宗号); required.
	Fonds string
	// RetentionCodes maps the retention classes to their codes; nil means
	// DefaultRetentionCodes.
	RetentionCodes map[archive.RetentionClass]string
	// NoItemCode stands for the item of records without an item code;
	// "" means "WS" (文书).
	NoItemCode string
	// SeqWidth is the number of digits of the sequence; 0 means 4.
	SeqWidth int
	// Location is the time zone of years and dates; nil means China.
	Location *time.Location
}

// DefaultRetentionCodes are the retention codes of DA/T 22-2015.
var DefaultRetentionCodes = map[archive.RetentionClass]string{
	archive.Permanent: "Y",
	archive.Years30:   "D30",
	archive.Years10:   "D10",
}

// RetentionNames are the DA/T 46 values of 保管期限 for the classes of the
// archives law; records of any other class cannot be transferred.
var RetentionNames = map[archive.RetentionClass]string{
	archive.Permanent: "永久",
	archive.Years30:   "定期30年",
	archive.Years10:   "定期10年",
}

func (r Rule) codes() map[archive.RetentionClass]string {
	if r.RetentionCodes != nil {
		return r.RetentionCodes
	}
	return DefaultRetentionCodes
}

func (r Rule) noItem() string {
	if r.NoItemCode != "" {
		return r.NoItemCode
	}
	return "WS"
}

func (r Rule) width() int {
	if r.SeqWidth > 0 {
		return r.SeqWidth
	}
	return 4
}

func (r Rule) loc() *time.Location {
	if r.Location != nil {
		return r.Location
	}
	return China
}

// Validate reports whether the rule can make reference codes.
func (r Rule) Validate() error {
	if !alnum(r.Fonds, 16) {
		return &RuleError{"fonds code must be 1–16 letters and digits, got " + strconv.Quote(r.Fonds)}
	}
	if !alnum(r.noItem(), 32) {
		return &RuleError{"no-item code must be 1–32 letters and digits"}
	}
	if r.width() > 9 {
		return &RuleError{"sequence width above 9"}
	}
	seen := map[string]bool{}
	for c, code := range r.codes() {
		if !alnum(code, 8) || seen[code] {
			return &RuleError{fmt.Sprintf("retention code %q of %s: want 1–8 letters and digits, distinct", code, c)}
		}
		seen[code] = true
	}
	for c := range RetentionNames {
		if _, ok := r.codes()[c]; !ok {
			return &RuleError{"no retention code for " + string(c)}
		}
	}
	return nil
}

// RuleError is a reference-code rule that cannot be used.
type RuleError struct{ Reason string }

func (e *RuleError) Error() string { return "transfer: reference-code rule: " + e.Reason }

// RefCode is one reference code (档号), split into its parts.
type RefCode struct {
	Fonds     string
	Year      int
	Retention string // the retention code, e.g. D30
	Item      string // the item part, e.g. 330000XK0001
	Seq       int
	width     int
}

// String formats the code.
func (c RefCode) String() string {
	w := c.width
	if w == 0 {
		w = 4
	}
	return fmt.Sprintf("%s-%04d-%s-%s-%0*d", c.Fonds, c.Year, c.Retention, c.Item, w, c.Seq)
}

// Group is the code without its sequence: the series its sequence counts in.
func (c RefCode) Group() string {
	return fmt.Sprintf("%s-%04d-%s-%s", c.Fonds, c.Year, c.Retention, c.Item)
}

// ParseRefCode splits a reference code made by any Rule. It checks the form
// only (five parts, letters and digits, a four-digit year, a sequence of
// at least one digit from 1); whether the parts fit a record is the caller's
// concern.
func ParseRefCode(s string) (RefCode, error) {
	parts := strings.Split(s, "-")
	if len(parts) != 5 {
		return RefCode{}, fmt.Errorf("reference code %q: want FONDS-YEAR-RETENTION-ITEM-SEQUENCE", s)
	}
	c := RefCode{Fonds: parts[0], Retention: parts[2], Item: parts[3], width: len(parts[4])}
	switch {
	case !alnum(parts[0], 16):
		return RefCode{}, fmt.Errorf("reference code %q: fonds code must be 1–16 letters and digits", s)
	case len(parts[1]) != 4 || !digits(parts[1]):
		return RefCode{}, fmt.Errorf("reference code %q: year must have four digits", s)
	case !alnum(parts[2], 8):
		return RefCode{}, fmt.Errorf("reference code %q: retention code must be 1–8 letters and digits", s)
	case !alnum(parts[3], 32):
		return RefCode{}, fmt.Errorf("reference code %q: item must be 1–32 letters and digits", s)
	case len(parts[4]) == 0 || len(parts[4]) > 9 || !digits(parts[4]):
		return RefCode{}, fmt.Errorf("reference code %q: sequence must be 1–9 digits", s)
	}
	c.Year, _ = strconv.Atoi(parts[1])
	c.Seq, _ = strconv.Atoi(parts[4])
	if c.Seq < 1 {
		return RefCode{}, fmt.Errorf("reference code %q: sequence starts at 1", s)
	}
	return c, nil
}

// Item is one record placed in a transfer: its position in the catalogue
// (序号, from 1) and its reference code.
type Item struct {
	Index  int
	Ref    RefCode
	Record archive.Record
}

// Assign gives each record, in the order given, its reference code: the
// sequence counts separately in each fonds-year-retention-item group. It
// fails for a record whose retention class is not one of the archives law.
func Assign(records []archive.Record, rule Rule) ([]Item, error) {
	if err := rule.Validate(); err != nil {
		return nil, err
	}
	next := map[string]int{}
	items := make([]Item, 0, len(records))
	for i, rec := range records {
		code, ok := rule.codes()[rec.Retention]
		if !ok {
			return nil, &ItemError{DocumentID: rec.DocumentID, Reason: fmt.Sprintf("retention %q is not a class of the archives law", rec.Retention)}
		}
		ref := RefCode{Fonds: rule.Fonds, Year: rec.Date.In(rule.loc()).Year(), Retention: code, Item: itemPart(rec.ItemCode, rule), width: rule.width()}
		next[ref.Group()]++
		ref.Seq = next[ref.Group()]
		if len(strconv.Itoa(ref.Seq)) > rule.width() {
			return nil, &RuleError{fmt.Sprintf("group %s has more than %d-digit sequences", ref.Group(), rule.width())}
		}
		items = append(items, Item{Index: i + 1, Ref: ref, Record: rec})
	}
	return items, nil
}

// itemPart is the item code with everything but ASCII letters and digits
// removed (the code's own separator is "-"), at most 32 characters.
func itemPart(code string, rule Rule) string {
	var b strings.Builder
	for i := 0; i < len(code); i++ {
		if c := code[i]; isAlnum(c) {
			b.WriteByte(c)
		}
	}
	s := b.String()
	if s == "" {
		return rule.noItem()
	}
	if len(s) > 32 {
		s = s[:32]
	}
	return s
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func alnum(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return false
		}
	}
	return true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
