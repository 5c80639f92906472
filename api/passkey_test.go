package api_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"eseal/api"
	"eseal/seal"
)

// softPasskey is a WebAuthn authenticator and browser in Go, for tests that
// need assertions a browser would never make: it signs whatever client data
// and authenticator data it is told to.
type softPasskey struct {
	t       *testing.T
	key     *ecdsa.PrivateKey
	id      []byte
	counter uint32
	rpID    string
	origin  string
}

func newSoftPasskey(t *testing.T, e *env) *softPasskey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	rp, err := seal.NewRelyingParty(e.url)
	if err != nil {
		t.Fatal(err)
	}
	return &softPasskey{t: t, key: k, id: id, rpID: rp.ID, origin: rp.Origin}
}

var b64u = base64.RawURLEncoding.EncodeToString

func (a *softPasskey) authData(flags byte, extra []byte) []byte {
	h := sha256.Sum256([]byte(a.rpID))
	b := append(h[:], flags)
	b = binary.BigEndian.AppendUint32(b, a.counter)
	return append(b, extra...)
}

// register answers the enrolment of personID with token, as
// navigator.credentials.create would.
func (a *softPasskey) register(personID, token string) []byte {
	rp, _ := seal.NewRelyingParty(a.origin)
	cc, _, err := rp.CreationOptions(&seal.Person{ID: personID, Name: "x"}, token)
	if err != nil {
		a.t.Fatal(err)
	}
	pub, err := a.key.PublicKey.Bytes() // 0x04 ‖ X ‖ Y
	if err != nil {
		a.t.Fatal(err)
	}
	x, y := pub[1:33], pub[33:]
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{PublicKeyData: webauthncose.PublicKeyData{KeyType: 2, Algorithm: -7}, Curve: 1, XCoord: x, YCoord: y})
	if err != nil {
		a.t.Fatal(err)
	}
	attested := append(make([]byte, 16), byte(len(a.id)>>8), byte(len(a.id)))
	attested = append(append(attested, a.id...), cose...)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": a.authData(0x45, attested)})
	if err != nil {
		a.t.Fatal(err)
	}
	cd, _ := json.Marshal(map[string]any{"type": "webauthn.create", "challenge": b64u(cc.Response.Challenge), "origin": a.origin, "crossOrigin": false})
	body, _ := json.Marshal(map[string]any{"id": b64u(a.id), "rawId": b64u(a.id), "type": "public-key",
		"response": map[string]any{"attestationObject": b64u(att), "clientDataJSON": b64u(cd)}, "clientExtensionResults": map[string]any{}})
	return body
}

// assertion is what navigator.credentials.get answers for msg, made as the
// options say (origin, flags) and then changed by tamper, if given.
type assertionOpts struct {
	origin string
	flags  byte
	rpID   string
	// tamper changes the client data after signing.
	tamper func([]byte) []byte
}

