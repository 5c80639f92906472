package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eseal/api"
	"eseal/archive"
	"eseal/archive/transfer"
	"eseal/seal"
)

// TestPasskeyEvidenceKept: a document stamped under a passkey approval
// names its approver on the verify page, passes fixity and a transfer package's offline check with its passkey
// evidence; one flipped byte of the assertion in the package, or of the
// stored client data, is reported naming the file and the authorization.
func TestPasskeyEvidenceKept(t *testing.T) {
	e := newEnvOn(t, "localhost")
	ctx := context.Background()
	r := e.postJSON("/v1/seals", e.admin, map[string]any{"name": "测试市卫生健康委员会"})
	if r.status != 201 {
		t.Fatalf("create seal: %d %s", r.status, r.body)
	}
	sealID := r.json(t)["id"].(string)
	_, pk := e.passkeyPerson(sealID, "李四")
	stamper := e.key(api.RoleStamper, sealID)
	r = e.postJSON("/v1/authorization-requests", stamper, map[string]any{"seal_id": sealID, "case_no": "PK-1", "title": "医疗机构执业许可证"})
	if r.status != 201 {
		t.Fatalf("request: %d %s", r.status, r.body)
	}
	m := r.json(t)
	grant, _ := base64.StdEncoding.DecodeString(m["challenge"].(string))
	r = e.do("POST", "/v1/authorization-requests/"+m["id"].(string)+"/passkey-approve", "", "application/json", bytes.NewReader(pk.assert(grant, assertionOpts{})))
	if r.status != 201 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	az := r.json(t)["authorization_id"].(string)
	r = e.stamp(testPDF("医疗机构执业许可证"), stampReq(sealID, az, "PK-1"))
	if r.status != 201 {
		t.Fatalf("stamp: %d %s", r.status, r.body)
	}
	// The verify page says who authorized, and how.
	page := e.do("GET", "/v/"+r.json(t)["document_id"].(string), "", "", nil)
	if page.status != 200 || !strings.Contains(string(page.body), "李四（通行密钥 passkey）") {
		t.Fatalf("the verify page does not name the person who authorized: %d %s", page.status, page.body)
	}

	rep, err := archive.Fixity(ctx, e.store, time.Now, nil, e.reg.CheckEvidence, nil)
	if err != nil || !rep.OK() {
		t.Fatalf("fixity of a clean archive: %v %+v", err, rep)
	}

	r = e.do("POST", "/v1/transfers", e.key(api.RoleArchivist), "application/json", jsonBody(map[string]any{"case_no": "PK-1"}))
	if r.status != 200 {
		t.Fatalf("transfer: %d %.300s", r.status, r.body)
	}
	pkg := r.body
	check := func(b []byte) []transfer.Row {
		t.Helper()
		rep, err := transfer.Check(ctx, bytes.NewReader(b), int64(len(b)),
			transfer.CheckOptions{VerifyEvidence: seal.VerifyEvidenceSignature, VerifyPasskey: seal.VerifyPasskeyEvidence})
		if err != nil {
			t.Fatal(err)
		}
		var rows []transfer.Row
		for _, row := range rep.Rows {
			if row.Check == transfer.CheckAuthorization {
				rows = append(rows, row)
			}
		}
		return rows
	}
	rows := check(pkg)
	if len(rows) != 1 || rows[0].Result != transfer.Pass {
		t.Fatalf("evidence rows of a clean package: %+v", rows)
	}
	ev, err := e.reg.Evidence(ctx, az)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Method != seal.MethodPasskey {
		t.Fatalf("method %q", ev.Method)
	}
	i := bytes.Index(pkg, ev.Signature)
	if i < 0 {
		t.Fatal("the assertion's signature is not stored as is in the package")
	}
	bad := append([]byte{}, pkg...)
	bad[i+len(ev.Signature)/2] ^= 0x01
	failed := false
	for _, row := range check(bad) {
		if row.Result == transfer.Fail && strings.HasSuffix(row.DocRef, az+"/"+transfer.EvidenceAssertion) {
			failed = true
		}
	}
	if !failed {
		t.Fatalf("a flipped byte of the assertion in the package was not reported: %+v", check(bad))
	}

	var victim string
	_ = filepath.Walk(e.root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && fi.Name() == "client-data.json" && strings.Contains(p, az) {
			victim = p
		}
		return nil
	})
	if victim == "" {
		t.Fatal("no stored client-data.json on disk")
	}
	_ = os.Chmod(victim, 0o644)
	b, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(victim, b, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err = archive.Fixity(ctx, e.store, time.Now, nil, e.reg.CheckEvidence, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].AuthorizationID != az {
		t.Fatalf("fixity after a flipped byte of the stored client data: %+v", rep.Problems)
	}
}
