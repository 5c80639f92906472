// Outside tools (qpdf, pdfcpu, pdfsig, Bouncy Castle), the eseal binary, eseal
// run in-process and hand-made PDF revisions, shared by the end-to-end tests
// of this package.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// requireToolsEnv, when set, turns a missing outside tool from a skip into a
// failure: `make test` sets it, so CI cannot pass by skipping.
const requireToolsEnv = "ESEAL_REQUIRE_TOOLS"

// toolsCacheDir is where scripts/deps.sh installs pdfcpu and minio.
func toolsCacheDir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "eseal", "bin")
}

// missingTool skips the test, or fails it under ESEAL_REQUIRE_TOOLS.
func missingTool(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(requireToolsEnv) != "" {
		t.Fatalf("%s (%s is set, so this is a failure; run scripts/deps.sh)", msg, requireToolsEnv)
	}
	t.Skipf("%s; run scripts/deps.sh (set %s=1 to fail instead of skipping)", msg, requireToolsEnv)
}

// tools maps a command name to its absolute path. Paths are resolved once
// here rather than through PATH, so tests never change the environment.
type tools map[string]string

// needTools finds each command in deps.sh's cache directory, then in PATH.
func needTools(t testing.TB, names ...string) tools {
	t.Helper()
	ts := tools{}
	var missing []string
	for _, name := range names {
		p := filepath.Join(toolsCacheDir(), name)
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			if p, err = exec.LookPath(name); err != nil {
				missing = append(missing, name)
				continue
			}
		}
		ts[name] = p
	}
	if len(missing) > 0 {
		missingTool(t, "outside tools not found: %s", strings.Join(missing, ", "))
	}
	return ts
}

// result is what one command did.
type result struct {
	stdout, stderr string
	code           int // exit status; -1 if it could not start
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, clip(r.stdout), clip(r.stderr))
}

// clip keeps failure messages readable when a tool prints a lot.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 2000 {
		return s[:2000] + " …"
	}
	return s
}

// runProcess runs a command to completion and reports its output and exit status.
func runProcess(name string, args ...string) result {
	cmd := exec.Command(name, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		r.code = -1
		r.stderr += err.Error()
	}
	return r
}

// buildEseal builds the eseal binary of this package into dir.
func buildEseal(t testing.TB, dir string) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go not in PATH: %v", err)
	}
	bin := filepath.Join(dir, "eseal")
	if r := runProcess(goCmd, "build", "-o", bin, "."); r.code != 0 {
		t.Fatalf("go build ./cmd/eseal failed; the CLI must build before the end-to-end tests can run:\n%s", r)
	}
	return bin
}

// esealCLI runs eseal in-process, as main does, and returns its output
// (standard output and error together) and exit status.
func esealCLI(args ...string) (string, int) {
	var out bytes.Buffer
	code := run(context.Background(), args, &out, &out)
	return out.String(), code
}

// cli runs the eseal binary against one data directory.
type cli struct {
	bin, dir string
}

// unknownCommand recognises cobra's answer to a command or flag it lacks.
var unknownCommand = regexp.MustCompile(`unknown (command|flag|shorthand flag)`)

// mustRun runs eseal and fails the test unless it exits 0. A command or flag
// the binary does not know yet is reported as a gap in the CLI contract of
// issue 2, not as a crash.
func (c cli) mustRun(t testing.TB, args ...string) string {
	t.Helper()
	r := runProcess(c.bin, args...)
	if r.code == 0 {
		return r.stdout
	}
	if unknownCommand.MatchString(r.stderr) {
		t.Fatalf("eseal %s: the CLI does not implement this part of the issue 2 contract yet:\n%s",
			strings.Join(args, " "), r)
	}
	t.Fatalf("eseal %s: %s", strings.Join(args, " "), r)
	return ""
}

// mustJSON runs eseal and decodes its standard output as JSON into v.
func (c cli) mustJSON(t testing.TB, v any, args ...string) {
	t.Helper()
	out := c.mustRun(t, args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("eseal %s: output is not the JSON of the contract: %v\n%s", strings.Join(args, " "), err, clip(out))
	}
}

