package seal_test

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/fs"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// writeLog is a Store that notes every write it passes on — its kind and the
// kind of key it wrote — so a test can count a stamping's durable writes.
type writeLog struct {
	archive.Store
	mu     sync.Mutex
	writes []string
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
	{regexp.MustCompile(`^audit/[^/]+/\d+\.json$`), "audit/<node>/<seq>"},
	{regexp.MustCompile(`^refseq/.*`), "refseq/<series>/<n>"},
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
	w.writes = nil
	sort.Strings(got)
	return got
}

func (w *writeLog) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) (archive.ObjectInfo, error) {
	w.note("put", key)
	return w.Store.PutIfAbsent(ctx, key, r, size)
}

func (w *writeLog) PutRetained(ctx context.Context, key string, r io.Reader, size int64, until time.Time) (archive.ObjectInfo, error) {
	w.note("put+lock", key)
	return w.Store.(archive.RetainingStore).PutRetained(ctx, key, r, size, until)
}

func (w *writeLog) SetRetention(ctx context.Context, key string, until time.Time) error {
	w.note("retain", key)
	return w.Store.SetRetention(ctx, key, until)
}

func (w *writeLog) SetLegalHold(ctx context.Context, key string, on bool) error {
	w.note("hold", key)
	return w.Store.SetLegalHold(ctx, key, on)
}

func (w *writeLog) Delete(ctx context.Context, key string) error {
	w.note("delete", key)
	return w.Store.Delete(ctx, key)
}

// TestDurableWritesPerStamping counts the store writes of one stamping on
// the filesystem backend, by kind: the number docs/performance.md gives
// and explains. Counting is deterministic; speed is for make bench-http.
func TestDurableWritesPerStamping(t *testing.T) {
	clock := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
	fsStore, err := fs.New(t.TempDir(), fs.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	w := &writeLog{Store: fsStore}
	e := newServiceEnvOn(t, "items: {}\n", clock, w)
	e.svc.Fonds = "Z001"
	ctx := context.Background()
	doc := pdftest.Document(pdftest.Options{})
	stamp := func(idem string) []string {
		t.Helper()
		a, err := e.svc.Registry.Grant(ctx, seal.GrantRequest{SealID: e.sealID, CaseNo: "W-1", GrantedBy: "test"})
		if err != nil {
			t.Fatal(err)
		}
		w.take()
		if _, err := e.svc.Stamp(ctx, seal.StampRequest{SealID: e.sealID, AuthorizationID: a.ID,
			Placement: seal.Placement{Page: 1, XMM: 100, YMM: 100}, IdempotencyKey: idem,
			Record: seal.RecordInput{Title: "许可决定书", ItemCode: "330000-XK-01", CaseNo: "W-1"}, PDF: doc}); err != nil {
			t.Fatal(err)
		}
		return w.take()
	}
	stamp("") // the series' first number and the shard's first entries cost more
	for _, c := range []struct {
		name, idem string
		want       []string
	}{
		{"plain", "", wantWrites},
		{"idempotency key", "client-1/req-1", append(append([]string(nil), wantWrites...), wantIdemWrites...)},
	} {
		got := stamp(c.idem)
		want := append([]string(nil), c.want...)
		sort.Strings(want)
		t.Logf("%s: %d writes:\n  %s", c.name, len(got), strings.Join(got, "\n  "))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %d writes\n  %s\nwant %d\n  %s", c.name, len(got), strings.Join(got, "\n  "), len(want), strings.Join(want, "\n  "))
		}
	}
}

// wantWrites are one stamping's writes, with a fonds code (so a reference
// number) and without an idempotency key; docs/performance.md says why each.
// They go to the store in seven trips, each waiting for the one before:
// the pending marker; the PDF; the record (it pins the PDF's version); the
// use marker (the commit); the audit entry; the finishing batch (locks,
// code index, receipt, reference number: made at once); the pending
// marker's removal.
var wantWrites = []string{
	"put pending/<doc>",
	"put docs/<doc>/document.pdf",
	"put docs/<doc>/record.json",
	"put authz/<id>/use/<n>",
	"put+lock audit/<node>/<seq>",
	"retain docs/<doc>/document.pdf",
	"retain docs/<doc>/record.json",
	"retain authz/<id>/use/<n>",
	"put+lock codes/<code>",
	"put+lock authz/<id>/spent/<n>",
	"put+lock refseq/<series>/<n>",
	"put+lock docs/<doc>/refcode.json",
	"delete pending/<doc>",
}

// wantIdemWrites are the further writes of a request with an idempotency key.
var wantIdemWrites = []string{"put idem/<key>"}

// BenchmarkServiceStampFS is the whole durable path in process — authorize,
// stamp, stage, commit, finish — on the filesystem store, with 16 stampings
// in flight (go test -bench ServiceStamp -cpu 16 ./seal/ gives more).
func BenchmarkServiceStampFS(b *testing.B) {
	clock := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
	store, err := fs.New(b.TempDir(), fs.Options{Now: clock.Now})
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
}
