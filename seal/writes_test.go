package seal_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/fs"
	"eseal/archive/s3"
	"eseal/archive/s3/miniotest"
	"eseal/pdf/pdftest"
	"eseal/seal"
	"eseal/seal/sealtest"
)

// writeLog is a Store that notes every write it passes on — its kind and the
// kind of key it wrote — so a test can count a stamping's durable writes.
type writeLog struct {
	writeHook
	mu     sync.Mutex
	writes []string
	// reads are the reads, noted the same way.
	reads []string
}

func newWriteLog(s archive.Store) *writeLog {
	w := &writeLog{writeHook: writeHook{Store: s}}
	w.before = func(op, key string) error { w.note(op, key); return nil }
	return w
}

// keyKinds turn a key into its kind: ids and numbers replaced, so that
// every stamping's writes read the same.
var keyKinds = []struct {
	re   *regexp.Regexp
	kind string
}{
	{regexp.MustCompile(`^pending/.*`), "pending/<doc>"},
	{regexp.MustCompile(`^docs/.*/document\.pdf$`), "docs/<doc>/document.pdf"},
	{regexp.MustCompile(`^docs/.*/record\.json$`), "docs/<doc>/record.json"},
	{regexp.MustCompile(`^docs/.*/refcode\.json$`), "docs/<doc>/refcode.json"},
	{regexp.MustCompile(`^docs/.*/ses-\d+\.der$`), "docs/<doc>/ses-<n>.der"},
	{regexp.MustCompile(`^(units/[^/]+/)?codes/.*`), "codes/<code>"},
	{regexp.MustCompile(`^(units/[^/]+/)?idem/.*`), "idem/<key>"},
	{regexp.MustCompile(`/use/\d+\.json$`), "authz/<id>/use/<n>"},
	{regexp.MustCompile(`/spent/\d+\.json$`), "authz/<id>/spent/<n>"},
	{regexp.MustCompile(`/release/\d+\.json$`), "authz/<id>/release/<n>"},
	{regexp.MustCompile(`^audit/[^/]+/\d+\.json$`), "audit/<node>/<seq>"},
	{regexp.MustCompile(`^refseq/.*`), "refseq/<series>/<n>"},
	{regexp.MustCompile(`^seals/[^/]+/`), "seals/<id>/"},
	{regexp.MustCompile(`^authz/[^/]+/`), "authz/<id>/"},
}

func keyKind(key string) string {
	for _, k := range keyKinds {
		if k.re.MatchString(key) {
			return k.kind
		}
	}
	return key
}

func (w *writeLog) note(op, key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, op+" "+keyKind(key))
}

func (w *writeLog) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	got := w.writes
	w.writes, w.reads = nil, nil
	sort.Strings(got)
	return got
}

func (w *writeLog) read(op, key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reads = append(w.reads, op+" "+keyKind(key))
}

func (w *writeLog) Get(ctx context.Context, key string) (io.ReadCloser, archive.ObjectInfo, error) {
	w.read("get", key)
	return w.Store.Get(ctx, key)
}

func (w *writeLog) Head(ctx context.Context, key string) (archive.ObjectInfo, error) {
	w.read("head", key)
	return w.Store.Head(ctx, key)
}

func (w *writeLog) List(ctx context.Context, prefix string, fn func(archive.ObjectInfo) error) error {
	w.read("list", prefix)
	return w.Store.List(ctx, prefix, fn)
}

func (w *writeLog) ListVersions(ctx context.Context, prefix string, fn func(archive.ObjectInfo) error) error {
	w.read("list versions", prefix)
	return w.Store.ListVersions(ctx, prefix, fn)
}

func (w *writeLog) GetVersion(ctx context.Context, key, versionID string) (io.ReadCloser, archive.ObjectInfo, error) {
	w.read("get version", key)
	return w.Store.GetVersion(ctx, key, versionID)
}

