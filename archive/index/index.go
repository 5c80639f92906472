// Package index is the search index of stamped records: a view derived from
// the store, kept by each replica in an SQLite file of its own
// (modernc.org/sqlite, pure Go), so that archivists and approval systems can
// find a record by case number, applicant, item code, retention or date, or
// by any part of its title, applicant, case number or document number.
//
// The index is never the source of truth. It is fed by following the audit
// log (archive/audit), the change feed of the store: every shard is read in
// seq order from the position the index remembers for it, and each entry
// about a document (stamped, held, released, disposed) makes the index read
// that document's record and state from the store again — so the order in
// which shards are read does not matter. A missing index, one of another
// schema version or one that cannot be read is rebuilt from the store
// (Open, Rebuild); a lost index costs a rebuild, nothing else.
//
// Substring search over Chinese text uses FTS5's trigram tokenizer; a query
// term shorter than three characters (科技) cannot use trigrams and is matched
// with instr over the same columns.
package index

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"eseal/archive"
)

// Limits on a Query.
const (
	// DefaultLimit is the page size of a Query whose Limit is zero.
	DefaultLimit = 50
	// MaxLimit is the largest page.
	MaxLimit = 500
	// MaxQueryRunes bounds Q and each exact filter, in characters.
	MaxQueryRunes = 200
	// MaxTerms bounds the white-space separated terms of Q.
	MaxTerms = 8
)

// Query selects records. Every non-zero field narrows the result; the
// result is ordered newest first (record date, then document id).
type Query struct {
	// Q is matched as substrings (case-insensitive) against the title,
	// applicant, case number and document number: each white-space
	// separated term must occur in one of them.
	Q string
	// CaseNo, Applicant, ItemCode and Retention are exact filters.
	// Retention takes what archive.ParseRetentionClass accepts.
	CaseNo, Applicant, ItemCode, Retention string
	// From (inclusive) and To (exclusive) bound the record date; zero is
	// unbounded.
	From, To time.Time
	// DueBy, when set, keeps only records whose retention ends by then and
	// that are not on legal hold: the disposal-due list.
	DueBy time.Time
	// Units are the unit tags (archive.UnitTag: "" for the first unit) whose
	// records are in scope; nil means every unit, an empty list none.
	Units []string
	// Seals are the seal ids in scope: a record is in scope when one of its
	// seals is listed. nil means every seal, an empty list none.
	Seals []string
	// Limit is the page size: 0 for DefaultLimit, at most MaxLimit.
	Limit int
	// Cursor continues a search where the page that returned it ended
	// (Page.NextCursor); "" starts from the newest.
	Cursor string
}

// Page is one page of a search.
type Page struct {
	// Records are the matching records, newest first, as the store holds
	// them.
	Records []*archive.Record
	// NextCursor continues the search; "" on the last page.
	NextCursor string
}

// QueryError is a Query the index refuses; Field names the part at fault
// ("q", "case_no", "applicant", "item_code", "retention", "from", "to",
// "limit", "cursor").
type QueryError struct {
	Field, Reason string
}

func (e *QueryError) Error() string { return "index: query " + e.Field + ": " + e.Reason }

// Options configure an Index. Every field is optional.
type Options struct {
	// ReadRecord reads a committed document's record (the seal service's
	// CommittedRecord, which reads it pinned to what its commit stored).
	// archive.ErrNotFound means the document is not, or no longer, in the
	// archive. nil reads record.json as the store holds it.
	ReadRecord func(ctx context.Context, docID string) (*archive.Record, error)
	// Progress, when set, is told how a rebuild made by Open advances.
	Progress func(done, total int)
	// Log defaults to slog.Default().
	Log *slog.Logger
}

// Index is an open search index. It is safe for concurrent use.
type Index struct {
	db    *sql.DB
	path  string
	store archive.Store
	opt   Options

	// fresh: Open made the index from the store.
	fresh bool

	// feed serialises following the log and rebuilding.
	feed sync.Mutex
	// runs counts the runs of CatchUp begun; lastOK is the last that read
	// every shard to its end (under feed).
	runs   atomic.Int64
	lastOK int64
}