// verifyReport is the part of `eseal verify --json` the contract fixes.
type verifyReport struct {
	Verdict    string   `json:"verdict"`
	Reasons    []string `json:"reasons"`
	Signatures []struct {
		Verdict   string   `json:"verdict"`
		Reasons   []string `json:"reasons"`
		ByteRange []int64  `json:"byte_range"`
		Changes   []string `json:"modified_after_signing"`
	} `json:"signatures"`
}

// allReasons joins every reason and reported change, for matching words.
func (r *verifyReport) allReasons() string {
	parts := append([]string(nil), r.Reasons...)
	for _, s := range r.Signatures {
		parts = append(parts, s.Reasons...)
		parts = append(parts, s.Changes...)
	}
	return strings.Join(parts, "; ")
}

// verify runs `eseal verify --json` and returns the exit status and report.
// The report is nil when the output was not JSON (exit 3, an error).
func (c cli) verify(file string) (int, *verifyReport, result) {
	r := runProcess(c.bin, "verify", "--dir", c.dir, "--json", file)
	var rep verifyReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		return r.code, nil, r
	}
	return r.code, &rep, r
}

// bcClasspath finds the Debian Bouncy Castle jars: bcprov and bcpkix, and
// bcutil, which bcpkix needs from 1.69 on.
func bcClasspath(t testing.TB) string {
	t.Helper()
	var jars []string
	for _, name := range []string{"bcprov", "bcpkix", "bcutil"} {
		found := ""
		for _, pat := range []string{"/usr/share/java/" + name + ".jar", "/usr/share/java/" + name + "-*.jar"} {
			if m, _ := filepath.Glob(pat); len(m) > 0 {
				sort.Strings(m)
				found = m[len(m)-1]
				break
			}
		}
		switch {
		case found != "":
			jars = append(jars, found)
		case name != "bcutil":
			missingTool(t, "Bouncy Castle %s.jar not found in /usr/share/java (Debian lib%s-java)", name, name)
		}
	}
	return strings.Join(jars, string(os.PathListSeparator))
}

// bouncyCastle compiles testdata/bc/VerifyPdfCms.java into dir and returns a
// function that runs it with the given arguments.
func bouncyCastle(t testing.TB, ts tools, dir string) func(args ...string) result {
	t.Helper()
	cp := bcClasspath(t)
	src, err := filepath.Abs(filepath.Join("testdata", "bc", "VerifyPdfCms.java"))
	if err != nil {
		t.Fatal(err)
	}
	if r := runProcess(ts["javac"], "-nowarn", "-cp", cp, "-d", dir, src); r.code != 0 {
		t.Fatalf("javac VerifyPdfCms.java against %s: %s", cp, r)
	}
	classpath := dir + string(os.PathListSeparator) + cp
	return func(args ...string) result {
		return runProcess(ts["java"], append([]string{"-cp", classpath, "VerifyPdfCms"}, args...)...)
	}
}

var (
	corpusOnce  sync.Once
	corpusDir   string
	corpusFiles []string
	corpusErr   string
)

// corpus runs testdata/corpus/build.sh once per test binary and returns the
// PDFs it made, sorted by name.
func corpus(t testing.TB, ts tools) []string {
	t.Helper()
	corpusOnce.Do(func() {
		dir, err := os.MkdirTemp("", "eseal-corpus-")
		if err != nil {
			corpusErr = err.Error()
			return
		}
		corpusDir = dir
		if r := runProcess(ts["bash"], filepath.Join("testdata", "corpus", "build.sh"), dir); r.code != 0 {
			corpusErr = "testdata/corpus/build.sh: " + r.String()
			return
		}
		corpusFiles, _ = filepath.Glob(filepath.Join(dir, "*.pdf"))
		sort.Strings(corpusFiles)
	})
	if corpusErr != "" {
		t.Fatal(corpusErr)
	}
	return corpusFiles
}