// TestDurableWritesPerStamping counts the store writes of one stamping on
// the filesystem backend, by kind: the number docs/performance.md gives
// and explains. Counting is deterministic; speed is for make bench-http.
func TestDurableWritesPerStamping(t *testing.T) {
	clock := sealtest.NewClock(time.Now().UTC().Truncate(time.Second))
	fsStore, err := fs.New(t.TempDir(), fs.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	w := newWriteLog(fsStore)
	e := newServiceEnvOn(t, "items: {}\n", clock, w)
	e.svc.Fonds = "Z001"
	countedStamping(t, e, w, "") // the series' first number and the shard's first entries cost more
	for _, c := range []struct {
		name, idem string
		want       []string
	}{
		{"plain", "", wantWrites},
		{"idempotency key", "client-1/req-1", append(append([]string(nil), wantWrites...), wantIdemWrites...)},
	} {
		got, reads := countedStamping(t, e, w, c.idem)
		want := append([]string(nil), c.want...)
		sort.Strings(want)
		t.Logf("%s: %d writes:\n  %s", c.name, len(got), strings.Join(got, "\n  "))
		t.Logf("%s: %d reads, in order:\n  %s", c.name, len(reads), strings.Join(reads, "\n  "))
		if want := maxReads + len(c.want) - len(wantWrites); len(reads) > want {
			t.Errorf("%s: %d reads, docs/performance.md gives %d", c.name, len(reads), want)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %d writes\n  %s\nwant %d\n  %s", c.name, len(got), strings.Join(got, "\n  "), len(want), strings.Join(want, "\n  "))
		}
	}
}

// countedStamping grants an authorization and stamps under it on e, whose
// store w notes reads and writes: it returns the stamping's writes, sorted,
// and its reads, in order.
func countedStamping(t *testing.T, e *serviceEnv, w *writeLog, idem string) (writes, reads []string) {
	t.Helper()
	ctx := context.Background()
	a, err := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: e.sealID, CaseNo: "W-1", GrantedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	w.take()
	if _, err := e.svc.Stamp(ctx, seal.StampRequest{SealID: e.sealID, AuthorizationID: a.ID,
		Placement: seal.Placement{Page: 1, XMM: 100, YMM: 100}, IdempotencyKey: idem,
		Record: seal.RecordInput{Title: "许可决定书", ItemCode: "330000-XK-01", CaseNo: "W-1"}, PDF: pdftest.Document(pdftest.Options{})}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.FlushPending(ctx); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	reads = append([]string(nil), w.reads...)
	w.mu.Unlock()
	return w.take(), reads
}

// TestReadsPerStampingS3 counts one stamping's reads on MinIO, as
// TestDurableWritesPerStamping does on the filesystem: the same bound holds
// there, so what a replica keeps of a seal's events is used on S3 too (its
// listings give each object's version id and time, which the cache checks).
func TestReadsPerStampingS3(t *testing.T) {
	endpoint, access, secret := miniotest.Start(t)
	store, err := s3.New(context.Background(), s3.Config{Endpoint: endpoint, Bucket: "eseal-reads", AccessKey: access, SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	w := newWriteLog(store)
	e := newServiceEnvOn(t, "items: {}\n", sealtest.NewClock(time.Now().UTC().Truncate(time.Second)), w)
	e.svc.Fonds = "Z001"
	countedStamping(t, e, w, "")
	_, reads := countedStamping(t, e, w, "")
	t.Logf("%d reads, in order:\n  %s", len(reads), strings.Join(reads, "\n  "))
	if len(reads) > maxReads {
		t.Errorf("%d reads on MinIO, docs/performance.md gives %d", len(reads), maxReads)
	}
}

// wantWrites are one stamping's writes, with a fonds code (so a reference
// number) and without an idempotency key; docs/performance.md says why each.
// They go to the store in four trips before the answer, each waiting for
// the one before: the staging object; the use marker (the commit, locked
// in its put); the audit entry; the finishing batch (the PDF and record
// written from the staging, the reference number: made at once).
// The staging object's removal comes after the answer (seal/pending.go).
var wantWrites = []string{
	"put pending/<doc>",
	"put+lock authz/<id>/use/<n>",
	"put+lock audit/<node>/<seq>",
	"put+lock docs/<doc>/document.pdf",
	"put+lock docs/<doc>/record.json",
	"put+lock refseq/<series>/<n>",
	"put+lock docs/<doc>/refcode.json",
	"delete pending/<doc>",
}

// wantIdemWrites are the further writes of a request with an idempotency key.
var wantIdemWrites = []string{"put idem/<key>"}

// maxReads bounds one stamping's reads (with a fonds code, no idempotency
// key; such a key adds one, its marker), on the replica that made the grant
// (another reads the grant once more): docs/performance.md lists them. On
// S3 each is a request, so they count like writes.
const maxReads = 5

// BenchmarkServiceStampFS is the whole durable path in process — authorize,
// stamp, stage, commit, finish — on the filesystem store, with 16 stampings
// in flight (go test -bench ServiceStamp -cpu 16 ./seal/ gives more).
func BenchmarkServiceStampFS(b *testing.B) {
	// syncfs: one syncfs shared by concurrent writers (the filesystem
	// store's default when it has a filesystem of its own); each: every
	// file and directory fsynced (its default on a shared one).
	for _, each := range []bool{false, true} {
		b.Run(map[bool]string{false: "sync=syncfs", true: "sync=each"}[each], func(b *testing.B) {
			benchServiceStampFS(b, fs.Options{Sync: map[bool]fs.SyncMode{false: fs.SyncWholeFS, true: fs.SyncEachFile}[each]})
		})
	}
}

func benchServiceStampFS(b *testing.B, opts fs.Options) {
	clock := sealtest.NewClock(time.Now().UTC().Truncate(time.Second))
	opts.Now = clock.Now
	store, err := fs.New(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	e := newServiceEnvOn(b, "items: {}\n", clock, store)
	ctx := context.Background()
	doc := pdftest.Document(pdftest.Options{Pages: 3})
	authz := make(chan string, b.N)
	for range b.N {
		a, err := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: e.sealID, CaseNo: "B-1", GrantedBy: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		authz <- a.ID
	}
	b.SetParallelism(16)
	before := store.Flushes()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.svc.Stamp(ctx, seal.StampRequest{SealID: e.sealID, AuthorizationID: <-authz,
				Placement: seal.Placement{Page: 1, XMM: 100, YMM: 100},
				Record:    seal.RecordInput{Title: "许可决定书", CaseNo: "B-1"}, PDF: doc}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	// The shared flushes (syncfs, or directory fsyncs) per stamping and
	// their length: with syncfs they run back to back under this load, so
	// flush-ms/op is close to ns/op — the flush is the limit.
	after := store.Flushes()
	b.ReportMetric(float64(after.Count-before.Count)/float64(b.N), "flushes/op")
	b.ReportMetric(float64(after.Time-before.Time)/float64(time.Millisecond)/float64(b.N), "flush-ms/op")
}

// crashStore is a store whose process dies after a given number of writes:
// from then on every write fails and nothing more is stored, as when the
// replica is killed. Reads go on (they change nothing).
type crashStore struct {
	writeHook
	armed atomic.Bool
	left  atomic.Int64
}

func newCrashStore(s archive.Store) *crashStore {
	c := &crashStore{writeHook: writeHook{Store: s}}
	c.before = func(string, string) error { return c.write() }
	return c
}

var errCrashed = errors.New("crashed")

func (c *crashStore) write() error {
	if c.armed.Load() && c.left.Add(-1) < 0 {
		return errCrashed
	}
	return nil
}

// TestCrashAtEveryWrite kills a stamping after each of its writes in turn
// — in the middle of a phase's batch too, whichever of its writes comes
// first — restarts (a new Service on the same store, past the grace
// period) and runs the recovery sweep. Each time the stamping either left
// no trace and its authorization still stamps, or its document is
// complete: committed, logged, locked, findable by its code, numbered; and
// fixity finds nothing wrong either way.
func TestCrashAtEveryWrite(t *testing.T) {
	ctx := context.Background()
	doc := pdftest.Document(pdftest.Options{})
	outcomes := map[string]int{}
	for n := 0; ; n++ {
		var crash *crashStore
		c := newFaultCase(t, doc, "", func(s archive.Store) archive.Store { crash = newCrashStore(s); return crash })
		e, base, clock := c.e, c.base, c.clock
		crash.left.Store(int64(n))
		crash.armed.Store(true)
		_, err := e.svc.Stamp(ctx, c.req)
		if crash.left.Load() >= 0 { // it never crashed
			if err != nil || n < len(wantWrites) {
				t.Fatalf("a stamping allowed %d writes: %v; it makes %d", n, err, len(wantWrites))
			}
			break
		}
		// A stamping killed after its audit entry has happened (its
		// request may even have had its answer): finishing is the sweep's.
		if err != nil && !errors.Is(err, errCrashed) {
			t.Fatalf("crash after %d writes: %v", n, err)
		}

		// Restart on the same store, once the grace period has passed.
		clock.Advance(time.Hour)
		svc := replica(t, e, base, clock, "test")
		if _, _, err := svc.Recover(ctx); err != nil {
			t.Fatal(err)
		}
		at := fmt.Sprintf("crash after %d writes", n)
		switch settled(t, at, svc, base, c.authz) {
		case "":
			outcomes["no trace"]++
			if _, err := svc.Stamp(ctx, c.req); err != nil {
				t.Errorf("%s: the authorization no longer stamps: %v", at, err)
			}
		default:
			outcomes["complete"]++
		}
	}
	t.Logf("outcomes: %v", outcomes)
	if outcomes["no trace"] == 0 || outcomes["complete"] == 0 {
		t.Errorf("outcomes %v: want both kinds", outcomes)
	}
}

// settled checks a store after a stamping that went wrong and the recovery
// sweep that followed (at says which case): nothing is pending; the
// authorization authz has at most one use; without one there is no
// document and nothing under docs/; with one, its document is committed,
// and its PDF, record, 档号 number and code index are stored and locked;
// fixity is clean. It returns the used document's id, or "".
func settled(t *testing.T, at string, svc *seal.Service, store archive.Store, authz string) string {
	t.Helper()
	ctx := context.Background()
	if err := svc.FlushPending(ctx); err != nil {
		t.Fatal(err)
	}
	if keys := listKeys(t, store, "pending/"); len(keys) != 0 {
		t.Errorf("%s: pending after the sweep: %v", at, keys)
	}
	st, err := svc.Registry.Authorization(ctx, authz)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := archive.DocumentIDs(ctx, store, archive.AllUnits)
	if err != nil {
		t.Fatal(err)
	}
	used := ""
	switch len(st.Uses) {
	case 0:
		if len(ids) != 0 {
			t.Errorf("%s: authorization unused, yet documents %v", at, ids)
		}
		if keys := listKeys(t, store, "docs/"); len(keys) != 0 {
			t.Errorf("%s: staged objects left: %v", at, keys)
		}
	case 1:
		used = st.Uses[0].DocumentID
		if len(ids) != 1 || ids[0] != used {
			t.Errorf("%s: documents %v, use %s", at, ids, used)
		}
		if _, err := svc.Documents().CommittedRecord(ctx, used); err != nil {
			t.Errorf("%s: committed document %s: %v", at, used, err)
		}
		for _, k := range []string{archive.DocumentKey(used), archive.RecordKey(used), archive.RefNumberKey(used)} {
			if info, err := store.Head(ctx, k); err != nil || info.RetainUntil.IsZero() {
				t.Errorf("%s: %s: %+v, %v; want it stored and locked", at, k, info, err)
			}
		}
		if codes := listKeys(t, store, "codes/"); len(codes) != 0 {
			t.Errorf("%s: a code index object was written: %v", at, codes)
		}
	default:
		t.Fatalf("%s: authorization used %d times", at, len(st.Uses))
	}
	rep, err := svc.Fixity(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 0 {
		t.Errorf("%s: fixity: %+v", at, rep.Problems)
	}
	return used
}

func listKeys(t *testing.T, s archive.Store, prefix string) []string {
	t.Helper()
	var keys []string
	if err := s.List(context.Background(), prefix, func(o archive.ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}
