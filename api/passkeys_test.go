package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"eseal/api"
	"eseal/archive"
)

// TestMorePasskeysPerPerson: an enrolled passkey person registers a second
// passkey at a one-time link of its own; each passkey approves, with a
// signature counter of its own; a lost one is removed without removing the
// person — its assertions are refused (passkey-removed), what it approved
// before stays valid (fixity verifies its evidence), and the other passkey
// goes on approving.
func TestMorePasskeysPerPerson(t *testing.T) {
	e := newEnvOn(t, "localhost")
	sealID := e.createSeal("测试市市场监督管理局")
	personID, phone := e.passkeyPerson(sealID, "李四")
	stamper := e.key(api.RoleStamper, sealID)

	invite := func() string {
		t.Helper()
		r := e.postJSON("/v1/persons/"+personID+"/passkeys", e.admin, nil)
		if r.status != 201 {
			t.Fatalf("invite: %d %s", r.status, r.body)
		}
		return strings.TrimPrefix(r.json(t)["enrolment_url"].(string), e.url+"/enrol/")
	}
	token := invite()
	if page := e.do("GET", "/enrol/"+token, "", "", nil); page.status != 200 || !strings.Contains(string(page.body), "李四") {
		t.Fatalf("the link's page: %d", page.status)
	}
	key := newSoftPasskey(t, e) // a security key
	if r := e.do("POST", "/v1/enrolments/"+token, "", "application/json", bytes.NewReader(key.register(personID, token))); r.status != 201 {
		t.Fatalf("register the second passkey: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/enrolments/"+token, "", "application/json", bytes.NewReader(newSoftPasskey(t, e).register(personID, token))); r.status != 409 || problemType(t, r) != "/problems/enrolment-used" {
		t.Fatalf("the link again: %d %s", r.status, r.body)
	}
	again := invite()
	if r := e.do("POST", "/v1/enrolments/"+again, "", "application/json", bytes.NewReader(phone.register(personID, again))); r.status != 403 || problemType(t, r) != "/problems/passkey-invalid" {
		t.Fatalf("the first passkey registered again: %d %s", r.status, r.body)
	}
	list := e.do("GET", "/v1/persons/"+personID+"/passkeys", e.admin, "", nil)
	if list.status != 200 || strings.Count(string(list.body), `"credential_id"`) != 2 || !strings.Contains(string(list.body), `"first": true`) {
		t.Fatalf("passkeys: %d %s", list.status, list.body)
	}

	ask := func(caseNo string) (string, []byte) { return e.ask(sealID, caseNo) }
	approve := func(rq string, body []byte) response {
		return e.do("POST", "/v1/authorization-requests/"+rq+"/passkey-approve", "", "application/json", bytes.NewReader(body))
	}
	// Each approves; their counters are their own (both start from zero).
	var authzs []string
	for i, pk := range []*softPasskey{key, phone, key} {
		rq, grant := ask("ZJ-PK-" + string(rune('1'+i)))
		r := approve(rq, pk.assert(grant, assertionOpts{}))
		if r.status != 201 {
			t.Fatalf("approval %d: %d %s", i+1, r.status, r.body)
		}
		authzs = append(authzs, r.json(t)["authorization_id"].(string))
	}
	for i, az := range authzs {
		if r := e.stamp(testPDF("多通行密钥"), stampReq(sealID, az, "ZJ-PK-"+string(rune('1'+i)))); r.status != 201 {
			t.Fatalf("stamp %d: %d %s", i+1, r.status, r.body)
		}
	}

	// The phone is lost.
	e.clock.advance(time.Minute)
	lost := e.postJSON("/v1/persons/"+personID+"/passkeys/"+b64u(phone.id)+"/remove", e.admin, map[string]any{"reason": "手机遗失"})
	if lost.status != 200 || !strings.Contains(string(lost.body), "手机遗失") {
		t.Fatalf("remove the phone's passkey: %d %s", lost.status, lost.body)
	}
	if r := e.postJSON("/v1/persons/"+personID+"/passkeys/"+b64u(phone.id)+"/remove", e.admin, map[string]any{"reason": "again"}); r.status != 403 || problemType(t, r) != "/problems/passkey-removed" {
		t.Fatalf("removed twice: %d %s", r.status, r.body)
	}
	for name, id := range map[string]string{"unknown": b64u([]byte("nobody")), "not base64url": "not.base64!", "padded": b64u(phone.id) + "==",
		"too long": strings.Repeat("A", 2000)} {
		if r := e.postJSON("/v1/persons/"+personID+"/passkeys/"+id+"/remove", e.admin, nil); r.status != 403 || problemType(t, r) != "/problems/passkey-unknown" {
			t.Fatalf("remove a passkey, %s: %d %s", name, r.status, r.body)
		}
	}
	if r := e.postJSON("/v1/persons/"+personID+"/passkeys/"+b64u(key.id)+"/remove", e.admin, map[string]any{"reason": strings.Repeat("长", 513)}); r.status != 422 {
		t.Fatalf("a reason too long: %d %s", r.status, r.body)
	}
	rq, grant := ask("ZJ-PK-9")
	if r := approve(rq, phone.assert(grant, assertionOpts{})); r.status != 403 || problemType(t, r) != "/problems/passkey-removed" {
		t.Fatalf("the lost phone approves: %d %s", r.status, r.body)
	}
	if st := e.do("GET", "/v1/authorization-requests/"+rq, stamper, "", nil).json(t); st["status"] != "pending" {
		t.Fatalf("after the lost phone's assertion the request is %v", st["status"])
	}
	if r := approve(rq, key.assert(grant, assertionOpts{})); r.status != 201 {
		t.Fatalf("the security key approves: %d %s", r.status, r.body)
	}
	// What the phone approved before its removal still verifies.
	rep, err := archive.Fixity(context.Background(), e.store, time.Now, nil, e.reg.CheckEvidence, nil)
	if err != nil || !rep.OK() || rep.Documents < 3 {
		t.Fatalf("fixity after the removal: %v %+v", err, rep)
	}

	// Only an enrolled passkey person is invited.
	if r := e.postJSON("/v1/persons/p-nosuchperson00/passkeys", e.admin, nil); r.status != 404 {
		t.Errorf("invite for no one: %d %s", r.status, r.body)
	}
	if r := e.postJSON("/v1/persons/"+personID+"/remove", e.admin, map[string]any{"reason": "调离"}); r.status != 200 {
		t.Fatal(r.status)
	}
	if r := e.postJSON("/v1/persons/"+personID+"/passkeys", e.admin, nil); r.status != 403 || problemType(t, r) != "/problems/person-removed" {
		t.Errorf("invite for a removed person: %d %s", r.status, r.body)
	}
}

// TestPasskeyCountersKept: signature counter values are kept newest first,
// so an assertion reads one value, not every approval's; values kept the
// old way (ascending, under counter/) still count — a counter at or below
// them is a replay.
func TestPasskeyCountersKept(t *testing.T) {
	e := newEnvOn(t, "localhost")
	sealID := e.createSeal("测试市卫生健康委员会")
	personID, pk := e.passkeyPerson(sealID, "李四")
	ask := func(caseNo string) (string, []byte) { return e.ask(sealID, caseNo) }
	approve := func(caseNo string) response {
		rq, grant := ask(caseNo)
		return e.do("POST", "/v1/authorization-requests/"+rq+"/passkey-approve", "", "application/json", bytes.NewReader(pk.assert(grant, assertionOpts{})))
	}
	for i := range 3 {
		if r := approve("ZJ-C-" + string(rune('1'+i))); r.status != 201 {
			t.Fatalf("approval %d: %d %s", i+1, r.status, r.body)
		}
	}
	// A value kept the old way, above the authenticator's counter.
	if _, err := archive.PutBytesIfAbsent(context.Background(), e.store, "persons/"+personID+"/counter/0000000100", nil); err != nil {
		t.Fatal(err)
	}
	if r := approve("ZJ-C-4"); r.status != 403 || problemType(t, r) != "/problems/passkey-replayed" {
		t.Fatalf("a counter below a value kept the old way: %d %s", r.status, r.body)
	}
	pk.counter = 100
	if r := approve("ZJ-C-5"); r.status != 201 {
		t.Fatalf("a counter above it: %d %s", r.status, r.body)
	}
	pk.counter = 50
	if r := approve("ZJ-C-6"); r.status != 403 || problemType(t, r) != "/problems/passkey-replayed" {
		t.Fatalf("a counter below the newest: %d %s", r.status, r.body)
	}
}

// createSeal creates a seal (policy person) and returns its id.
func (e *env) createSeal(name string) string {
	t := e.t.(*testing.T)
	t.Helper()
	r := e.postJSON("/v1/seals", e.admin, map[string]any{"name": name})
	if r.status != 201 {
		t.Fatalf("create seal: %d %s", r.status, r.body)
	}
	return r.json(t)["id"].(string)
}

// ask asks the seal's persons to approve one use for caseNo, with the
// seal's stamper key: the request's id and challenge (the grant bytes).
func (e *env) ask(sealID, caseNo string) (string, []byte) {
	t := e.t.(*testing.T)
	t.Helper()
	r := e.postJSON("/v1/authorization-requests", e.key(api.RoleStamper, sealID), map[string]any{"seal_id": sealID, "case_no": caseNo, "title": "食品经营许可证"})
	if r.status != 201 {
		t.Fatalf("request: %d %s", r.status, r.body)
	}
	m := r.json(t)
	ch, _ := base64.StdEncoding.DecodeString(m["challenge"].(string))
	return m["id"].(string), ch
}
