package index

// Keeping the index current: following the audit log's shards, and
// rebuilding from the store.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"eseal/archive"
	"eseal/archive/audit"
)

// nodesPrefix holds one registration object per shard of the audit log
// (audit.Open writes it before the shard's first entry).
const nodesPrefix = "audit/nodes/"

// CatchUp reads every shard of the audit log from where the index last
// stopped to its end, once, and brings the documents its entries name up to
// date. An entry that cannot be read stops the shard there until the next
// call; one that does not parse is skipped (audit verify reports it).
//
// Calls made together share the work: a call that waited while a run that
// started after it completed returns at once, since that run read whatever
// was logged before the call.
func (ix *Index) CatchUp(ctx context.Context) error {
	asked := ix.runs.Load()
	ix.feed.Lock()
	defer ix.feed.Unlock()
	if ix.runs.Load() > asked && ix.lastOK == ix.runs.Load() {
		return nil
	}
	run := ix.runs.Add(1)
	if err := ix.catchUp(ctx); err != nil {
		return err
	}
	ix.lastOK = run
	return nil
}

func (ix *Index) catchUp(ctx context.Context) error {
	if err := ix.retryFailed(ctx); err != nil {
		return err
	}
	nodes, err := ix.nodes(ctx)
	if err != nil {
		return err
	}
	pos, err := ix.positions(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, node := range nodes {
		if err := ix.follow(ctx, node, pos[node]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Follow calls CatchUp every interval until ctx ends. Failures are logged
// and retried on the next round.
func (ix *Index) Follow(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := ix.CatchUp(ctx); err != nil && ctx.Err() == nil {
			ix.opt.Log.Warn("search index: following the audit log", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// nodes lists the shards of the audit log.
func (ix *Index) nodes(ctx context.Context) ([]string, error) {
	var nodes []string
	err := ix.store.List(ctx, nodesPrefix, func(o archive.ObjectInfo) error {
		if n, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, nodesPrefix), ".json"); ok && audit.ValidNode(n) {
			nodes = append(nodes, n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index: listing the audit log's shards: %w", err)
	}
	return nodes, nil
}

// positions returns the last block read of every shard.
func (ix *Index) positions(ctx context.Context) (map[string]uint64, error) {
	rows, err := ix.db.QueryContext(ctx, `SELECT node, block FROM shards`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	pos := map[string]uint64{}
	for rows.Next() {
		var n string
		var block int64
		if err := rows.Scan(&n, &block); err != nil {
			return nil, err
		}
		pos[n] = uint64(block)
	}
	return pos, rows.Err()
}

// follow reads node's shard from block n+1 on, applying each entry and
// remembering the position with it, block by block.
func (ix *Index) follow(ctx context.Context, node string, n uint64) error {
	for n < audit.MaxSeq {
		if err := ctx.Err(); err != nil {
			return err
		}
		entries, found, err := ix.readBlock(ctx, node, n+1)
		if err != nil {
			return err
		}
		if !found {
			return nil // the shard's end
		}
		var docs []string
		for _, e := range entries {
			if affectsDocument(e.Action) {
				docs = append(docs, e.Subject)
			}
		}
		tx, err := ix.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for _, doc := range docs {
			if err := ix.refresh(ctx, tx, doc); err != nil {
				tx.Rollback()
				return err
			}
		}
		if err := addTrail(ctx, tx, node, n+1, entries); err != nil {
			tx.Rollback()
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO shards (node, block) VALUES (?, ?) ON CONFLICT (node) DO UPDATE SET block = excluded.block`, node, int64(n+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		n++
	}
	return nil
}

// readBlock reads block n of node's shard: its entries that name a
// document (a valid document id as their subject) and are stored in their
// own shard. found is false past the shard's end. A block that does not
// parse or is oversized is skipped with a warning (audit verify reports
// it): its entries are not indexed.
func (ix *Index) readBlock(ctx context.Context, node string, n uint64) (entries []audit.Entry, found bool, err error) {
	key := audit.BlockKey(node, n)
	b, _, err := archive.GetBytesMax(ctx, ix.store, key, audit.MaxBlockSize)
	switch {
	case errors.Is(err, archive.ErrNotFound):
		return nil, false, nil
	case errors.Is(err, archive.ErrTooLarge):
		ix.opt.Log.Warn("search index: skipping an oversized audit block (run audit verify)", "key", key)
		return nil, true, nil
	case err != nil:
		return nil, false, fmt.Errorf("index: reading %s: %w", key, err)
	}
	all, perr := audit.ParseBlock(b)
	if perr != nil {
		ix.opt.Log.Warn("search index: skipping an audit block that does not parse (run audit verify)", "key", key, "err", perr)
	}
	for _, e := range all {
		switch {
		case e.Node != node:
			ix.opt.Log.Warn("search index: skipping an audit entry stored in another shard (run audit verify)", "key", key)
		case validDocID(e.Subject):
			entries = append(entries, e)
		}
	}
	return entries, true, nil
}

// addTrail notes that block n of node's shard holds entries naming the
// documents of entries (Trail reads them back from there).
func addTrail(ctx context.Context, tx *sql.Tx, node string, n uint64, entries []audit.Entry) error {
	for _, e := range entries {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO trail (doc_id, node, block) VALUES (?, ?, ?)`, e.Subject, node, int64(n)); err != nil {
			return err
		}
	}
	return nil
}

// affectsDocument reports whether entries of the action change what the
// index holds of the document they name.
func affectsDocument(a audit.Action) bool {
	switch a {
	case audit.DocumentStamped, audit.LegalHoldSet, audit.LegalHoldCleared, audit.RecordDisposed:
		return true
	}
	return false
}

// readRecord reads a document's record through Options.ReadRecord, or as
// the store holds it.
func (ix *Index) readRecord(ctx context.Context, docID string) (*archive.Record, error) {
	if ix.opt.ReadRecord != nil {
		return ix.opt.ReadRecord(ctx, docID)
	}
	b, _, err := archive.GetBytes(ctx, ix.store, archive.RecordKey(docID))
	if err != nil {
		return nil, err
	}
	var rec archive.Record
	if err := json.Unmarshal(b, &rec); err != nil || rec.DocumentID != docID {
		return nil, fmt.Errorf("index: %s is not a record of %s", archive.RecordKey(docID), docID)
	}
	return &rec, nil
}

// refresh makes the index hold what the store holds of one document: its
// record and its legal hold, or nothing once it is gone. A document that
// cannot be read now (the store failing, a record altered behind the
// service's back) is left out and noted for retry by the next CatchUp, so
// one bad record neither stops the feed nor a rebuild.
func (ix *Index) refresh(ctx context.Context, tx *sql.Tx, docID string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM retry WHERE doc_id = ?`, docID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM records_fts WHERE rowid IN (SELECT id FROM records WHERE doc_id = ?)`, docID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM record_seals WHERE id IN (SELECT id FROM records WHERE doc_id = ?)`, docID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM records WHERE doc_id = ?`, docID); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rec, err := ix.readRecord(ctx, docID)
	if errors.Is(err, archive.ErrNotFound) {
		return nil // disposed, or never committed
	}
	if err == nil && rec.DocumentID != docID {
		err = fmt.Errorf("the record read for %s is that of %s", docID, rec.DocumentID)
	}
	var info archive.ObjectInfo
	if err == nil {
		info, err = ix.store.Head(ctx, archive.RecordKey(docID))
		if errors.Is(err, archive.ErrNotFound) {
			return nil
		}
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		level := slog.LevelWarn
		if errors.Is(err, archive.ErrUnfinished) {
			level = slog.LevelDebug // its stamping is finishing: the usual case under load
		}
		ix.opt.Log.Log(ctx, level, "search index: a document cannot be read now; retried on the next catch-up", "document", docID, "err", err)
		_, xerr := tx.ExecContext(ctx, `INSERT INTO retry (doc_id, error) VALUES (?, ?)`, docID, err.Error())
		return xerr
	}
	return insert(ctx, tx, rec, info.LegalHold)
}

// retryFailed refreshes the documents that could not be read before.
func (ix *Index) retryFailed(ctx context.Context) error {
	rows, err := ix.db.QueryContext(ctx, `SELECT doc_id FROM retry ORDER BY doc_id`)
	if err != nil {
		return err
	}
	var docs []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return err
		}
		docs = append(docs, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, d := range docs {
		tx, err := ix.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := ix.refresh(ctx, tx, d); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Unreadable lists the documents the index left out because they could
// not be read, with the reason; each CatchUp tries them again.
func (ix *Index) Unreadable(ctx context.Context) (map[string]string, error) {
	rows, err := ix.db.QueryContext(ctx, `SELECT doc_id, error FROM retry`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var d, e string
		if err := rows.Scan(&d, &e); err != nil {
			return nil, err
		}
		out[d] = e
	}
	return out, rows.Err()
}

// insert adds one record; no row for its document exists.
func insert(ctx context.Context, tx *sql.Tx, rec *archive.Record, held bool) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	h := 0
	if held {
		h = 1
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO records (doc_id, unit_tag, date, title, applicant, case_no, document_no, item_code, retention, retain_until, held, record)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		rec.DocumentID, archive.UnitTag(rec.DocumentID), rec.Date.UnixNano(), rec.Title, rec.Applicant, rec.CaseNo, rec.DocumentNo,
		rec.ItemCode, string(rec.Retention), rec.RetainUntil.UnixNano(), h, b)
	if err != nil {
		return fmt.Errorf("index: insert %s: %w", rec.DocumentID, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO records_fts (rowid, title, applicant, case_no, document_no) VALUES (?, ?, ?, ?, ?)`,
		id, rec.Title, rec.Applicant, rec.CaseNo, rec.DocumentNo); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, s := range rec.Signatures {
		if s.SealID == "" || seen[s.SealID] {
			continue
		}
		seen[s.SealID] = true
		if _, err := tx.ExecContext(ctx, `INSERT INTO record_seals (seal_id, id) VALUES (?, ?)`, s.SealID, id); err != nil {
			return err
		}
	}
	return nil
}

// Rebuild empties the index and fills it again from the store: every
// document's record and state, which audit blocks name each document (read
// from the whole log, once), and as the position of every shard of the
// audit log its end as found before the documents were listed, so that
// following the log from there misses nothing. progress, when set, is told
// after each document. Searches go on meanwhile and see the old index until
// the rebuild is done.
func (ix *Index) Rebuild(ctx context.Context, progress func(done, total int)) error {
	ix.feed.Lock()
	defer ix.feed.Unlock()
	nodes, err := ix.nodes(ctx)
	if err != nil {
		return err
	}
	tails := map[string]uint64{}
	for _, n := range nodes {
		if tails[n], err = audit.LastBlock(ctx, ix.store, n, 0); err != nil {
			return err
		}
	}
	ids, err := archive.DocumentIDs(ctx, ix.store, archive.AllUnits)
	if err != nil {
		return fmt.Errorf("index: listing the documents: %w", err)
	}
	tx, err := ix.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, stmt := range []string{`DELETE FROM records_fts`, `DELETE FROM record_seals`, `DELETE FROM records`, `DELETE FROM shards`, `DELETE FROM retry`, `DELETE FROM trail`} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	if progress != nil {
		progress(0, len(ids))
	}
	for i, id := range ids {
		if err := ix.refresh(ctx, tx, id); err != nil {
			return err
		}
		if progress != nil {
			progress(i+1, len(ids))
		}
	}
	// The trails: which blocks name which document, up to the ends noted.
	for node, tail := range tails {
		for n := uint64(1); n <= tail; n++ {
			entries, found, err := ix.readBlock(ctx, node, n)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("index: audit block %s missing below the shard's end", audit.BlockKey(node, n))
			}
			if err := addTrail(ctx, tx, node, n, entries); err != nil {
				return err
			}
		}
	}
	for n, block := range tails {
		if _, err := tx.ExecContext(ctx, `INSERT INTO shards (node, block) VALUES (?, ?)`, n, int64(block)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Trail returns the audit entries naming a document (利用登记, holds,
// stamping, disposal…), oldest first, as far as the index has followed the
// log (call CatchUp first for the newest): it reads only the blocks that
// hold them, not the whole log. Like the search, it does not check the
// log's hash chain (audit verify does).
func (ix *Index) Trail(ctx context.Context, docID string) ([]audit.Entry, error) {
	rows, err := ix.db.QueryContext(ctx, `SELECT node, block FROM trail WHERE doc_id = ? ORDER BY node, block`, docID)
	if err != nil {
		return nil, err
	}
	type at struct {
		node  string
		block uint64
	}
	var blocks []at
	for rows.Next() {
		var a at
		var n int64
		if err := rows.Scan(&a.node, &n); err != nil {
			rows.Close()
			return nil, err
		}
		a.block = uint64(n)
		blocks = append(blocks, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []audit.Entry
	for _, a := range blocks {
		entries, found, err := ix.readBlock(ctx, a.node, a.block)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, fmt.Errorf("index: audit block %s is gone", audit.BlockKey(a.node, a.block))
		}
		for _, e := range entries {
			if e.Subject == docID {
				out = append(out, e)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b audit.Entry) int { return a.Time.Compare(b.Time) })
	return out, nil
}
