// The end-to-end test of issue 2: every PDF of the corpus (testdata/corpus)
// is stamped twice by the eseal binary through its CLI contract (profile
// cms, then pades; and once more on its own in profile ses), each
// output is checked by tools that are not ours (qpdf, pdfcpu, pdfsig,
// Bouncy Castle) and by `eseal verify`, and the results are then tampered
// with: single flipped bytes inside signed ranges, and a content change
// appended as a new revision.
package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

const (
	corpusWorkers = 2   // files stamped and checked at once
	flipTrials    = 200 // single-byte tampering trials across the corpus
	minCorpus     = 30  // issue 2: at least 30 real-world-shaped PDFs
)

// stampedFile is one corpus file after both stampings.
type stampedFile struct {
	name   string
	first  string     // after the first seal
	final  string     // after the second seal, stamped on first
	sizes  [2]int64   // sizes of first and final
	ranges [][4]int64 // the byte ranges pdfsig lists for final
}

// corpusTools are the outside tools the corpus tests cannot do without.
var corpusTools = []string{"bash", "qpdf", "pdfcpu", "pdfsig"}

func TestCorpusBuild(t *testing.T) {
	ts := needTools(t, corpusTools...)
	files := corpus(t, ts) // build.sh itself fails on any qpdf or pdfcpu complaint
	if len(files) < minCorpus {
		t.Fatalf("build.sh made %d PDFs, want at least %d", len(files), minCorpus)
	}
	for _, f := range files {
		t.Logf("%-50s %3d page(s)", filepath.Base(f), pageCount(t, ts, f))
	}
}

// TestBouncyCastleSelfTest shows that the Java checker rejects what it must
// and accepts an SM2/SM3 CMS made by Bouncy Castle itself, so an OK from it
// on our files means something.
func TestBouncyCastleSelfTest(t *testing.T) {
	ts := needTools(t, "java", "javac")
	bc := bouncyCastle(t, ts, t.TempDir())
	r := bc("--self-test")
	if r.code != 0 || !strings.Contains(r.stdout, "SELFTEST OK") {
		t.Fatalf("VerifyPdfCms --self-test: %s", r)
	}
}

// TestAppendContentRevision checks the forger's tool of the tamper test on
// the unsigned corpus: the result is a well-formed PDF whose input is a
// prefix and whose page 1 draws the new content stream.
func TestAppendContentRevision(t *testing.T) {
	ts := needTools(t, corpusTools...)
	dir := t.TempDir()
	for _, f := range corpus(t, ts) {
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out, err := appendContentRevision(in)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		path := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		if msg := qpdfCheck(ts, path); msg != "" {
			t.Errorf("%s", msg)
		}
		if ok, _ := isPrefix(f, path); !ok {
			t.Errorf("%s: input is not a prefix of the revised file", filepath.Base(f))
		}
		ctx, err := api.ReadContext(strings.NewReader(string(out)), model.NewDefaultConfiguration())
		if err != nil {
			t.Errorf("%s: pdfcpu cannot read the revised file: %v", filepath.Base(f), err)
			continue
		}
		if err := ctx.EnsurePageCount(); err != nil {
			t.Fatal(err)
		}
		page, _, _, err := ctx.PageDict(1, false)
		if err != nil {
			t.Fatal(err)
		}
		arr, _ := page["Contents"].(types.Array)
		if len(arr) == 0 {
			t.Errorf("%s: page 1 /Contents is %v after the revision, want an array ending in the new stream", filepath.Base(f), page["Contents"])
			continue
		}
		last, _ := arr[len(arr)-1].(types.IndirectRef)
		if last.ObjectNumber.Value() != *ctx.Size-2 && last.ObjectNumber.Value() != *ctx.Size-1 {
			t.Errorf("%s: page 1 /Contents %v does not end in the new stream (trailer /Size %d)", filepath.Base(f), arr, *ctx.Size)
		}
	}
}

func TestCorpusStampVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end corpus test skipped in -short mode")
	}
	ts := needTools(t, append(corpusTools, "java", "javac")...)
	start := time.Now()
	files := corpus(t, ts)
	if len(files) < minCorpus {
		t.Fatalf("build.sh made %d PDFs, want at least %d", len(files), minCorpus)
	}
	work := t.TempDir()
	bcDir := filepath.Join(work, "bc")
	outDir := filepath.Join(work, "out")
	for _, d := range []string{bcDir, outDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bc := bouncyCastle(t, ts, bcDir)
	c := cli{bin: buildEseal(t, work), dir: filepath.Join(work, "data")}
	t.Logf("corpus of %d files, Java checker and eseal built in %v", len(files), time.Since(start).Round(time.Millisecond))

	// Two seals, as for a joint approval (联合审批) by two departments.
	var initOut struct {
		SealID   string `json:"seal_id"`
		AdminKey string `json:"admin_key"`
	}
	c.mustJSON(t, &initOut, "init", "--dir", c.dir, "--org", "余姚市行政审批管理办公室", "--json")
	if initOut.SealID == "" || initOut.AdminKey == "" {
		t.Fatalf("eseal init --json: want seal_id and admin_key, got %+v", initOut)
	}
	var second struct {
		ID string `json:"id"`
	}
	c.mustJSON(t, &second, "--dir", c.dir, "seal", "create", "--name", "余姚市市场监督管理局审批专用章", "--json")
	if second.ID == "" || second.ID == initOut.SealID {
		t.Fatalf("eseal seal create --json: want a new seal id, got %q", second.ID)
	}
	seals := [2]string{initOut.SealID, second.ID}

	// One probe stamping first, so a CLI that cannot stamp yet fails once,
	// clearly, instead of once per corpus file.
	c.mustRun(t, "--dir", c.dir, "stamp", "--seal", seals[0], "--in", files[0],
		"--out", filepath.Join(work, "probe.pdf"), "--page", "1", "--x", "20", "--y", "20")

	results := make([]*stampedFile, len(files))
	sem := make(chan struct{}, corpusWorkers)
	phase := time.Now()
	t.Run("stamp", func(t *testing.T) {
		for i, in := range files {
			t.Run(strings.TrimSuffix(filepath.Base(in), ".pdf"), func(t *testing.T) {
				t.Parallel()
				sem <- struct{}{}
				defer func() { <-sem }()
				results[i] = stampTwice(t, ts, c, seals, i, in, outDir)
			})
		}
	})
	var done []*stampedFile
	for _, r := range results {
		if r != nil {
			done = append(done, r)
		}
	}
	t.Logf("stamped and checked %d/%d files in %v", len(done), len(files), time.Since(phase).Round(time.Millisecond))
	if len(done) == 0 {
		t.Fatal("no corpus file was stamped; nothing left to check")
	}

	t.Run("bouncycastle", func(t *testing.T) {
		args := make([]string, len(done))
		for i, s := range done {
			args[i] = s.final
		}
		r := bc(args...)
		for _, s := range done {
			for n := 1; n <= 2; n++ {
				if !strings.Contains(r.stdout, fmt.Sprintf("OK %s %d\n", s.final, n)) {
					t.Errorf("Bouncy Castle did not verify signature %d of %s", n, s.name)
				}
			}
			// The second seal is pades: signing-certificate-v2, no signingTime.
			if want := fmt.Sprintf("ATTRS %s 2 signing-certificate-v2=yes signing-time=no\n", s.final); !strings.Contains(r.stdout, want) {
				t.Errorf("Bouncy Castle does not find the PAdES attributes in signature 2 of %s", s.name)
			}
		}
		if r.code != 0 {
			t.Errorf("VerifyPdfCms: %s", r)
		}
	})

	t.Run("flip", func(t *testing.T) {
		phase := time.Now()
		flipBytes(t, c, done, filepath.Join(work, "flip"))
		t.Logf("%d single-byte flips in %v", flipTrials, time.Since(phase).Round(time.Millisecond))
	})

	t.Run("content-revision", func(t *testing.T) {
		dir := filepath.Join(work, "revised")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		forEach(done, func(s *stampedFile) {
			signed, err := os.ReadFile(s.final)
			if err != nil {
				t.Error(err)
				return
			}
			revised, err := appendContentRevision(signed)
			if err != nil {
				t.Errorf("%s: cannot append a content revision: %v", s.name, err)
				return
			}
			path := filepath.Join(dir, s.name+".pdf")
			if err := os.WriteFile(path, revised, 0o644); err != nil {
				t.Error(err)
				return
			}
			if msg := qpdfCheck(ts, path); msg != "" {
				t.Errorf("%s: the forged revision itself is malformed (test bug): %s", s.name, msg)
			}
			code, rep, r := c.verify(path)
			switch {
			case code == 0:
				t.Errorf("%s: a content change appended after both seals verifies VALID:\n%s", s.name, r)
			case rep == nil:
				t.Errorf("%s: eseal verify --json gave no report for a content change (exit %d):\n%s", s.name, code, r)
			case !strings.Contains(strings.ToLower(rep.allReasons()), "modif"):
				t.Errorf("%s: verdict %s (exit %d) but no reason mentions the modification: %s", s.name, rep.Verdict, code, rep.allReasons())
			}
		})
	})
	t.Logf("corpus test took %v", time.Since(start).Round(time.Millisecond))
}

