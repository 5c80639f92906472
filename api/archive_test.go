package api_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eseal/api"
	"eseal/archive"
	"eseal/archive/audit"
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
	rep, err := archive.Fixity(ctx, e.store, time.Now, nil, e.reg.CheckEvidence, nil)
	if err != nil || !rep.OK() || rep.Documents != 3 {
		t.Fatalf("clean archive: %v %+v", err, rep)
	}
	if _, err := e.audit.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	cert, err := e.reg.AuditCertificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	arep, err := audit.Verify(ctx, e.store, cert.PublicKey)
	if err != nil || !arep.OK() {
		t.Fatalf("clean audit log: %v %+v", err, arep)
	}
	// Every stamping left its entries: granted, stamped (with the use).
	if arep.Entries < 1+3*2 {
		t.Fatalf("%d audit entries for one seal and three stampings", arep.Entries)
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
	rep, err = archive.Fixity(ctx, e.store, time.Now, nil, e.reg.CheckEvidence, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].DocumentID != ids[1] {
		t.Fatalf("fixity after tampering: %+v", rep.Problems)
	}

	// Alter the audit entry of that stamping on disk: audit verify names it.
	var entry string
	filepath.Walk(e.root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && filepath.Base(filepath.Dir(p)) == "test~" && entry == "" {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(ids[1])) && bytes.Contains(b, []byte("document.stamped")) {
				entry = p
			}
		}
		return nil
	})
	if entry == "" {
		t.Fatal("no audit entry for the stamping on disk")
	}
	os.Chmod(entry, 0o644)
	eb, _ := os.ReadFile(entry)
	os.WriteFile(entry, bytes.Replace(eb, []byte(ids[1]), []byte(ids[0]), 1), 0o644)
	arep, err = audit.Verify(ctx, e.store, cert.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if arep.OK() || !strings.HasSuffix(entry, filepath.Base(arep.First().Key)) {
		t.Fatalf("audit verify after tampering: first problem %v, want %s", arep.First(), entry)
	}

	// Legal hold over REST (archivist), then deletion is refused.
	archivist := e.key(api.RoleArchivist)
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
	stamper := e.key(api.RoleStamper, e.sealID)
	if r := e.do("POST", "/v1/documents/"+ids[0]+"/hold", stamper, "application/json", jsonBody(map[string]any{"on": false, "reason": "x"})); r.status != 403 {
		t.Fatalf("stamper released a hold: %d", r.status)
	}
}

func TestTransferOverREST(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 3; i++ {
		authz := e.grant(e.sealID, map[string]any{"case_no": "TR-1"})
		if r := e.stamp(testPDF("移交测试"), stampReq(e.sealID, authz, "TR-1")); r.status != 201 {
			t.Fatalf("stamp: %d %s", r.status, r.body)
		}
	}
	archivist := e.key(api.RoleArchivist)
	r := e.do("POST", "/v1/transfers", archivist, "application/json", jsonBody(map[string]any{"case_no": "TR-1"}))
	if r.status != 200 || r.header.Get("Content-Type") != "application/zip" {
		t.Fatalf("transfer: %d %s %.300s", r.status, r.header.Get("Content-Type"), r.body)
	}
	if r.header.Get("X-Eseal-Package-Items") != "3" {
		t.Fatalf("items header %q", r.header.Get("X-Eseal-Package-Items"))
	}
	stamper := e.key(api.RoleStamper, e.sealID)
	if r := e.do("POST", "/v1/transfers", stamper, "application/json", jsonBody(map[string]any{})); r.status != 403 {
		t.Fatalf("stamper made a transfer: %d", r.status)
	}
}

