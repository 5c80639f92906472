//go:build linux

// Helpers of the system tests (system_test.go): the eseal binary built once,
// `eseal serve` run as a child process on loopback and stopped by its
// process id, a small REST client, and a reader of the object store that
// checks the commit protocol's invariants from the outside.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/s3/miniotest"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// TestMain removes the binary the system tests built and stops the MinIO
// server they share.
func TestMain(m *testing.M) {
	code := m.Run()
	miniotest.StopShared()
	if systemBin.dir != "" {
		os.RemoveAll(systemBin.dir)
	}
	if cliBench.tmp != "" {
		os.RemoveAll(cliBench.tmp) // the binary, data directory and input of BenchmarkCLIStamp
	}
	os.Exit(code)
}

var systemBin struct {
	once      sync.Once
	dir, path string
	err       error
}

// esealBinary builds the eseal binary once per test binary.
func esealBinary(t *testing.T) string {
	t.Helper()
	systemBin.once.Do(func() {
		systemBin.dir, systemBin.err = os.MkdirTemp("", "eseal-system-")
		if systemBin.err != nil {
			return
		}
		systemBin.path = filepath.Join(systemBin.dir, "eseal")
		out, err := exec.Command("go", "build", "-o", systemBin.path, ".").CombinedOutput()
		if err != nil {
			systemBin.err = fmt.Errorf("go build ./cmd/eseal: %v\n%s", err, out)
		}
	})
	if systemBin.err != nil {
		t.Fatal(systemBin.err)
	}
	return systemBin.path
}

// childEnv is the test's environment without ESEAL_* and AWS_* variables (so
// a developer's settings cannot leak in), plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ESEAL_") && !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// syncBuffer collects a child's output; the first "eseal listening on URL"
// line is sent on listening.
type syncBuffer struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	partial   []byte
	listening chan string
}

var listeningLine = regexp.MustCompile(`^eseal listening on (https?://\S+)`)

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			break
		}
		if m := listeningLine.FindSubmatch(b.partial[:i]); m != nil {
			select {
			case b.listening <- string(m[1]):
			default:
			}
		}
		b.partial = b.partial[i+1:]
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// esealProc is one `eseal serve` child process.
type esealProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	pid    int
	out    *syncBuffer
	url    string // http://127.0.0.1:PORT once listening
	exited chan struct{}
	state  *os.ProcessState
}

// spawnServe starts `eseal serve ARGS --addr 127.0.0.1:0` without waiting:
// the kernel picks a free port, which the child prints when it listens.
// The child gets SIGKILL if the test process dies.
func spawnServe(t *testing.T, env []string, args ...string) *esealProc {
	t.Helper()
	out := &syncBuffer{listening: make(chan string, 1)}
	cmd := exec.Command(esealBinary(t), append(append([]string{"serve"}, args...), "--addr", "127.0.0.1:0")...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting eseal serve: %v", err)
	}
	p := &esealProc{t: t, cmd: cmd, pid: cmd.Process.Pid, out: out, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		p.state = cmd.ProcessState
		close(p.exited)
	}()
	t.Cleanup(func() { p.stop() })
	return p
}

// startServe starts `eseal serve` and waits until it listens (its recovery
// sweep has then run).
func startServe(t *testing.T, env []string, args ...string) *esealProc {
	t.Helper()
	p := spawnServe(t, env, args...)
	select {
	case p.url = <-p.out.listening:
		return p
	case <-p.exited:
		t.Fatalf("eseal serve (pid %d) exited during start-up: %v\n%s", p.pid, p.state, clip(p.out.String()))
	case <-time.After(60 * time.Second):
		p.kill()
		t.Fatalf("eseal serve (pid %d) not listening after 60s:\n%s", p.pid, clip(p.out.String()))
	}
	return nil
}

// kill sends SIGKILL to the process id, reaps it and checks it is gone.
func (p *esealProc) kill() {
	p.t.Helper()
	select {
	case <-p.exited:
	default:
		if err := syscall.Kill(p.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			p.t.Errorf("kill -KILL %d: %v", p.pid, err)
		}
		<-p.exited
	}
	p.checkGone()
}