// pageCount asks qpdf how many pages a PDF has.
func pageCount(t testing.TB, ts tools, file string) int {
	t.Helper()
	r := runProcess(ts["qpdf"], "--show-npages", file)
	n, err := strconv.Atoi(strings.TrimSpace(r.stdout))
	if r.code != 0 || err != nil {
		t.Fatalf("qpdf --show-npages %s: %s", file, r)
	}
	return n
}

// qpdfCheck returns an empty string when `qpdf --check` passes without warnings.
func qpdfCheck(ts tools, file string) string {
	r := runProcess(ts["qpdf"], "--check", file)
	if r.code != 0 || strings.Contains(strings.ToUpper(r.stdout+r.stderr), "WARNING") {
		return "qpdf --check " + filepath.Base(file) + ": " + r.String()
	}
	return ""
}

// pdfcpuValidate returns an empty string when `pdfcpu validate` passes.
func pdfcpuValidate(ts tools, file string) string {
	r := runProcess(ts["pdfcpu"], "validate", "-c", "disable", file)
	if r.code != 0 {
		return "pdfcpu validate " + filepath.Base(file) + ": " + r.String()
	}
	return ""
}

var pdfsigRange = regexp.MustCompile(`Signed Ranges: \[(\d+) - (\d+)\], \[(\d+) - (\d+)\]`)

// pdfsigRanges runs pdfsig and returns, for each signature it lists, the
// byte range as [start1, end1, start2, end2] (end exclusive, as pdfsig
// prints it).
func pdfsigRanges(ts tools, file string) ([][4]int64, error) {
	r := runProcess(ts["pdfsig"], file)
	if r.code != 0 {
		return nil, fmt.Errorf("pdfsig %s: %s", filepath.Base(file), r)
	}
	listed := strings.Count(r.stdout, "\nSignature #")
	var ranges [][4]int64
	for _, m := range pdfsigRange.FindAllStringSubmatch(r.stdout, -1) {
		var br [4]int64
		for i := range br {
			br[i], _ = strconv.ParseInt(m[i+1], 10, 64)
		}
		ranges = append(ranges, br)
	}
	if len(ranges) != listed {
		return nil, fmt.Errorf("pdfsig %s lists %d signatures but %d byte ranges:\n%s", filepath.Base(file), listed, len(ranges), clip(r.stdout))
	}
	return ranges, nil
}

// isPrefix reports whether the file at a is a byte prefix of the file at b.
func isPrefix(a, b string) (bool, error) {
	x, err := os.ReadFile(a)
	if err != nil {
		return false, err
	}
	y, err := os.ReadFile(b)
	if err != nil {
		return false, err
	}
	return len(y) > len(x) && bytes.Equal(y[:len(x)], x), nil
}

var disablePDFCPUConfig sync.Once

