package api_test

import (
	"bytes"
	"testing"
)

// POST /v1/stamps with "profile": "pades" signs ETSI.CAdES.detached and the
// verifier names the profile and PAdES level; an unknown profile is a 422 (invalid-field)
// naming the field, and changes nothing.
func TestStampProfile(t *testing.T) {
	e := newEnv(t)
	authz := e.grant(e.sealID, map[string]any{"case_no": "ZJ-2026-000777", "expires_in": "10m"})
	before := e.objects()
	bad := stampReq(e.sealID, authz, "ZJ-2026-000777")
	bad["profile"] = "cades"
	r := e.stamp(testPDF("准予行政许可决定书"), bad)
	if r.status != 422 || problemType(t, r) != "/problems/invalid-field" || r.json(t)["field"] != "profile" || e.objects() != before {
		t.Fatalf("unknown profile: %d %s", r.status, r.body)
	}
	req := stampReq(e.sealID, authz, "ZJ-2026-000777")
	req["profile"], req["timestamp"] = "pades", true
	r = e.stamp(testPDF("准予行政许可决定书"), req)
	if r.status != 201 {
		t.Fatalf("stamp: %d %s", r.status, r.body)
	}
	code := r.json(t)["retrieval_code"].(string)
	signed := e.do("GET", "/d/"+code+"/pdf", "", "", nil).body
	if !bytes.Contains(signed, []byte("/ETSI.CAdES.detached")) {
		t.Fatal("the signature is not ETSI.CAdES.detached")
	}
	v := e.do("POST", "/v1/verify", "", "application/pdf", bytes.NewReader(signed)).json(t)
	sig := v["signatures"].([]any)[0].(map[string]any)
	if v["verdict"] != "VALID" || sig["profile"] != "pades" || sig["pades_level"] != "B-T" {
		t.Fatalf("verify: %v profile %v level %v", v["verdict"], sig["profile"], sig["pades_level"])
	}
}
