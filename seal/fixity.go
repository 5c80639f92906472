package seal

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

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
//   - the use markers against the records: every stamping marker not given
//     back (and every receipt of before, spentKey) names a stored document,
//     a release names its marker's document, and no slot object has a
//     version in front of the one written (on S3, a delete marker hides a
//     marker from a plain listing; the slot stays taken all the same).
//
// Finally the log itself is verified (audit.Verify), so a shard cut short
// after a checkpoint is reported. Stampings still pending are left out
// while they are younger than the recovery sweep's grace period; one
// pending for longer is reported (FixityUnfinished) and its document
// checked like any other, so a stamping the sweep cannot finish or discard
// does not hide its document from fixity for good.
func (s *Service) Fixity(ctx context.Context, progress func(done, total int)) (*archive.FixityReport, error) {
	pending := map[string]bool{}
	var stale []archive.ObjectInfo
	cutoff := s.now().Add(-s.grace())
	if err := s.Store.List(ctx, pendingPrefix, func(o archive.ObjectInfo) error {
		if o.ModTime.Before(cutoff) {
			stale = append(stale, o)
		} else {
			pending[pendingDocID(o.Key)] = true
		}
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
	for _, o := range stale {
		c.add(archive.FixityProblem{Kind: archive.FixityUnfinished, DocumentID: pendingDocID(o.Key), Key: o.Key,
			Reason: fmt.Sprintf("pending since %s, longer than the recovery sweep's grace period (%s): the sweep's log says why it cannot finish or discard it", o.ModTime.UTC().Format(time.RFC3339), s.grace())})
	}
	if err := c.run(ctx); err != nil {
		return nil, err
	}
	rep.Finished = s.now().UTC()
	return rep, nil
}

// pendingDocID is the document a pending object (a staging object, or a
// pending marker of the earlier layout) is about.
func pendingDocID(key string) string {
	return strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(key, pendingPrefix), markerSuffix), stagingSuffix)
}

type reconciler struct {
	s        *Service
	rep      *archive.FixityReport
	pending  map[string]bool
	reported map[string]bool // kind + key, so no problem is listed twice
	// slots are the objects of every authorization's use slots, by key.
	slots map[string]*slotObject
}

// slotObject is what a listing of versions shows of one object of a use
// slot: a marker, a release, or a receipt of before.
type slotObject struct {
	authz string
	n     int
	// version is the first version written, the one that counts.
	version string
	// versions counts the versions; current says whether one of them is
	// (none is when a delete marker stands in front).
	versions int
	current  bool
}

