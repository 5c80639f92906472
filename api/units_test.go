package api_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"eseal/api"
	"eseal/archive"
	"eseal/seal"
)

// unitEnv is a deployment with two units, A and B, each with its admin, a
// person-policy seal, its responsible person, a stamper and an archivist.
type unitEnv struct {
	*env
	platform string
	a, b     unitSide
}

type unitSide struct {
	id, name, fonds     string
	admin, stamper, arc string
	sealID, personID    string
	person              *opensslPerson
}

func newUnitEnv(t *testing.T) *unitEnv {
	t.Helper()
	e := newEnv(t)
	_, platform, err := api.Keyring{Store: e.store, Registry: e.reg}.Create(context.Background(), api.KeySpec{Name: "省平台", Role: api.RolePlatform, By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	u := &unitEnv{env: e, platform: platform}
	for _, side := range []*unitSide{
		{name: "测试市市场监督管理局", fonds: "A001"},
		{name: "测试市气象局", fonds: "B001"},
	} {
		code := map[string]string{"A001": "11330200MB1234567A", "B001": "11330200MB7654321B"}[side.fonds]
		r := e.postJSON("/v1/units", platform, map[string]any{"name": side.name, "code": code, "fonds": side.fonds})
		if r.status != 201 {
			t.Fatalf("unit %s: %d %s", side.name, r.status, r.body)
		}
		side.id = r.json(t)["id"].(string)
		side.admin = u.createKey(platform, map[string]any{"name": side.name + " admin", "role": "admin", "unit": side.id})
		r = e.postJSON("/v1/seals", side.admin, map[string]any{"name": side.name + "行政审批专用章"})
		if r.status != 201 {
			t.Fatalf("seal of %s: %d %s", side.name, r.status, r.body)
		}
		side.sealID = r.json(t)["id"].(string)
		side.person = newOpenSSLPerson(t, side.name+"负责人")
		r = e.postJSON("/v1/seals/"+side.sealID+"/persons", side.admin, map[string]any{"name": side.name + "负责人", "certificate": side.person.cert()})
		if r.status != 201 {
			t.Fatalf("person of %s: %d %s", side.name, r.status, r.body)
		}
		side.personID = r.json(t)["id"].(string)
		side.stamper = u.createKey(side.admin, map[string]any{"name": side.name + " 审批系统", "role": "stamper", "seals": []string{side.sealID}})
		side.arc = u.createKey(side.admin, map[string]any{"name": side.name + " 档案室", "role": "archivist"})
		if side.fonds == "A001" {
			u.a = *side
		} else {
			u.b = *side
		}
	}
	return u
}

func (u *unitEnv) createKey(by string, body map[string]any) string {
	u.t.Helper()
	r := u.postJSON("/v1/keys", by, body)
	if r.status != 201 {
		u.t.Fatalf("key %v: %d %s", body, r.status, r.body)
	}
	return r.json(u.t)["key"].(string)
}

// approved asks the seal's person (with the stamper key) and approves.
func (u *unitEnv) approved(stamper string, side unitSide, caseNo string) string {
	u.t.Helper()
	r := u.postJSON("/v1/authorization-requests", stamper, map[string]any{"seal_id": side.sealID, "case_no": caseNo, "title": "一件事联合审批", "expires_in": "10m"})
	if r.status != 201 {
		u.t.Fatalf("request for %s: %d %s", side.sealID, r.status, r.body)
	}
	m := r.json(u.t)
	challenge, _ := base64.StdEncoding.DecodeString(m["challenge"].(string))
	r = u.postJSON("/v1/authorization-requests/"+m["id"].(string)+"/approve", "", map[string]any{"person_id": side.personID, "signature": side.person.sign(challenge)})
	if r.status != 201 {
		u.t.Fatalf("approve: %d %s", r.status, r.body)
	}
	return r.json(u.t)["authorization_id"].(string)
}

func wantProblem(t *testing.T, what string, r response, status int, typ string) {
	t.Helper()
	if r.status != status || problemType(t, r) != typ {
		t.Errorf("%s: %d %s; want %d %s", what, r.status, r.body, status, typ)
	}
}

// TestUnitsKeepApart: two units in one deployment. Each unit's keys reach its
// own seals, persons, documents and transfers and get 403 for the other's;
// a unit's admin creates keys for its unit only; documents are kept under
// the unit's prefix, their ids carry its tag, and a transfer holds only the
// unit's records with its fonds code.
func TestUnitsKeepApart(t *testing.T) {
	u := newUnitEnv(t)
	a, b := u.a, u.b
	ctx := context.Background()

	// Only the platform key manages units; codes are unique.
	wantProblem(t, "units by a unit admin", u.do("GET", "/v1/units", a.admin, "", nil), 403, "/problems/forbidden")
	wantProblem(t, "a second unit with A's code", u.postJSON("/v1/units", u.platform, map[string]any{"name": "别的", "code": "11330200MB1234567A", "fonds": "C001"}), 409, "/problems/unit-exists")
	wantProblem(t, "a seal by the platform key", u.postJSON("/v1/seals", u.platform, map[string]any{"name": "平台章"}), 403, "/problems/forbidden")
	if r := u.do("GET", "/v1/units", u.platform, "", nil); r.status != 200 || strings.Count(string(r.body), `"id": "u-`) != 3 {
		t.Fatalf("units: %d %s", r.status, r.body)
	}

	// B's admin cannot make keys for A, nor name A's seal, nor make a
	// platform key; it sees only B's keys.
	wantProblem(t, "B admin: key for A", u.postJSON("/v1/keys", b.admin, map[string]any{"name": "x", "role": "archivist", "unit": a.id}), 403, "/problems/unit-out-of-scope")
	wantProblem(t, "B admin: stamper key with A's seal", u.postJSON("/v1/keys", b.admin, map[string]any{"name": "x", "role": "stamper", "seals": []string{a.sealID}}), 403, "/problems/unit-out-of-scope")
	wantProblem(t, "B admin: platform key", u.postJSON("/v1/keys", b.admin, map[string]any{"name": "x", "role": "platform"}), 403, "/problems/forbidden")
	var keys []map[string]any
	if r := u.do("GET", "/v1/keys", b.admin, "", nil); r.status != 200 || json.Unmarshal(r.body, &keys) != nil {
		t.Fatalf("B's keys: %d %s", r.status, r.body)
	}
	for _, k := range keys {
		if k["unit"] != b.id {
			t.Errorf("B's admin lists a key of unit %v", k["unit"])
		}
	}
	aKeys := map[string]string{}
	if r := u.do("GET", "/v1/keys", a.admin, "", nil); r.status == 200 {
		var ks []map[string]any
		_ = json.Unmarshal(r.body, &ks)
		for _, k := range ks {
			aKeys[k["role"].(string)] = k["id"].(string)
		}
	}
	wantProblem(t, "B admin: revoke A's key", u.postJSON("/v1/keys/"+aKeys["archivist"]+"/revoke", b.admin, map[string]any{}), 403, "/problems/unit-out-of-scope")

	// Seals and persons: A's keys reach none of B's.
	for what, r := range map[string]response{
		"A stamper: B's seal":      u.do("GET", "/v1/seals/"+b.sealID, a.stamper, "", nil),
		"A stamper: stamp with B":  u.stampAs(a.stamper, testPDF("x"), stampReq(b.sealID, "az-aaaaaaaaaaaaaaaa", "C-1")),
		"A stamper: ask B's seal":  u.postJSON("/v1/authorization-requests", a.stamper, map[string]any{"seal_id": b.sealID, "case_no": "C-1", "title": "x"}),
		"A archivist: B's seal":    u.do("GET", "/v1/seals/"+b.sealID, a.arc, "", nil),
		"A admin: B's persons":     u.do("GET", "/v1/seals/"+b.sealID+"/persons", a.admin, "", nil),
		"A admin: B's person":      u.do("GET", "/v1/persons/"+b.personID, a.admin, "", nil),
		"A admin: suspend B seal":  u.postJSON("/v1/seals/"+b.sealID+"/suspend", a.admin, map[string]any{}),
		"A admin: enrol for B":     u.postJSON("/v1/seals/"+b.sealID+"/persons", a.admin, map[string]any{"name": "x", "certificate": a.person.cert()}),
		"A admin: remove B person": u.postJSON("/v1/persons/"+b.personID+"/remove", a.admin, map[string]any{}),
	} {
		if r.status != 403 {
			t.Errorf("%s: %d %s; want 403", what, r.status, r.body)
		}
	}
	var seals []map[string]any
	if r := u.do("GET", "/v1/seals", a.arc, "", nil); r.status != 200 || json.Unmarshal(r.body, &seals) != nil || len(seals) != 1 || seals[0]["id"] != a.sealID {
		t.Fatalf("A archivist's seals: %s", r.body)
	}

	// Documents: each unit stamps its own; ids carry the unit's tag and the
	// records are under the unit's prefix.
	docs := map[string]string{}
	for _, side := range []unitSide{a, b} {
		authz := u.approved(side.stamper, side, "U-"+side.fonds)
		r := u.stampAs(side.stamper, testPDF("行政许可决定书"), stampReq(side.sealID, authz, "U-"+side.fonds))
		if r.status != 201 {
			t.Fatalf("stamp in %s: %d %s", side.name, r.status, r.body)
		}
		id := r.json(t)["document_id"].(string)
		if tag := strings.TrimPrefix(side.id, "u-"); archive.UnitTag(id) != tag {
			t.Fatalf("document %s of %s does not carry the tag %s", id, side.id, tag)
		}
		if _, err := u.store.Head(ctx, "units/"+side.id+"/docs/"+id+"/record.json"); err != nil {
			t.Fatalf("record of %s not under the unit's prefix: %v", id, err)
		}
		docs[side.fonds] = id
	}
	for what, r := range map[string]response{
		"A archivist: B's document": u.do("GET", "/v1/documents/"+docs["B001"], a.arc, "", nil),
		"A stamper: B's document":   u.do("GET", "/v1/documents/"+docs["B001"], a.stamper, "", nil),
		"B archivist: A's PDF":      u.do("GET", "/v1/documents/"+docs["A001"]+"/pdf", b.arc, "", nil),
		"B archivist: hold A's":     u.postJSON("/v1/documents/"+docs["A001"]+"/hold", b.arc, map[string]any{"reason": "x"}),
	} {
		if r.status != 403 {
			t.Errorf("%s: %d %s; want 403", what, r.status, r.body)
		}
	}
	if r := u.do("GET", "/v1/documents/"+docs["A001"], a.arc, "", nil); r.status != 200 || !strings.Contains(string(r.body), a.name) {
		t.Fatalf("A archivist: A's document: %d %s", r.status, r.body)
	}
	// The public pages find every unit's document.
	if r := u.do("GET", "/v/"+docs["B001"], "", "", nil); r.status != 200 || !strings.Contains(string(r.body), "VALID") {
		t.Fatalf("verify page of B's document: %d", r.status)
	}

	// Transfers: A's archivist transfers A's records with A's fonds code.
	r := u.do("POST", "/v1/transfers", a.arc, "application/json", jsonBody(map[string]any{}))
	if r.status != 200 {
		t.Fatalf("A's transfer: %d %s", r.status, r.body)
	}
	text := zipText(t, r.body)
	if !strings.Contains(text, docs["A001"]) || strings.Contains(text, docs["B001"]) || !strings.Contains(text, "A001-") || strings.Contains(text, "B001") {
		t.Fatalf("A's transfer holds: A's doc %v, B's doc %v, A001 %v, B001 %v", strings.Contains(text, docs["A001"]),
			strings.Contains(text, docs["B001"]), strings.Contains(text, "A001-"), strings.Contains(text, "B001"))
	}
	if r.header.Get("X-Eseal-Package-Items") != "1" {
		t.Fatalf("A's transfer: %s items", r.header.Get("X-Eseal-Package-Items"))
	}
}

// zipText concatenates the names and contents of a zip's entries.
func zipText(t *testing.T, b []byte) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, f := range zr.File {
		sb.WriteString(f.Name + "\n")
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		c, _ := io.ReadAll(rc)
		rc.Close()
		sb.Write(c)
	}
	return sb.String()
}

// TestJointApprovalAcrossUnits: one order joins A's and B's seals, each
// under an authorization approved by a person of its own unit: one document,
// two valid seals whose signer certificates name A and B. Without B's
// approval nothing commits.
func TestJointApprovalAcrossUnits(t *testing.T) {
	u := newUnitEnv(t)
	a, b := u.a, u.b
	// The platform gives A's joint approval system a stamper key for both seals.
	joint := u.createKey(u.platform, map[string]any{"name": "一件事联办系统", "role": "stamper", "unit": a.id, "seals": []string{a.sealID, b.sealID}})
	wantProblem(t, "A admin: joint key with B's seal", u.postJSON("/v1/keys", a.admin, map[string]any{"name": "x", "role": "stamper", "seals": []string{a.sealID, b.sealID}}), 403, "/problems/unit-out-of-scope")

	doc := testPDF("一件事联合审批决定书")
	order := func(azA, azB string) map[string]any {
		return map[string]any{
			"seals": []map[string]any{
				{"seal_id": a.sealID, "authorization_id": azA, "placement": map[string]any{"page": 1, "x_mm": 30, "y_mm": 200}},
				{"seal_id": b.sealID, "authorization_id": azB, "placement": map[string]any{"page": 1, "x_mm": 120, "y_mm": 200}},
			},
			"record": map[string]any{"title": "一件事联合审批决定书", "case_no": "YJS-1", "applicant": "某某餐饮有限公司"},
		}
	}
	azA := u.approved(joint, a, "YJS-1")
	// B's request is asked but not approved: its authorization does not exist.
	r := u.postJSON("/v1/authorization-requests", joint, map[string]any{"seal_id": b.sealID, "case_no": "YJS-1", "title": "一件事联合审批", "expires_in": "10m"})
	if r.status != 201 {
		t.Fatalf("request for B: %d %s", r.status, r.body)
	}
	challenge, _ := base64.StdEncoding.DecodeString(r.json(t)["challenge"].(string))
	g, err := seal.ParseGrant(challenge)
	if err != nil {
		t.Fatal(err)
	}
	pendingB := g.AuthorizationID
	before := countPrefix(u.env, "units/")
	if r := u.stampAs(joint, doc, order(azA, pendingB)); r.status < 400 {
		t.Fatalf("joint order without B's approval: %d %s", r.status, r.body)
	}
	if n := countPrefix(u.env, "units/"); n != before {
		t.Fatalf("a joint order without B's approval stored %d objects under units/", n-before)
	}
	// A's authorization was not used up by the failed order.
	azB := u.approved(joint, b, "YJS-1")
	r = u.stampAs(joint, doc, order(azA, azB))
	if r.status != 201 {
		t.Fatalf("joint order: %d %s", r.status, r.body)
	}
	docID := r.json(t)["document_id"].(string)
	if archive.UnitTag(docID) != strings.TrimPrefix(a.id, "u-") {
		t.Fatalf("the joint document %s is not A's", docID)
	}
	var rec archive.Record
	if err := json.Unmarshal(u.do("GET", "/v1/documents/"+docID, joint, "", nil).body, &rec); err != nil || len(rec.Signatures) != 2 {
		t.Fatalf("joint record: %+v %v", rec, err)
	}
	if !strings.Contains(rec.Signatures[0].Signer, "O="+a.name) || !strings.Contains(rec.Signatures[1].Signer, "O="+b.name) {
		t.Fatalf("signers %q and %q do not name A and B", rec.Signatures[0].Signer, rec.Signatures[1].Signer)
	}
	if rec.Signatures[0].Authorization.PersonID != a.personID || rec.Signatures[1].Authorization.PersonID != b.personID {
		t.Fatalf("each seal's approver: %+v, %+v", rec.Signatures[0].Authorization, rec.Signatures[1].Authorization)
	}
	pdfBytes := u.do("GET", "/v1/documents/"+docID+"/pdf", joint, "", nil).body
	vr := u.do("POST", "/v1/verify", "", "application/pdf", bytes.NewReader(pdfBytes))
	var rep struct {
		Verdict    string `json:"verdict"`
		Signatures []struct {
			Verdict string `json:"verdict"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(vr.body, &rep); err != nil || rep.Verdict != "VALID" || len(rep.Signatures) != 2 {
		t.Fatalf("joint document verifies %s", vr.body)
	}
}