// stop asks the process to shut down (SIGTERM), then kills it after ten
// seconds, and checks it is gone. It returns whether it exited by itself
// with status 0.
func (p *esealProc) stop() bool {
	p.t.Helper()
	select {
	case <-p.exited:
	default:
		syscall.Kill(p.pid, syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			p.kill()
			return false
		}
	}
	p.checkGone()
	return p.state != nil && p.state.Success()
}

// checkGone verifies that no process has the child's id any more.
func (p *esealProc) checkGone() {
	p.t.Helper()
	if err := syscall.Kill(p.pid, 0); !errors.Is(err, syscall.ESRCH) {
		p.t.Errorf("eseal pid %d still exists after it was reaped (kill -0: %v)", p.pid, err)
	}
}

// sweepLine is the log line of the start-up recovery sweep.
type sweepLine struct {
	Msg       string `json:"msg"`
	Completed int    `json:"completed"`
	Discarded int    `json:"discarded"`
}

// recoverySweep returns what the child's start-up recovery sweep reported.
func (p *esealProc) recoverySweep() (sweepLine, bool) {
	for _, line := range strings.Split(p.out.String(), "\n") {
		var s sweepLine
		if json.Unmarshal([]byte(line), &s) == nil && s.Msg == "recovery sweep" {
			return s, true
		}
	}
	return sweepLine{}, false
}

// esealInit runs `eseal init --json ARGS` and decodes its answer.
func esealInit(t *testing.T, env []string, args ...string) initResult {
	t.Helper()
	cmd := exec.Command(esealBinary(t), append([]string{"init", "--json"}, args...)...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("eseal init %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	var res initResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res.AdminKey == "" || res.StamperKey == "" || res.AuthorizerKey == "" || res.SealID == "" {
		t.Fatalf("eseal init --json: %v\n%s", err, stdout.String())
	}
	// These tests stamp under authorizer grants: with a master key there is
	// no demo person, so the demo seal takes its authorizer key's grants.
	if res.PersonID == "" {
		cmd := exec.Command(esealBinary(t), append([]string{"seal", "policy", res.SealID, "key"}, args...)...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("eseal seal policy: %v\n%s", err, out)
		}
	}
	return res
}

// reply is one HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// problem returns the problem type of a problem+json answer, or "".
func (r reply) problem() string {
	var p struct {
		Type string `json:"type"`
	}
	if r.header.Get("Content-Type") != "application/problem+json" || json.Unmarshal(r.body, &p) != nil {
		return ""
	}
	return p.Type
}

func (r reply) String() string { return fmt.Sprintf("%d %s", r.status, clip(string(r.body))) }

// restClient talks to eseal over REST as the approval system of init's demo
// seal: its authorizer key grants, its stamper key does everything else.
type restClient struct {
	hc                  *http.Client
	stamper, authorizer string
}

func newRESTClient(org initResult) *restClient {
	return &restClient{hc: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}},
		stamper: org.StamperKey, authorizer: org.AuthorizerKey}
}

func (c *restClient) do(ctx context.Context, method, url, contentType string, body []byte, hdr ...string) (reply, error) {
	return c.doAs(ctx, c.stamper, method, url, contentType, body, hdr...)
}

func (c *restClient) doAs(ctx context.Context, key, method, url, contentType string, body []byte, hdr ...string) (reply, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{resp.StatusCode, resp.Header, b}, nil
}

// grant asks for a one-use authorization scoped to caseNo.
func (c *restClient) grant(ctx context.Context, base, sealID, caseNo string) (string, reply, error) {
	body, _ := json.Marshal(map[string]any{"case_no": caseNo, "expires_in": "2h", "max_uses": 1})
	r, err := c.doAs(ctx, c.authorizer, "POST", base+"/v1/seals/"+sealID+"/authorizations", "application/json", body)
	if err != nil || r.status != http.StatusCreated {
		return "", r, err
	}
	var a struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(r.body, &a); err != nil || a.ID == "" {
		return "", r, fmt.Errorf("grant answer without id: %s", r)
	}
	return a.ID, r, nil
}

// stampJob is one stamp request: the PDF and the request part.
type stampJob struct {
	authz, caseNo string
	pdf           []byte
	idemKey       string // Idempotency-Key header, if any
}

