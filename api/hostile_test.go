package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"eseal/api"
	"eseal/pdf/pdftest"
)

// encryptedPDF is a PDF whose trailer says it is encrypted.
func encryptedPDF() []byte {
	p := testPDF("加密")
	i := bytes.LastIndex(p, []byte("trailer\n<<"))
	enc := []byte(" /Encrypt << /Filter /Standard /V 1 /R 2 /O <00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff> /U <00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff> /P -4 >>")
	out := append([]byte{}, p[:i+len("trailer\n<<")]...)
	out = append(out, enc...)
	return append(out, p[i+len("trailer\n<<"):]...)
}

// TestHostileStampRequests sends malformed and hostile stamp requests: each
// gets a precise 4xx problem, nothing is stored and the authorization stays
// usable.
func TestHostileStampRequests(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	good := testPDF("恶意输入")
	authz := e.grant(e.sealID, map[string]any{"case_no": "H-1", "max_uses": 1})

	suspended := e.postJSON("/v1/seals", e.admin, map[string]any{"name": "暂停的印章", "policy": "key"}).json(t)["id"].(string)
	suspAuthz := e.grant(suspended, map[string]any{"case_no": "H-1"})
	if r := e.postJSON("/v1/seals/"+suspended+"/suspend", e.admin, map[string]any{"reason": "保管人变更"}); r.status != 200 {
		t.Fatalf("suspend: %d %s", r.status, r.body)
	}
	compromised := e.postJSON("/v1/seals", e.admin, map[string]any{"name": "证书已吊销的印章", "policy": "key"}).json(t)["id"].(string)
	compAuthz := e.grant(compromised, map[string]any{"case_no": "H-1"})
	if err := e.reg.RevokeSignerCertificate(ctx, compromised, "key compromise", "test"); err != nil {
		t.Fatal(err)
	}

	stamper := e.key(api.RoleStamper, e.sealID, suspended, compromised)

	req := func(mod func(m map[string]any)) map[string]any {
		m := stampReq(e.sealID, authz, "H-1")
		if mod != nil {
			mod(m)
		}
		return m
	}
	placement := func(page int, x, y float64) func(map[string]any) {
		return func(m map[string]any) { m["placement"] = map[string]any{"page": page, "x_mm": x, "y_mm": y} }
	}
	big := append(append([]byte{}, good...), bytes.Repeat([]byte("%"), 2<<20)...)

	cases := []struct {
		name   string
		pdf    []byte
		req    any
		ct     string // overrides the multipart content type
		status int
		typ    string
	}{
		{"not a PDF", []byte("GIF89a this is an image"), req(nil), "", 422, "not-a-pdf"},
		{"empty file", []byte{}, req(nil), "", 422, "not-a-pdf"},
		{"truncated", good[:len(good)/2], req(nil), "", 422, "broken-pdf"},
		{"truncated tail", good[:len(good)-40], req(nil), "", 422, "broken-pdf"},
		{"encrypted", encryptedPDF(), req(nil), "", 422, "encrypted-pdf"},
		{"over the size limit", big, req(nil), "", 413, "body-too-large"},
		{"page out of range", good, req(placement(7, 50, 50)), "", 422, "page-out-of-range"},
		{"page zero", good, req(placement(0, 50, 50)), "", 422, "page-out-of-range"},
		{"off the page", good, req(placement(1, 500, 50)), "", 422, "placement-off-page"},
		{"negative position", good, req(placement(1, -300, -300)), "", 422, "placement-off-page"},
		{"unknown seal", good, req(func(m map[string]any) { m["seal_id"] = "seal-aaaaaaaaaaaaa" }), "", 403, "seal-out-of-scope"},
		{"suspended seal", good, stampReq(suspended, suspAuthz, "H-1"), "", 409, "seal-not-active"},
		{"revoked signer certificate", good, stampReq(compromised, compAuthz, "H-1"), "", 409, "certificate-revoked"},
		{"malformed JSON", good, `{"seal_id": "x",`, "", 400, "malformed-request"},
		{"unknown JSON field", good, `{"seal_id": "x", "sneaky": 1}`, "", 400, "malformed-request"},
		{"JSON with trailing data", good, `{} {}`, "", 400, "malformed-request"},
		{"wrong content type", good, req(nil), "application/json", 415, "unsupported-media-type"},
		{"path trick in seal id", good, req(func(m map[string]any) { m["seal_id"] = "../../pki/root.key" }), "", 404, "seal-not-found"},
		{"path trick in authorization id", good, req(func(m map[string]any) { m["authorization_id"] = "az-../../apikeys" }), "", 404, "authorization-not-found"},
		{"missing title", good, req(func(m map[string]any) { m["record"] = map[string]any{"case_no": "H-1"} }), "", 422, "invalid-field"},
		{"bad retention", good, req(func(m map[string]any) {
			m["record"] = map[string]any{"title": "x", "case_no": "H-1", "retention": "forever"}
		}), "", 422, "invalid-field"},
		{"bad item code", good, req(func(m map[string]any) {
			m["record"] = map[string]any{"title": "x", "case_no": "H-1", "item_code": "../x"}
		}), "", 422, "invalid-field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.objects()
			ct, body := stampBody(t, c.pdf, c.req)
			if c.ct != "" {
				ct = c.ct
			}
			r := e.do("POST", "/v1/stamps", stamper, ct, bytes.NewReader(body))
			if got := problemType(t, r); r.status != c.status || got != "/problems/"+c.typ {
				t.Fatalf("got %d %s, want %d /problems/%s: %s", r.status, got, c.status, c.typ, r.body)
			}
			if after := e.objects(); after != before {
				t.Fatalf("store changed: %d → %d objects", before, after)
			}
		})
	}
	// Nothing consumed: the authorization still stamps.
	if r := e.stamp(good, stampReq(e.sealID, authz, "H-1")); r.status != 201 {
		t.Fatalf("the authorization was spent by a refused request: %d %s", r.status, r.body)
	}
}

