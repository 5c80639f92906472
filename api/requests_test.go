package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"eseal/api"
	"eseal/archive/audit"
	"eseal/keys"
	"eseal/keys/keystest"
	"eseal/seal"
)

func requireTools() bool { return os.Getenv("ESEAL_REQUIRE_TOOLS") == "1" }

// opensslPerson is a responsible person whose key and self-signed
// certificate OpenSSL made; sign and verify run OpenSSL too.
type opensslPerson struct {
	t                 *testing.T
	openssl, dir      string
	keyPath, certPath string
}

func newOpenSSLPerson(t *testing.T, name string) *opensslPerson {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		if requireTools() {
			t.Fatal("openssl not on PATH")
		}
		t.Skip("openssl not on PATH")
	}
	p := &opensslPerson{t: t, openssl: bin, dir: t.TempDir()}
	p.keyPath, p.certPath = filepath.Join(p.dir, "person.key"), filepath.Join(p.dir, "person.pem")
	p.run("genpkey", "-algorithm", "SM2", "-out", p.keyPath)
	p.run("req", "-x509", "-new", "-utf8", "-key", p.keyPath, "-sm3", "-sigopt", "distid:1234567812345678",
		"-subj", "/CN="+name, "-days", "30", "-out", p.certPath)
	return p
}

