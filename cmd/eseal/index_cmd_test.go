package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"eseal/pdf/pdftest"
)

// TestServeSearchIndex runs the search index as serve wires it: a replica
// finds its own stampings at once; a second replica on the same store, with
// its own index file, builds it at start and finds the first's later
// stampings; `eseal index rebuild` reports progress; a deleted index file is
// rebuilt when serve starts again, with the same answers.
func TestServeSearchIndex(t *testing.T) {
	env := childEnv("ESEAL_MASTER_KEY=" + newMasterKey(t))
	dir := t.TempDir()
	dataA, dataB := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	org := esealInit(t, env, "--dir", dataA)
	a := startServe(t, env, "--dir", dataA, "--node", "replica-a")
	c := newRESTClient(org)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	applicants := []string{"杭州某某科技有限公司", "宁波某某建设集团有限公司", "温州某某信息科技有限公司", "绍兴某某纺织有限公司"}
	stampOn := func(base string, i int) string {
		t.Helper()
		caseNo := fmt.Sprintf("ZJ-2026-S%04d", i)
		authz, r, err := c.grant(ctx, base, org.SealID, caseNo)
		if authz == "" {
			t.Fatalf("grant: %v %s", err, r)
		}
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("file", "decision.pdf")
		fw.Write(pdftest.Document(pdftest.Options{Title: "准予行政许可决定书"}))
		rw, _ := mw.CreateFormField("request")
		json.NewEncoder(rw).Encode(map[string]any{
			"seal_id": org.SealID, "authorization_id": authz,
			"placement": map[string]any{"page": 1, "x_mm": 120, "y_mm": 180},
			"record": map[string]any{"title": "准予行政许可决定书", "item_code": "330000-XK-001", "case_no": caseNo,
				"applicant": applicants[i%len(applicants)], "retention": "10y"},
		})
		mw.Close()
		r, err = c.do(ctx, "POST", base+"/v1/stamps", mw.FormDataContentType(), buf.Bytes())
		if err != nil || r.status != 201 {
			t.Fatalf("stamp: %v %s", err, r)
		}
		var st stamped
		if err := json.Unmarshal(r.body, &st); err != nil {
			t.Fatal(err)
		}
		return st.DocumentID
	}
	search := func(base string, params url.Values) []string {
		t.Helper()
		r, err := c.do(ctx, "GET", base+"/v1/documents?"+params.Encode(), "", nil)
		if err != nil || r.status != 200 {
			t.Fatalf("search %s: %v %s", params.Encode(), err, r)
		}
		var page struct {
			Documents []struct {
				DocumentID string `json:"document_id"`
			} `json:"documents"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		ids := []string{}
		for _, d := range page.Documents {
			ids = append(ids, d.DocumentID)
		}
		return ids
	}
	var docs []string
	for i := range 4 {
		docs = append(docs, stampOn(a.url, i))
	}
	// Newest first; a replica finds its own stampings without waiting.
	newestFirst := slices.Clone(docs)
	slices.Reverse(newestFirst)
	keji := url.Values{"q": {"科技"}}
	if got := search(a.url, url.Values{}); !slices.Equal(got, newestFirst) {
		t.Fatalf("replica a, all: %v, want %v", got, newestFirst)
	}
	if got, want := search(a.url, keji), []string{docs[2], docs[0]}; !slices.Equal(got, want) {
		t.Fatalf("replica a, q=科技: %v, want %v", got, want)
	}

	// Replica b: the same store, its own data directory and index.
	b := startServe(t, env, "--dir", dataB, "--store", filepath.Join(dataA, "store"), "--node", "replica-b")
	if !strings.Contains(b.out.String(), "search index rebuilt: 4 records") {
		t.Errorf("replica b's start did not say it rebuilt its index:\n%s", clip(b.out.String()))
	}
	if _, err := os.Stat(filepath.Join(dataB, "index.db")); err != nil {
		t.Fatalf("replica b's index: %v", err)
	}
	docs = append(docs, stampOn(a.url, 4), stampOn(a.url, 5))
	newestFirst = slices.Clone(docs)
	slices.Reverse(newestFirst)
	if got := search(b.url, url.Values{}); !slices.Equal(got, newestFirst) {
		t.Fatalf("replica b after a's stampings: %v, want %v", got, newestFirst)
	}
	if got, want := search(b.url, keji), []string{docs[4], docs[2], docs[0]}; !slices.Equal(got, want) {
		t.Fatalf("replica b, q=科技: %v, want %v", got, want)
	}
	if !b.stop() || !a.stop() {
		t.Fatalf("serve did not stop cleanly:\n%s\n%s", clip(a.out.String()), clip(b.out.String()))
	}

	// eseal index rebuild: progress on stderr, the count on stdout.
	cmd := exec.Command(esealBinary(t), "index", "rebuild", "--dir", dataA)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("eseal index rebuild: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if want := filepath.Join(dataA, "index.db") + ": 6 records"; strings.TrimSpace(stdout.String()) != want {
		t.Errorf("eseal index rebuild said %q, want %q", stdout.String(), want)
	}
	if !strings.Contains(stderr.String(), "indexed 6/6 records") || !strings.Contains(stderr.String(), "search index rebuilt: 6 records") {
		t.Errorf("eseal index rebuild's progress:\n%s", stderr.String())
	}

	// Lose the index: serve rebuilds it at start, and answers the same.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(filepath.Join(dataA, "index.db") + suffix); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	a2 := startServe(t, env, "--dir", dataA, "--node", "replica-a")
	if got := search(a2.url, url.Values{}); !slices.Equal(got, newestFirst) {
		t.Fatalf("replica a restarted without its index: %v, want %v", got, newestFirst)
	}
	if got, want := search(a2.url, keji), []string{docs[4], docs[2], docs[0]}; !slices.Equal(got, want) {
		t.Fatalf("replica a restarted, q=科技: %v, want %v", got, want)
	}

	// An index path that cannot be a file is a clear error, exit 1.
	cmd = exec.Command(esealBinary(t), "index", "rebuild", "--dir", dataA, "--index", dataA)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 || !strings.Contains(string(out), "search index") {
		t.Errorf("index rebuild onto a directory: exit %d, %s", code, out)
	}
}