// listSlots lists the versions of every use slot's objects.
func (c *reconciler) listSlots(ctx context.Context) error {
	c.slots = map[string]*slotObject{}
	return c.s.Store.ListVersions(ctx, "authz/", func(o archive.ObjectInfo) error {
		id, rest, ok := strings.Cut(strings.TrimPrefix(o.Key, "authz/"), "/")
		var n int
		if !ok || !isSlot(rest, "use/", &n) && !isSlot(rest, "release/", &n) && !isSlot(rest, "spent/", &n) {
			return nil
		}
		so := c.slots[o.Key]
		if so == nil {
			so = &slotObject{authz: id, n: n}
			c.slots[o.Key] = so
		}
		so.version = o.VersionID // newest first: the last is the first written
		so.versions++
		so.current = so.current || !o.Noncurrent
		return nil
	})
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
	if err := c.listSlots(ctx); err != nil {
		return err
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
	key := useKey(e.authorization, e.use)
	var m useMarker
	var info archive.ObjectInfo
	err := archive.ErrNotFound
	if so := c.slots[key]; so != nil {
		info, err = getJSONVersion(ctx, c.s.Store, key, so.version, &m)
	}
	switch {
	case errors.Is(err, archive.ErrNotFound):
		c.add(archive.FixityProblem{Kind: archive.FixityMissingUseMarker, DocumentID: id, AuthorizationID: e.authorization, Key: key,
			Reason: "the use marker of a logged stamping is missing (" + e.key + ")"})
	case err != nil:
		c.add(archive.FixityProblem{Kind: archive.FixityUnreadable, DocumentID: id, AuthorizationID: e.authorization, Key: key, Reason: err.Error()})
	case m.DocumentID != id:
		c.add(archive.FixityProblem{Kind: archive.FixityUseMismatch, DocumentID: id, AuthorizationID: e.authorization, Key: key,
			Reason: "the use marker names " + m.DocumentID + "; the audit log says " + id})
	case c.slots[releaseKey(e.authorization, e.use)] != nil:
		c.add(archive.FixityProblem{Kind: archive.FixityUseMismatch, DocumentID: id, AuthorizationID: e.authorization, Key: releaseKey(e.authorization, e.use),
			Reason: "the use of a logged stamping (" + e.key + ") is given back"})
	case info.RetainUntil.IsZero() && !info.LegalHold && (!m.RetainUntil.IsZero() || c.slots[spentKey(e.authorization, e.use)] != nil):
		// A marker is locked in its put (retain_until); before, finish
		// locked it where it wrote a receipt, and stores made before
		// receipts have unlocked ones.
		c.add(archive.FixityProblem{Kind: archive.FixityMissingLock, DocumentID: id, AuthorizationID: e.authorization, Key: key, Reason: "the use marker is not retention-locked"})
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

// useMarkers checks the objects of the use slots: no version in front of
// the one written; every stamping marker not given back, and every receipt,
// names a stored (or pending, or disposed) document; a release names its
// marker's document; every receipt has its marker.
func (c *reconciler) useMarkers(ctx context.Context, stored map[string]bool) error {
	keys := make([]string, 0, len(c.slots))
	for k := range c.slots {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		so := c.slots[key]
		rest := strings.TrimPrefix(key, authzKey(so.authz, ""))
		c.versions(key, so)
		switch {
		case strings.HasPrefix(rest, "use/"):
			var m useMarker
			if !c.read(ctx, key, so, &m) || m.Closes != nil {
				continue
			}
			if rel := c.slots[releaseKey(so.authz, so.n)]; rel != nil {
				// A use given back expects no document: its stamping was
				// discarded. The release must be this marker's.
				var r useRelease
				switch {
				case !c.read(ctx, releaseKey(so.authz, so.n), rel, &r):
					continue
				case !c.s.Registry.releaseValid(so.authz, so.n, &r):
					// Not the service's: it gives nothing back, and the
					// marker's use stands (its document is checked below).
					c.add(archive.FixityProblem{Kind: archive.FixityUnexpectedObject, DocumentID: m.DocumentID, AuthorizationID: so.authz, Key: releaseKey(so.authz, so.n),
						Reason: "a release the service did not sign: the use stands"})
				case r.DocumentID != m.DocumentID:
					c.add(archive.FixityProblem{Kind: archive.FixityUseMismatch, DocumentID: m.DocumentID, AuthorizationID: so.authz, Key: releaseKey(so.authz, so.n),
						Reason: "the release names " + r.DocumentID + "; its use marker names " + m.DocumentID})
					continue
				default:
					continue
				}
			}
			if err := c.orphan(ctx, so.authz, key, m.DocumentID, stored); err != nil {
				return err
			}
		case strings.HasPrefix(rest, "spent/"):
			var u usedSlot
			if !c.read(ctx, key, so, &u) {
				continue
			}
			if mk := useKey(so.authz, u.N); c.slots[mk] == nil {
				c.add(archive.FixityProblem{Kind: archive.FixityMissingUseMarker, DocumentID: u.DocumentID, AuthorizationID: so.authz, Key: mk,
					Reason: fmt.Sprintf("use %d is spent (%s) but its marker is missing", u.N, key)})
			}
			if err := c.orphan(ctx, so.authz, key, u.DocumentID, stored); err != nil {
				return err
			}
		}
	}
	return nil
}

// versions reports a slot object with a version in front of the one
// written: each is written once, so a later version was put around the
// service, and a delete marker (S3: a DELETE without version id) hides it
// from a plain listing — the slot stays taken, and the object is read by
// its version, but what hid it is reported.
func (c *reconciler) versions(key string, so *slotObject) {
	switch {
	case !so.current:
		c.add(archive.FixityProblem{Kind: archive.FixityForeignVersion, AuthorizationID: so.authz, Key: key,
			Reason: "a delete marker hides version " + so.version + " (a DELETE without version id); the slot stays taken"})
	case so.versions > 1:
		c.add(archive.FixityProblem{Kind: archive.FixityForeignVersion, AuthorizationID: so.authz, Key: key,
			Reason: "another version stands in front of version " + so.version + " (written once: the others are foreign)"})
	}
}

// read reads a slot object's version that counts into v; one that cannot
// be read is reported (unless gone since the listing) and read is false.
func (c *reconciler) read(ctx context.Context, key string, so *slotObject, v any) bool {
	_, err := getJSONVersion(ctx, c.s.Store, key, so.version, v)
	if err != nil && !errors.Is(err, archive.ErrNotFound) {
		c.add(archive.FixityProblem{Kind: archive.FixityUnreadable, AuthorizationID: so.authz, Key: key, Reason: err.Error()})
	}
	return err == nil
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