// placement varies where a seal goes, in millimetres from the visible
// page's top-left corner, keeping a 50 mm seal inside the smallest visible
// page of the corpus (an offset crop box of about 187 × 268 mm).
func placement(i, k int) (x, y string) {
	mm := func(v int) string { return strconv.Itoa(v) }
	return mm(10 + (i*37+k*53)%100), mm(10 + (i*29+k*71)%110)
}

// stampTwice stamps in with the first seal on page 1 and the result with the
// second seal on the last page, and checks both outputs. It returns nil
// after reporting a failure.
func stampTwice(t *testing.T, ts tools, c cli, seals [2]string, i int, in, outDir string) *stampedFile {
	name := strings.TrimSuffix(filepath.Base(in), ".pdf")
	s := &stampedFile{
		name:  name,
		first: filepath.Join(outDir, name+".1.pdf"),
		final: filepath.Join(outDir, name+".2.pdf"),
	}
	pages := pageCount(t, ts, in)
	// The first seal in the default profile (cms), the second in pades.
	steps := []struct{ in, out, seal, page, profile string }{
		{in, s.first, seals[0], "1", "cms"},
		{s.first, s.final, seals[1], strconv.Itoa(pages), "pades"},
	}
	for k, st := range steps {
		x, y := placement(i, k)
		c.mustRun(t, "--dir", c.dir, "stamp", "--seal", st.seal, "--in", st.in, "--out", st.out,
			"--page", st.page, "--x", x, "--y", y, "--profile", st.profile)
		ok, err := isPrefix(st.in, st.out)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Fatalf("stamping %d: the input is not a byte prefix of the output: the signed file was rewritten", k+1)
		}
		fi, err := os.Stat(st.out)
		if err != nil {
			t.Fatal(err)
		}
		s.sizes[k] = fi.Size()
	}

	failed := false
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf(format, args...)
		failed = true
	}
	for k, f := range []string{s.first, s.final} {
		if msg := qpdfCheck(ts, f); msg != "" {
			fail("%s", msg)
		}
		if msg := pdfcpuValidate(ts, f); msg != "" {
			fail("%s", msg)
		}
		// pdfsig lists every signature so far, each range ending where
		// its revision ends: the first at the first output's size.
		ranges, err := pdfsigRanges(ts, f)
		if err != nil {
			fail("%v", err)
			continue
		}
		var ends []int64
		for _, r := range ranges {
			if r[0] != 0 || r[1] >= r[2] {
				fail("%s: pdfsig byte range [%d - %d], [%d - %d] is not [0 a b c] with a gap", filepath.Base(f), r[0], r[1], r[2], r[3])
			}
			ends = append(ends, r[3])
		}
		sort.Slice(ends, func(a, b int) bool { return ends[a] < ends[b] })
		if want := s.sizes[:k+1]; fmt.Sprint(ends) != fmt.Sprint(want) {
			fail("%s: pdfsig lists %d signature(s) with ranges ending at %v, want ends at the revisions %v", filepath.Base(f), len(ranges), ends, want)
		}
		if k == 1 {
			s.ranges = ranges
		}

		code, rep, r := c.verify(f)
		if code != 0 || rep == nil || rep.Verdict != "VALID" {
			fail("eseal verify %s: want exit 0 and VALID:\n%s", filepath.Base(f), r)
			continue
		}
		if len(rep.Signatures) != k+1 {
			fail("eseal verify %s: %d signatures, want %d", filepath.Base(f), len(rep.Signatures), k+1)
		}
		for n, sig := range rep.Signatures {
			if sig.Verdict != "VALID" {
				fail("eseal verify %s: signature %d is %s: %s", filepath.Base(f), n+1, sig.Verdict, strings.Join(sig.Reasons, "; "))
			}
			if len(sig.ByteRange) == 4 && !hasRange(ranges, sig.ByteRange) {
				fail("eseal verify %s: signature %d byte range %v is not one pdfsig lists (%v)", filepath.Base(f), n+1, sig.ByteRange, ranges)
			}
		}
	}
	// The ses profile on the same input: the SES_Signature in /Contents.
	sesOut := filepath.Join(outDir, name+".ses.pdf")
	x, y := placement(i, 0)
	c.mustRun(t, "--dir", c.dir, "stamp", "--seal", seals[0], "--in", in, "--out", sesOut, "--page", "1", "--x", x, "--y", y, "--profile", "ses")
	if msg := qpdfCheck(ts, sesOut); msg != "" {
		fail("%s", msg)
	}
	if ranges, err := pdfsigRanges(ts, sesOut); err != nil || len(ranges) != 1 {
		fail("pdfsig %s: %v %v", filepath.Base(sesOut), ranges, err)
	}
	if code, rep, r := c.verify(sesOut); code != 0 || rep == nil || rep.Verdict != "VALID" {
		fail("eseal verify %s: want exit 0 and VALID:\n%s", filepath.Base(sesOut), r)
	}
	if failed {
		return nil
	}
	return s
}

