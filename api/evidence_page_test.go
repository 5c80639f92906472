package api_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"eseal/api"
	"eseal/archive"
	"eseal/archive/fs"
	"eseal/keys"
	"eseal/seal"
)

// TestVerifyPageChecksEvidence: the verify and download pages say whether
// each authorization's evidence verifies, not only who the record names; a
// person's signature over the grant replaced behind the service's back
// shows as not verified.
func TestVerifyPageChecksEvidence(t *testing.T) {
	e := newEnv(t)
	docID, code, azID := e.personStamped(t, "ZJ-EVIDENCE-1")
	for _, path := range []string{"/v/" + docID, "/d/" + code} {
		r := call(e.srv.Handler(), "GET", path, "192.0.2.1", "", nil)
		if r.Code != 200 || !strings.Contains(r.Body.String(), "张三") || !strings.Contains(r.Body.String(), "凭证已核验 evidence verified") {
			t.Fatalf("%s: %d, the evidence not shown as verified:\n%s", path, r.Code, r.Body)
		}
	}
	// Another signature, by another key, in place of the person's.
	other, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	forged, err := keys.SignSM2(other, []byte("grant"))
	if err != nil {
		t.Fatal(err)
	}
	segs := strings.Split("authz/"+azID+"/evidence/signature.der", "/")
	for i := range segs[:len(segs)-1] {
		segs[i] += "~"
	}
	file := filepath.Join(append([]string{e.root}, segs...)...)
	os.Chmod(file, 0o600)
	if err := os.WriteFile(file, forged, 0o600); err != nil {
		t.Fatal(err)
	}
	// A server that has not verified the document yet (no cached report),
	// as after a restart.
	fresh := e.serverWith(t, func(*api.Options) {})
	r2 := call(fresh.Handler(), "GET", "/v/"+docID, "192.0.2.1", "", nil)
	if r2.Code != 200 || !strings.Contains(r2.Body.String(), "凭证未通过核验 evidence NOT verified") {
		t.Fatalf("after the signature was replaced: %d\n%s", r2.Code, r2.Body)
	}
}

// personStamped stamps a document under a responsible person's SM2
// approval: its id, retrieval code and authorization.
func (e *env) personStamped(t *testing.T, caseNo string) (docID, code, authzID string) {
	t.Helper()
	ctx := context.Background()
	s, err := e.reg.CreateSeal(ctx, seal.CreateSpec{Name: "测试市行政审批服务局审批专用章"})
	if err != nil {
		t.Fatal(err)
	}
	k, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := keys.SelfSignedPersonCertificate("张三", k, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.reg.EnrolPerson(ctx, seal.PersonSpec{SealID: s.ID, Name: "张三", CertPEM: keys.EncodeCertificatesPEM(cert), By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	rq, err := e.reg.RequestAuthorization(ctx, seal.RequestSpec{SealID: s.ID, CaseNo: caseNo, Title: "许可决定书", ExpiresIn: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := keys.SignSM2(k, rq.Challenge)
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.reg.Approve(ctx, rq.RequestID, p.ID, sig)
	if err != nil {
		t.Fatal(err)
	}
	r := e.stamp(testPDF("凭证核验"), stampReq(s.ID, a.ID, caseNo))
	if r.status != 201 {
		t.Fatalf("stamp: %d %s", r.status, r.body)
	}
	m := r.json(t)
	return m["document_id"].(string), m["retrieval_code"].(string), a.ID
}

// failingEvidence fails every read of an authorization's evidence while
// down is set, as a store node lost for a moment does.
type failingEvidence struct {
	archive.Store
	down atomic.Bool
}

func (f *failingEvidence) Get(ctx context.Context, key string) (io.ReadCloser, archive.ObjectInfo, error) {
	if f.down.Load() && strings.Contains(key, "/evidence/") {
		return nil, archive.ObjectInfo{}, errors.New("store unavailable")
	}
	return f.Store.Get(ctx, key)
}

// TestVerifyPageEvidenceUnreadable: when the evidence cannot be read (the
// store failing), the page fails rather than show — and cache — the
// evidence as not verified, and fixity reports it unreadable, not invalid;
// once the store is back, the next view verifies.
func TestVerifyPageEvidenceUnreadable(t *testing.T) {
	base, err := fs.New(t.TempDir(), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store := &failingEvidence{Store: base}
	e := newEnvStore(t, "", store)
	docID, _, _ := e.personStamped(t, "ZJ-EVIDENCE-2")
	store.down.Store(true)
	r := call(e.srv.Handler(), "GET", "/v/"+docID, "192.0.2.1", "", nil)
	if r.Code < 500 || strings.Contains(r.Body.String(), "凭证") {
		t.Fatalf("with the evidence unreadable: %d\n%s", r.Code, r.Body)
	}
	// Fixity says the same: unreadable, not invalid.
	rep, err := archive.Fixity(context.Background(), e.store, time.Now, nil, e.reg.CheckEvidence, nil)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, p := range rep.Problems {
		kinds = append(kinds, p.Kind)
	}
	if len(kinds) != 1 || kinds[0] != archive.FixityUnreadable {
		t.Fatalf("fixity with the evidence unreadable: %v", rep.Problems)
	}
	store.down.Store(false)
	r = call(e.srv.Handler(), "GET", "/v/"+docID, "192.0.2.1", "", nil)
	if r.Code != 200 || !strings.Contains(r.Body.String(), "凭证已核验 evidence verified") {
		t.Fatalf("once the store is back: %d\n%s", r.Code, r.Body)
	}
}
