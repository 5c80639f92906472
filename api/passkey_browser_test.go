package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"eseal/api"
	"eseal/seal"
)

// TestPasskeyFlowInChromium is the passkey method end to end, in headless
// Chromium with the DevTools virtual authenticator standing in for a phone:
// the administrator enrols a person for a passkey, the person registers it on
// the enrolment page, the approval system asks, the person approves on the
// approval page, and the stamping under the grant succeeds with a record
// that names the person and the method. The server is opened as
// http://localhost, a secure context, so the RP id is "localhost".
func TestPasskeyFlowInChromium(t *testing.T) {
	chrome := chromiumPath(t)
	e := newEnvOn(t, "localhost")
	sealID, m := e.passkeySeal()
	personID, enrolURL := m["id"].(string), m["enrolment_url"].(string)
	if m["state"] != seal.PersonEnrolling || m["method"] != "passkey" || !strings.HasPrefix(enrolURL, e.url+"/enrol/") {
		t.Fatalf("enrolment answer %v", m)
	}
	// Nobody can approve yet: the only person has not registered a passkey.
	r := e.postJSON("/v1/authorization-requests", e.key(api.RoleStamper, sealID), map[string]any{"seal_id": sealID, "case_no": "ZJ-PK-0", "title": "x"})
	if r.status != 409 || problemType(t, r) != "/problems/no-responsible-person" {
		t.Fatalf("request before the passkey is registered: %d %s", r.status, r.body)
	}

	ctx := passkeyBrowser(t, chrome)
	art := artifactDir(t)

	// Enrolment, on the person's phone.
	if err := chromedp.Do(ctx, chromedp.Navigate(enrolURL)); err != nil {
		t.Fatal(err)
	}
	if got := text(t, ctx, "#person"); got != "李四" {
		t.Fatalf("enrolment page names %q", got)
	}
	screenshot(t, ctx, filepath.Join(art, "passkey-enrol-page.png"))
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#register"))); err != nil {
		t.Fatal(err)
	}
	if res := pageResult(t, ctx); !strings.Contains(res, "已登记") {
		t.Fatalf("enrolment: %q", res)
	}
	if p := e.do("GET", "/v1/persons/"+personID, e.admin, "", nil).json(t); p["state"] != seal.PersonActive {
		t.Fatalf("person after registration: %v", p)
	}
	// The link works once.
	if err := chromedp.Do(ctx, chromedp.Navigate(enrolURL)); err != nil {
		t.Fatal(err)
	}
	if got := text(t, ctx, "#result"); !strings.Contains(got, "used already") {
		t.Fatalf("enrolment page opened again: %q", got)
	}

	// The approval system asks; the person approves on approve_url.
	stamper := e.key(api.RoleStamper, sealID)
	// The request carries the document, so the page shows its first page.
	doc := testPDF("食品经营许可证")
	ct, body := stampBody(t, doc, map[string]any{"seal_id": sealID, "case_no": "ZJ-PK-1", "title": "食品经营许可证", "expires_in": "10m"})
	r = e.do("POST", "/v1/authorization-requests", stamper, ct, bytes.NewReader(body))
	if r.status != 201 {
		t.Fatalf("request: %d %s", r.status, r.body)
	}
	m = r.json(t)
	reqID, approveURL := m["id"].(string), m["approve_url"].(string)
	if approveURL != e.url+"/approve/"+reqID || fmt.Sprint(m["methods"]) != "[passkey]" {
		t.Fatalf("approve_url %q, methods %v", approveURL, m["methods"])
	}
	challenge, _ := base64.StdEncoding.DecodeString(m["challenge"].(string))
	g, err := seal.ParseGrant(challenge)
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(approveURL)); err != nil {
		t.Fatal(err)
	}
	for sel, want := range map[string]string{"#seal": "测试市市场监督管理局", "#case": "ZJ-PK-1", "#title": "食品经营许可证", "#status": "pending"} {
		if got := text(t, ctx, sel); got != want {
			t.Fatalf("approval page %s: %q, want %q", sel, got, want)
		}
	}
	// The first page is drawn: its image loaded, and it is as wide as the page.
	if w, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(() => { const i = document.querySelector('#document img'); return i && i.complete ? i.naturalWidth : 0; })()`)); err != nil || w < 500 {
		t.Fatalf("the first page's preview on the approval page: width %v, %v", w, err)
	}
	screenshot(t, ctx, filepath.Join(art, "passkey-approve-page.png"))
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#approve"))); err != nil {
		t.Fatal(err)
	}
	if res := pageResult(t, ctx); !strings.Contains(res, "已批准") || !strings.Contains(res, g.AuthorizationID) {
		t.Fatalf("approval: %q", res)
	}
	screenshot(t, ctx, filepath.Join(art, "passkey-approved.png"))
	st := e.do("GET", "/v1/authorization-requests/"+reqID, stamper, "", nil).json(t)
	if st["status"] != "approved" || st["authorization_id"] != g.AuthorizationID {
		t.Fatalf("request after approval: %v", st)
	}
	if en, ok := e.audited("authorization.approved")[g.AuthorizationID]; !ok || en.Actor != personID || en.Details["method"] != "passkey" {
		t.Fatalf("the approval's audit entry: %+v", en)
	}

	// Stamping under the grant; the record names the person and the method.
	r = e.stampAs(stamper, doc, stampReq(sealID, g.AuthorizationID, "ZJ-PK-1"))
	if r.status != 201 {
		t.Fatalf("stamp: %d %s", r.status, r.body)
	}
	rec := e.do("GET", "/v1/documents/"+r.json(t)["document_id"].(string), stamper, "", nil).json(t)
	az := rec["authorization"].(map[string]any)
	if az["method"] != "passkey" || az["person_id"] != personID || az["person_name"] != "李四" || az["id"] != g.AuthorizationID {
		t.Fatalf("the record's authorization: %v", az)
	}

	// The evidence: the exact grant bytes, the raw assertion and the
	// credential, checkable without eseal.
	ev := e.do("GET", "/v1/authorizations/"+g.AuthorizationID+"/evidence", stamper, "", nil).json(t)
	var parts [5][]byte
	for i, k := range []string{"grant", "authenticator_data", "client_data_json", "signature", "credential_public_key"} {
		s, _ := ev[k].(string)
		if parts[i], err = base64.StdEncoding.DecodeString(s); err != nil || len(parts[i]) == 0 {
			t.Fatalf("evidence %s: %q", k, s)
		}
	}
	if ev["method"] != "passkey" || ev["person_id"] != personID || string(parts[0]) != string(challenge) {
		t.Fatalf("evidence %v", ev)
	}
	if err := seal.VerifyPasskeyEvidence(parts[0], parts[1], parts[2], parts[3], parts[4]); err != nil {
		t.Fatalf("the evidence does not verify offline: %v", err)
	}
	if !strings.Contains(string(parts[2]), `"origin":"`+e.url+`"`) {
		t.Fatalf("client data %s", parts[2])
	}

	// A second request, refused on the page with a reason.
	r = e.postJSON("/v1/authorization-requests", stamper, map[string]any{"seal_id": sealID, "case_no": "ZJ-PK-2", "title": "食品经营许可证"})
	if r.status != 201 {
		t.Fatalf("request: %d %s", r.status, r.body)
	}
	m = r.json(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(m["approve_url"].(string)), chromedp.SendKeys(chromedp.CSS("#reason"), "材料不全"),
		chromedp.Click(chromedp.CSS("#refuse"))); err != nil {
		t.Fatal(err)
	}
	if res := pageResult(t, ctx); !strings.Contains(res, "已拒绝") {
		t.Fatalf("refusal: %q", res)
	}
	st = e.do("GET", "/v1/authorization-requests/"+m["id"].(string), stamper, "", nil).json(t)
	if d, _ := st["decision"].(map[string]any); st["status"] != "refused" || d["reason"] != "材料不全" || d["method"] != "passkey" {
		t.Fatalf("request after refusal: %v", st)
	}
}

// passkeySeal creates a seal and enrols 李四 for a passkey: the seal's id
// and the enrolment answer.
func (e *env) passkeySeal() (string, map[string]any) {
	t := e.t.(*testing.T)
	r := e.postJSON("/v1/seals", e.admin, map[string]any{"name": "测试市市场监督管理局"})
	if r.status != 201 {
		t.Fatalf("create seal: %d %s", r.status, r.body)
	}
	sealID := r.json(t)["id"].(string)
	r = e.postJSON("/v1/seals/"+sealID+"/persons", e.admin, map[string]any{"name": "李四", "passkey": true})
	if r.status != 201 {
		t.Fatalf("enrol for a passkey: %d %s", r.status, r.body)
	}
	return sealID, r.json(t)
}

// passkeyBrowser starts headless Chromium as a phone with a virtual
// platform authenticator (resident keys, user verification that succeeds).
func passkeyBrowser(t *testing.T, chrome string) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(412, 915),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 120*time.Second)
	t.Cleanup(cancel)
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		}})
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

// pageResult waits for the page's script to report in #result.
func pageResult(t *testing.T, ctx context.Context) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('result').className ? document.getElementById('result').textContent : ''`))
		if err != nil {
			t.Fatal(err)
		}
		if s != "" {
			return s
		}
	}
	t.Fatal("the page reported nothing in 30s")
	return ""
}

