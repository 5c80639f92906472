package api_test

import (
	"archive/zip"
	"bytes"
	"context"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"eseal/api"
	"eseal/archive/audit"
)

// TestConsoleInChromium is an archivist's morning in the console, in
// headless Chromium on a phone-sized window: sign in with the archivist
// key, search by case number, open the record (stating a purpose), place
// and release a legal hold, download the PDF, make a transfer package of
// the record and download it. Screenshots of each page are kept
// ($ESEAL_ARTIFACTS).
func TestConsoleInChromium(t *testing.T) {
	chrome := chromiumPath(t)
	e := newEnv(t)
	e.stampTitled(t, "准予行政许可决定书（其他）", "ZJ-UI-0")
	docID := e.stampTitled(t, "准予行政许可决定书", "ZJ-UI-1", "测试市某某科技有限公司")
	base := e.consoleServer(t)

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
	ctx, cancel = context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	art := artifactDir(t)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run("download folder", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: &yes,
		})
		return err
	}))
	// waitDownload waits for the next finished download and returns it.
	waitDownload := func(progress iter.Seq2[browser.EventDownloadProgress, error]) []byte {
		t.Helper()
		for ev, err := range progress {
			if err != nil {
				t.Fatalf("waiting for a download: %v", err)
			}
			if ev.State == browser.DownloadProgressStateCompleted {
				b, err := os.ReadFile(filepath.Join(downloads, ev.GUID))
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
		}
		t.Fatal("no download")
		return nil
	}

	// Without a session the console sends to sign-in.
	run("open the console", chromedp.Navigate(base+"/console/records/"+docID))
	if h1 := text(t, ctx, "h1"); !strings.Contains(h1, "登录") {
		t.Fatalf("without a session: %q", h1)
	}
	screenshot(t, ctx, filepath.Join(art, "console-sign-in.png"))
	run("sign in", chromedp.SendKeys(chromedp.CSS("#key"), e.key(api.RoleArchivist)), chromedp.Click(chromedp.CSS("#sign-in")),
		chromedp.WaitVisible(chromedp.CSS("#search")))

	// Search by case number: exactly the one record.
	run("search", chromedp.SendKeys(chromedp.CSS(`input[name="case_no"]`), "ZJ-UI-1"), chromedp.Click(chromedp.CSS("#search-button")),
		chromedp.WaitVisible(chromedp.CSS("#results")))
	if got := text(t, ctx, "#results"); !strings.Contains(got, "准予行政许可决定书") || strings.Contains(got, "其他") || !strings.Contains(got, "ZJ-UI-1") {
		t.Fatalf("search results: %q", got)
	}
	screenshot(t, ctx, filepath.Join(art, "console-search.png"))

	// Open it: the purpose first, then the record with its seal verified.
	run("open the record", chromedp.Click(chromedp.CSS("a.record")), chromedp.WaitVisible(chromedp.CSS("#purpose")))
	screenshot(t, ctx, filepath.Join(art, "console-purpose.png"))
	run("state a purpose", chromedp.SendKeys(chromedp.CSS("#purpose"), "答复申请人关于许可证的查询"), chromedp.Click(chromedp.CSS("#state-purpose")),
		chromedp.WaitVisible(chromedp.CSS("#trail")))
	if v := text(t, ctx, "#verdict"); !strings.Contains(v, "VALID") || strings.Contains(v, "INVALID") {
		t.Fatalf("record verdict %q", v)
	}
	if got := text(t, ctx, "#doc-id"); got != docID {
		t.Fatalf("record page shows %q", got)
	}
	if trail := text(t, ctx, "#trail"); !strings.Contains(trail, "record.viewed") || !strings.Contains(trail, "答复申请人关于许可证的查询") {
		t.Fatalf("trail %q", trail)
	}
	screenshot(t, ctx, filepath.Join(art, "console-record.png"))

	// Place the hold, then release it.
	run("place a hold", chromedp.SendKeys(chromedp.CSS("#hold-reason"), "行政复议审查"), chromedp.Click(chromedp.CSS("#hold-button")),
		chromedp.WaitVisible(chromedp.CSS("#holds")))
	if h := text(t, ctx, "#hold"); !strings.Contains(h, "ON HOLD") || !held(t, e, docID) {
		t.Fatalf("after placing the hold: %q", h)
	}
	screenshot(t, ctx, filepath.Join(art, "console-record-held.png"))
	run("release the hold", chromedp.SendKeys(chromedp.CSS("#hold-reason"), "复议结束"), chromedp.Click(chromedp.CSS("#hold-button")),
		chromedp.WaitNotPresent(chromedp.CSS(".held")))
	if h := text(t, ctx, "#hold"); strings.Contains(h, "ON HOLD") || held(t, e, docID) {
		t.Fatalf("after releasing the hold: %q", h)
	}

	// Download the PDF (its purpose is the one stated).
	progress := chromedp.Events(ctx, browser.DownloadProgress)
	run("download", chromedp.Click(chromedp.CSS("#download")))
	if pdf := waitDownload(progress); !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("downloaded %d bytes, not a PDF", len(pdf))
	}
	if en, ok := e.audited(string(audit.RecordDownloaded))[docID]; !ok || en.Details["purpose"] != "答复申请人关于许可证的查询" {
		t.Fatalf("download entry %+v", en)
	}

	// A transfer of that case, written in the background; its page
	// reloads itself until the package is there.
	run("transfers", chromedp.Navigate(base+"/console/transfers"), chromedp.WaitVisible(chromedp.CSS("#transfer-form")))
	run("create a transfer", chromedp.SendKeys(chromedp.CSS("#transfer-case-no"), "ZJ-UI-1"), chromedp.Click(chromedp.CSS("#create-transfer")),
		chromedp.WaitVisible(chromedp.CSS("#download-package")))
	if n := text(t, ctx, "#package-items"); n != "1" {
		t.Fatalf("package items %q", n)
	}
	screenshot(t, ctx, filepath.Join(art, "console-transfer.png"))
	progress = chromedp.Events(ctx, browser.DownloadProgress)
	run("download the package", chromedp.Click(chromedp.CSS("#download-package")))
	pkg := waitDownload(progress)
	zr, err := zip.NewReader(bytes.NewReader(pkg), int64(len(pkg)))
	if err != nil {
		t.Fatalf("the package is not a ZIP: %v", err)
	}
	if text := zipText(t, pkg); !strings.Contains(text, docID) || len(zr.File) < 5 {
		t.Fatalf("the package (%d files) does not hold the record", len(zr.File))
	}

	// A laptop sees the record page too.
	run("laptop", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/console/records/"+docID), chromedp.WaitVisible(chromedp.CSS("#trail")))
	screenshot(t, ctx, filepath.Join(art, "console-record-laptop.png"))
	run("sign out", chromedp.Click(chromedp.CSS("#sign-out")), chromedp.WaitVisible(chromedp.CSS("#key")))
}