func (a *softPasskey) assert(msg []byte, o assertionOpts) []byte {
	a.counter++
	if o.origin == "" {
		o.origin = a.origin
	}
	if o.flags == 0 {
		o.flags = 0x05 // user present, user verified
	}
	ad := a.authData(o.flags, nil)
	if o.rpID != "" {
		h := sha256.Sum256([]byte(o.rpID))
		copy(ad, h[:])
	}
	cd, _ := json.Marshal(map[string]any{"type": "webauthn.get", "challenge": b64u(seal.PasskeyChallenge(msg)), "origin": o.origin, "crossOrigin": false})
	h := sha256.Sum256(cd)
	d := sha256.Sum256(append(append([]byte{}, ad...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, d[:])
	if err != nil {
		a.t.Fatal(err)
	}
	if o.tamper != nil {
		cd = o.tamper(cd)
	}
	body, _ := json.Marshal(map[string]any{"id": b64u(a.id), "rawId": b64u(a.id), "type": "public-key",
		"response": map[string]any{"authenticatorData": b64u(ad), "clientDataJSON": b64u(cd), "signature": b64u(sig)}, "clientExtensionResults": map[string]any{}})
	return body
}

// passkeyPerson enrols a person for a passkey and registers a soft passkey for them.
func (e *env) passkeyPerson(sealID, name string) (personID string, a *softPasskey) {
	t := e.t.(*testing.T)
	r := e.postJSON("/v1/seals/"+sealID+"/persons", e.admin, map[string]any{"name": name, "passkey": true})
	if r.status != 201 {
		t.Fatalf("enrol: %d %s", r.status, r.body)
	}
	m := r.json(t)
	personID, token := m["id"].(string), strings.TrimPrefix(m["enrolment_url"].(string), e.url+"/enrol/")
	a = newSoftPasskey(t, e)
	if r := e.do("POST", "/v1/enrolments/"+token, "", "application/json", bytes.NewReader(a.register(personID, token))); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	return personID, a
}

// TestPasskeyEnrolmentOnce: an enrolment token registers one passkey,
// before it expires; unknown tokens are refused alike.
func TestPasskeyEnrolmentOnce(t *testing.T) {
	e := newEnvOn(t, "localhost")
	r := e.postJSON("/v1/seals/"+e.sealID+"/persons", e.admin, map[string]any{"name": "王五", "passkey": true})
	if r.status != 201 {
		t.Fatalf("enrol: %d %s", r.status, r.body)
	}
	m := r.json(t)
	id, token := m["id"].(string), strings.TrimPrefix(m["enrolment_url"].(string), e.url+"/enrol/")
	if r := e.postJSON("/v1/seals/"+e.sealID+"/persons", e.admin, map[string]any{"name": "王五", "passkey": true, "certificate": "x"}); r.status != 422 {
		t.Fatalf("passkey and certificate: %d %s", r.status, r.body)
	}
	a := newSoftPasskey(t, e)
	if r := e.do("POST", "/v1/enrolments/"+token, "", "application/json", bytes.NewReader(a.register(id, token))); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	b := newSoftPasskey(t, e)
	for _, c := range []struct {
		name, token string
		status      int
		problem     string
	}{
		{"the token again", token, 409, "enrolment-used"},
		{"an unknown token", strings.Repeat("a", 32), 404, "enrolment-not-found"},
		{"not a token", "not-a-token", 404, "enrolment-not-found"},
	} {
		r := e.do("POST", "/v1/enrolments/"+c.token, "", "application/json", bytes.NewReader(b.register(id, c.token)))
		if r.status != c.status || problemType(t, r) != "/problems/"+c.problem {
			t.Errorf("%s: %d %s", c.name, r.status, r.body)
		}
	}
	if page := e.do("GET", "/enrol/"+token, "", "", nil); page.status != 409 || !strings.Contains(string(page.body), "used already") {
		t.Errorf("enrolment page of a used token: %d", page.status)
	}

	r = e.postJSON("/v1/seals/"+e.sealID+"/persons", e.admin, map[string]any{"name": "赵六", "passkey": true})
	m = r.json(t)
	late := strings.TrimPrefix(m["enrolment_url"].(string), e.url+"/enrol/")
	e.clock.advance(seal.DefaultEnrolmentTTL + time.Minute)
	r = e.do("POST", "/v1/enrolments/"+late, "", "application/json", bytes.NewReader(b.register(m["id"].(string), late)))
	if r.status != 410 || problemType(t, r) != "/problems/enrolment-expired" {
		t.Errorf("expired token: %d %s", r.status, r.body)
	}
}

// TestPasskeyHostileAssertions: assertions a browser on the right page
// would not make are refused with a precise problem, and no grant is made.
func TestPasskeyHostileAssertions(t *testing.T) {
	e := newEnvOn(t, "localhost")
	r := e.postJSON("/v1/seals", e.admin, map[string]any{"name": "测试市卫生健康委员会"})
	if r.status != 201 {
		t.Fatalf("create seal: %d %s", r.status, r.body)
	}
	sealID := r.json(t)["id"].(string)
	personID, pk := e.passkeyPerson(sealID, "李四")
	removedID, removedPK := e.passkeyPerson(sealID, "钱七")
	if r := e.postJSON("/v1/persons/"+removedID+"/remove", e.admin, map[string]any{"reason": "调离"}); r.status != 200 {
		t.Fatalf("remove: %d %s", r.status, r.body)
	}
	stranger := newSoftPasskey(t, e)
	stamper := e.key(api.RoleStamper, sealID)
	ask := func(caseNo string) (string, []byte) {
		r := e.postJSON("/v1/authorization-requests", stamper, map[string]any{"seal_id": sealID, "case_no": caseNo, "title": "医疗机构执业许可证"})
		if r.status != 201 {
			t.Fatalf("request: %d %s", r.status, r.body)
		}
		m := r.json(t)
		ch, _ := base64.StdEncoding.DecodeString(m["challenge"].(string))
		return m["id"].(string), ch
	}
	target, grant := ask("ZJ-H-1")
	other, otherGrant := ask("ZJ-H-2")

	tamperedCD := func(cd []byte) []byte {
		return bytes.Replace(cd, []byte(`"crossOrigin":false`), []byte(`"crossOrigin":false `), 1)
	}
	refusal := seal.RefusalBytes(grant, "不同意")
	for _, c := range []struct {
		name    string
		body    []byte
		status  int
		problem string
	}{
		{"tampered clientDataJSON", pk.assert(grant, assertionOpts{tamper: tamperedCD}), 403, "passkey-invalid"},
		{"another request's challenge", pk.assert(otherGrant, assertionOpts{}), 403, "passkey-invalid"},
		{"a refusal's challenge", pk.assert(refusal, assertionOpts{}), 403, "passkey-invalid"},
		{"wrong origin", pk.assert(grant, assertionOpts{origin: "https://evil.example"}), 403, "passkey-invalid"},
		{"wrong RP id", pk.assert(grant, assertionOpts{rpID: "evil.example"}), 403, "passkey-invalid"},
		{"user not verified", pk.assert(grant, assertionOpts{flags: 0x01}), 403, "passkey-invalid"},
		{"unknown credential", stranger.assert(grant, assertionOpts{}), 403, "passkey-unknown"},
		{"removed person", removedPK.assert(grant, assertionOpts{}), 403, "person-removed"},
		{"not an assertion", []byte(`{"id":"x"}`), 403, "passkey-invalid"},
	} {
		r := e.do("POST", "/v1/authorization-requests/"+target+"/passkey-approve", "", "application/json", bytes.NewReader(c.body))
		if r.status != c.status || problemType(t, r) != "/problems/"+c.problem {
			t.Errorf("%s: %d %s", c.name, r.status, r.body)
		}
	}
	if st := e.do("GET", "/v1/authorization-requests/"+target, stamper, "", nil).json(t); st["status"] != "pending" {
		t.Fatalf("after the hostile assertions the request is %v", st["status"])
	}
	// A refusal needs an assertion too.
	r = e.postJSON("/v1/authorization-requests/"+target+"/passkey-refuse", "", map[string]any{"reason": "不同意"})
	if r.status != 422 || problemType(t, r) != "/problems/invalid-field" {
		t.Errorf("refusal without an assertion: %d %s", r.status, r.body)
	}
	r = e.postJSON("/v1/authorization-requests/"+target+"/passkey-refuse", "", map[string]any{"reason": "不同意", "credential": json.RawMessage(pk.assert(grant, assertionOpts{}))})
	if r.status != 403 || problemType(t, r) != "/problems/passkey-invalid" {
		t.Errorf("refusal with an approval's assertion: %d %s", r.status, r.body)
	}

	// The real approval, then replays of it.
	good := pk.assert(grant, assertionOpts{})
	if r := e.do("POST", "/v1/authorization-requests/"+target+"/passkey-approve", "", "application/json", bytes.NewReader(good)); r.status != 201 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/authorization-requests/"+target+"/passkey-approve", "", "application/json", bytes.NewReader(good)); r.status != 409 || problemType(t, r) != "/problems/request-decided" {
		t.Errorf("replayed onto the same request: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/authorization-requests/"+other+"/passkey-approve", "", "application/json", bytes.NewReader(good)); r.status != 403 || problemType(t, r) != "/problems/passkey-invalid" {
		t.Errorf("replayed onto another request: %d %s", r.status, r.body)
	}
	// A signature counter that does not grow: a cloned passkey.
	pk.counter -= 2
	if r := e.do("POST", "/v1/authorization-requests/"+other+"/passkey-approve", "", "application/json", bytes.NewReader(pk.assert(otherGrant, assertionOpts{}))); r.status != 403 || problemType(t, r) != "/problems/passkey-replayed" {
		t.Errorf("counter not advancing: %d %s", r.status, r.body)
	}
	if st := e.do("GET", "/v1/authorization-requests/"+other, stamper, "", nil).json(t); st["status"] != "pending" {
		t.Fatalf("after the replays the other request is %v", st["status"])
	}
	// The SM2 endpoint does not take a passkey person's word.
	if r := e.postJSON("/v1/authorization-requests/"+other+"/approve", "", map[string]any{"person_id": personID, "signature": "AAAA"}); r.status != 403 || problemType(t, r) != "/problems/signature-invalid" {
		t.Errorf("SM2 approval for a passkey person: %d %s", r.status, r.body)
	}
}
