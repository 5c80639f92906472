package index_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/audit"
	"eseal/archive/fs"
	"eseal/archive/index"
)

// archiveEnv is a filesystem store with a shard of the audit log, into
// which records are written as the seal service writes them: the record,
// then the document.stamped entry.
type archiveEnv struct {
	t     testing.TB
	store archive.Store
	log   *audit.Log
	dir   string
}

func newArchiveEnv(t testing.TB, node string) *archiveEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := fs.New(filepath.Join(dir, "store"), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(context.Background(), st, node, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &archiveEnv{t: t, store: st, log: l, dir: dir}
}

// add stores a record and logs its stamping.
func (e *archiveEnv) add(rec archive.Record) {
	e.t.Helper()
	ctx := context.Background()
	b, err := json.Marshal(rec)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := archive.PutBytesIfAbsent(ctx, e.store, archive.RecordKey(rec.DocumentID), b); err != nil {
		e.t.Fatal(err)
	}
	e.append(audit.DocumentStamped, rec.DocumentID)
}

func (e *archiveEnv) append(a audit.Action, subject string) {
	e.t.Helper()
	if _, err := e.log.Append(context.Background(), audit.Entry{Action: a, Subject: subject, Actor: "test"}); err != nil {
		e.t.Fatal(err)
	}
}

func docID(i int) string { return fmt.Sprintf("doc-%016d", i) }

var base = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func record(i int, title, applicant, caseNo string) archive.Record {
	return archive.Record{DocumentID: docID(i), Title: title, Applicant: applicant, CaseNo: caseNo, ItemCode: "330000-XK-001",
		DocumentNo: fmt.Sprintf("浙审批〔2026〕%d号", i), Date: base.Add(time.Duration(i) * time.Hour), Retention: archive.Years30,
		RetainUntil: base.AddDate(30, 0, 0), Signatures: []archive.SignatureElement{{SealID: fmt.Sprintf("seal-%d", i%2)}}}
}

func ids(p *index.Page) []string {
	var out []string
	for _, r := range p.Records {
		out = append(out, r.DocumentID)
	}
	return out
}

func mustSearch(t *testing.T, ix *index.Index, q index.Query) []string {
	t.Helper()
	p, err := ix.Search(context.Background(), q)
	if err != nil {
		t.Fatalf("%+v: %v", q, err)
	}
	return ids(p)
}

// TestFollowSearchRebuild follows the log, searches short and long CJK
// substrings, pages, reacts to hold and disposal, and answers the same
// after the file is deleted and rebuilt.
func TestFollowSearchRebuild(t *testing.T) {
	ctx := context.Background()
	e := newArchiveEnv(t, "node-a")
	path := filepath.Join(e.dir, "index.db")
	ix, err := index.Open(ctx, path, e.store, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ix.Close() }()
	e.add(record(1, "食品经营许可证", "杭州某某科技有限公司", "XK-2026-0001"))
	e.add(record(2, "建设工程规划许可证", "宁波某某建设集团", "XK-2026-0002"))
	e.add(record(3, "排污许可决定书", "温州某某化工科技有限公司", "XK-2026-0003"))
	if got := mustSearch(t, ix, index.Query{}); len(got) != 0 {
		t.Fatalf("before CatchUp: %v", got)
	}
	if err := ix.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		q    index.Query
		want []string
	}{
		{index.Query{}, []string{docID(3), docID(2), docID(1)}},
		{index.Query{Q: "科技"}, []string{docID(3), docID(1)}},
		{index.Query{Q: "科技有限"}, []string{docID(3), docID(1)}},
		{index.Query{Q: "许可证"}, []string{docID(2), docID(1)}},
		{index.Query{Q: "xk-2026-0002"}, []string{docID(2)}},
		{index.Query{Q: "〔2026〕3号"}, []string{docID(3)}},
		{index.Query{Q: "科技 食品"}, []string{docID(1)}},
		{index.Query{Q: "许可 温州"}, []string{docID(3)}},
		{index.Query{CaseNo: "XK-2026-0002"}, []string{docID(2)}},
		{index.Query{CaseNo: "XK-2026"}, nil},
		{index.Query{Applicant: "宁波某某建设集团"}, []string{docID(2)}},
		{index.Query{Retention: "定期30年"}, []string{docID(3), docID(2), docID(1)}},
		{index.Query{Retention: "permanent"}, nil},
		{index.Query{From: base.Add(2 * time.Hour)}, []string{docID(3), docID(2)}},
		{index.Query{To: base.Add(2 * time.Hour)}, []string{docID(1)}},
		{index.Query{Seals: []string{"seal-1"}}, []string{docID(3), docID(1)}},
		{index.Query{Seals: []string{}}, nil},
		{index.Query{Units: []string{""}}, []string{docID(3), docID(2), docID(1)}},
		{index.Query{Units: []string{"abcdefgh"}}, nil},
	}
	check := func(stage string) {
		t.Helper()
		for _, c := range cases {
			if got := mustSearch(t, ix, c.q); !slices.Equal(got, c.want) {
				t.Errorf("%s: %+v: got %v, want %v", stage, c.q, got, c.want)
			}
		}
	}
	check("followed")

	// Paging visits each record once.
	var seen []string
	q := index.Query{Limit: 2}
	for {
		p, err := ix.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, ids(p)...)
		if p.NextCursor == "" {
			break
		}
		q.Cursor = p.NextCursor
	}
	if !slices.Equal(seen, []string{docID(3), docID(2), docID(1)}) {
		t.Fatalf("paged: %v", seen)
	}

	// A legal hold takes the record off the disposal-due list.
	if got := mustSearch(t, ix, index.Query{DueBy: base.AddDate(31, 0, 0)}); len(got) != 3 {
		t.Fatalf("due: %v", got)
	}
	if got := mustSearch(t, ix, index.Query{DueBy: base.AddDate(29, 0, 0)}); len(got) != 0 {
		t.Fatalf("due too early: %v", got)
	}
	if err := e.store.SetLegalHold(ctx, archive.RecordKey(docID(2)), true); err != nil {
		t.Fatal(err)
	}
	e.append(audit.LegalHoldSet, docID(2))
	if err := ix.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := mustSearch(t, ix, index.Query{DueBy: base.AddDate(31, 0, 0)}); !slices.Equal(got, []string{docID(3), docID(1)}) {
		t.Fatalf("due with doc 2 held: %v", got)
	}

	// Rebuilt from a deleted file: the same answers.
	ix.Close()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	var steps []int
	ix, err = index.Open(ctx, path, e.store, index.Options{Progress: func(done, total int) {
		if total != 3 {
			t.Errorf("progress total %d", total)
		}
		steps = append(steps, done)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(steps, []int{0, 1, 2, 3}) {
		t.Fatalf("progress %v", steps)
	}
	check("rebuilt")
	if got := mustSearch(t, ix, index.Query{DueBy: base.AddDate(31, 0, 0)}); !slices.Equal(got, []string{docID(3), docID(1)}) {
		t.Fatalf("due after rebuild: %v", got)
	}
	// The rebuild remembered the log's end: nothing is applied twice, and
	// a new stamping still arrives.
	e.add(record(4, "药品经营许可证", "杭州某某医药科技有限公司", "XK-2026-0004"))
	if err := ix.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := mustSearch(t, ix, index.Query{Q: "科技"}); !slices.Equal(got, []string{docID(4), docID(3), docID(1)}) {
		t.Fatalf("after the rebuild and a new stamping: %v", got)
	}
}

// TestUnreadableIndexRebuilt: a damaged index file, or one of another
// schema version, costs a rebuild; a path holding something else than an
// SQLite file is refused and left alone.
func TestUnreadableIndexRebuilt(t *testing.T) {
	ctx := context.Background()
	e := newArchiveEnv(t, "node-a")
	e.add(record(1, "食品经营许可证", "杭州某某科技有限公司", "XK-1"))
	path := filepath.Join(e.dir, "index.db")
	reopen := func(stage string) {
		t.Helper()
		ix, err := index.Open(ctx, path, e.store, index.Options{})
		if err != nil {
			t.Fatalf("%s: %v", stage, err)
		}
		defer ix.Close()
		if !ix.Fresh() {
			t.Errorf("%s: not rebuilt", stage)
		}
		if got := mustSearch(t, ix, index.Query{Q: "科技"}); !slices.Equal(got, []string{docID(1)}) {
			t.Fatalf("%s: %v", stage, got)
		}
	}
	reopen("missing")

	// Another schema version.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE meta SET value = '0' WHERE key = 'schema'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	reopen("old schema")

	// Damaged pages behind an intact header.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 100; i < len(b); i += 7 {
		b[i] ^= 0x5a
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	reopen("damaged")

	// Not an index at all: refused, kept.
	other := filepath.Join(e.dir, "notes.txt")
	if err := os.WriteFile(other, []byte("会议纪要"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := index.Open(ctx, other, e.store, index.Options{}); err == nil {
		t.Fatal("opened a text file as an index")
	}
	if b, err := os.ReadFile(other); err != nil || string(b) != "会议纪要" {
		t.Fatalf("the text file after the refusal: %q %v", b, err)
	}
	if _, err := index.Open(ctx, e.dir, e.store, index.Options{}); err == nil {
		t.Fatal("opened a directory as an index")
	}
}

// TestDisposalAcrossShards: a record disposed on one replica leaves the
// index whichever shard is read first.
func TestDisposalAcrossShards(t *testing.T) {
	ctx := context.Background()
	e := newArchiveEnv(t, "node-b")
	e.add(record(1, "食品经营许可证", "杭州某某科技有限公司", "XK-1"))
	e.add(record(2, "食品经营许可证", "杭州某某科技有限公司", "XK-2"))
	ix, err := index.Open(ctx, filepath.Join(e.dir, "index.db"), e.store, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	// The disposal is logged on another shard ("node-a", read first).
	other, err := audit.Open(ctx, e.store, "node-a", audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.Delete(ctx, archive.RecordKey(docID(1))); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Append(ctx, audit.Entry{Action: audit.RecordDisposed, Subject: docID(1), Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := ix.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := mustSearch(t, ix, index.Query{}); !slices.Equal(got, []string{docID(2)}) {
		t.Fatalf("after disposal: %v", got)
	}
}

// TestHostileQueries: every malformed query is a *QueryError naming its
// field.
func TestHostileQueries(t *testing.T) {
	ctx := context.Background()
	e := newArchiveEnv(t, "node-a")
	ix, err := index.Open(ctx, filepath.Join(e.dir, "index.db"), e.store, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	cases := []struct {
		q     index.Query
		field string
	}{
		{index.Query{Limit: -1}, "limit"},
		{index.Query{Limit: index.MaxLimit + 1}, "limit"},
		{index.Query{Cursor: "x"}, "cursor"},
		{index.Query{Cursor: "YzEuMTIzLmRvYy0x"}, ""},         // c1.123.doc-1: well formed
		{index.Query{Cursor: "YzEuMTIzLi4vZXRj"}, "cursor"},   // c1.123../etc
		{index.Query{Cursor: "YzIuMTIzLmRvYy0x"}, "cursor"},   // c2.…
		{index.Query{Cursor: "YzEuMDEyMy5kb2MtMQ"}, "cursor"}, // c1.0123.doc-1
		{index.Query{Retention: "forever"}, "retention"},
		{index.Query{Q: "a\x00b"}, "q"},
		{index.Query{Q: "\xff\xfe"}, "q"},
		{index.Query{CaseNo: "XK\n1"}, "case_no"},
		{index.Query{Applicant: repeat("科", index.MaxQueryRunes+1)}, "applicant"},
		{index.Query{Q: "a b c d e f g h i"}, "q"},
		{index.Query{From: base, To: base}, "to"},
		{index.Query{Q: `"科技" OR NOT *`}, ""}, // FTS syntax is only text
		{index.Query{Q: `"""`}, ""},
		{index.Query{Q: "%_"}, ""},
	}
	for _, c := range cases {
		_, err := ix.Search(ctx, c.q)
		var qe *index.QueryError
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%+v: %v", c.q, err)
		case c.field != "" && (!errors.As(err, &qe) || qe.Field != c.field):
			t.Errorf("%+v: got %v, want a QueryError on %s", c.q, err, c.field)
		}
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

// TestConcurrentCatchUp: searches catching up while records arrive each
// find at least what was logged before they began, and at the end all.
func TestConcurrentCatchUp(t *testing.T) {
	ctx := context.Background()
	e := newArchiveEnv(t, "node-a")
	ix, err := index.Open(ctx, filepath.Join(e.dir, "index.db"), e.store, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	const n = 40
	added := make(chan int, n)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(added)
		for i := 1; i <= n; i++ {
			e.add(record(i, "食品经营许可证", "杭州某某科技有限公司", fmt.Sprintf("XK-%d", i)))
			added <- i
		}
	})
	for range 4 {
		wg.Go(func() {
			for i := range added {
				if err := ix.CatchUp(ctx); err != nil {
					t.Error(err)
					return
				}
				p, err := ix.Search(ctx, index.Query{CaseNo: fmt.Sprintf("XK-%d", i)})
				if err != nil || len(p.Records) != 1 {
					t.Errorf("record %d after CatchUp: %v %v", i, ids(p), err)
				}
			}
		})
	}
	wg.Wait()
	if c, err := ix.Count(ctx); err != nil || c != n {
		t.Fatalf("count %d %v", c, err)
	}
}

// TestUnreadableRecordRetried: a record that cannot be read neither stops
// the feed nor a rebuild; it is left out, listed, and indexed once it can
// be read again.
func TestUnreadableRecordRetried(t *testing.T) {
	ctx := context.Background()
	e := newArchiveEnv(t, "node-a")
	e.add(record(1, "食品经营许可证", "杭州某某科技有限公司", "XK-1"))
	var broken sync.Map
	broken.Store(docID(2), true)
	read := func(ctx context.Context, id string) (*archive.Record, error) {
		if _, ok := broken.Load(id); ok {
			return nil, fmt.Errorf("%s: %w", id, archive.ErrAltered)
		}
		b, _, err := archive.GetBytes(ctx, e.store, archive.RecordKey(id))
		if err != nil {
			return nil, err
		}
		var rec archive.Record
		return &rec, json.Unmarshal(b, &rec)
	}
	e.add(record(2, "排污许可决定书", "温州某某化工科技有限公司", "XK-2"))
	// A rebuild goes past it.
	ix, err := index.Open(ctx, filepath.Join(e.dir, "index.db"), e.store, index.Options{ReadRecord: read})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if got := mustSearch(t, ix, index.Query{}); !slices.Equal(got, []string{docID(1)}) {
		t.Fatalf("after the rebuild: %v", got)
	}
	// So does following the log.
	e.add(record(3, "药品经营许可证", "杭州某某医药科技有限公司", "XK-3"))
	e.append(audit.LegalHoldSet, docID(2))
	if err := ix.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := mustSearch(t, ix, index.Query{}); !slices.Equal(got, []string{docID(3), docID(1)}) {
		t.Fatalf("after following: %v", got)
	}
	if u, err := ix.Unreadable(ctx); err != nil || len(u) != 1 || !strings.Contains(u[docID(2)], "differs") {
		t.Fatalf("unreadable: %v %v", u, err)
	}
	broken.Delete(docID(2))
	if err := ix.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := mustSearch(t, ix, index.Query{}); !slices.Equal(got, []string{docID(3), docID(2), docID(1)}) {
		t.Fatalf("once readable: %v", got)
	}
	if u, _ := ix.Unreadable(ctx); len(u) != 0 {
		t.Fatalf("still unreadable: %v", u)
	}
}

// holdingStore keeps the first audit block put waiting a moment, so that
// appends made meanwhile share the next block (audit group commit).
type holdingStore struct {
	archive.Store
	once sync.Once
}

func (h *holdingStore) PutRetained(ctx context.Context, key string, r io.Reader, size int64, until time.Time) (archive.ObjectInfo, error) {
	if strings.HasPrefix(key, "audit/node-a/") {
		h.once.Do(func() { time.Sleep(200 * time.Millisecond) })
	}
	return h.Store.(archive.RetainingStore).PutRetained(ctx, key, r, size, until)
}

// TestFollowBlocks: entries appended at once, stored in blocks of several,
// are all followed: every stamped record is found.
func TestFollowBlocks(t *testing.T) {
	ctx := context.Background()
	e := newArchiveEnv(t, "node-a")
	hs := &holdingStore{Store: e.store}
	l, err := audit.Open(ctx, hs, "node-a", audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.log = l
	const n = 40
	for i := 1; i <= n; i++ {
		b, err := json.Marshal(record(i, "许可决定书", "杭州某某科技有限公司", fmt.Sprintf("XK-2026-%04d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := archive.PutBytesIfAbsent(ctx, e.store, archive.RecordKey(docID(i)), b); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := 1; i <= n; i++ {
		wg.Go(func() {
			if _, err := l.Append(ctx, audit.Entry{Action: audit.DocumentStamped, Subject: docID(i), Actor: "test"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	blocks := 0
	if err := e.store.List(ctx, "audit/node-a/", func(archive.ObjectInfo) error { blocks++; return nil }); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d entries in %d blocks", n, blocks)
	ix, err := index.Open(ctx, filepath.Join(e.dir, "index.db"), e.store, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	p, err := ix.Search(ctx, index.Query{Applicant: "杭州某某科技有限公司", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != n {
		t.Errorf("found %d records of %d", len(p.Records), n)
	}
	if err := ix.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	// The rebuild notes the shard's end in blocks too: nothing is read twice
	// or skipped after it.
	if err := ix.Rebuild(ctx, nil); err != nil {
		t.Fatal(err)
	}
	e.add(record(n+1, "许可决定书", "杭州某某科技有限公司", "XK-2026-9999"))
	if err := ix.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := mustSearch(t, ix, index.Query{CaseNo: "XK-2026-9999"}); len(got) != 1 {
		t.Errorf("after the rebuild, the next stamping: %v", got)
	}
}

// blockReads is a store that counts the reads of audit blocks.
type blockReads struct {
	archive.Store
	n atomic.Int64
}

func (b *blockReads) Get(ctx context.Context, key string) (io.ReadCloser, archive.ObjectInfo, error) {
	if strings.HasPrefix(key, "audit/") && !strings.HasPrefix(key, "audit/nodes/") {
		b.n.Add(1)
	}
	return b.Store.Get(ctx, key)
}

// TestTrail: a document's trail from the index is the entries naming it
// that a walk of the whole log finds — in both shards, oldest first — read
// from the blocks that hold them alone; the same after a rebuild, and
// after entries appended since.
func TestTrail(t *testing.T) {
	ctx := context.Background()
	e := newArchiveEnv(t, "node-a")
	other, err := audit.Open(ctx, e.store, "node-b", audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	for i := 1; i <= n; i++ {
		e.add(record(i, "许可决定书", "杭州某某科技有限公司", fmt.Sprintf("XK-2026-%04d", i)))
		if i%20 == 5 {
			e.append(audit.RecordViewed, docID(5))
			if _, err := other.Append(ctx, audit.Entry{Action: audit.RecordDownloaded, Subject: docID(5), Actor: "test"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.append(audit.LegalHoldSet, docID(5))
	walk := func(doc string) []audit.Entry {
		t.Helper()
		var out []audit.Entry
		if err := audit.Entries(ctx, e.store, func(en audit.Entry) error {
			if en.Subject == doc {
				out = append(out, en)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		slices.SortStableFunc(out, func(a, b audit.Entry) int { return a.Time.Compare(b.Time) })
		return out
	}
	reads := &blockReads{Store: e.store}
	ix, err := index.Open(ctx, filepath.Join(e.dir, "index.db"), reads, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	check := func(when string, doc string, wantEntries int) {
		t.Helper()
		if err := ix.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		reads.n.Store(0)
		got, doubts, err := ix.Trail(ctx, doc)
		if err != nil || len(doubts) != 0 {
			t.Fatal(err, doubts)
		}
		want := walk(doc)
		if len(got) != wantEntries || len(want) != wantEntries {
			t.Fatalf("%s: %s: %d entries in the trail, %d in the log, want %d", when, doc, len(got), len(want), wantEntries)
		}
		for i := range got {
			if got[i].Hash != want[i].Hash {
				t.Fatalf("%s: %s: entry %d is %s %s, the log's %s %s", when, doc, i, got[i].Action, got[i].Hash, want[i].Action, want[i].Hash)
			}
		}
		if r := reads.n.Load(); r > int64(wantEntries) {
			t.Errorf("%s: %s: the trail read %d audit blocks for %d entries", when, doc, r, wantEntries)
		}
	}
	check("followed", docID(5), 1+3+3+1)
	check("followed", docID(6), 1)
	check("followed", docID(n+1), 0)
	if err := ix.Rebuild(ctx, nil); err != nil {
		t.Fatal(err)
	}
	check("rebuilt", docID(5), 1+3+3+1)
	e.append(audit.LegalHoldCleared, docID(5))
	check("appended since", docID(5), 1+3+3+1+1)
}

// blockOf returns the key of the block of node's shard that holds the
// first entry naming doc.
func (e *archiveEnv) blockOf(node, doc string) string {
	e.t.Helper()
	for n := uint64(1); n < 1000; n++ {
		b, _, err := archive.GetBytes(context.Background(), e.store, audit.BlockKey(node, n))
		if err != nil {
			e.t.Fatalf("no block of %s names %s: %v", node, doc, err)
		}
		if bytes.Contains(b, []byte(doc)) {
			return audit.BlockKey(node, n)
		}
	}
	return ""
}

// alter changes one byte of the entry's actor in a stored block, behind
// the store's back (the filesystem backend keeps key's segments as
// directories named with a trailing ~).
func (e *archiveEnv) alter(key string) {
	e.t.Helper()
	segs := strings.Split(key, "/")
	for i := range segs[:len(segs)-1] {
		segs[i] += "~"
	}
	p := filepath.Join(append([]string{e.dir, "store"}, segs...)...)
	b, err := os.ReadFile(p)
	if err != nil {
		e.t.Fatal(err)
	}
	i := bytes.Index(b, []byte(`"actor":"test"`))
	if i < 0 {
		e.t.Fatalf("%s: no actor to alter", key)
	}
	b[i+len(`"actor":"tes`)] = 'x'
	if err := os.Chmod(p, 0o640); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o640); err != nil {
		e.t.Fatal(err)
	}
}

// TestTrailDoubts: the index checks the audit log's hash chain as it reads
// it, and a record's trail says when its entries may not be what was
// logged — a break in the chain at or before their block, found by a
// rebuild or while following the log, or a block changed after the index
// read it — while entries before a break are trusted.
func TestTrailDoubts(t *testing.T) {
	ctx := context.Background()
	e := newArchiveEnv(t, "node-a")
	for i := 1; i <= 3; i++ {
		e.add(record(i, "许可决定书", "杭州某某科技有限公司", fmt.Sprintf("XK-2026-%04d", i)))
	}
	trail := func(ix *index.Index, doc string) []string {
		t.Helper()
		if err := ix.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		entries, doubts, err := ix.Trail(ctx, doc)
		if err != nil || len(entries) == 0 {
			t.Fatalf("trail of %s: %v, %d entries", doc, err, len(entries))
		}
		return doubts
	}
	following, err := index.Open(ctx, filepath.Join(e.dir, "following.db"), e.store, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer following.Close()
	if d := trail(following, docID(3)); len(d) != 0 {
		t.Fatalf("an intact log: %q", d)
	}

	// Read by the index, then changed: its trail says so.
	e.alter(e.blockOf("node-a", docID(2)))
	if d := trail(following, docID(2)); len(d) != 1 || !strings.Contains(d[0], "changed since") {
		t.Fatalf("a block changed after it was indexed: %q", d)
	}

	// A break found while following the log: doubts from its block on.
	for i := 4; i <= 6; i++ {
		e.add(record(i, "许可决定书", "杭州某某科技有限公司", fmt.Sprintf("XK-2026-%04d", i)))
	}
	e.alter(e.blockOf("node-a", docID(5)))
	e.add(record(7, "许可决定书", "杭州某某科技有限公司", "XK-2026-0007"))
	if d := trail(following, docID(4)); len(d) != 0 {
		t.Fatalf("an entry before the break: %q", d)
	}
	for _, doc := range []string{docID(5), docID(7)} {
		if d := trail(following, doc); len(d) != 1 || !strings.Contains(d[0], "broken at block") || !strings.Contains(d[0], "does not hold its hash") {
			t.Fatalf("%s, at and after the break, as followed: %q", doc, d)
		}
	}

	// The same found by a rebuild: the first break, block 2's.
	rebuilt, err := index.Open(ctx, filepath.Join(e.dir, "rebuilt.db"), e.store, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rebuilt.Close()
	if d := trail(rebuilt, docID(1)); len(d) != 0 {
		t.Fatalf("an entry before the first break, rebuilt: %q", d)
	}
	for _, doc := range []string{docID(2), docID(5), docID(7)} {
		if d := trail(rebuilt, doc); len(d) != 1 || !strings.Contains(d[0], "broken at block 2") {
			t.Fatalf("%s, rebuilt: %q", doc, d)
		}
	}
}
