package index

// Keeping the index current: following the audit log's shards, and
// rebuilding from the store.

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"

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
		st := pos[node]
		if st == nil {
			st = &shardState{}
		}
		if err := ix.follow(ctx, node, st); err != nil {
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

// shardState is how far the index has followed one shard of the audit log:
// the last block read, the last entry checked against the hash chain, and
// the first place the chain was found broken (0 and "": nowhere).
type shardState struct {
	block    uint64
	chain    audit.Chain
	brokenAt uint64
	broken   string
}

// check checks blk, block n, against the chain: the first break found is
// kept, and the chain goes on from blk's last entry, so a later break is
// found too (the first is the one reported).
func (st *shardState) check(n uint64, blk block) {
	err := blk.bad
	if err == nil {
		err = st.chain.Check(blk.all...)
	}
	if err != nil && st.broken == "" {
		st.brokenAt, st.broken = n, err.Error()
	}
	if k := len(blk.all); k > 0 {
		st.chain = audit.Chain{Seq: blk.all[k-1].Seq, Hash: blk.all[k-1].Hash}
	}
	st.block = n
}

func (st *shardState) save(ctx context.Context, tx *sql.Tx, node string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO shards (node, block, seq, hash, broken_at, broken) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (node) DO UPDATE SET block = excluded.block, seq = excluded.seq, hash = excluded.hash, broken_at = excluded.broken_at, broken = excluded.broken`,
		node, int64(st.block), int64(st.chain.Seq), st.chain.Hash, int64(st.brokenAt), st.broken)
	return err
}

// positions returns how far every shard was followed.
func (ix *Index) positions(ctx context.Context) (map[string]*shardState, error) {
	rows, err := ix.db.QueryContext(ctx, `SELECT node, block, seq, hash, broken_at, broken FROM shards`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	pos := map[string]*shardState{}
	for rows.Next() {
		var n string
		var block, seq, brokenAt int64
		st := &shardState{}
		if err := rows.Scan(&n, &block, &seq, &st.chain.Hash, &brokenAt, &st.broken); err != nil {
			return nil, err
		}
		st.block, st.chain.Seq, st.brokenAt = uint64(block), uint64(seq), uint64(brokenAt)
		pos[n] = st
	}
	return pos, rows.Err()
}

// follow reads node's shard from the block after st's on, applying each
// entry, checking the hash chain, and remembering the position with it,
// block by block.
func (ix *Index) follow(ctx context.Context, node string, st *shardState) error {
	for st.block < audit.MaxSeq {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := st.block + 1
		blk, found, err := ix.readBlock(ctx, node, n)
		if err != nil {
			return err
		}
		if !found {
			return nil // the shard's end
		}
		var docs []string
		for _, e := range blk.docs {
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
		if err := addTrail(ctx, tx, node, n, blk); err != nil {
			tx.Rollback()
			return err
		}
		next := *st
		next.check(n, blk)
		if next.broken != "" && st.broken == "" {
			ix.opt.Log.Warn("search index: the audit log's hash chain is broken (run audit verify)", "shard", node, "block", n, "err", next.broken)
		}
		if err := next.save(ctx, tx, node); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		*st = next
	}
	return nil
}

// block is one block of a shard as the index reads it.
type block struct {
	all  []audit.Entry // every entry
	docs []audit.Entry // those naming a document, stored in their own shard
	sm3  string        // of the block's bytes
	bad  error         // why the block could not be read whole: it breaks the chain
}

// readBlock reads block n of node's shard. found is false past the shard's
// end. A block that does not parse or is oversized is read as one without
// entries, with a warning, and breaks the chain (audit verify reports it).
func (ix *Index) readBlock(ctx context.Context, node string, n uint64) (blk block, found bool, err error) {
	key := audit.BlockKey(node, n)
	b, _, err := archive.GetBytesMax(ctx, ix.store, key, audit.MaxBlockSize)
	switch {
	case errors.Is(err, archive.ErrNotFound):
		return block{}, false, nil
	case errors.Is(err, archive.ErrTooLarge):
		ix.opt.Log.Warn("search index: skipping an oversized audit block (run audit verify)", "key", key)
		return block{bad: fmt.Errorf("block %s is oversized", key)}, true, nil
	case err != nil:
		return block{}, false, fmt.Errorf("index: reading %s: %w", key, err)
	}
	sum := sm3.Sum(b)
	blk.sm3 = hex.EncodeToString(sum[:])
	all, perr := audit.ParseBlock(b)
	if perr != nil {
		ix.opt.Log.Warn("search index: skipping an audit block that does not parse (run audit verify)", "key", key, "err", perr)
		blk.bad = fmt.Errorf("block %s does not parse: %w", key, perr)
		return blk, true, nil
	}
	blk.all = all
	for _, e := range all {
		switch {
		case e.Node != node:
			ix.opt.Log.Warn("search index: skipping an audit entry stored in another shard (run audit verify)", "key", key)
		case validDocID(e.Subject):
			blk.docs = append(blk.docs, e)
		}
	}
	return blk, true, nil
}

// addTrail notes that block n of node's shard holds entries naming the
// documents of entries (Trail reads them back from there).
func addTrail(ctx context.Context, tx *sql.Tx, node string, n uint64, blk block) error {
	for _, e := range blk.docs {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO trail (doc_id, node, block, sm3) VALUES (?, ?, ?, ?)`, e.Subject, node, int64(n), blk.sm3); err != nil {
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
	// The trails: which blocks name which document, up to the ends noted,
	// and each shard's hash chain checked on the way.
	for node, tail := range tails {
		st := &shardState{}
		for n := uint64(1); n <= tail; n++ {
			blk, found, err := ix.readBlock(ctx, node, n)
			if err != nil {
				return err
			}
			if !found {
				blk.bad = fmt.Errorf("block %s is missing below the shard's end", audit.BlockKey(node, n))
			}
			if err := addTrail(ctx, tx, node, n, blk); err != nil {
				return err
			}
			st.check(n, blk)
		}
		st.block = tail
		if st.broken != "" {
			ix.opt.Log.Warn("search index: the audit log's hash chain is broken (run audit verify)", "shard", node, "block", st.brokenAt, "err", st.broken)
		}
		if err := st.save(ctx, tx, node); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Trail returns the audit entries naming a document (利用登记, holds,
// stamping, disposal…), oldest first, as far as the index has followed the
// log (call CatchUp first for the newest): it reads only the blocks that
// hold them, not the whole log. doubts says why some of them may not be
// what was logged: the shard's hash chain was found broken at or before a
// block holding them (as the index followed it: each entry's hash, and
// each link to the entry before), a block's bytes are not those the index
// read, or a block is gone. Each names the block; audit verify tells more.
func (ix *Index) Trail(ctx context.Context, docID string) (entries []audit.Entry, doubts []string, err error) {
	rows, err := ix.db.QueryContext(ctx, `SELECT t.node, t.block, t.sm3, s.broken_at, s.broken FROM trail t LEFT JOIN shards s ON s.node = t.node
		WHERE t.doc_id = ? ORDER BY t.node, t.block`, docID)
	if err != nil {
		return nil, nil, err
	}
	type at struct {
		node, sm3, broken string
		block, brokenAt   uint64
	}
	var blocks []at
	for rows.Next() {
		var a at
		var n, b sql.NullInt64
		var broken sql.NullString
		if err := rows.Scan(&a.node, &n, &a.sm3, &b, &broken); err != nil {
			rows.Close()
			return nil, nil, err
		}
		a.block, a.brokenAt, a.broken = uint64(n.Int64), uint64(b.Int64), broken.String
		blocks = append(blocks, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	reported := map[string]bool{}
	for _, a := range blocks {
		key := audit.BlockKey(a.node, a.block)
		if a.broken != "" && a.brokenAt <= a.block && !reported[a.node] {
			reported[a.node] = true
			doubts = append(doubts, fmt.Sprintf("the hash chain of shard %s is broken at block %d (%s): the entries from there on are not bound to those before", a.node, a.brokenAt, a.broken))
		}
		blk, found, err := ix.readBlock(ctx, a.node, a.block)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case !found:
			doubts = append(doubts, fmt.Sprintf("audit block %s is gone", key))
			continue
		case blk.sm3 != a.sm3:
			doubts = append(doubts, fmt.Sprintf("audit block %s is not the block the index read: it was changed since", key))
		}
		for _, e := range blk.docs {
			if e.Subject == docID {
				entries = append(entries, e)
			}
		}
	}
	slices.SortStableFunc(entries, func(a, b audit.Entry) int { return a.Time.Compare(b.Time) })
	return entries, doubts, nil
}
