package seal_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"eseal/keys"
	"eseal/keys/keystest"
	"eseal/seal"
)

// crlServer serves whatever CRL bytes it is given at /ca.crl (404 while
// none), counting the requests.
type crlServer struct {
	*httptest.Server
	mu    sync.Mutex
	body  []byte
	asked int
}

func newCRLServer(t *testing.T) *crlServer {
	s := &crlServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.asked++
		if r.URL.Path != "/ca.crl" || s.body == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		w.Write(s.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *crlServer) serve(b []byte) {
	s.mu.Lock()
	s.body = b
	s.mu.Unlock()
}

func (s *crlServer) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.asked
}

// cdpPerson is a person whose certificate the CA issued naming url as its
// CRL distribution point, valid a day around t0.
func cdpPerson(t *testing.T, ca *keystest.PKI, name, url string, t0 time.Time) (person, *smx509.Certificate) {
	t.Helper()
	k := keystest.Key(t)
	cert, err := ca.CA.Issue(keys.CertRequest{Kind: keys.KindSigner, CommonName: name, PublicKey: k.Public(),
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(24 * time.Hour), CRLURLs: []string{url}})
	if err != nil {
		t.Fatal(err)
	}
	return person{key: k, certPEM: keys.EncodeCertificatesPEM(cert)}, cert
}

// trustedCA makes a persons' CA and trusts it.
func trustedCA(t *testing.T, f *fixture, t0 time.Time) *keystest.PKI {
	t.Helper()
	ca := keystest.New(t, keystest.Options{Org: "浙江省数字证书认证中心", NotBefore: t0.Add(-24 * time.Hour), NotAfter: t0.Add(365 * 24 * time.Hour)})
	if _, err := f.reg.AddPersonCA(context.Background(), keys.EncodeCertificatesPEM(ca.CA.Cert), "test"); err != nil {
		t.Fatal(err)
	}
	return ca
}

