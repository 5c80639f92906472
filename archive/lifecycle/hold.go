package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"eseal/archive"
	"eseal/archive/audit"
)

// HoldEvent records a legal hold set or released on a document.
type HoldEvent struct {
	On     bool      `json:"on"`
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	Time   time.Time `json:"time"`
}

// SetLegalHold puts a committed document (its PDF and record) on legal hold
// or releases it. While held nothing can delete it, whatever its retention.
// Each change is kept as a hold event beside the document. A document with
// a foreign version in front of its PDF or record is refused
// (archive.ErrAltered): the store would hold that version, not the
// committed one.
func (d *Documents) SetLegalHold(ctx context.Context, docID string, on bool, reason, by string) (*HoldEvent, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > 512 {
		return nil, &InputError{"reason", "a legal hold needs a reason of 1–512 characters"}
	}
	if _, err := d.CommittedRecord(ctx, docID); err != nil {
		return nil, err
	}
	keys := []string{archive.DocumentKey(docID), archive.RecordKey(docID)}
	if err := d.checkVersions(ctx, docID, keys...); err != nil {
		return nil, err
	}
	// What each object held before, so a change the audit log cannot
	// record is set back.
	before := make([]bool, len(keys))
	for i, k := range keys {
		info, err := d.Store.Head(ctx, k)
		if err != nil {
			return nil, err
		}
		before[i] = info.LegalHold
	}
	undo := func() {
		for i, k := range keys {
			if err := d.Store.SetLegalHold(ctx, k, before[i]); err != nil {
				slog.Error("setting back a legal hold the audit log did not record", "key", k, "err", err)
			}
		}
	}
	for _, k := range keys {
		if err := d.Store.SetLegalHold(ctx, k, on); err != nil {
			undo()
			return nil, err
		}
	}
	ev := &HoldEvent{On: on, Reason: reason, By: by, Time: d.now().UTC()}
	action := audit.LegalHoldCleared
	if on {
		action = audit.LegalHoldSet
	}
	if err := d.audit(ctx, action, docID, by, map[string]string{"reason": reason}); err != nil {
		undo()
		return nil, err
	}

	n := 0
	if err := d.Store.List(ctx, archive.DocumentPrefix(docID)+"holds/", func(archive.ObjectInfo) error { n++; return nil }); err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 5; attempt++ {
		err := putJSON(ctx, d.Store, fmt.Sprintf("%sholds/%06d.json", archive.DocumentPrefix(docID), n+1+attempt), ev)
		if !errors.Is(err, archive.ErrExists) {
			return ev, err
		}
	}
	return nil, fmt.Errorf("document %s: hold events written concurrently too often", docID)
}
