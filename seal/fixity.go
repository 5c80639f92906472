package seal

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/archive/lifecycle"
)

// Fixity checks the archive three ways and reports whatever is missing,
// extra or altered, each problem with its kind (archive.Fixity*):
//
//   - the store against the records: every stored document re-hashed
//     against its record, the evidence of every authorization it names
//     verified, any second version of its objects reported
//     (archive.Fixity);
//   - the audit log against the store: every document.stamped entry has its
//     record, PDF, use marker and locks, unless the document was disposed
//     of (a tombstone); and every committed document has its entry;
//   - the use markers against the records: every stamping marker (and every
//     receipt, spentKey) names a stored document.
//
// Finally the log itself is verified (audit.Verify), so a shard cut short
// after a checkpoint is reported. Stampings still pending are left out.
func (s *Service) Fixity(ctx context.Context, progress func(done, total int)) (*archive.FixityReport, error) {
	pending := map[string]bool{}
	if err := s.Store.List(ctx, pendingPrefix, func(o archive.ObjectInfo) error {
		id := strings.TrimPrefix(o.Key, pendingPrefix)
		pending[strings.TrimSuffix(strings.TrimSuffix(id, markerSuffix), stagingSuffix)] = true
		return nil
	}); err != nil {
		return nil, err
	}
	skip := func(id string) bool { return pending[id] }
	rep, err := archive.Fixity(ctx, s.Store, s.now, skip, s.Registry.CheckEvidence, progress)
	if err != nil {
		return nil, err
	}
	c := &reconciler{s: s, rep: rep, pending: pending, reported: map[string]bool{}}
	if err := c.run(ctx); err != nil {
		return nil, err
	}
	rep.Finished = s.now().UTC()
	return rep, nil
}

type reconciler struct {
	s        *Service
	rep      *archive.FixityReport
	pending  map[string]bool
	reported map[string]bool // kind + key, so no problem is listed twice
}

func (c *reconciler) add(p archive.FixityProblem) {
	k := p.Kind + " " + p.Key
	if c.reported[k] {
		return
	}
	c.reported[k] = true
	c.rep.Problems = append(c.rep.Problems, p)
}

// stampedEntry is what a document.stamped entry says.
type stampedEntry struct {
	authorization string
	use           int
	key           string
}