// TestPersonCRLFetched: with fetching on, a person's certificate whose
// issuer has no CRL stored, or only a stale one, has it fetched from the
// distribution point it names before it is checked: enrolment works
// without an admin adding the CRL, a CRL past its nextUpdate is replaced
// at the next approval, and a revocation published there refuses the
// approval. What the distribution point serves is trusted for its
// signature alone: another CA's CRL, a tampered one, garbage, an oversized
// body or an error store nothing and the check fails saying why. A current
// CRL is not fetched again.
func TestPersonCRLFetched(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Second)
	f.now = t0
	f.reg.SetCRLFetch(&seal.CRLFetch{Every: time.Nanosecond})
	log := &recordingAuditor{}
	f.reg.SetAuditor(log)
	s, err := f.reg.CreateSeal(ctx, seal.CreateSpec{Name: "个人授权章"})
	if err != nil {
		t.Fatal(err)
	}
	ca := trustedCA(t, f, t0)
	other := keystest.New(t, keystest.Options{Org: "别处 CA", NotBefore: t0.Add(-24 * time.Hour), NotAfter: t0.Add(365 * 24 * time.Hour)})
	srv := newCRLServer(t)
	li, cert := cdpPerson(t, ca, "李四", srv.URL+"/ca.crl", t0)
	enrol := func() (*seal.Person, error) {
		return f.reg.EnrolPerson(ctx, seal.PersonSpec{SealID: s.ID, Name: "李四", CertPEM: li.certPEM, By: "test"})
	}
	crlNumber := func() string {
		t.Helper()
		cas, err := f.reg.PersonCAs(ctx)
		if err != nil || len(cas) != 1 {
			t.Fatalf("persons' CAs: %+v %v", cas, err)
		}
		if cas[0].CRL == nil {
			return ""
		}
		return cas[0].CRL.Number
	}

	// Nothing served yet: the enrolment fails and says why.
	_, err = enrol()
	wantPersonReason(t, "enrolment, the CRL not published", err, seal.PersonCertUntrusted, "404")
	if srv.requests() != 1 || crlNumber() != "" {
		t.Fatalf("%d requests, CRL %q", srv.requests(), crlNumber())
	}

	// Published: the enrolment fetches it.
	srv.serve(crl(t, ca, 1, t0.Add(-time.Hour), t0.Add(2*time.Hour)))
	p, err := enrol()
	if err != nil {
		t.Fatalf("enrolment with the CRL published: %v", err)
	}
	if srv.requests() != 2 || crlNumber() != "1" {
		t.Fatalf("after the enrolment: %d requests, CRL %q", srv.requests(), crlNumber())
	}
	approve := func(caseNo string) (*seal.Authorization, error) {
		rq, err := f.reg.RequestAuthorization(ctx, seal.RequestSpec{SealID: s.ID, CaseNo: caseNo, Title: "食品经营许可证", ExpiresIn: 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return f.reg.Approve(ctx, rq.RequestID, p.ID, li.sign(t, rq.Challenge))
	}
	if _, err := approve("2026-0201"); err != nil {
		t.Fatalf("approval with a current CRL: %v", err)
	}
	if srv.requests() != 2 {
		t.Fatalf("a current CRL was fetched again: %d requests", srv.requests())
	}

	// Stale, and what is served does not replace it: refused, nothing stored.
	f.now = t0.Add(3 * time.Hour)
	bad := crl(t, ca, 2, t0.Add(150*time.Minute), t0.Add(6*time.Hour))
	bad[len(bad)-3] ^= 1
	for name, body := range map[string][]byte{
		"another CA's": crl(t, other, 2, t0.Add(150*time.Minute), t0.Add(6*time.Hour)),
		"tampered":     bad,
		"garbage":      []byte("not a CRL"),
		"oversized":    bytes.Repeat([]byte{0x30}, 8<<20+1),
	} {
		srv.serve(body)
		_, err := approve("2026-0202")
		wantPersonReason(t, "approval, the distribution point serving "+name, err, seal.PersonCertUntrusted, "fetching it failed")
		if crlNumber() != "1" || countPrefix(t, f.store, "pki/person-crl/") != 1 {
			t.Fatalf("%s: the CRL is now %q, %d stored", name, crlNumber(), countPrefix(t, f.store, "pki/person-crl/"))
		}
	}

	// The CA revokes 李四's certificate: the next approval fetches that CRL
	// and is refused.
	srv.serve(crl(t, ca, 2, t0.Add(150*time.Minute), t0.Add(6*time.Hour),
		keys.Revocation{Serial: cert.SerialNumber, Time: t0.Add(2 * time.Hour), Reason: 1}))
	_, err = approve("2026-0203")
	wantPersonReason(t, "approval, the certificate revoked", err, seal.PersonCertUntrusted, "revoked")
	if crlNumber() != "2" {
		t.Fatalf("after the revocation: CRL %q", crlNumber())
	}
	var fetched []string
	for _, e := range log.events() {
		if e.Action == seal.PersonCRLAdded {
			fetched = append(fetched, e.Actor+" "+e.Details["number"])
		}
	}
	if want := "crl-fetch " + srv.URL + "/ca.crl"; len(fetched) != 2 || fetched[0] != want+" 1" || fetched[1] != want+" 2" {
		t.Errorf("the CRLs added, in the audit log: %q", fetched)
	}
}

// recordingAuditor keeps the events appended.
type recordingAuditor struct {
	mu  sync.Mutex
	all []seal.AuditEvent
}

func (a *recordingAuditor) Append(_ context.Context, e seal.AuditEvent) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.all = append(a.all, e)
	return nil
}

func (a *recordingAuditor) events() []seal.AuditEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]seal.AuditEvent(nil), a.all...)
}