func TestAuthAndRoutes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	stamper := e.key(api.RoleStamper, e.sealID)
	cases := []struct {
		name, method, path, key string
		status                  int
	}{
		{"no key", "GET", "/v1/seals", "", 401},
		{"unknown key", "GET", "/v1/seals", "esk_notakey", 401},
		{"not a bearer", "GET", "/v1/seals", "", 401},
		{"stamper lists", "GET", "/v1/seals", stamper, 200},
		{"stamper cannot create seals", "POST", "/v1/seals", stamper, 403},
		{"stamper cannot grant", "POST", "/v1/seals/" + e.sealID + "/authorizations", stamper, 403},
		{"stamper cannot revoke seals", "POST", "/v1/seals/" + e.sealID + "/revoke", stamper, 403},
		{"path trick in seal route", "GET", "/v1/seals/..%2f..%2fpki%2froot.key", e.admin, 404},
		{"dot segments", "GET", "/v1/seals/../../pki/root.key", e.admin, 404},
		{"unknown route", "GET", "/v1/nothing", e.admin, 404},
		{"wrong method", "DELETE", "/v1/seals", e.admin, 405},
		{"public picture", "GET", "/v1/seals/" + e.sealID + "/picture.png", "", 200},
		{"public chain", "GET", "/v1/seals/" + e.sealID + "/chain.pem", "", 200},
		{"health", "GET", "/healthz", "", 200},
		{"ready", "GET", "/readyz", "", 200},
		{"metrics", "GET", "/metrics", "", 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := strings.NewReader("{}")
			r := e.do(c.method, c.path, c.key, "application/json", body)
			if r.status != c.status {
				t.Fatalf("%s %s: %d, want %d: %s", c.method, c.path, r.status, c.status, r.body)
			}
			if r.status >= 400 && r.header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("error without problem+json: %q", r.header.Get("Content-Type"))
			}
		})
	}
	_ = ctx
}

func TestKeywordAndCrossPageOverREST(t *testing.T) {
	e := newEnv(t)
	in := testPDF("准予行政许可决定书")
	a1 := e.grant(e.sealID, map[string]any{"case_no": "KW-1"})
	req := stampReq(e.sealID, a1, "KW-1")
	req["placement"] = map[string]any{"keyword": "不在文中"}
	before := e.objects()
	r := e.stamp(in, req)
	if r.status != 422 || problemType(t, r) != "/problems/keyword-not-found" {
		t.Fatalf("absent keyword: %d %s", r.status, r.body)
	}
	if e.objects() != before {
		t.Fatal("an absent keyword changed the store")
	}
	req["placement"] = map[string]any{"keyword": "许可决定", "dy_mm": 5}
	if r := e.stamp(in, req); r.status != 201 {
		t.Fatalf("keyword: %d %s", r.status, r.body)
	}
	a2 := e.grant(e.sealID, map[string]any{"case_no": "KW-1"})
	req = stampReq(e.sealID, a2, "KW-1")
	req["placement"] = map[string]any{"cross_page": true}
	r = e.stamp(in, req)
	if r.status != 422 || problemType(t, r) != "/problems/placement-off-page" {
		t.Fatalf("cross-page seal on one page: %d %s", r.status, r.body)
	}
	r = e.stamp(pdftest.Document(pdftest.Options{Pages: 3}), req)
	if r.status != 201 {
		t.Fatalf("cross-page: %d %s", r.status, r.body)
	}
}