// appendContentRevision appends to pdf one incremental update that changes
// what page 1 shows, the way a forger would after a signature: a new
// content stream painting a white box over the page, and the page object
// rewritten whole with that stream added to its /Contents. The update keeps
// the form of the last cross-reference section (table or stream). pdfcpu
// reads the page, so our own parser has no say in what the test writes.
func appendContentRevision(pdf []byte) ([]byte, error) {
	disablePDFCPUConfig.Do(api.DisableConfigDir)
	ctx, err := api.ReadContext(bytes.NewReader(pdf), model.NewDefaultConfiguration())
	if err != nil {
		return nil, fmt.Errorf("pdfcpu cannot read the file: %w", err)
	}
	if err := ctx.EnsurePageCount(); err != nil {
		return nil, err
	}
	page, pageRef, _, err := ctx.PageDict(1, false)
	if err != nil {
		return nil, fmt.Errorf("page 1: %w", err)
	}
	if ctx.Size == nil || ctx.Root == nil {
		return nil, errors.New("trailer without /Size or /Root")
	}
	prev, classic, err := lastXRef(pdf)
	if err != nil {
		return nil, err
	}

	newContents := *ctx.Size
	contents := types.Array{}
	if old, ok := page.Find("Contents"); ok {
		obj, err := ctx.Dereference(old)
		if err != nil {
			return nil, err
		}
		if arr, ok := obj.(types.Array); ok {
			contents = append(contents, arr...)
		} else {
			contents = append(contents, old)
		}
	}
	contents = append(contents, *types.NewIndirectRef(newContents, 0))
	rewritten := types.Dict{}
	for k, v := range page {
		rewritten[k] = v
	}
	rewritten["Contents"] = contents

	var b bytes.Buffer
	b.Write(pdf)
	if pdf[len(pdf)-1] != '\n' && pdf[len(pdf)-1] != '\r' {
		b.WriteByte('\n')
	}
	type entry struct{ num, gen, off int }
	var entries []entry
	cover := "q 1 1 1 rg -10000 -10000 20000 20000 re f Q\n"
	entries = append(entries, entry{newContents, 0, b.Len()})
	fmt.Fprintf(&b, "%d 0 obj\n<< /Length %d >>\nstream\n%sendstream\nendobj\n", newContents, len(cover), cover)
	pageNum, pageGen := pageRef.ObjectNumber.Value(), pageRef.GenerationNumber.Value()
	entries = append(entries, entry{pageNum, pageGen, b.Len()})
	fmt.Fprintf(&b, "%d %d obj\n%s\nendobj\n", pageNum, pageGen, rewritten.PDFString())

	trailer := fmt.Sprintf("/Root %s /Prev %d", ctx.Root.PDFString(), prev)
	if ctx.Info != nil {
		trailer += " /Info " + ctx.Info.PDFString()
	}
	if len(ctx.ID) > 0 {
		trailer += " /ID " + ctx.ID.PDFString()
	}

	if classic {
		sort.Slice(entries, func(i, j int) bool { return entries[i].num < entries[j].num })
		xref := b.Len()
		b.WriteString("xref\n0 1\n0000000000 65535 f \n")
		for _, e := range entries {
			fmt.Fprintf(&b, "%d 1\n%010d %05d n \n", e.num, e.off, e.gen)
		}
		fmt.Fprintf(&b, "trailer\n<< /Size %d %s >>\nstartxref\n%d\n%%%%EOF\n", newContents+1, trailer, xref)
		return b.Bytes(), nil
	}

	// A cross-reference stream, uncompressed, /W [1 4 2], listing itself.
	xrefNum, xref := newContents+1, b.Len()
	entries = append(entries, entry{xrefNum, 0, xref})
	sort.Slice(entries, func(i, j int) bool { return entries[i].num < entries[j].num })
	var index []string
	var rows []byte
	for _, e := range entries {
		index = append(index, fmt.Sprintf("%d 1", e.num))
		rows = append(rows, 1, byte(e.off>>24), byte(e.off>>16), byte(e.off>>8), byte(e.off), byte(e.gen>>8), byte(e.gen))
	}
	fmt.Fprintf(&b, "%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Index [%s] %s /Length %d >>\nstream\n",
		xrefNum, xrefNum+1, strings.Join(index, " "), trailer, len(rows))
	b.Write(rows)
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", xref)
	return b.Bytes(), nil
}

var startxrefRE = regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`)

// lastXRef returns the offset of the last cross-reference section and
// whether it is a classic table (else a stream).
func lastXRef(pdf []byte) (int, bool, error) {
	tail := pdf[max(0, len(pdf)-1024):]
	m := startxrefRE.FindSubmatch(tail)
	if m == nil {
		return 0, false, errors.New("no startxref at the end of the file")
	}
	off, err := strconv.Atoi(string(m[1]))
	if err != nil || off <= 0 || off >= len(pdf) {
		return 0, false, fmt.Errorf("startxref %s out of range", m[1])
	}
	rest := bytes.TrimLeft(pdf[off:], " \t\r\n\f\x00")
	return off, bytes.HasPrefix(rest, []byte("xref")), nil
}