// schemaVersion changes whenever the tables change; an index of another
// version is rebuilt. The statements are idempotent: two processes that
// find the file missing at once both make it without failing.
const schemaVersion = "4"

const schema = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shards (node TEXT PRIMARY KEY, block INTEGER NOT NULL, seq INTEGER NOT NULL, hash TEXT NOT NULL, broken_at INTEGER NOT NULL, broken TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
	id INTEGER PRIMARY KEY,
	doc_id TEXT NOT NULL UNIQUE,
	unit_tag TEXT NOT NULL,
	date INTEGER NOT NULL,
	title TEXT NOT NULL,
	applicant TEXT NOT NULL,
	case_no TEXT NOT NULL,
	document_no TEXT NOT NULL,
	item_code TEXT NOT NULL,
	retention TEXT NOT NULL,
	retain_until INTEGER NOT NULL,
	held INTEGER NOT NULL,
	record BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS records_order ON records (date DESC, doc_id DESC);
CREATE INDEX IF NOT EXISTS records_case ON records (case_no);
CREATE INDEX IF NOT EXISTS records_applicant ON records (applicant);
CREATE INDEX IF NOT EXISTS records_item ON records (item_code);
CREATE TABLE IF NOT EXISTS record_seals (seal_id TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (seal_id, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS record_seals_id ON record_seals (id);
CREATE TABLE IF NOT EXISTS retry (doc_id TEXT PRIMARY KEY, error TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trail (doc_id TEXT NOT NULL, node TEXT NOT NULL, block INTEGER NOT NULL, sm3 TEXT NOT NULL, PRIMARY KEY (doc_id, node, block)) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS records_fts USING fts5 (title, applicant, case_no, document_no, tokenize = 'trigram');
`

// Open opens the index file at path, made for the store s, and rebuilds it
// from the store when it is missing, of another schema version or cannot be
// read. A path holding anything but an SQLite file is refused, never
// overwritten. Without a rebuild it is as current as when it was last closed: call
// CatchUp (or Follow) to read what the log gained since.
func Open(ctx context.Context, path string, s archive.Store, opt Options) (*Index, error) {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	ix := &Index{path: path, store: s, opt: opt}
	if err := checkFile(path); err != nil {
		return nil, err
	}
	fresh, err := ix.open()
	if err != nil {
		opt.Log.Warn("search index unreadable; rebuilding it from the store", "path", path, "err", err)
		if err := ix.remove(); err != nil {
			return nil, err
		}
		if fresh, err = ix.open(); err != nil {
			return nil, err
		}
	}
	if fresh {
		if err := ix.Rebuild(ctx, opt.Progress); err != nil {
			ix.Close()
			return nil, err
		}
	}
	ix.fresh = fresh
	return ix, nil
}

// Fresh reports whether Open made the index from the store (it was missing,
// of another schema version, or unreadable).
func (ix *Index) Fresh() bool { return ix.fresh }

// sqliteHeader starts every SQLite database file.
const sqliteHeader = "SQLite format 3\x00"

// checkFile refuses a path that holds something other than an SQLite file
// (or nothing): an index that cannot be read is deleted and rebuilt, and a
// mistyped path must not delete someone's file.
func checkFile(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("index: %s is not a file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	defer f.Close()
	head := make([]byte, len(sqliteHeader))
	n, _ := io.ReadFull(f, head)
	if n > 0 && string(head[:n]) != sqliteHeader {
		return fmt.Errorf("index: %s is not an SQLite file; move it away or give another path, and the index is rebuilt there", path)
	}
	return nil
}

// open opens the file, making the tables in a new one (fresh) and refusing
// one of another schema version.
func (ix *Index) open() (fresh bool, err error) {
	_, statErr := os.Stat(ix.path)
	fresh = errors.Is(statErr, os.ErrNotExist)
	dsn := "file:" + ix.path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return false, err
	}
	if fresh {
		if _, err := db.Exec(schema); err != nil {
			db.Close()
			return false, fmt.Errorf("index: make %s: %w", ix.path, err)
		}
		if _, err := db.Exec(`INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)`, schemaVersion); err != nil {
			db.Close()
			return false, err
		}
	} else {
		var v string
		if err := db.QueryRow(`SELECT value FROM meta WHERE key = 'schema'`).Scan(&v); err != nil {
			db.Close()
			return false, fmt.Errorf("index %s: %w", ix.path, err)
		}
		if v != schemaVersion {
			db.Close()
			return false, fmt.Errorf("index %s: schema version %q, want %q", ix.path, v, schemaVersion)
		}
		var ok string
		if err := db.QueryRow(`PRAGMA quick_check`).Scan(&ok); err != nil || ok != "ok" {
			db.Close()
			return false, fmt.Errorf("index %s: damaged (quick_check: %q, %v)", ix.path, ok, err)
		}
	}
	ix.db = db
	return fresh, nil
}

// remove deletes the index file and SQLite's side files.
func (ix *Index) remove() error {
	for _, p := range []string{ix.path, ix.path + "-wal", ix.path + "-shm", ix.path + "-journal"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("index: %w", err)
		}
	}
	return nil
}

// Close closes the index file.
func (ix *Index) Close() error {
	if ix.db == nil {
		return nil
	}
	return ix.db.Close()
}

// Path is the index file's path.
func (ix *Index) Path() string { return ix.path }

// Count returns how many records the index holds.
func (ix *Index) Count(ctx context.Context) (int, error) {
	var n int
	err := ix.db.QueryRowContext(ctx, `SELECT count(*) FROM records`).Scan(&n)
	return n, err
}

// cursor is the position after the last record of a page.
type cursor struct {
	date  int64
	docID string
}

const cursorVersion = "c1"

func (c cursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorVersion + "." + strconv.FormatInt(c.date, 10) + "." + c.docID))
}

func parseCursor(s string) (cursor, error) {
	bad := &QueryError{"cursor", "not a cursor this service gave out"}
	if len(s) > 200 {
		return cursor{}, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, bad
	}
	parts := strings.SplitN(string(b), ".", 3)
	if len(parts) != 3 || parts[0] != cursorVersion {
		return cursor{}, bad
	}
	date, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || strconv.FormatInt(date, 10) != parts[1] || !validDocID(parts[2]) {
		return cursor{}, bad
	}
	return cursor{date, parts[2]}, nil
}

// validDocID reports whether s can be a document id (doc-…): one key
// segment, so that it names nothing but a document.
func validDocID(s string) bool {
	return strings.HasPrefix(s, "doc-") && len(s) <= 64 && !strings.Contains(s, "/") && archive.ValidateKey(s) == nil
}

// Search returns one page of the records q selects. A malformed q is a
// *QueryError.
func (ix *Index) Search(ctx context.Context, q Query) (*Page, error) {
	where, args, err := q.sql()
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	stmt := `SELECT r.date, r.doc_id, r.record FROM records r WHERE ` + where +
		` ORDER BY r.date DESC, r.doc_id DESC LIMIT ?`
	rows, err := ix.db.QueryContext(ctx, stmt, append(args, limit+1)...)
	if err != nil {
		return nil, fmt.Errorf("index: search: %w", err)
	}
	defer rows.Close()
	page := &Page{Records: []*archive.Record{}}
	var last cursor
	for rows.Next() {
		var c cursor
		var b []byte
		if err := rows.Scan(&c.date, &c.docID, &b); err != nil {
			return nil, err
		}
		if len(page.Records) == limit {
			page.NextCursor = last.encode()
			break
		}
		var rec archive.Record
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("index: record %s: %w", c.docID, err)
		}
		page.Records = append(page.Records, &rec)
		last = c
	}
	return page, rows.Err()
}

// sql turns the query into a WHERE clause and its arguments.
func (q Query) sql() (string, []any, error) {
	conds := []string{"1"}
	var args []any
	if q.Limit < 0 || q.Limit > MaxLimit {
		return "", nil, &QueryError{"limit", fmt.Sprintf("1 to %d (0 for %d)", MaxLimit, DefaultLimit)}
	}
	for _, f := range []struct{ field, col, v string }{
		{"q", "", q.Q}, {"case_no", "case_no", q.CaseNo}, {"applicant", "applicant", q.Applicant}, {"item_code", "item_code", q.ItemCode},
	} {
		if !utf8.ValidString(f.v) || strings.ContainsFunc(f.v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return "", nil, &QueryError{f.field, "not text (invalid UTF-8 or control characters)"}
		}
		if utf8.RuneCountInString(f.v) > MaxQueryRunes {
			return "", nil, &QueryError{f.field, fmt.Sprintf("longer than %d characters", MaxQueryRunes)}
		}
		if f.col != "" && f.v != "" {
			conds = append(conds, "r."+f.col+" = ?")
			args = append(args, f.v)
		}
	}
	terms := strings.Fields(q.Q)
	if len(terms) > MaxTerms {
		return "", nil, &QueryError{"q", fmt.Sprintf("more than %d terms", MaxTerms)}
	}
	var phrases []string
	for _, t := range terms {
		if utf8.RuneCountInString(t) >= 3 {
			phrases = append(phrases, `"`+strings.ReplaceAll(t, `"`, `""`)+`"`)
			continue
		}
		// Too short for trigrams: a plain substring test (ASCII folded).
		var ors []string
		for _, col := range []string{"title", "applicant", "case_no", "document_no"} {
			ors = append(ors, "instr(lower(r."+col+"), lower(?)) > 0")
			args = append(args, t)
		}
		conds = append(conds, "("+strings.Join(ors, " OR ")+")")
	}
	if len(phrases) > 0 {
		conds = append(conds, "r.id IN (SELECT rowid FROM records_fts WHERE records_fts MATCH ?)")
		args = append(args, strings.Join(phrases, " AND "))
	}
	if q.Retention != "" {
		c, err := archive.ParseRetentionClass(q.Retention)
		if err != nil {
			return "", nil, &QueryError{"retention", err.Error()}
		}
		conds = append(conds, "r.retention = ?")
		args = append(args, string(c))
	}
	for _, t := range []struct {
		field string
		t     time.Time
	}{{"from", q.From}, {"to", q.To}, {"due_by", q.DueBy}} {
		if !t.t.IsZero() && (t.t.Before(earliest) || !t.t.Before(latest)) {
			return "", nil, &QueryError{t.field, "outside 1970–2261"}
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return "", nil, &QueryError{"to", "must be after from"}
	}
	if !q.From.IsZero() {
		conds = append(conds, "r.date >= ?")
		args = append(args, q.From.UnixNano())
	}
	if !q.To.IsZero() {
		conds = append(conds, "r.date < ?")
		args = append(args, q.To.UnixNano())
	}
	if !q.DueBy.IsZero() {
		conds = append(conds, "r.retain_until <= ? AND r.held = 0")
		args = append(args, q.DueBy.UnixNano())
	}
	if q.Units != nil {
		conds = append(conds, "r.unit_tag IN ("+placeholders(len(q.Units))+")")
		for _, u := range q.Units {
			args = append(args, u)
		}
	}
	if q.Seals != nil {
		conds = append(conds, "EXISTS (SELECT 1 FROM record_seals s WHERE s.id = r.id AND s.seal_id IN ("+placeholders(len(q.Seals))+"))")
		for _, s := range q.Seals {
			args = append(args, s)
		}
	}
	if q.Cursor != "" {
		c, err := parseCursor(q.Cursor)
		if err != nil {
			return "", nil, err
		}
		conds = append(conds, "(r.date < ? OR (r.date = ? AND r.doc_id < ?))")
		args = append(args, c.date, c.date, c.docID)
	}
	return strings.Join(conds, " AND "), args, nil
}

// The times the index can hold: nanoseconds since 1970 in an int64.
var (
	earliest = time.Unix(0, 0)
	latest   = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

// placeholders returns n question marks separated by commas; for n = 0 an
// expression that matches nothing (IN (NULL)).
func placeholders(n int) string {
	if n == 0 {
		return "NULL"
	}
	return strings.Repeat("?, ", n-1) + "?"
}