func TestJointApprovalOverREST(t *testing.T) {
	e := newEnv(t)
	second := e.postJSON("/v1/seals", e.admin, map[string]any{"name": "测试市市场监督管理局", "policy": "key"}).json(t)["id"].(string)
	a1 := e.grant(e.sealID, map[string]any{"case_no": "LH-2"})
	a2 := e.grant(second, map[string]any{"case_no": "LH-2"})
	req := map[string]any{
		"seals": []map[string]any{
			{"seal_id": e.sealID, "authorization_id": a1, "placement": map[string]any{"page": 1, "x_mm": 20, "y_mm": 150}},
			{"seal_id": second, "authorization_id": a2, "placement": map[string]any{"page": 1, "x_mm": 100, "y_mm": 150}},
		},
		"record": map[string]any{"title": "联合审批", "case_no": "LH-2"},
	}
	r := e.stamp(testPDF("联合审批"), req)
	if r.status != 201 {
		t.Fatalf("joint: %d %s", r.status, r.body)
	}
	doc := r.json(t)["document_id"].(string)
	// A later seal on the archived document: no file, document_id instead.
	a3 := e.grant(e.sealID, map[string]any{"case_no": "LH-2"})
	// No file part: the request part alone.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	rw, _ := mw.CreateFormField("request")
	json.NewEncoder(rw).Encode(map[string]any{"document_id": doc, "seal_id": e.sealID, "authorization_id": a3,
		"placement": map[string]any{"page": 1, "x_mm": 60, "y_mm": 220}})
	mw.Close()
	r = e.do("POST", "/v1/stamps", e.key(api.RoleStamper, e.sealID), mw.FormDataContentType(), &buf)
	if r.status != 201 {
		t.Fatalf("later seal: %d %s", r.status, r.body)
	}
	later := r.json(t)
	rec := later["record"].(map[string]any)
	if rec["previous"] != doc || len(rec["signatures"].([]any)) != 3 {
		t.Fatalf("later record: %v", rec)
	}
	pdfBody := e.do("GET", "/v1/documents/"+later["document_id"].(string)+"/pdf", e.key(api.RoleArchivist), "", nil).body
	v := e.do("POST", "/v1/verify", "", "application/pdf", bytes.NewReader(pdfBody)).json(t)
	if v["verdict"] != "VALID" || len(v["signatures"].([]any)) != 3 {
		t.Fatalf("verify: %v", v["verdict"])
	}
}

func TestQRCodeBesideTheSeal(t *testing.T) {
	e := newEnv(t)
	a := e.grant(e.sealID, map[string]any{"case_no": "QR-1"})
	req := stampReq(e.sealID, a, "QR-1")
	req["qr"] = true
	r := e.stamp(testPDF("二维码"), req)
	if r.status != 201 {
		t.Fatalf("stamp with QR: %d %s", r.status, r.body)
	}
	doc := r.json(t)["document_id"].(string)
	signed := e.do("GET", "/v1/documents/"+doc+"/pdf", e.key(api.RoleStamper, e.sealID), "", nil).body
	if os.Getenv("ESEAL_ARTIFACTS") != "" {
		os.WriteFile(filepath.Join(artifactDir(t), "qr-stamped.pdf"), signed, 0o644)
	}
	if !bytes.Contains(signed, []byte(" re\n")) {
		t.Fatal("no QR modules drawn")
	}
	v := e.do("POST", "/v1/verify", "", "application/pdf", bytes.NewReader(signed)).json(t)
	sigs := v["signatures"].([]any)
	if v["verdict"] != "VALID" || len(sigs) != 1 || sigs[0].(map[string]any)["kind"] != "page" {
		t.Fatalf("verify: %v, %d signatures", v["verdict"], len(sigs))
	}
	// An outside decoder reads the verify URL off the rendered page.
	for _, tool := range []string{"pdftoppm", "zbarimg"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("ESEAL_REQUIRE_TOOLS") == "1" {
				t.Fatalf("%s not installed (scripts/deps.sh installs it)", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	dir := t.TempDir()
	pdfPath := filepath.Join(dir, "qr.pdf")
	os.WriteFile(pdfPath, signed, 0o644)
	if out, err := exec.Command("pdftoppm", "-r", "200", "-png", pdfPath, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v %s", err, out)
	}
	out, _ := exec.Command("zbarimg", "-q", "--raw", filepath.Join(dir, "page-1.png")).Output()
	if got, want := strings.TrimSpace(string(out)), e.url+"/v/"+doc; got != want {
		t.Fatalf("zbarimg read %q, want %q", got, want)
	}
}