// newStampJob makes a distinct small PDF for the i-th stamping.
func newStampJob(authz, caseNo string, i int) stampJob {
	return stampJob{authz: authz, caseNo: caseNo, pdf: pdftest.Document(pdftest.Options{Title: fmt.Sprintf("准予行政许可决定书%d", i)})}
}

func (j stampJob) multipart(sealID string) (string, []byte) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "decision.pdf")
	fw.Write(j.pdf)
	rw, _ := mw.CreateFormField("request")
	json.NewEncoder(rw).Encode(map[string]any{
		"seal_id": sealID, "authorization_id": j.authz,
		"placement": map[string]any{"page": 1, "x_mm": 120, "y_mm": 180},
		"record": map[string]any{"title": "准予行政许可决定书", "item_code": "330000-XK-001", "case_no": j.caseNo,
			"applicant": "某某科技有限公司", "retention": "10y"},
	})
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// stamped is the part of a 201 answer the tests use.
type stamped struct {
	DocumentID    string `json:"document_id"`
	RetrievalCode string `json:"retrieval_code"`
	Replayed      bool   `json:"replayed"`
}

// stamp sends one stamp request; st is set for a 201.
func (c *restClient) stamp(ctx context.Context, base, sealID string, j stampJob) (st stamped, r reply, err error) {
	ct, body := j.multipart(sealID)
	var hdr []string
	if j.idemKey != "" {
		hdr = []string{"Idempotency-Key", j.idemKey}
	}
	r, err = c.do(ctx, "POST", base+"/v1/stamps", ct, body, hdr...)
	if err == nil && r.status == http.StatusCreated {
		if jerr := json.Unmarshal(r.body, &st); jerr != nil || st.DocumentID == "" {
			err = fmt.Errorf("201 without a document id: %s", r)
		}
	}
	return st, r, err
}

