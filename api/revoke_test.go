package api_test

import (
	"context"
	"testing"

	"eseal/api"
)

// TestRevokeTooLate: a revoke after stampings used some of an
// authorization's uses is 200, naming their documents in too_late_for; after
// they used every use it is 409 /problems/revoke-too-late naming them in
// document_ids. (The race itself is in seal's revoke_race_test.go.)
func TestRevokeTooLate(t *testing.T) {
	e := newEnv(t)
	authorizer := e.key(api.RoleAuthorizer, e.sealID)
	stampOnce := func(authz string) string {
		t.Helper()
		r := e.stamp(testPDF("撤回太迟"), stampReq(e.sealID, authz, "RT-1"))
		if r.status != 201 {
			t.Fatalf("stamp: %d %s", r.status, r.body)
		}
		return r.json(t)["document_id"].(string)
	}

	two := e.grant(e.sealID, map[string]any{"case_no": "RT-1", "max_uses": 2})
	doc := stampOnce(two)
	r := e.postJSON("/v1/authorizations/"+two+"/revoke", authorizer, map[string]any{"reason": "申请撤回"})
	if r.status != 200 {
		t.Fatalf("revoke with a use left: %d %s", r.status, r.body)
	}
	m := r.json(t)
	if late, _ := m["too_late_for"].([]any); len(late) != 1 || late[0] != doc || m["revoked"] == nil {
		t.Fatalf("revoke with a use left: %s", r.body)
	}
	if r := e.stamp(testPDF("撤回太迟"), stampReq(e.sealID, two, "RT-1")); r.status != 409 || problemType(t, r) != "/problems/authorization-revoked" {
		t.Fatalf("stamping after the revoke: %d %s", r.status, r.body)
	}

	one := e.grant(e.sealID, map[string]any{"case_no": "RT-1"})
	doc = stampOnce(one)
	if err := e.srv.Service.FlushPending(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := e.objects()
	r = e.postJSON("/v1/authorizations/"+one+"/revoke", authorizer, map[string]any{"reason": "申请撤回"})
	if r.status != 409 || problemType(t, r) != "/problems/revoke-too-late" {
		t.Fatalf("revoke of a used authorization: %d %s", r.status, r.body)
	}
	if ids, _ := r.json(t)["document_ids"].([]any); len(ids) != 1 || ids[0] != doc {
		t.Fatalf("revoke-too-late names %v, want %s", ids, doc)
	}
	if after := e.objects(); after != before {
		t.Errorf("a revoke that came too late changed the store: %d → %d objects", before, after)
	}
}
