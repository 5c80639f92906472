package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"eseal/archive"
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

// CommittedFunc reports whether a record's stamping committed (seal's
// Service.Committed has this type). Uncommitted records are never transferred.
type CommittedFunc func(ctx context.Context, rec *archive.Record) (bool, error)

// Select reads every record in the store and returns those the filter
// matches whose stamping committed, ordered by date, then document id — the
// order in which Assign numbers them. A record that cannot be read is an
// error, not a silent omission. committed must not be nil.
func Select(ctx context.Context, s archive.Store, f Filter, committed CommittedFunc) ([]archive.Record, error) {
	if committed == nil {
		return nil, fmt.Errorf("transfer: Select needs a committed function")
	}
	ids, err := archive.DocumentIDs(ctx, s, f.UnitTag)
	if err != nil {
		return nil, err
	}
	var out []archive.Record
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, _, err := archive.GetBytes(ctx, s, archive.RecordKey(id))
		if err != nil {
			return nil, fmt.Errorf("transfer: record of %s: %w", id, err)
		}
		var rec archive.Record
		if err := json.Unmarshal(b, &rec); err != nil || rec.DocumentID != id {
			return nil, &ItemError{DocumentID: id, Reason: "the stored record is not a well-formed record of this document"}
		}
		if !f.match(&rec) {
			continue
		}
		ok, err := committed(ctx, &rec)
		if err != nil {
			return nil, fmt.Errorf("transfer: commit state of %s: %w", id, err)
		}
		if ok {
			out = append(out, rec)
		}
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
