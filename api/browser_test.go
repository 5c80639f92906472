package api_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's chromium, or skips (fails under ESEAL_REQUIRE_TOOLS=1).
func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("ESEAL_REQUIRE_TOOLS") == "1" {
		t.Fatal("chromium not found (scripts/deps.sh installs it)")
	}
	t.Skip("chromium not found")
	return ""
}

// artifactDir is where screenshots are kept: $ESEAL_ARTIFACTS, else a temp dir.
func artifactDir(t *testing.T) string {
	dir := os.Getenv("ESEAL_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCitizenPagesInChromium drives the download and verify pages in headless
// Chromium the way a citizen's phone would: the page loads, the verdict shows,
// the download button delivers the signed PDF.
func TestCitizenPagesInChromium(t *testing.T) {
	chrome := chromiumPath(t)
	e := newEnv(t)
	authz := e.grant(e.sealID, map[string]any{"case_no": "ZJ-WEB-1"})
	in := testPDF("网页下载测试")
	r := e.stamp(in, stampReq(e.sealID, authz, "ZJ-WEB-1"))
	if r.status != 201 {
		t.Fatalf("stamp: %d %s", r.status, r.body)
	}
	res := r.json(t)
	code, docID := res["retrieval_code"].(string), res["document_id"].(string)

	downloads := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(412, 915), // a phone
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	art := artifactDir(t)
	progress := chromedp.Events(ctx, browser.DownloadProgress)
	if err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: &yes,
			})
			return err
		}),
		chromedp.Navigate(e.url+"/d/"+code),
	); err != nil {
		t.Fatal(err)
	}
	verdict := text(t, ctx, ".verdict")
	if !strings.Contains(verdict, "VALID") || strings.Contains(verdict, "INVALID") {
		t.Fatalf("download page verdict %q", verdict)
	}
	if title := text(t, ctx, "h1"); !strings.Contains(title, "行政许可决定书") {
		t.Fatalf("download page title %q", title)
	}
	screenshot(t, ctx, filepath.Join(art, "download-page.png"))

	// Click the download button and wait for the file.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#download"))); err != nil {
		t.Fatal(err)
	}
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("waiting for the download: %v", err)
		}
		if ev.State != browser.DownloadProgressStateCompleted {
			continue
		}
		got, err := os.ReadFile(filepath.Join(downloads, ev.GUID))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(got, in) || len(got) <= len(in) {
			t.Fatalf("downloaded %d bytes, not the signed PDF", len(got))
		}
		break
	}

	// The verify page the QR code points at.
	if err := chromedp.Do(ctx, chromedp.Navigate(e.url+"/v/"+docID)); err != nil {
		t.Fatal(err)
	}
	if v := text(t, ctx, ".verdict"); !strings.Contains(v, "VALID") || strings.Contains(v, "INVALID") {
		t.Fatalf("verify page verdict %q", v)
	}
	screenshot(t, ctx, filepath.Join(art, "verify-page.png"))

	// A wrong code shows the same not-found page as an unknown one.
	if err := chromedp.Do(ctx, chromedp.Navigate(e.url+"/d/AAAA-BBBB-CCCC-DDDD-EEEE")); err != nil {
		t.Fatal(err)
	}
	if h1 := text(t, ctx, "h1"); !strings.Contains(h1, "取件码无效") {
		t.Fatalf("wrong code page: %q", h1)
	}
}

var yes = true

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func screenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