// hasRange reports whether a /ByteRange [0 a b c] is among pdfsig's
// [start - end] pairs.
func hasRange(ranges [][4]int64, br []int64) bool {
	for _, r := range ranges {
		if r == [4]int64{br[0], br[0] + br[1], br[2], br[2] + br[3]} {
			return true
		}
	}
	return false
}

// flipBytes flips one byte at random positions inside signed ranges of the
// stamped files (seeded, so a failure repeats) and wants INVALID, exit 1,
// every time.
func flipBytes(t *testing.T, c cli, files []*stampedFile, dir string) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	type trial struct {
		n   int
		s   *stampedFile
		pos int64
		xor byte
	}
	rng := rand.New(rand.NewPCG(2, uint64(len(files))))
	trials := make([]trial, flipTrials)
	for n := range trials {
		s := files[rng.IntN(len(files))]
		r := s.ranges[rng.IntN(len(s.ranges))]
		l1, l2 := r[1]-r[0], r[3]-r[2]
		p := rng.Int64N(l1 + l2)
		pos := r[0] + p
		if p >= l1 {
			pos = r[2] + p - l1
		}
		trials[n] = trial{n, s, pos, byte(1 + rng.IntN(255))}
	}
	signed := map[string][]byte{}
	for _, s := range files {
		b, err := os.ReadFile(s.final)
		if err != nil {
			t.Fatal(err)
		}
		signed[s.final] = b
	}

	var mu sync.Mutex
	var valid, other []string
	forEach(trials, func(tr trial) {
		b := append([]byte(nil), signed[tr.s.final]...)
		b[tr.pos] ^= tr.xor
		path := filepath.Join(dir, fmt.Sprintf("flip-%03d.pdf", tr.n))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Error(err)
			return
		}
		code, rep, r := c.verify(path)
		what := fmt.Sprintf("%s byte %d %q→%q", tr.s.name, tr.pos, signed[tr.s.final][tr.pos], b[tr.pos])
		mu.Lock()
		defer mu.Unlock()
		switch {
		case code == 0:
			valid = append(valid, what)
		case code != 1 || rep == nil || rep.Verdict != "INVALID":
			other = append(other, fmt.Sprintf("%s: %s", what, r))
		default:
			os.Remove(path) // keep only the files that show a failure
		}
	})
	if len(valid) > 0 {
		t.Errorf("%d of %d flipped files still verify VALID (kept in %s):\n%s", len(valid), flipTrials, dir, strings.Join(valid, "\n"))
	}
	if len(other) > 0 {
		sort.Strings(other)
		t.Errorf("%d of %d flipped files are not reported INVALID with exit 1:\n%s", len(other), flipTrials, strings.Join(other[:min(len(other), 10)], "\n"))
	}
}

// forEach runs f on every item with corpusWorkers goroutines.
func forEach[T any](items []T, f func(T)) {
	ch := make(chan T)
	var wg sync.WaitGroup
	for range corpusWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range ch {
				f(it)
			}
		}()
	}
	for _, it := range items {
		ch <- it
	}
	close(ch)
	wg.Wait()
}