// TestPersonCRLRefreshed: a revocation the CA publishes while the stored
// CRL is still current reaches approvals at the next refresh
// (RefreshPersonCRLs, which serve runs every person_crl_refresh), not when
// the stored CRL falls due; a refresh with fetching off does nothing.
func TestPersonCRLRefreshed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Second)
	f.now = t0
	s, err := f.reg.CreateSeal(ctx, seal.CreateSpec{Name: "个人授权章"})
	if err != nil {
		t.Fatal(err)
	}
	ca := trustedCA(t, f, t0)
	srv := newCRLServer(t)
	li, cert := cdpPerson(t, ca, "李四", srv.URL+"/ca.crl", t0)
	if _, err := f.reg.AddPersonCRL(ctx, crl(t, ca, 1, t0.Add(-time.Hour), t0.Add(24*time.Hour)), "test"); err != nil {
		t.Fatal(err)
	}
	p, err := f.reg.EnrolPerson(ctx, seal.PersonSpec{SealID: s.ID, Name: "李四", CertPEM: li.certPEM, By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	approve := func(caseNo string) error {
		rq, err := f.reg.RequestAuthorization(ctx, seal.RequestSpec{SealID: s.ID, CaseNo: caseNo, Title: "食品经营许可证", ExpiresIn: 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.reg.Approve(ctx, rq.RequestID, p.ID, li.sign(t, rq.Challenge))
		return err
	}
	srv.serve(crl(t, ca, 2, t0, t0.Add(24*time.Hour), keys.Revocation{Serial: cert.SerialNumber, Time: t0, Reason: 1}))
	f.now = t0.Add(time.Minute)

	// Fetching off: nothing fetched, the stored CRL (current) decides.
	if n, why, err := f.reg.RefreshPersonCRLs(ctx); n != 0 || why != nil || err != nil || srv.requests() != 0 {
		t.Fatalf("a refresh with fetching off: %d %q %v, %d requests", n, why, err, srv.requests())
	}
	if err := approve("2026-0301"); err != nil {
		t.Fatalf("approval under the stored, current CRL: %v", err)
	}
	f.reg.SetCRLFetch(&seal.CRLFetch{Every: time.Nanosecond})
	if n, why, err := f.reg.RefreshPersonCRLs(ctx); n != 1 || why != nil || err != nil || srv.requests() != 1 {
		t.Fatalf("refresh: %d %q %v, %d requests", n, why, err, srv.requests())
	}
	wantPersonReason(t, "approval after the refresh", approve("2026-0302"), seal.PersonCertUntrusted, "revoked")

	// The distribution point failing: said, nothing stored.
	srv.serve(nil)
	if n, why, err := f.reg.RefreshPersonCRLs(ctx); n != 0 || len(why) != 1 || !strings.Contains(why[0], "404") || err != nil {
		t.Fatalf("refresh, the CRL gone: %d %q %v", n, why, err)
	}
}

// TestPersonCRLFetchedOnceForConcurrentChecks: checks that find the same
// CA's CRL missing at once fetch it once, and each goes on with it (the one
// that waited does not refuse for want of the CRL the other fetched).
func TestPersonCRLFetchedOnceForConcurrentChecks(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Second)
	f.now = t0
	f.reg.SetCRLFetch(&seal.CRLFetch{Every: time.Hour})
	ca := trustedCA(t, f, t0)
	srv := newCRLServer(t)
	srv.serve(crl(t, ca, 1, t0.Add(-time.Hour), t0.Add(24*time.Hour)))
	srv.Config.Handler = slowly(srv.Config.Handler, 300*time.Millisecond)
	s, err := f.reg.CreateSeal(ctx, seal.CreateSpec{Name: "个人授权章"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		_, cert := cdpPerson(t, ca, "人员"+string(rune('A'+i)), srv.URL+"/ca.crl", t0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.reg.EnrolPerson(ctx, seal.PersonSpec{SealID: s.ID, Name: cert.Subject.CommonName, CertPEM: keys.EncodeCertificatesPEM(cert), By: "test"})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("enrolment %d: %v", i, err)
		}
	}
	if n := srv.requests(); n != 1 {
		t.Errorf("%d fetches for 4 concurrent checks, want 1", n)
	}
}

func slowly(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(d)
		h.ServeHTTP(w, r)
	})
}