func (p *opensslPerson) run(args ...string) []byte {
	p.t.Helper()
	out, err := exec.Command(p.openssl, args...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (p *opensslPerson) cert() string {
	b, err := os.ReadFile(p.certPath)
	if err != nil {
		p.t.Fatal(err)
	}
	return string(b)
}

// sign is `openssl pkeyutl -sign -rawin -digest sm3 -pkeyopt distid:…` over msg.
func (p *opensslPerson) sign(msg []byte) string {
	p.t.Helper()
	in, out := filepath.Join(p.dir, "msg.bin"), filepath.Join(p.dir, "sig.der")
	if err := os.WriteFile(in, msg, 0o600); err != nil {
		p.t.Fatal(err)
	}
	p.run("pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678", "-inkey", p.keyPath, "-in", in, "-out", out)
	sig, err := os.ReadFile(out)
	if err != nil {
		p.t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// personSeal creates a seal under policy person (the default) and enrols p.
func (e *env) personSeal(name string, p *opensslPerson) (sealID, personID string) {
	e.t.Helper()
	r := e.postJSON("/v1/seals", e.admin, map[string]any{"name": name})
	if r.status != 201 {
		e.t.Fatalf("create seal: %d %s", r.status, r.body)
	}
	sealID = r.json(e.t)["id"].(string)
	r = e.postJSON("/v1/seals/"+sealID+"/persons", e.admin, map[string]any{"name": "张三", "certificate": p.cert()})
	if r.status != 201 {
		e.t.Fatalf("enrol: %d %s", r.status, r.body)
	}
	return sealID, r.json(e.t)["id"].(string)
}

func (e *env) askAuthorization(sealID, caseNo string) (id string, challenge []byte) {
	e.t.Helper()
	r := e.postJSON("/v1/authorization-requests", e.key(api.RoleStamper, sealID), map[string]any{
		"seal_id": sealID, "case_no": caseNo, "title": "食品经营许可证", "expires_in": "10m"})
	if r.status != 201 {
		e.t.Fatalf("request: %d %s", r.status, r.body)
	}
	m := r.json(e.t)
	if m["status"] != "pending" || !strings.HasSuffix(m["approve_url"].(string), "/approve/"+m["id"].(string)) || fmt.Sprint(m["methods"]) != "[sm2]" {
		e.t.Fatalf("request answer %v", m)
	}
	challenge, err := base64.StdEncoding.DecodeString(m["challenge"].(string))
	if err != nil {
		e.t.Fatal(err)
	}
	return m["id"].(string), challenge
}

// audited returns the audit log's entries with the action, by subject.
func (e *env) audited(action string) map[string]audit.Entry {
	e.t.Helper()
	out := map[string]audit.Entry{}
	err := audit.Entries(context.Background(), e.store, func(en audit.Entry) error {
		if en.Node == "test" && string(en.Action) == action {
			out[en.Subject] = en
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// TestSM2ApprovalWithOpenSSL: a person whose key and certificate OpenSSL
// made approves with an OpenSSL signature; the stamping under the grant
// succeeds, its record names the person, and the evidence verifies with
// OpenSSL against the person's certificate.
func TestSM2ApprovalWithOpenSSL(t *testing.T) {
	e := newEnv(t)
	p := newOpenSSLPerson(t, "张三")
	sealID, personID := e.personSeal("测试市市场监督管理局", p)
	stamper := e.key(api.RoleStamper, sealID)

	// Policy person: an authorizer key's direct grant is refused.
	r := e.postJSON("/v1/seals/"+sealID+"/authorizations", e.key(api.RoleAuthorizer, sealID), map[string]any{"case_no": "ZJ-2026-1"})
	if r.status != 409 || problemType(t, r) != "/problems/authorization-policy" {
		t.Fatalf("key grant under policy person: %d %s", r.status, r.body)
	}

	reqID, challenge := e.askAuthorization(sealID, "ZJ-2026-1")
	g, err := seal.ParseGrant(challenge)
	if err != nil || g.RequestID != reqID || g.SealID != sealID || g.CaseNo != "ZJ-2026-1" {
		t.Fatalf("challenge %q: %+v %v", challenge, g, err)
	}
	if r := e.do("GET", "/v1/authorization-requests/"+reqID+"/challenge", "", "", nil); r.status != 200 {
		t.Fatalf("challenge without a key: %d %s", r.status, r.body)
	}
	r = e.postJSON("/v1/authorization-requests/"+reqID+"/approve", "", map[string]any{"person_id": personID, "signature": p.sign(challenge)})
	if r.status != 201 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	authzID := r.json(t)["authorization_id"].(string)
	if authzID != g.AuthorizationID {
		t.Fatalf("authorization %s, the grant bytes name %s", authzID, g.AuthorizationID)
	}
	st := e.do("GET", "/v1/authorization-requests/"+reqID, stamper, "", nil).json(t)
	if st["status"] != "approved" || st["authorization_id"] != authzID {
		t.Fatalf("request after approval: %v", st)
	}
	if en, ok := e.audited("authorization.approved")[authzID]; !ok || en.Actor != personID || en.Details["request"] != reqID || en.Details["method"] != "sm2" {
		t.Fatalf("the approval's audit entry: %+v", en)
	}
	if _, ok := e.audited("authorization.requested")[reqID]; !ok {
		t.Fatal("the request is not in the audit log")
	}

	r = e.stamp(testPDF("食品经营许可证"), stampReq(sealID, authzID, "ZJ-2026-1"))
	if r.status != 201 {
		t.Fatalf("stamp: %d %s", r.status, r.body)
	}
	docID := r.json(t)["document_id"].(string)
	rec := e.do("GET", "/v1/documents/"+docID, stamper, "", nil).json(t)
	az := rec["authorization"].(map[string]any)
	if az["method"] != "sm2" || az["person_id"] != personID || az["person_name"] != "张三" || az["id"] != authzID {
		t.Fatalf("the record's authorization: %v", az)
	}

	// The evidence: the exact bytes, the signature, the certificate.
	for _, k := range []string{e.key(api.RoleArchivist), e.key(api.RoleAuthorizer, sealID), stamper} {
		if r := e.do("GET", "/v1/authorizations/"+authzID+"/evidence", k, "", nil); r.status != 200 {
			t.Fatalf("evidence: %d %s", r.status, r.body)
		}
	}
	if r := e.do("GET", "/v1/authorizations/"+authzID+"/evidence", e.key(api.RoleStamper, e.sealID), "", nil); r.status != 403 || problemType(t, r) != "/problems/seal-out-of-scope" {
		t.Fatalf("evidence with another seal's stamper key: %d %s", r.status, r.body)
	}
	ev := e.do("GET", "/v1/authorizations/"+authzID+"/evidence", stamper, "", nil).json(t)
	if ev["method"] != "sm2" || ev["person_id"] != personID || ev["person_name"] != "张三" || ev["certificate"] != p.cert() {
		t.Fatalf("evidence %v", ev)
	}
	grant, _ := base64.StdEncoding.DecodeString(ev["grant"].(string))
	sig, _ := base64.StdEncoding.DecodeString(ev["signature"].(string))
	if !bytes.Equal(grant, challenge) {
		t.Fatal("the evidence's grant is not the challenge approved")
	}
	dir := t.TempDir()
	for name, b := range map[string][]byte{"grant.bin": grant, "sig.der": sig, "cert.pem": []byte(ev["certificate"].(string))} {
		os.WriteFile(filepath.Join(dir, name), b, 0o600)
	}
	out := p.run("pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678", "-certin",
		"-inkey", filepath.Join(dir, "cert.pem"), "-in", filepath.Join(dir, "grant.bin"), "-sigfile", filepath.Join(dir, "sig.der"))
	if !strings.Contains(string(out), "Signature Verified Successfully") {
		t.Fatalf("openssl verify: %s", out)
	}

	// Policy key: the same seal takes an authorizer's grant, recorded as api-key.
	if r := e.postJSON("/v1/seals/"+sealID+"/policy", e.admin, map[string]any{"policy": "key"}); r.status != 200 {
		t.Fatalf("policy: %d %s", r.status, r.body)
	}
	keyGrant := e.grant(sealID, map[string]any{"case_no": "ZJ-2026-2"})
	ev = e.do("GET", "/v1/authorizations/"+keyGrant+"/evidence", stamper, "", nil).json(t)
	if ev["method"] != "api-key" || ev["key_name"] != "authorizer "+sealID {
		t.Fatalf("api-key evidence %v", ev)
	}
}

// TestSM2ApprovalHostile: every refused approval is a precise problem, makes
// no grant and leaves the store as it was.
func TestSM2ApprovalHostile(t *testing.T) {
	e := newEnv(t)
	p := newOpenSSLPerson(t, "张三")
	sealID, personID := e.personSeal("测试市市场监督管理局", p)
	q := newOpenSSLPerson(t, "李四")
	otherSeal, otherPerson := e.personSeal("另一枚章", q)
	_ = otherSeal

	removedP := newOpenSSLPerson(t, "王五")
	r := e.postJSON("/v1/seals/"+sealID+"/persons", e.admin, map[string]any{"name": "王五", "certificate": removedP.cert()})
	removedID := r.json(t)["id"].(string)
	if r := e.postJSON("/v1/persons/"+removedID+"/remove", e.admin, map[string]any{"reason": "调岗"}); r.status != 200 {
		t.Fatalf("remove: %d %s", r.status, r.body)
	}
	if r := e.postJSON("/v1/persons/"+removedID+"/remove", e.admin, map[string]any{}); r.status != 403 || problemType(t, r) != "/problems/person-removed" {
		t.Fatalf("second removal: %d %s", r.status, r.body)
	}

	target, challenge := e.askAuthorization(sealID, "ZJ-2026-9")
	_, otherChallenge := e.askAuthorization(sealID, "ZJ-2026-9")
	refused, refusedChallenge := e.askAuthorization(sealID, "ZJ-2026-8")
	reason := "材料不全"
	r = e.postJSON("/v1/authorization-requests/"+refused+"/refuse", "", map[string]any{"person_id": personID, "reason": reason,
		"signature": p.sign(seal.RefusalBytes(refusedChallenge, reason))})
	if r.status != 200 || r.json(t)["status"] != "refused" {
		t.Fatalf("refuse: %d %s", r.status, r.body)
	}
	if en, ok := e.audited("authorization.refused")[refused]; !ok || en.Details["reason"] != reason || en.Actor != personID {
		t.Fatalf("the refusal's audit entry: %+v", en)
	}
	expiring, expiringChallenge := e.askAuthorization(sealID, "ZJ-2026-7")

	good := p.sign(challenge)
	cases := []struct {
		name, request string
		key           string
		body          map[string]any
		status        int
		problem       string
	}{
		{"person not enrolled for the seal", target, "", map[string]any{"person_id": otherPerson, "signature": q.sign(challenge)}, 403, "person-not-enrolled"},
		{"signature over other bytes", target, "", map[string]any{"person_id": personID, "signature": p.sign([]byte("批准"))}, 403, "signature-invalid"},
		{"signature replayed from another request", target, "", map[string]any{"person_id": personID, "signature": p.sign(otherChallenge)}, 403, "signature-invalid"},
		{"someone else's signature", target, "", map[string]any{"person_id": personID, "signature": q.sign(challenge)}, 403, "signature-invalid"},
		{"refused request", refused, "", map[string]any{"person_id": personID, "signature": p.sign(refusedChallenge)}, 409, "request-decided"},
		{"removed person", target, "", map[string]any{"person_id": removedID, "signature": removedP.sign(challenge)}, 403, "person-removed"},
		{"stamper key, no signature", target, e.key(api.RoleStamper, sealID), map[string]any{"person_id": personID}, 422, "invalid-field"},
		{"unknown person", target, "", map[string]any{"person_id": "p-aaaaaaaaaaaaaaaa", "signature": good}, 404, "person-not-found"},
		{"unknown request", "ar-aaaaaaaaaaaaaaaa", "", map[string]any{"person_id": personID, "signature": good}, 404, "request-not-found"},
		{"signature not base64", target, "", map[string]any{"person_id": personID, "signature": "%%%"}, 422, "invalid-field"},
		{"reason on an approval", target, "", map[string]any{"person_id": personID, "signature": good, "reason": "x"}, 422, "invalid-field"},
		{"unknown field", target, "", map[string]any{"person_id": personID, "signature": good, "api_key": "x"}, 400, "malformed-request"},
	}
	before := e.objects()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.postJSON("/v1/authorization-requests/"+c.request+"/approve", c.key, c.body)
			if r.status != c.status || problemType(t, r) != "/problems/"+c.problem {
				t.Fatalf("%d %s; want %d %s", r.status, r.body, c.status, c.problem)
			}
			if n := e.objects(); n != before {
				t.Fatalf("the store holds %d objects, %d before", n, before)
			}
		})
	}
	st := e.do("GET", "/v1/authorization-requests/"+target, e.key(api.RoleStamper, sealID), "", nil).json(t)
	if st["status"] != "pending" || st["authorization_id"] != nil {
		t.Fatalf("target request after the hostile table: %v", st)
	}

	// Expired: the clock passes the request's expiry.
	e.clock.advance(11 * time.Minute)
	r = e.postJSON("/v1/authorization-requests/"+expiring+"/approve", "", map[string]any{"person_id": personID, "signature": p.sign(expiringChallenge)})
	if r.status != 409 || problemType(t, r) != "/problems/request-expired" {
		t.Fatalf("expired: %d %s", r.status, r.body)
	}
	if n := e.objects(); n != before {
		t.Fatalf("the store holds %d objects, %d before", n, before)
	}
	if st := e.do("GET", "/v1/authorization-requests/"+expiring, e.key(api.RoleStamper, sealID), "", nil).json(t); st["status"] != "expired" {
		t.Fatalf("status %v, want expired", st["status"])
	}
}

// FuzzApproveBody: whatever the approve body, the answer is a problem or a
// 201 with a grant, never a 5xx; and only a correct signature makes a grant.
func FuzzApproveBody(f *testing.F) {
	f.Add([]byte(`{"person_id":"p-aaaaaaaaaaaaaaaa","signature":"MEUCIQ=="}`))
	f.Add([]byte(`{"person_id":"","signature":""}`))
	f.Add([]byte(`{"person_id":1}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"person_id":"p-aaaaaaaaaaaaaaaa","signature":"` + strings.Repeat("A", 400) + `"}`))
	e := newEnv(f)
	k, err := keys.GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	c, _ := keys.SelfSignedPersonCertificate("张三", k, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	r := e.postJSON("/v1/seals", e.admin, map[string]any{"name": "模糊测试章"})
	sealID := r.json(e.t)["id"].(string)
	r = e.postJSON("/v1/seals/"+sealID+"/persons", e.admin, map[string]any{"name": "张三", "certificate": string(keys.EncodeCertificatesPEM(c))})
	personID := r.json(e.t)["id"].(string)
	reqID, _ := e.askAuthorization(sealID, "FUZZ-1")
	f.Add([]byte(`{"person_id":"` + personID + `","signature":"MEQCIDxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxAiBxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, err := http.Post(e.url+"/v1/authorization-requests/"+reqID+"/approve", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%d %s", resp.StatusCode, answer)
		}
		if resp.StatusCode == 201 {
			t.Fatalf("a fuzzed body approved the request: %s", body)
		}
	})
}

// TestPersonCAsOverREST: only an admin key trusts persons' CAs; once one is
// trusted, a self-signed certificate is refused at enrolment (422, field
// certificate) and a person pinned before cannot approve (403), until the
// CA's certificate and CRL let a person it certified in.
func TestPersonCAsOverREST(t *testing.T) {
	e := newEnv(t)
	p := newOpenSSLPerson(t, "张三")
	sealID, personID := e.personSeal("测试市市场监督管理局", p)
	now := time.Now()
	ca := keystest.New(t, keystest.Options{Org: "浙江省数字证书认证中心", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)})
	caPEM := string(keys.EncodeCertificatesPEM(ca.CA.Cert))

	for _, k := range []string{e.key(api.RoleStamper, sealID), e.key(api.RoleAuthorizer, sealID), e.key(api.RoleArchivist)} {
		if r := e.postJSON("/v1/person-cas", k, map[string]any{"certificate": caPEM}); r.status != 403 || problemType(t, r) != "/problems/forbidden" {
			t.Fatalf("persons' CA with a non-admin key: %d %s", r.status, r.body)
		}
	}
	ee, err := keys.SelfSignedPersonCertificate("赵六", keystest.Key(t), now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if r := e.postJSON("/v1/person-cas", e.admin, map[string]any{"certificate": string(keys.EncodeCertificatesPEM(ee))}); r.status != 422 {
		t.Fatalf("an end-entity certificate as persons' CA: %d %s", r.status, r.body)
	}
	if r := e.postJSON("/v1/person-cas", e.admin, map[string]any{"certificate": caPEM}); r.status != 201 {
		t.Fatalf("persons' CA: %d %s", r.status, r.body)
	}
	crlDER, err := ca.CA.IssueCRL(nil, big.NewInt(1), now.Add(-time.Minute), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if r := e.postJSON("/v1/person-cas/crls", e.admin, map[string]any{"crl": "@@"}); r.status != 422 || problemType(t, r) != "/problems/invalid-field" {
		t.Fatalf("a CRL that is neither PEM nor base64: %d %s", r.status, r.body)
	}
	if r := e.postJSON("/v1/person-cas/crls", e.admin, map[string]any{"crl": base64.StdEncoding.EncodeToString(crlDER)}); r.status != 201 {
		t.Fatalf("CRL: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/person-cas", e.admin, "", nil); r.status != 200 || !strings.Contains(string(r.body), `"number": "1"`) && !strings.Contains(string(r.body), `"number":"1"`) {
		t.Fatalf("persons' CAs: %d %s", r.status, r.body)
	}

	// A self-signed certificate no longer enrols.
	r := e.postJSON("/v1/seals/"+sealID+"/persons", e.admin, map[string]any{"name": "李四", "certificate": newOpenSSLPerson(t, "李四").cert()})
	if r.status != 422 || problemType(t, r) != "/problems/invalid-field" || !strings.Contains(string(r.body), "unknown authority") {
		t.Fatalf("self-signed enrolment with a persons' CA trusted: %d %s", r.status, r.body)
	}
	// The person pinned before cannot approve; the request stays pending.
	reqID, challenge := e.askAuthorization(sealID, "ZJ-2026-9")
	r = e.postJSON("/v1/authorization-requests/"+reqID+"/approve", "", map[string]any{"person_id": personID, "signature": p.sign(challenge)})
	if r.status != 403 || problemType(t, r) != "/problems/person-certificate-untrusted" {
		t.Fatalf("approval by a person outside the trusted CAs: %d %s", r.status, r.body)
	}
	if st := e.do("GET", "/v1/authorization-requests/"+reqID, e.key(api.RoleStamper, sealID), "", nil).json(t); st["status"] != "pending" {
		t.Fatalf("request after the refused approval: %v", st)
	}
	// A person the CA certified enrols and approves.
	k, c := ca.Issue(t, keys.KindSigner, "王五")
	r = e.postJSON("/v1/seals/"+sealID+"/persons", e.admin, map[string]any{"name": "王五", "certificate": string(keys.EncodeCertificatesPEM(c))})
	if r.status != 201 {
		t.Fatalf("enrolment under the trusted CA: %d %s", r.status, r.body)
	}
	wang := r.json(t)["id"].(string)
	sig, err := keys.SignSM2(k, challenge)
	if err != nil {
		t.Fatal(err)
	}
	r = e.postJSON("/v1/authorization-requests/"+reqID+"/approve", "", map[string]any{"person_id": wang, "signature": base64.StdEncoding.EncodeToString(sig)})
	if r.status != 201 {
		t.Fatalf("approval under the trusted CA: %d %s", r.status, r.body)
	}
}

// TestRequestCarriesDocument: a request may carry the PDF to be stamped;
// its SM3 is then in the grant bytes, the approval page shows its first
// page, and only that PDF stamps under the approval. Bad documents are
// precise problems that store nothing.
func TestRequestCarriesDocument(t *testing.T) {
	e := newEnv(t)
	p := newOpenSSLPerson(t, "张三")
	sealID, personID := e.personSeal("测试市市场监督管理局", p)
	stamper := e.key(api.RoleStamper, sealID)
	doc := testPDF("食品经营许可证")
	ask := func(file []byte, body any) response {
		ct, b := stampBody(t, file, body)
		return e.do("POST", "/v1/authorization-requests", stamper, ct, bytes.NewReader(b))
	}
	req := map[string]any{"seal_id": sealID, "case_no": "ZJ-DOC-1", "title": "食品经营许可证"}

	before := countPrefix(e, "requests/")
	for name, tc := range map[string]struct {
		file []byte
		body any
		want string
	}{
		"not a PDF":         {[]byte("hello"), req, "/problems/not-a-pdf"},
		"empty file":        {nil, req, "/problems/not-a-pdf"},
		"broken PDF":        {[]byte("%PDF-1.7\nnothing else"), req, "/problems/invalid-field"},
		"another SM3":       {doc, map[string]any{"seal_id": sealID, "case_no": "ZJ-DOC-1", "title": "x", "document_sm3": strings.Repeat("ab", 32)}, "/problems/invalid-field"},
		"malformed request": {doc, "{", "/problems/malformed-request"},
	} {
		r := ask(tc.file, tc.body)
		if r.status < 400 || r.status >= 500 || problemType(t, r) != tc.want {
			t.Errorf("%s: %d %s; want %s", name, r.status, r.body, tc.want)
		}
	}
	if n := countPrefix(e, "requests/"); n != before {
		t.Fatalf("refused requests stored %d objects", n-before)
	}

	r := ask(doc, req)
	if r.status != 201 {
		t.Fatalf("request with its document: %d %s", r.status, r.body)
	}
	m := r.json(t)
	reqID := m["id"].(string)
	sum := sm3.Sum(doc)
	if m["document_sm3"] != hex.EncodeToString(sum[:]) || m["document_url"] != e.url+"/approve/"+reqID+"/document.pdf" {
		t.Fatalf("request answer: %v", m)
	}
	challenge, _ := base64.StdEncoding.DecodeString(m["challenge"].(string))

	// The document as given, and its first page as SVG with the title's
	// glyphs, to anyone holding the request id.
	if r := e.do("GET", "/approve/"+reqID+"/document.pdf", "", "", nil); r.status != 200 || !bytes.Equal(r.body, doc) || r.header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("document: %d %s", r.status, r.header.Get("Content-Type"))
	}
	r = e.do("GET", "/approve/"+reqID+"/page-1.svg", "", "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("page preview: %d %s", r.status, r.body)
	}
	var svg struct {
		ViewBox string   `xml:"viewBox,attr"`
		Texts   []string `xml:"text"`
	}
	if err := xml.Unmarshal(r.body, &svg); err != nil {
		t.Fatalf("page preview is not XML: %v", err)
	}
	if svg.ViewBox != "0 0 595.28 841.89" || !strings.Contains(strings.Join(svg.Texts, ""), "食品经营许可证") {
		t.Fatalf("page preview: viewBox %q, text %q", svg.ViewBox, strings.Join(svg.Texts, ""))
	}
	page := e.do("GET", "/approve/"+reqID, "", "", nil)
	if !strings.Contains(string(page.body), `src="/approve/`+reqID+`/page-1.svg"`) {
		t.Fatalf("the approval page does not show the first page:\n%s", page.body)
	}

	// A request without a document has none to show.
	r = e.postJSON("/v1/authorization-requests", stamper, map[string]any{"seal_id": sealID, "case_no": "ZJ-DOC-2", "title": "x"})
	other := r.json(t)["id"].(string)
	if _, ok := r.json(t)["document_url"]; ok {
		t.Fatalf("document_url without a document: %s", r.body)
	}
	for _, path := range []string{"/approve/" + other + "/document.pdf", "/approve/" + other + "/page-1.svg", "/approve/ar-aaaaaaaaaaaaaaaa/page-1.svg"} {
		if r := e.do("GET", path, "", "", nil); r.status != 404 {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
	}

	// Approved, the grant stamps that PDF and no other.
	if r := e.postJSON("/v1/authorization-requests/"+reqID+"/approve", "", map[string]any{"person_id": personID, "signature": p.sign(challenge)}); r.status != 201 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	g, err := seal.ParseGrant(challenge)
	if err != nil {
		t.Fatal(err)
	}
	if r := e.stampAs(stamper, testPDF("另一份文件"), stampReq(sealID, g.AuthorizationID, "ZJ-DOC-1")); r.status != 409 || problemType(t, r) != "/problems/authorization-wrong-document" {
		t.Fatalf("another PDF under the approval: %d %s", r.status, r.body)
	}
	if r := e.stampAs(stamper, doc, stampReq(sealID, g.AuthorizationID, "ZJ-DOC-1")); r.status != 201 {
		t.Fatalf("the approved PDF: %d %s", r.status, r.body)
	}
}