func (c *reconciler) run(ctx context.Context) error {
	for _, p := range c.rep.Problems {
		c.reported[p.Kind+" "+p.Key] = true
	}
	stamped := map[string]stampedEntry{}
	disposed := map[string]bool{}
	entries := 0
	err := audit.Entries(ctx, c.s.Store, func(e audit.Entry) error {
		entries++
		switch e.Action {
		case audit.DocumentStamped:
			if archive.ValidDocumentID(e.Subject) {
				n, _ := strconv.Atoi(e.Details["use"])
				stamped[e.Subject] = stampedEntry{authorization: e.Details["authorization"], use: n, key: audit.BlockKey(e.Node, e.Block)}
			}
		case audit.RecordDisposed:
			disposed[e.Subject] = true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("fixity: reading the audit log: %w", err)
	}
	for id, e := range stamped {
		if disposed[id] || c.pending[id] {
			continue
		}
		if err := c.stampedDocument(ctx, id, e); err != nil {
			return err
		}
	}
	ids, err := archive.DocumentIDs(ctx, c.s.Store, archive.AllUnits)
	if err != nil {
		return err
	}
	stored := map[string]bool{}
	for _, id := range ids {
		stored[id] = true
		if _, ok := stamped[id]; !ok && entries > 0 && !c.pending[id] {
			c.add(archive.FixityProblem{Kind: archive.FixityMissingAudit, DocumentID: id, Key: archive.RecordKey(id),
				Reason: "a stored document the audit log has no document.stamped entry for (its entry deleted, or the shard cut short)"})
		}
	}
	if err := c.useMarkers(ctx, stored); err != nil {
		return err
	}
	return c.auditLog(ctx)
}

// stampedDocument checks what one document.stamped entry promises.
func (c *reconciler) stampedDocument(ctx context.Context, id string, e stampedEntry) error {
	if gone, err := c.tombstoned(ctx, id); err != nil || gone {
		return err
	}
	locked := func(key, kind, what string) error {
		info, err := c.s.Store.Head(ctx, key)
		switch {
		case errors.Is(err, archive.ErrNotFound):
			c.add(archive.FixityProblem{Kind: kind, DocumentID: id, Key: key, Reason: what + " is missing; the audit log holds its stamping (" + e.key + ")"})
		case err != nil:
			return err
		case info.RetainUntil.IsZero() && !info.LegalHold:
			c.add(archive.FixityProblem{Kind: archive.FixityMissingLock, DocumentID: id, Key: key, Reason: what + " is not retention-locked"})
		}
		return nil
	}
	if err := locked(archive.RecordKey(id), archive.FixityMissingRecord, "the record"); err != nil {
		return err
	}
	if err := locked(archive.DocumentKey(id), archive.FixityMissingDocument, "the PDF"); err != nil {
		return err
	}
	if !ValidAuthorizationID(e.authorization) || e.use < 1 {
		return nil
	}
	var m useMarker
	key := useKey(e.authorization, e.use)
	switch err := getJSON(ctx, c.s.Store, key, &m); {
	case errors.Is(err, archive.ErrNotFound):
		c.add(archive.FixityProblem{Kind: archive.FixityMissingUseMarker, DocumentID: id, AuthorizationID: e.authorization, Key: key,
			Reason: "the use marker of a logged stamping is missing (" + e.key + ")"})
	case err != nil:
		c.add(archive.FixityProblem{Kind: archive.FixityUnreadable, DocumentID: id, AuthorizationID: e.authorization, Key: key, Reason: err.Error()})
	case m.DocumentID != id:
		c.add(archive.FixityProblem{Kind: archive.FixityUseMismatch, DocumentID: id, AuthorizationID: e.authorization, Key: key,
			Reason: "the use marker names " + m.DocumentID + "; the audit log says " + id})
	default:
		// Markers are locked by finish since receipts exist (stores made
		// before have unlocked ones): check the lock where the receipt is.
		if _, err := c.s.Store.Head(ctx, spentKey(e.authorization, e.use)); err == nil {
			return locked(key, archive.FixityMissingUseMarker, "the use marker")
		}
	}
	return nil
}

func (c *reconciler) tombstoned(ctx context.Context, id string) (bool, error) {
	_, err := c.s.Store.Head(ctx, lifecycle.TombstoneKey(id))
	if errors.Is(err, archive.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// useMarkers checks that every stamping marker and receipt names a stored
// (or pending, or disposed) document, and that every receipt has its marker.
func (c *reconciler) useMarkers(ctx context.Context, stored map[string]bool) error {
	markers := map[string]bool{} // use keys seen
	type receipt struct{ id, key string }
	var receipts []receipt
	err := c.s.Store.List(ctx, "authz/", func(o archive.ObjectInfo) error {
		id, rest, ok := strings.Cut(strings.TrimPrefix(o.Key, "authz/"), "/")
		if !ok {
			return nil
		}
		if _, ok := slotNumber(rest, "spent/"); ok {
			receipts = append(receipts, receipt{id, o.Key})
			return nil
		}
		if _, ok := slotNumber(rest, "use/"); !ok {
			return nil
		}
		markers[o.Key] = true
		var m useMarker
		if err := getJSON(ctx, c.s.Store, o.Key, &m); err != nil {
			if errors.Is(err, archive.ErrNotFound) {
				return nil
			}
			c.add(archive.FixityProblem{Kind: archive.FixityUnreadable, AuthorizationID: id, Key: o.Key, Reason: err.Error()})
			return nil
		}
		if m.Closes == nil {
			return c.orphan(ctx, id, o.Key, m.DocumentID, stored)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range receipts {
		var u usedSlot
		if err := getJSON(ctx, c.s.Store, r.key, &u); err != nil {
			c.add(archive.FixityProblem{Kind: archive.FixityUnreadable, AuthorizationID: r.id, Key: r.key, Reason: err.Error()})
			continue
		}
		if mk := useKey(r.id, u.N); !markers[mk] {
			c.add(archive.FixityProblem{Kind: archive.FixityMissingUseMarker, DocumentID: u.DocumentID, AuthorizationID: r.id, Key: mk,
				Reason: fmt.Sprintf("use %d is spent (%s) but its marker is missing", u.N, r.key)})
		}
		if err := c.orphan(ctx, r.id, r.key, u.DocumentID, stored); err != nil {
			return err
		}
	}
	return nil
}

func (c *reconciler) orphan(ctx context.Context, authzID, key, docID string, stored map[string]bool) error {
	if stored[docID] || c.pending[docID] {
		return nil
	}
	if gone, err := c.tombstoned(ctx, docID); err != nil || gone {
		return err
	}
	// A marker of a stamping in flight may precede its staging's listing:
	// look for the staging, then for the record (which its finish writes
	// before the staging goes), before reporting.
	for _, k := range []string{stagingKey(docID), archive.RecordKey(docID)} {
		if _, err := c.s.Store.Head(ctx, k); err == nil {
			return nil
		}
	}
	c.add(archive.FixityProblem{Kind: archive.FixityOrphanUseMarker, DocumentID: docID, AuthorizationID: authzID, Key: key,
		Reason: "names a document that is not stored (" + archive.DocumentPrefix(docID) + " is gone)"})
	return nil
}

// auditLog verifies the log and reports its problems.
func (c *reconciler) auditLog(ctx context.Context) error {
	cert, err := c.s.Registry.AuditCertificate(ctx)
	if errors.Is(err, archive.ErrNotFound) {
		return nil // a store made before the audit key
	}
	if err != nil {
		return err
	}
	rep, err := audit.Verify(ctx, c.s.Store, cert.PublicKey)
	if err != nil {
		return err
	}
	for _, p := range rep.Problems {
		kind := archive.FixityAuditInvalid
		if p.Reason == audit.ShardShort {
			kind = archive.FixityAuditShardShort
		}
		c.add(archive.FixityProblem{Kind: kind, Key: p.Key, Reason: p.Error()})
	}
	if rep.Omitted > 0 {
		c.add(archive.FixityProblem{Kind: archive.FixityAuditInvalid, Key: "audit/", Reason: fmt.Sprintf("%d more audit problems", rep.Omitted)})
	}
	return nil
}