// verdict posts a PDF to /v1/verify and returns the verdict.
func (c *restClient) verdict(ctx context.Context, base string, pdf []byte) (string, error) {
	r, err := c.do(ctx, "POST", base+"/v1/verify", "application/pdf", pdf)
	if err != nil {
		return "", err
	}
	var v struct {
		Verdict    string            `json:"verdict"`
		Signatures []json.RawMessage `json:"signatures"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &v) != nil {
		return "", fmt.Errorf("POST /v1/verify: %s", r)
	}
	if len(v.Signatures) != 1 {
		return v.Verdict, fmt.Errorf("POST /v1/verify: %d signatures, want 1", len(v.Signatures))
	}
	return v.Verdict, nil
}

// storeState is what the object store holds, read from the outside.
type storeState struct {
	// uses maps each consumed authorization to its use markers, but those
	// given back (a release beside them).
	uses map[string][]seal.AuthorizationUse
	// docs maps each document id under docs/ to the names of its objects.
	docs map[string]map[string]bool
	// pending maps document ids to their pending/ markers.
	pending map[string]bool
	// codes maps codes/<hash>.json keys to the document they open.
	codes map[string]string
}

// committedDocs maps each document named by a use marker not given back to
// its authorization.
func (s *storeState) committedDocs() map[string]string {
	m := map[string]string{}
	for az, us := range s.uses {
		for _, u := range us {
			m[u.DocumentID] = az
		}
	}
	return m
}

var (
	useKeyRE  = regexp.MustCompile(`^authz/(az-[a-z2-7]{16})/use/\d{4}\.json$`)
	releaseRE = regexp.MustCompile(`^authz/(az-[a-z2-7]{16})/release/(\d{4}\.json)$`)
	docKeyRE  = regexp.MustCompile(`^docs/(doc-[a-z2-7]{16})/(.+)$`)
	pendKeyRE = regexp.MustCompile(`^pending/(doc-[a-z2-7]{16})\.(json|stage)$`)
)

// readStore lists authz/, docs/, pending/ and codes/ and reads the use
// markers not given back and the code entries.
func readStore(ctx context.Context, t *testing.T, st archive.Store) *storeState {
	t.Helper()
	s := &storeState{uses: map[string][]seal.AuthorizationUse{}, docs: map[string]map[string]bool{}, pending: map[string]bool{}, codes: map[string]string{}}
	var useKeys, codeKeys []string
	must := func(err error) {
		if err != nil {
			t.Fatalf("reading the store: %v", err)
		}
	}
	released := map[string]bool{}
	must(st.List(ctx, "authz/", func(o archive.ObjectInfo) error {
		if m := releaseRE.FindStringSubmatch(o.Key); m != nil {
			released["authz/"+m[1]+"/use/"+m[2]] = true // listed before the markers: release/ < use/
		}
		if useKeyRE.MatchString(o.Key) && !released[o.Key] {
			useKeys = append(useKeys, o.Key)
		}
		return nil
	}))
	for _, k := range useKeys {
		var u seal.AuthorizationUse
		must(getStoreJSON(ctx, st, k, &u))
		az := useKeyRE.FindStringSubmatch(k)[1]
		s.uses[az] = append(s.uses[az], u)
	}
	must(st.List(ctx, "docs/", func(o archive.ObjectInfo) error {
		m := docKeyRE.FindStringSubmatch(o.Key)
		if m == nil {
			return fmt.Errorf("unexpected key %s", o.Key)
		}
		if s.docs[m[1]] == nil {
			s.docs[m[1]] = map[string]bool{}
		}
		s.docs[m[1]][m[2]] = true
		return nil
	}))
	must(st.List(ctx, "pending/", func(o archive.ObjectInfo) error {
		m := pendKeyRE.FindStringSubmatch(o.Key)
		if m == nil {
			return fmt.Errorf("unexpected key %s", o.Key)
		}
		s.pending[m[1]] = true
		return nil
	}))
	must(st.List(ctx, "codes/", func(o archive.ObjectInfo) error {
		codeKeys = append(codeKeys, o.Key)
		return nil
	}))
	for _, k := range codeKeys {
		var ce struct {
			DocumentID string `json:"document_id"`
		}
		must(getStoreJSON(ctx, st, k, &ce))
		s.codes[k] = ce.DocumentID
	}
	return s
}

func getStoreJSON(ctx context.Context, st archive.Store, key string, v any) error {
	b, _, err := archive.GetBytes(ctx, st, key)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// forEachBounded runs f(i) for i in [0, n) with at most limit at once.
func forEachBounded(n, limit int, f func(i int)) {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			f(i)
		}()
	}
	wg.Wait()
}

// firstLines keeps a failure message short when many items fail alike.
type firstLines struct {
	mu    sync.Mutex
	lines []string
	n     int
}

func (f *firstLines) add(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if len(f.lines) < 10 {
		f.lines = append(f.lines, fmt.Sprintf(format, args...))
	}
}

func (f *firstLines) report(t *testing.T, what string) {
	t.Helper()
	if f.n > 0 {
		t.Errorf("%s: %d failure(s), the first:\n  %s", what, f.n, strings.Join(f.lines, "\n  "))
	}
}

// pendingEntry is what the system tests read of a pending stamping.
type pendingEntry struct {
	AuthorizationID string `json:"authorization_id"`
}

// pendingEntryOf reads the pending entry of a stamping: from its staging
// object's header line (docs/formats.md), or from a pending marker of the
// earlier layout.
func pendingEntryOf(ctx context.Context, st archive.Store, doc string) (pendingEntry, error) {
	var pe pendingEntry
	rc, _, err := st.Get(ctx, "pending/"+doc+".stage")
	if errors.Is(err, archive.ErrNotFound) {
		return pe, getStoreJSON(ctx, st, "pending/"+doc+".json", &pe)
	}
	if err != nil {
		return pe, err
	}
	defer rc.Close()
	br := bufio.NewReader(rc)
	magic, err := br.ReadString('\n')
	if err != nil || magic != "eseal staging 1\n" {
		return pe, fmt.Errorf("pending/%s.stage: not a staging object (%q, %v)", doc, magic, err)
	}
	line, err := br.ReadBytes('\n')
	if err != nil {
		return pe, fmt.Errorf("pending/%s.stage: header: %w", doc, err)
	}
	var h struct {
		Entry pendingEntry `json:"entry"`
	}
	if err := json.Unmarshal(line, &h); err != nil {
		return pe, fmt.Errorf("pending/%s.stage: header: %w", doc, err)
	}
	return h.Entry, nil
}