// TestSecondPasskeyInChromium: a person registers a second passkey on a
// second phone at the link an administrator sends, approves with it, and
// once the first phone's passkey is removed (lost), the first phone's
// approval is refused on the page while the second's goes through — two
// headless Chromiums, each with a virtual authenticator of its own.
func TestSecondPasskeyInChromium(t *testing.T) {
	chrome := chromiumPath(t)
	e := newEnvOn(t, "localhost")
	sealID, m := e.passkeySeal()
	personID := m["id"].(string)
	register := func(ctx context.Context, url string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.Click(chromedp.CSS("#register"))); err != nil {
			t.Fatal(err)
		}
		if res := pageResult(t, ctx); !strings.Contains(res, "已登记") {
			t.Fatalf("registration at %s: %q", url, res)
		}
	}
	first, second := passkeyBrowser(t, chrome), passkeyBrowser(t, chrome)
	register(first, m["enrolment_url"].(string))
	r := e.postJSON("/v1/persons/"+personID+"/passkeys", e.admin, nil)
	if r.status != 201 {
		t.Fatalf("invite a second passkey: %d %s", r.status, r.body)
	}
	register(second, r.json(t)["enrolment_url"].(string))
	var pks []map[string]any
	if err := json.Unmarshal(e.do("GET", "/v1/persons/"+personID+"/passkeys", e.admin, "", nil).body, &pks); err != nil || len(pks) != 2 {
		t.Fatalf("passkeys: %v %v", pks, err)
	}

	stamper := e.key(api.RoleStamper, sealID)
	ask := func(caseNo string) string {
		t.Helper()
		r := e.postJSON("/v1/authorization-requests", stamper, map[string]any{"seal_id": sealID, "case_no": caseNo, "title": "食品经营许可证"})
		if r.status != 201 {
			t.Fatalf("request: %d %s", r.status, r.body)
		}
		return r.json(t)["approve_url"].(string)
	}
	approve := func(ctx context.Context, url string) string {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.Click(chromedp.CSS("#approve"))); err != nil {
			t.Fatal(err)
		}
		return pageResult(t, ctx)
	}
	if res := approve(second, ask("ZJ-PK2-1")); !strings.Contains(res, "已批准") {
		t.Fatalf("approval on the second phone: %q", res)
	}
	if res := approve(first, ask("ZJ-PK2-2")); !strings.Contains(res, "已批准") {
		t.Fatalf("approval on the first phone: %q", res)
	}

	// The first phone is lost.
	lost := pks[0]["credential_id"].(string)
	if pks[0]["first"] != true {
		t.Fatalf("the first passkey listed: %v", pks)
	}
	if r := e.postJSON("/v1/persons/"+personID+"/passkeys/"+lost+"/remove", e.admin, map[string]any{"reason": "手机遗失"}); r.status != 200 {
		t.Fatalf("remove: %d %s", r.status, r.body)
	}
	url := ask("ZJ-PK2-3")
	if res := approve(first, url); strings.Contains(res, "已批准") {
		t.Fatalf("the lost phone approved: %q", res)
	}
	if res := approve(second, url); !strings.Contains(res, "已批准") {
		t.Fatalf("the second phone, after the first was removed: %q", res)
	}
}