// TestConsolePasskeyInChromium: an archivist signed in with their key
// registers a passkey (the DevTools virtual authenticator standing in for
// their phone), signs out, and signs in again with the passkey alone; once
// the key is revoked, the passkey opens nothing.
func TestConsolePasskeyInChromium(t *testing.T) {
	chrome := chromiumPath(t)
	e := newEnvOn(t, "localhost")
	base := e.consoleServer(t)
	_, secret, err := api.Keyring{Store: e.store, Registry: e.reg}.Create(context.Background(), api.KeySpec{Name: "王档案员", Role: api.RoleArchivist, By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := passkeyBrowser(t, chrome)
	art := artifactDir(t)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run("sign in with the key", chromedp.Navigate(base+"/console/sign-in"), chromedp.SendKeys(chromedp.CSS("#key"), secret),
		chromedp.Click(chromedp.CSS("#sign-in")), chromedp.WaitVisible(chromedp.CSS("#search")))
	run("passkey page", chromedp.Navigate(base+"/console/passkey"), chromedp.WaitVisible(chromedp.CSS("#register")))
	run("register", chromedp.Click(chromedp.CSS("#register")))
	if res := pageResult(t, ctx); !strings.Contains(res, "已登记") {
		t.Fatalf("registration: %q", res)
	}
	screenshot(t, ctx, filepath.Join(art, "console-passkey.png"))
	if _, ok := e.audited(string(api.KeyPasskeyRegistered))[keyID(t, e, secret)]; !ok {
		t.Error("the registration is not in the audit log")
	}
	run("sign out", chromedp.Navigate(base+"/console/"), chromedp.Click(chromedp.CSS("#sign-out")), chromedp.WaitVisible(chromedp.CSS("#passkey")))
	run("sign in with the passkey", chromedp.Click(chromedp.CSS("#passkey")), chromedp.WaitVisible(chromedp.CSS("#search")))
	if who := text(t, ctx, ".who"); !strings.Contains(who, "王档案员") {
		t.Fatalf("signed in as %q", who)
	}
	// Revoking the key ends the session and the passkey.
	if _, err := (api.Keyring{Store: e.store, Registry: e.reg}).Revoke(context.Background(), keyID(t, e, secret), "调离", "test"); err != nil {
		t.Fatal(err)
	}
	run("after the revocation", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.CSS("#passkey")))
	run("the passkey again", chromedp.Click(chromedp.CSS("#passkey")))
	if res := pageResult(t, ctx); !strings.Contains(res, "未登录") {
		t.Fatalf("passkey of a revoked key: %q", res)
	}
}
