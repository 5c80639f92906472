package api_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"eseal/archive"
)

// TestFixityAndLegalHold stamps documents, alters one PDF on disk behind the
// service's back and shows the fixity run finds exactly that one; then a
// legal hold blocks deletion of a document.
func TestFixityAndLegalHold(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var ids []string
	for i := 0; i < 3; i++ {
		authz := e.grant(e.sealID, map[string]any{"case_no": "FX-1"})
		r := e.stamp(testPDF("档案检测"), stampReq(e.sealID, authz, "FX-1"))
		if r.status != 201 {
			t.Fatalf("stamp: %d %s", r.status, r.body)
		}
		ids = append(ids, r.json(t)["document_id"].(string))
	}
	rep, err := archive.Fixity(ctx, e.store, time.Now, nil, nil)
	if err != nil || !rep.OK() || rep.Documents != 3 {
		t.Fatalf("clean archive: %v %+v", err, rep)
	}

	// Flip a byte of the second document's PDF on disk.
	var victim string
	filepath.Walk(e.root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && filepath.Base(p) == "document.pdf" && filepath.Base(filepath.Dir(p)) == ids[1]+"~" {
			victim = p
		}
		return nil
	})
	if victim == "" {
		t.Fatal("could not find the stored PDF on disk")
	}
	os.Chmod(victim, 0o644)
	b, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0x20
	if err := os.WriteFile(victim, b, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err = archive.Fixity(ctx, e.store, time.Now, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].DocumentID != ids[1] {
		t.Fatalf("fixity after tampering: %+v", rep.Problems)
	}

	// Legal hold over REST (archivist), then deletion is refused.
	archivist := mustKey(t, e, "archivist")
	r := e.do("POST", "/v1/documents/"+ids[0]+"/hold", archivist, "application/json", jsonBody(map[string]any{"on": true, "reason": "行政复议"}))
	if r.status != 200 {
		t.Fatalf("hold: %d %s", r.status, r.body)
	}
	info, err := e.store.Head(ctx, archive.DocumentKey(ids[0]))
	if err != nil || !info.LegalHold {
		t.Fatalf("hold not set: %v %+v", err, info)
	}
	var le *archive.LockedError
	if err := e.store.Delete(ctx, archive.DocumentKey(ids[0])); !errors.As(err, &le) {
		t.Fatalf("delete under hold: %v", err)
	}
	r = e.do("POST", "/v1/documents/"+ids[0]+"/hold", archivist, "application/json", jsonBody(map[string]any{"on": true}))
	if r.status != 422 || problemType(t, r) != "/problems/invalid-field" {
		t.Fatalf("hold without a reason: %d %s", r.status, r.body)
	}
	stamper := mustKey(t, e, "stamper")
	if r := e.do("POST", "/v1/documents/"+ids[0]+"/hold", stamper, "application/json", jsonBody(map[string]any{"on": false, "reason": "x"})); r.status != 403 {
		t.Fatalf("stamper released a hold: %d", r.status)
	}
}
