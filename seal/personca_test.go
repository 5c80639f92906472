package seal_test

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"eseal/keys"
	"eseal/keys/keystest"
	"eseal/seal"
)

// caPerson is a person whose certificate a persons' CA issued.
func caPerson(t *testing.T, ca *keystest.PKI, name string) (person, *big.Int) {
	t.Helper()
	k, c := ca.Issue(t, keys.KindSigner, name)
	return person{key: k, certPEM: keys.EncodeCertificatesPEM(c)}, c.SerialNumber
}

func crl(t *testing.T, ca *keystest.PKI, number int64, thisUpdate, nextUpdate time.Time, revoked ...keys.Revocation) []byte {
	t.Helper()
	der, err := ca.CA.IssueCRL(revoked, big.NewInt(number), thisUpdate, nextUpdate)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func wantPersonReason(t *testing.T, what string, err error, reason seal.PersonReason, detail string) {
	t.Helper()
	var pe *seal.PersonError
	if !errors.As(err, &pe) || pe.Reason != reason || !strings.Contains(pe.Detail, detail) {
		t.Fatalf("%s: %v; want person error %s mentioning %q", what, err, reason, detail)
	}
}

// TestPersonCAs: without a trusted persons' CA a certificate is pinned
// whoever issued it; with one, enrolment and every approval check the chain,
// the validity, and the newest CRL of the issuer, and a refusal changes
// nothing.
func TestPersonCAs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Second)
	f.now = t0
	s, err := f.reg.CreateSeal(ctx, seal.CreateSpec{Name: "个人授权章"})
	if err != nil {
		t.Fatal(err)
	}
	enrol := func(name string, pc person) (*seal.Person, error) {
		return f.reg.EnrolPerson(ctx, seal.PersonSpec{SealID: s.ID, Name: name, CertPEM: pc.certPEM, By: "test"})
	}
	request := func(caseNo string) *seal.RequestState {
		rq, err := f.reg.RequestAuthorization(ctx, seal.RequestSpec{SealID: s.ID, CaseNo: caseNo, Title: "食品经营许可证", ExpiresIn: 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return rq
	}
	stillPending := func(rq *seal.RequestState) {
		t.Helper()
		st, err := f.reg.AuthorizationRequest(ctx, rq.RequestID)
		if err != nil || st.Status != seal.RequestPending {
			t.Fatalf("request %s after a refused approval: %+v %v; want pending", rq.RequestID, st, err)
		}
	}

	// None trusted: a self-signed certificate is pinned.
	self := newPerson(t, "王五")
	wang, err := enrol("王五", self)
	if err != nil {
		t.Fatal(err)
	}
	if cas, err := f.reg.PersonCAs(ctx); err != nil || len(cas) != 0 {
		t.Fatalf("persons' CAs before any: %v %v", cas, err)
	}

	ca := keystest.New(t, keystest.Options{Org: "浙江省数字证书认证中心", NotBefore: t0.Add(-24 * time.Hour), NotAfter: t0.Add(365 * 24 * time.Hour)})
	other := keystest.New(t, keystest.Options{Org: "别处 CA", NotBefore: t0.Add(-24 * time.Hour), NotAfter: t0.Add(365 * 24 * time.Hour)})

	// Only a CA certificate with an SM2 key can be trusted.
	for name, pemBytes := range map[string][]byte{
		"not PEM":         []byte("hello"),
		"two":             keys.EncodeCertificatesPEM(ca.CA.Cert, other.CA.Cert),
		"an end entity":   self.certPEM,
		"empty":           nil,
		"a key, not cert": []byte("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"),
	} {
		var ie *seal.InvalidError
		if _, err := f.reg.AddPersonCA(ctx, pemBytes, "test"); !errors.As(err, &ie) {
			t.Errorf("AddPersonCA(%s): %v; want InvalidError", name, err)
		}
	}
	// A CRL before its CA is trusted is refused.
	var ie *seal.InvalidError
	if _, err := f.reg.AddPersonCRL(ctx, crl(t, ca, 1, t0.Add(-time.Hour), t0.Add(time.Hour)), "test"); !errors.As(err, &ie) {
		t.Fatalf("CRL with no CA trusted: %v", err)
	}
	info, err := f.reg.AddPersonCA(ctx, keys.EncodeCertificatesPEM(ca.CA.Cert), "test")
	if err != nil || info.CRL != nil || info.Subject != ca.CA.Cert.Subject.String() {
		t.Fatalf("AddPersonCA: %+v %v", info, err)
	}
	if again, err := f.reg.AddPersonCA(ctx, keys.EncodeCertificatesPEM(ca.CA.Cert), "test"); err != nil || again.SM3 != info.SM3 {
		t.Fatalf("adding the same CA again: %+v %v", again, err)
	}

	li, liSerial := caPerson(t, ca, "李四")
	// Trusted CA, but no CRL of it: revocation cannot be checked.
	_, err = enrol("李四", li)
	wantPersonReason(t, "enrolment without a CRL", err, seal.PersonCertUntrusted, "no CRL")

	// CRLs: another CA's, a tampered one and garbage are refused.
	bad := crl(t, ca, 1, t0.Add(-time.Hour), t0.Add(time.Hour))
	bad[len(bad)-3] ^= 1
	for name, der := range map[string][]byte{
		"another CA's": crl(t, other, 1, t0.Add(-time.Hour), t0.Add(time.Hour)),
		"tampered":     bad,
		"garbage":      []byte("not a CRL"),
		"empty":        nil,
	} {
		if _, err := f.reg.AddPersonCRL(ctx, der, "test"); !errors.As(err, &ie) {
			t.Errorf("AddPersonCRL(%s): %v; want InvalidError", name, err)
		}
	}
	if _, err := f.reg.AddPersonCRL(ctx, crl(t, ca, 1, t0.Add(-time.Hour), t0.Add(2*time.Hour)), "test"); err != nil {
		t.Fatal(err)
	}
	cas, err := f.reg.PersonCAs(ctx)
	if err != nil || len(cas) != 1 || cas[0].CRL == nil || cas[0].CRL.Number != "1" {
		t.Fatalf("persons' CAs: %+v %v", cas, err)
	}
	liP, err := enrol("李四", li)
	if err != nil {
		t.Fatalf("enrolment of a certificate of the trusted CA with its CRL: %v", err)
	}

	// A self-signed or foreign certificate no longer enrols, and a person
	// pinned before the CA was trusted no longer approves.
	_, err = enrol("赵六", newPerson(t, "赵六"))
	wantPersonReason(t, "self-signed enrolment", err, seal.PersonCertUntrusted, "unknown authority")
	foreign, _ := caPerson(t, other, "钱七")
	_, err = enrol("钱七", foreign)
	wantPersonReason(t, "foreign enrolment", err, seal.PersonCertUntrusted, "unknown authority")
	rq := request("2026-0101")
	_, err = f.reg.Approve(ctx, rq.RequestID, wang.ID, self.sign(t, rq.Challenge))
	wantPersonReason(t, "approval by a person pinned before the CA", err, seal.PersonCertUntrusted, "unknown authority")
	stillPending(rq)

	// 李四 approves.
	a, err := f.reg.Approve(ctx, rq.RequestID, liP.ID, li.sign(t, rq.Challenge))
	if err != nil || a.PersonID != liP.ID {
		t.Fatalf("approval under the trusted CA: %+v %v", a, err)
	}

	// The CRL falls due: approvals wait for a fresh one.
	f.now = t0.Add(3 * time.Hour)
	rq2 := request("2026-0102")
	_, err = f.reg.Approve(ctx, rq2.RequestID, liP.ID, li.sign(t, rq2.Challenge))
	wantPersonReason(t, "approval with a stale CRL", err, seal.PersonCertUntrusted, "due to be replaced")
	stillPending(rq2)

	// The CA revokes 李四's certificate: the next approval is refused, and
	// so is a refusal signed with it.
	if _, err := f.reg.AddPersonCRL(ctx, crl(t, ca, 2, t0.Add(150*time.Minute), t0.Add(6*time.Hour),
		keys.Revocation{Serial: liSerial, Time: t0.Add(2 * time.Hour), Reason: 1}), "test"); err != nil {
		t.Fatal(err)
	}
	_, err = f.reg.Approve(ctx, rq2.RequestID, liP.ID, li.sign(t, rq2.Challenge))
	wantPersonReason(t, "approval with a revoked certificate", err, seal.PersonCertUntrusted, "revoked")
	_, err = f.reg.Refuse(ctx, rq2.RequestID, liP.ID, "不同意", li.sign(t, seal.RefusalBytes(rq2.Challenge, "不同意")))
	wantPersonReason(t, "refusal with a revoked certificate", err, seal.PersonCertUntrusted, "revoked")
	stillPending(rq2)
	// An older CRL added afterwards does not undo the revocation.
	if _, err := f.reg.AddPersonCRL(ctx, crl(t, ca, 1, t0.Add(-time.Hour), t0.Add(2*time.Hour)), "test"); err != nil {
		t.Fatal(err)
	}
	_, err = f.reg.Approve(ctx, rq2.RequestID, liP.ID, li.sign(t, rq2.Challenge))
	wantPersonReason(t, "approval after an older CRL is re-added", err, seal.PersonCertUntrusted, "revoked")

	// What was approved before stays: the grant still checks.
	if _, err := f.reg.CheckAuthorization(ctx, a.ID, seal.Scope{SealID: s.ID, CaseNo: "2026-0101"}); err != nil {
		t.Fatalf("grant approved before the revocation: %v", err)
	}
}