// TestDamagedDocumentsNotServed: a document whose use marker or record was
// deleted on disk is 404 on the REST routes and the citizen's pages; one
// whose PDF was edited is refused (document-altered), never the bytes; one
// whose record was edited is refused by the REST routes and a legal hold
// (document-altered), and its code opens nothing.
func TestDamagedDocumentsNotServed(t *testing.T) {
	e := newEnv(t)
	reader := e.key(api.RoleArchivist)
	type doc struct{ id, code, authz string }
	var docs []doc
	for range 4 {
		authz := e.grant(e.sealID, map[string]any{"case_no": "DM-1"})
		r := e.stamp(testPDF("受损档案"), stampReq(e.sealID, authz, "DM-1"))
		if r.status != 201 {
			t.Fatalf("stamp: %d %s", r.status, r.body)
		}
		j := r.json(t)
		docs = append(docs, doc{j["document_id"].(string), j["retrieval_code"].(string), authz})
	}
	onDisk := func(key string) string {
		segs := strings.Split(key, "/")
		for i := range segs[:len(segs)-1] {
			segs[i] += "~"
		}
		return filepath.Join(append([]string{e.root}, segs...)...)
	}
	rm := func(key string) {
		if err := os.Remove(onDisk(key)); err != nil {
			t.Fatal(err)
		}
		os.Remove(onDisk(key) + "~lock")
	}
	for _, d := range docs {
		for _, path := range []string{"/v1/documents/" + d.id, "/v1/documents/" + d.id + "/pdf", "/v/" + d.id, "/d/" + d.code, "/d/" + d.code + "/pdf"} {
			if r := e.do("GET", path, reader, "", nil); r.status != 200 {
				t.Fatalf("GET %s before the damage: %d", path, r.status)
			}
		}
	}
	rm("authz/" + docs[0].authz + "/use/0001.json")
	rm(archive.RecordKey(docs[1].id))
	pdf := onDisk(archive.DocumentKey(docs[2].id))
	os.Chmod(pdf, 0o644)
	b, err := os.ReadFile(pdf)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(pdf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range docs[:2] {
		for _, path := range []string{"/v1/documents/" + d.id, "/v1/documents/" + d.id + "/pdf", "/v/" + d.id, "/d/" + d.code, "/d/" + d.code + "/pdf"} {
			if r := e.do("GET", path, reader, "", nil); r.status != 404 {
				t.Errorf("GET %s of a damaged document: %d, want 404", path, r.status)
			}
		}
	}
	for _, path := range []string{"/v1/documents/" + docs[2].id + "/pdf", "/d/" + docs[2].code + "/pdf"} {
		r := e.do("GET", path, reader, "", nil)
		if r.status != 500 || problemType(t, r) != "/problems/document-altered" || bytes.Contains(r.body, []byte("%PDF")) {
			t.Errorf("GET %s of an edited PDF: %d %s", path, r.status, r.body)
		}
	}

	rec := onDisk(archive.RecordKey(docs[3].id))
	os.Chmod(rec, 0o644)
	if b, err = os.ReadFile(rec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rec, bytes.Replace(b, []byte("行政许可决定书"), []byte("伪造"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	archivist := e.key(api.RoleArchivist)
	for _, r := range []response{
		e.do("GET", "/v1/documents/"+docs[3].id, reader, "", nil),
		e.do("POST", "/v1/documents/"+docs[3].id+"/hold", archivist, "application/json", jsonBody(map[string]any{"on": true, "reason": "诉讼"})),
	} {
		if r.status != 500 || problemType(t, r) != "/problems/document-altered" || bytes.Contains(r.body, []byte("伪造")) {
			t.Errorf("an edited record: %d %s", r.status, r.body)
		}
	}
	if r := e.do("GET", "/d/"+docs[3].code, "", "", nil); r.status != 404 || bytes.Contains(r.body, []byte("伪造")) {
		t.Errorf("the code of an edited record: %d", r.status)
	}
	if r := e.do("POST", "/v1/documents/"+docs[0].id+"/hold", archivist, "application/json", jsonBody(map[string]any{"on": true, "reason": "诉讼"})); r.status != 404 {
		t.Errorf("hold on a document whose use marker is gone: %d %s", r.status, r.body)
	}
}
