package transfer

import (
	"context"
	"fmt"
	"sort"
	"time"

	"eseal/archive"
	"eseal/archive/lifecycle"
)

// Filter selects the records of one transfer. Zero fields match everything.
type Filter struct {
	// Year is the record's year (in Location), e.g. 2026.
	Year int `json:"year,omitempty"`
	// Retention is the retention class (permanent, 30y, 10y).
	Retention archive.RetentionClass `json:"retention,omitempty"`
	// ItemCode is the government-service item code (事项编码), exact.
	ItemCode string `json:"item_code,omitempty"`
	// CaseNo is the case number (办件编号), exact.
	CaseNo string `json:"case_no,omitempty"`
	// Location is the time zone of Year; nil means China.
	Location *time.Location `json:"-"`
	// UnitTag selects the unit whose records are transferred: "" the first
	// unit (every record of a store without units), else the tag of its id
	// (archive.UnitTag). A transfer never mixes units.
	UnitTag string `json:"-"`
}

func (f Filter) match(r *archive.Record) bool {
	loc := f.Location
	if loc == nil {
		loc = China
	}
	return (f.Year == 0 || r.Date.In(loc).Year() == f.Year) &&
		(f.Retention == "" || r.Retention == f.Retention) &&
		(f.ItemCode == "" || r.ItemCode == f.ItemCode) &&
		(f.CaseNo == "" || r.CaseNo == f.CaseNo)
}

// Select reads the record of every committed document of the filter's
// unit, as its commit stored it (lifecycle.Documents.EachCommitted: pinned,
// so a foreign version in front of a record neither changes what is
// selected nor is transferred), and returns those the filter matches,
// ordered by date, then document id — the order in which Assign numbers
// them. A record that cannot be read as committed is an error, not a
// silent omission.
func Select(ctx context.Context, docs *lifecycle.Documents, f Filter) ([]archive.Record, error) {
	var out []archive.Record
	err := docs.EachCommitted(ctx, f.UnitTag, func(rec *archive.Record) error {
		if f.match(rec) {
			out = append(out, *rec)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Date.Equal(out[j].Date) {
			return out[i].Date.Before(out[j].Date)
		}
		return out[i].DocumentID < out[j].DocumentID
	})
	return out, nil
}

// ItemError is a record that cannot be transferred as it is: its stored PDF
// does not match its record, its signatures do not verify, its metadata
// cannot be expressed. Nothing usable was written.
type ItemError struct {
	DocumentID string
	Reason     string
}

func (e *ItemError) Error() string {
	return "transfer: document " + e.DocumentID + ": " + e.Reason
}
