package seal_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"eseal/keys"
	"eseal/seal"
)

// person is a responsible person's credential made for a test.
type person struct {
	key     *sm2.PrivateKey
	certPEM []byte
}

func newPerson(tb testing.TB, name string) person {
	tb.Helper()
	k, err := keys.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	c, err := keys.SelfSignedPersonCertificate(name, k, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		tb.Fatal(err)
	}
	return person{k, keys.EncodeCertificatesPEM(c)}
}

func (p person) sign(tb testing.TB, msg []byte) []byte {
	tb.Helper()
	sig, err := keys.SignSM2(p.key, msg)
	if err != nil {
		tb.Fatal(err)
	}
	return sig
}

// personFixture is a seal under policy person with one enrolled person.
func personFixture(t *testing.T) (*fixture, string, person, string) {
	t.Helper()
	f := newFixture(t)
	ctx := context.Background()
	s, err := f.reg.CreateSeal(ctx, seal.CreateSpec{Name: "个人授权章"})
	if err != nil {
		t.Fatal(err)
	}
	pc := newPerson(t, "张三")
	p, err := f.reg.EnrolPerson(ctx, seal.PersonSpec{SealID: s.ID, Name: "张三", CertPEM: pc.certPEM, By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return f, s.ID, pc, p.ID
}

func TestPersonApprovalGrantsAndStamps(t *testing.T) {
	f, sealID, pc, personID := personFixture(t)
	ctx := context.Background()
	if pol, err := f.reg.Policy(ctx, sealID); err != nil || pol != seal.PolicyPerson {
		t.Fatalf("new seal's policy: %q %v; want person", pol, err)
	}
	if pol, _ := f.reg.Policy(ctx, f.sealID); pol != seal.PolicyKey {
		t.Fatalf("seal created with policy key reads %q", pol)
	}
	// A direct key grant is refused under policy person.
	_, err := f.reg.Grant(ctx, seal.GrantRequest{SealID: sealID, CaseNo: "2026-0001", GrantedBy: "authorizer"})
	var ae *seal.AuthzError
	if !errors.As(err, &ae) || ae.Reason != seal.AuthzPolicy {
		t.Fatalf("key grant under policy person: %v", err)
	}
	rq, err := f.reg.RequestAuthorization(ctx, seal.RequestSpec{SealID: sealID, CaseNo: "2026-0001", Title: "食品经营许可证", ExpiresIn: time.Hour, By: "审批系统"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := seal.ParseGrant(rq.Challenge)
	if err != nil || g.RequestID != rq.RequestID || g.SealID != sealID || g.Title != "食品经营许可证" {
		t.Fatalf("challenge parses as %+v, %v", g, err)
	}
	a, err := f.reg.Approve(ctx, rq.RequestID, personID, pc.sign(t, rq.Challenge))
	if err != nil {
		t.Fatal(err)
	}
	if a.Method != seal.MethodSM2 || a.PersonID != personID || a.PersonName != "张三" || a.ID != g.AuthorizationID {
		t.Fatalf("grant %+v", a)
	}
	st, err := f.reg.AuthorizationRequest(ctx, rq.RequestID)
	if err != nil || st.Status != seal.RequestApproved {
		t.Fatalf("request after approval: %+v %v", st, err)
	}
	if _, err := f.reg.CheckAuthorization(ctx, a.ID, seal.Scope{SealID: sealID, CaseNo: "2026-0001"}); err != nil {
		t.Fatalf("approved grant does not check: %v", err)
	}
	ev, err := f.reg.Evidence(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ev.Grant, rq.Challenge) || !keys.VerifySM2(pc.key.Public(), ev.Grant, ev.Signature) || ev.Certificate != string(pc.certPEM) {
		t.Fatalf("evidence is not the approved bytes, the signature and the certificate: %+v", ev)
	}
	// A second approval of the same request is refused: one decision wins.
	_, err = f.reg.Approve(ctx, rq.RequestID, personID, pc.sign(t, rq.Challenge))
	var re *seal.RequestError
	if !errors.As(err, &re) || re.Reason != seal.RequestDecided {
		t.Fatalf("second approval: %v", err)
	}
}

// TestOneDecisionWins: of concurrent approvals and refusals of one request,
// exactly one is recorded, and the grant is that approval's.
func TestOneDecisionWins(t *testing.T) {
	f, sealID, pc, personID := personFixture(t)
	ctx := context.Background()
	rq, err := f.reg.RequestAuthorization(ctx, seal.RequestSpec{SealID: sealID, CaseNo: "2026-0003", Title: "许可", ExpiresIn: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i%2 == 0 {
				_, err := f.reg.Approve(ctx, rq.RequestID, personID, pc.sign(t, rq.Challenge))
				errs <- err
				return
			}
			_, err := f.reg.Refuse(ctx, rq.RequestID, personID, "不同意", pc.sign(t, seal.RefusalBytes(rq.Challenge, "不同意")))
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		if err == nil {
			won++
		} else if !sameReason(err, &seal.RequestError{Reason: seal.RequestDecided}) {
			t.Fatalf("a losing decision: %v", err)
		}
	}
	st, err := f.reg.AuthorizationRequest(ctx, rq.RequestID)
	if won != 1 || err != nil {
		t.Fatalf("%d decisions won; request %+v %v", won, st, err)
	}
	_, err = f.reg.Authorization(ctx, rq.AuthorizationID)
	if (st.Status == seal.RequestApproved) != (err == nil) {
		t.Fatalf("status %s, grant: %v", st.Status, err)
	}
}

// TestApprovalCompletedAfterCrash: a crash after the decision and before
// the grant leaves a decision without a grant; the next read of the request
// writes the grant and its evidence.
func TestApprovalCompletedAfterCrash(t *testing.T) {
	f, sealID, pc, personID := personFixture(t)
	ctx := context.Background()
	rq, err := f.reg.RequestAuthorization(ctx, seal.RequestSpec{SealID: sealID, CaseNo: "2026-0004", Title: "许可", ExpiresIn: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.Approve(ctx, rq.RequestID, personID, pc.sign(t, rq.Challenge)); err != nil {
		t.Fatal(err)
	}
	// Undo what Approve wrote after the decision, in a registry that has
	// not cached the grant. The objects are retention-locked: a view of the
	// store from past their retention stands in for the crash before them.
	past := pastRetention(t, f.store)
	for _, k := range []string{"grant.json", "evidence/grant.bin", "evidence/signature.der", "evidence/certificate.pem"} {
		if err := past.Delete(ctx, "authz/"+rq.AuthorizationID+"/"+k); err != nil {
			t.Fatal(err)
		}
	}
	reg, err := seal.OpenRegistry(ctx, f.store, f.kek, seal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Authorization(ctx, rq.AuthorizationID); err == nil {
		t.Fatal("the grant is still there")
	}
	st, err := reg.AuthorizationRequest(ctx, rq.RequestID)
	if err != nil || st.Status != seal.RequestApproved {
		t.Fatalf("request: %+v %v", st, err)
	}
	a, err := reg.Authorization(ctx, rq.AuthorizationID)
	if err != nil || a.PersonID != personID {
		t.Fatalf("completed grant: %+v %v", a, err)
	}
	ev, err := reg.Evidence(ctx, rq.AuthorizationID)
	if err != nil || !bytes.Equal(ev.Grant, rq.Challenge) {
		t.Fatalf("completed evidence: %+v %v", ev, err)
	}
}

func TestPersonApprovalHostile(t *testing.T) {
	f, sealID, pc, personID := personFixture(t)
	ctx := context.Background()
	other, err := f.reg.CreateSeal(ctx, seal.CreateSpec{Name: "另一枚章"})
	if err != nil {
		t.Fatal(err)
	}
	oc := newPerson(t, "李四")
	op, err := f.reg.EnrolPerson(ctx, seal.PersonSpec{SealID: other.ID, Name: "李四", CertPEM: oc.certPEM})
	if err != nil {
		t.Fatal(err)
	}
	request := func() *seal.RequestState {
		rq, err := f.reg.RequestAuthorization(ctx, seal.RequestSpec{SealID: sealID, CaseNo: "2026-0002", Title: "许可", ExpiresIn: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		return rq
	}
	refused := request()
	if _, err := f.reg.Refuse(ctx, refused.RequestID, personID, "材料不全", pc.sign(t, seal.RefusalBytes(refused.Challenge, "材料不全"))); err != nil {
		t.Fatal(err)
	}
	removedPC := newPerson(t, "王五")
	removed, err := f.reg.EnrolPerson(ctx, seal.PersonSpec{SealID: sealID, Name: "王五", CertPEM: removedPC.certPEM})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.RemovePerson(ctx, removed.ID, "调岗", "test"); err != nil {
		t.Fatal(err)
	}
	fresh, another := request(), request()
	cases := []struct {
		name   string
		req    *seal.RequestState
		person string
		sig    []byte
		want   error
	}{
		{"person of another seal", fresh, op.ID, oc.sign(t, fresh.Challenge), &seal.PersonError{Reason: seal.PersonNotEnrolled}},
		{"signature over other bytes", fresh, personID, pc.sign(t, []byte("approve everything")), &seal.RequestError{Reason: seal.RequestBadSignature}},
		{"signature replayed from another request", fresh, personID, pc.sign(t, another.Challenge), &seal.RequestError{Reason: seal.RequestBadSignature}},
		{"signature by another key", fresh, personID, oc.sign(t, fresh.Challenge), &seal.RequestError{Reason: seal.RequestBadSignature}},
		{"no signature", fresh, personID, nil, &seal.RequestError{Reason: seal.RequestBadSignature}},
		{"refused request", refused, personID, pc.sign(t, refused.Challenge), &seal.RequestError{Reason: seal.RequestDecided}},
		{"removed person", fresh, removed.ID, removedPC.sign(t, fresh.Challenge), &seal.PersonError{Reason: seal.PersonRemoved}},
		{"unknown person", fresh, "p-aaaaaaaaaaaaaaaa", pc.sign(t, fresh.Challenge), &seal.PersonError{Reason: seal.PersonNotFound}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.reg.Approve(ctx, c.req.RequestID, c.person, c.sig)
			if !sameReason(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			st, err := f.reg.AuthorizationRequest(ctx, fresh.RequestID)
			if err != nil || st.Status != seal.RequestPending {
				t.Fatalf("request after a refused approval: %+v %v", st, err)
			}
			if _, err := f.reg.Authorization(ctx, fresh.AuthorizationID); err == nil {
				t.Fatal("a grant exists")
			}
		})
	}
	// Expiry: the request's clock runs out.
	f.now = time.Now().Add(2 * time.Minute)
	_, err = f.reg.Approve(ctx, fresh.RequestID, personID, pc.sign(t, fresh.Challenge))
	if !sameReason(err, &seal.RequestError{Reason: seal.RequestIsExpired}) {
		t.Fatalf("expired request: %v", err)
	}
	if st, _ := f.reg.AuthorizationRequest(ctx, fresh.RequestID); st.Status != seal.RequestExpired {
		t.Fatalf("status %q, want expired", st.Status)
	}
}

func sameReason(err, want error) bool {
	switch w := want.(type) {
	case *seal.PersonError:
		var e *seal.PersonError
		return errors.As(err, &e) && e.Reason == w.Reason
	case *seal.RequestError:
		var e *seal.RequestError
		return errors.As(err, &e) && e.Reason == w.Reason
	}
	return false
}

func TestEnrolPersonRefusesBadCertificates(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for name, certPEM := range map[string][]byte{
		"empty":     nil,
		"not PEM":   []byte("hello"),
		"two certs": append(newPerson(t, "a").certPEM, newPerson(t, "b").certPEM...),
		"truncated": newPerson(t, "c").certPEM[:200],
		"a key":     []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
	} {
		_, err := f.reg.EnrolPerson(ctx, seal.PersonSpec{SealID: f.sealID, Name: "张三", CertPEM: certPEM})
		var pe *seal.PersonError
		if !errors.As(err, &pe) || pe.Reason != seal.PersonBadCert {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := f.reg.EnrolPerson(ctx, seal.PersonSpec{SealID: f.sealID, Name: "a\nb", CertPEM: newPerson(t, "x").certPEM}); err == nil {
		t.Error("a name with a newline was accepted")
	}
	ps, err := f.reg.Persons(ctx, f.sealID)
	if err != nil || len(ps) != 0 {
		t.Fatalf("persons after refused enrolments: %v %v", ps, err)
	}
}

func TestGrantBytesCanonical(t *testing.T) {
	g := seal.Grant{RequestID: "ar-aaaaaaaaaaaaaaaa", AuthorizationID: "az-aaaaaaaaaaaaaaaa", SealID: "seal-aaaaaaaaaaaaa",
		SealName: "章", CaseNo: "2026-1", Title: "许可", MaxUses: 1, RequestedBy: "k", RequestedAt: time.Unix(0, 0), ExpiresAt: time.Unix(60, 0), Nonce: "n"}
	b, err := g.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "eseal authorization grant v1\nrequest: ar-aaaaaaaaaaaaaaaa\n") || !strings.Contains(string(b), "\ndocument_sm3:\n") {
		t.Fatalf("grant bytes:\n%s", b)
	}
	for _, bad := range [][]byte{
		bytes.Replace(b, []byte("title: 许可"), []byte("title:  许可"), 1),
		bytes.Replace(b, []byte("max_uses: 1"), []byte("max_uses: 01"), 1),
		append(append([]byte{}, b...), '\n'),
		bytes.Replace(b, []byte("\n"), []byte("\r\n"), 1),
	} {
		if _, err := seal.ParseGrant(bad); err == nil {
			t.Errorf("non-canonical bytes accepted:\n%q", bad)
		}
	}
	g.Title = "许可\nmax_uses: 100"
	if _, err := g.Marshal(); err == nil {
		t.Error("a title with a newline was marshalled")
	}
}

// FuzzParseGrant: grant bytes come back from the store and from evidence
// files; whatever parses re-encodes to the same bytes.
func FuzzParseGrant(f *testing.F) {
	g := seal.Grant{RequestID: "ar-aaaaaaaaaaaaaaaa", AuthorizationID: "az-aaaaaaaaaaaaaaaa", SealID: "seal-aaaaaaaaaaaaa",
		SealName: "章", CaseNo: "2026-1", Title: "许可", MaxUses: 1, RequestedBy: "k", RequestedAt: time.Unix(0, 0), ExpiresAt: time.Unix(60, 0), Nonce: "n"}
	b, _ := g.Marshal()
	f.Add(b)
	f.Add([]byte("eseal authorization grant v1\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		g, err := seal.ParseGrant(in)
		if err != nil {
			return
		}
		out, err := g.Marshal()
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("parsed grant re-encodes to %q, %v", out, err)
		}
	})
}

// TestPolicyAtStamping: a key grant made while the seal's policy was key no
// longer stamps once the policy is person; a seal stored before policies
// existed reads as key.
func TestPolicyAtStamping(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, err := f.reg.Grant(ctx, seal.GrantRequest{SealID: f.sealID, CaseNo: "2026-0005", GrantedBy: "authorizer"})
	if err != nil {
		t.Fatal(err)
	}
	sc := seal.Scope{SealID: f.sealID, CaseNo: "2026-0005"}
	if _, err := f.reg.CheckAuthorization(ctx, a.ID, sc); err != nil {
		t.Fatalf("key grant under policy key: %v", err)
	}
	if err := f.reg.SetPolicy(ctx, f.sealID, seal.PolicyPerson, "test"); err != nil {
		t.Fatal(err)
	}
	_, err = f.reg.CheckAuthorization(ctx, a.ID, sc)
	var ae *seal.AuthzError
	if !errors.As(err, &ae) || ae.Reason != seal.AuthzPolicy {
		t.Fatalf("key grant after the policy became person: %v", err)
	}
	// Without policy events the seal is as it was before policies: key.
	for _, k := range []string{"00000001.json", "00000002.json"} {
		if err := f.store.Delete(ctx, "seals/"+f.sealID+"/policy/"+k); err != nil {
			t.Fatal(err)
		}
	}
	if pol, err := f.reg.Policy(ctx, f.sealID); err != nil || pol != seal.PolicyKey {
		t.Fatalf("a seal without policy events: %q %v", pol, err)
	}
	if _, err := f.reg.CheckAuthorization(ctx, a.ID, sc); err != nil {
		t.Fatalf("key grant on a seal from before policies: %v", err)
	}
}
