package main

import (
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"eseal/keys"
	"eseal/keys/keystest"
)

// TestPersonCLI: init in demo mode enrols a demo responsible person and
// writes their key (0600); `eseal person` adds, lists and removes persons.
func TestPersonCLI(t *testing.T) {
	dir := t.TempDir()
	cli := func(args ...string) (string, int) { return esealCLI(append([]string{"--dir", dir}, args...)...) }
	org := initJSON(t, cli)
	if org.PersonID == "" || org.PersonKey != filepath.Join(dir, "demo-person.key") {
		t.Fatalf("init --json: person_id %q, person_key %q", org.PersonID, org.PersonKey)
	}
	fi, err := os.Stat(org.PersonKey)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("demo person key: %v %v", fi, err)
	}
	b, _ := os.ReadFile(org.PersonKey)
	if _, err := keys.ParsePrivateKeyPEM(b); err != nil {
		t.Fatalf("the demo person's key does not parse: %v", err)
	}

	k, _ := keys.GenerateKey()
	cert, err := keys.SelfSignedPersonCertificate("张三", k, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(t.TempDir(), "person.pem")
	os.WriteFile(certFile, keys.EncodeCertificatesPEM(cert), 0o600)
	out, code := cli("person", "add", "--seal", org.SealID, "--name", "张三", "--cert", certFile, "--json")
	var added struct{ ID string }
	if err := json.Unmarshal([]byte(out), &added); code != 0 || err != nil || !strings.HasPrefix(added.ID, "p-") {
		t.Fatalf("person add: exit %d\n%s", code, out)
	}
	if out, code := cli("person", "add", "--seal", org.SealID, "--name", "李四", "--cert", org.PersonKey); code == 0 || !strings.Contains(out, "bad-certificate") {
		t.Fatalf("person add with a key for a certificate: exit %d\n%s", code, out)
	}
	if out, code := cli("person", "remove", added.ID, "--reason", "调岗"); code != 0 || !strings.Contains(out, "removed") {
		t.Fatalf("person remove: exit %d\n%s", code, out)
	}
	if out, code := cli("person", "remove", added.ID); code == 0 || !strings.Contains(out, "already removed") {
		t.Fatalf("second remove: exit %d\n%s", code, out)
	}
	// One line per person (both enrolled within the same second, in either
	// order); only the removed one shows a removal time.
	out, code = cli("person", "list", "--seal", org.SealID)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("person list:\n%s", out)
	}
	for _, l := range lines[1:] {
		removed := !strings.HasSuffix(l, "-")
		if strings.Contains(l, org.PersonID) == removed || strings.Contains(l, added.ID) != removed {
			t.Fatalf("person list:\n%s", out)
		}
	}
}

// TestPersonAddPasskeyCLI: `person add --passkey` enrols a person who is
// enrolling until they register, and prints their one-time enrolment URL
// under the public URL.
func TestPersonAddPasskeyCLI(t *testing.T) {
	dir := t.TempDir()
	cli := func(args ...string) (string, int) { return esealCLI(append([]string{"--dir", dir}, args...)...) }
	org := initJSON(t, cli)
	out, code := cli("person", "add", "--seal", org.SealID, "--name", "李四", "--passkey", "--public-url", "https://eseal.example.gov.cn/", "--json")
	var added struct {
		ID, State    string
		EnrolmentURL string `json:"enrolment_url"`
		ExpiresAt    string `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(out), &added); code != 0 || err != nil {
		t.Fatalf("person add --passkey: exit %d\n%s", code, out)
	}
	token, ok := strings.CutPrefix(added.EnrolmentURL, "https://eseal.example.gov.cn/enrol/")
	if !strings.HasPrefix(added.ID, "p-") || added.State != "enrolling" || !ok || len(token) != 32 || added.ExpiresAt == "" {
		t.Fatalf("person add --passkey: %+v", added)
	}
	out, code = cli("person", "list", "--seal", org.SealID, "--json")
	if code != 0 || !strings.Contains(out, `"state": "enrolling"`) || !strings.Contains(out, `"method": "passkey"`) {
		t.Fatalf("person list:\n%s", out)
	}
	if out, code := cli("person", "add", "--seal", org.SealID, "--name", "王五", "--passkey", "--cert", org.PersonKey); code == 0 || !strings.Contains(out, "[cert passkey]") {
		t.Fatalf("--passkey with --cert: exit %d\n%s", code, out)
	}
	if out, code := cli("person", "add", "--seal", org.SealID, "--name", "王五"); code == 0 || !strings.Contains(out, "--passkey") {
		t.Fatalf("neither --cert nor --passkey: exit %d\n%s", code, out)
	}
}

// TestPersonCACLI: `eseal person ca` trusts a CA for persons and adds its
// CRL; from then on a self-signed certificate does not enrol and one the CA
// issued does.
func TestPersonCACLI(t *testing.T) {
	dir := t.TempDir()
	cli := func(args ...string) (string, int) { return esealCLI(append([]string{"--dir", dir}, args...)...) }
	org := initJSON(t, cli)
	if out, code := cli("person", "ca", "list"); code != 0 || !strings.Contains(out, "no CA for persons") {
		t.Fatalf("person ca list before: exit %d\n%s", code, out)
	}
	now := time.Now()
	ca := keystest.New(t, keystest.Options{Org: "浙江省数字证书认证中心", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)})
	write := fileWriter(t)
	caFile := write("ca.pem", keys.EncodeCertificatesPEM(ca.CA.Cert))
	crl, err := ca.CA.IssueCRL(nil, big.NewInt(7), now.Add(-time.Minute), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if out, code := cli("person", "ca", "crl", write("early.crl", crl)); code == 0 || !strings.Contains(out, "no CA for persons is trusted") {
		t.Fatalf("CRL before its CA: exit %d\n%s", code, out)
	}
	if out, code := cli("person", "ca", "add", caFile); code != 0 || !strings.Contains(out, "no CRL of it is known") {
		t.Fatalf("person ca add: exit %d\n%s", code, out)
	}
	if out, code := cli("person", "ca", "crl", write("ca.crl", crl)); code != 0 || !strings.Contains(out, "number 7") {
		t.Fatalf("person ca crl: exit %d\n%s", code, out)
	}
	if out, code := cli("person", "ca", "list", "--json"); code != 0 || !strings.Contains(out, `"number": "7"`) {
		t.Fatalf("person ca list: exit %d\n%s", code, out)
	}
	k, _ := keys.GenerateKey()
	self, _ := keys.SelfSignedPersonCertificate("张三", k, now.Add(-time.Hour), now.Add(time.Hour))
	if out, code := cli("person", "add", "--seal", org.SealID, "--name", "张三", "--cert", write("self.pem", keys.EncodeCertificatesPEM(self))); code == 0 || !strings.Contains(out, "unknown authority") {
		t.Fatalf("self-signed enrolment with a persons' CA: exit %d\n%s", code, out)
	}
	_, c := ca.Issue(t, keys.KindSigner, "李四")
	if out, code := cli("person", "add", "--seal", org.SealID, "--name", "李四", "--cert", write("li.pem", keys.EncodeCertificatesPEM(c))); code != 0 {
		t.Fatalf("enrolment under the persons' CA: exit %d\n%s", code, out)
	}
}

// initJSON runs `eseal init --json` through cli and reads its answer.
func initJSON(t *testing.T, cli func(args ...string) (string, int)) initResult {
	t.Helper()
	out, code := cli("init", "--json")
	out = out[max(strings.Index(out, "{"), 0):]
	var org initResult
	if err := json.Unmarshal([]byte(out), &org); code != 0 || err != nil {
		t.Fatalf("init: exit %d, %v\n%s", code, err, out)
	}
	return org
}

// TestPersonCAFetchCLI: `eseal person ca fetch` fetches a trusted CA's CRL
// from the distribution point an enrolled person's certificate names, says
// which CA it could not, and refuses when fetching is off.
func TestPersonCAFetchCLI(t *testing.T) {
	dir := t.TempDir()
	cli := func(args ...string) (string, int) { return esealCLI(append([]string{"--dir", dir}, args...)...) }
	org := initJSON(t, cli)
	now := time.Now()
	ca := keystest.New(t, keystest.Options{Org: "浙江省数字证书认证中心", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)})
	crl, err := ca.CA.IssueCRL(nil, big.NewInt(3), now.Add(-time.Minute), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var serve atomic.Pointer[[]byte]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := serve.Load()
		if b == nil {
			http.NotFound(w, r)
			return
		}
		w.Write(*b)
	}))
	defer srv.Close()
	write := fileWriter(t)
	if out, code := cli("person", "ca", "fetch"); code != 0 || !strings.Contains(out, "for 0 CA") {
		t.Fatalf("fetch with no CA: exit %d\n%s", code, out)
	}
	if out, code := cli("person", "ca", "add", write("ca.pem", keys.EncodeCertificatesPEM(ca.CA.Cert))); code != 0 {
		t.Fatalf("person ca add: exit %d\n%s", code, out)
	}
	k, _ := keys.GenerateKey()
	c, err := ca.CA.Issue(keys.CertRequest{Kind: keys.KindSigner, CommonName: "李四", PublicKey: k.Public(), NotBefore: now.Add(-time.Minute),
		NotAfter: now.Add(time.Hour), CRLURLs: []string{srv.URL + "/ca.crl"}})
	if err != nil {
		t.Fatal(err)
	}
	// The enrolment fetches the CRL itself once it is published.
	if out, code := cli("person", "add", "--seal", org.SealID, "--name", "李四", "--cert", write("li.pem", keys.EncodeCertificatesPEM(c))); code == 0 || !strings.Contains(out, "404") {
		t.Fatalf("enrolment, the CRL not published: exit %d\n%s", code, out)
	}
	serve.Store(&crl)
	if out, code := cli("person", "add", "--seal", org.SealID, "--name", "李四", "--cert", write("li.pem", keys.EncodeCertificatesPEM(c))); code != 0 {
		t.Fatalf("enrolment, the CRL published: exit %d\n%s", code, out)
	}
	if out, code := cli("person", "ca", "fetch"); code != 0 || !strings.Contains(out, "for 1 CA") {
		t.Fatalf("fetch: exit %d\n%s", code, out)
	}
	serve.Store(nil)
	if out, code := cli("person", "ca", "fetch"); code == 0 || !strings.Contains(out, "404") || !strings.Contains(out, "浙江省数字证书认证中心") {
		t.Fatalf("fetch, the CRL gone: exit %d\n%s", code, out)
	}
	t.Setenv("ESEAL_PERSON_CRL_FETCH", "off")
	if out, code := cli("person", "ca", "fetch"); code == 0 || !strings.Contains(out, "fetching is off") {
		t.Fatalf("fetch, fetching off: exit %d\n%s", code, out)
	}
	t.Setenv("ESEAL_PERSON_CRL_FETCH", "sometimes")
	if out, code := cli("person", "ca", "list"); code != 0 {
		t.Fatalf("a read-only command with a bad ESEAL_PERSON_CRL_FETCH: exit %d\n%s", code, out)
	}
	if out, code := cli("person", "ca", "fetch"); code == 0 || !strings.Contains(out, "on or off") {
		t.Fatalf("fetch, ESEAL_PERSON_CRL_FETCH=sometimes: exit %d\n%s", code, out)
	}
}

// TestPersonPasskeyCLI: `eseal person passkey add` prints a one-time link
// for one more passkey of an enrolled passkey person, and refuses a person
// still enrolling or one who signs with a certificate; list and remove
// answer for the person's passkeys.
func TestPersonPasskeyCLI(t *testing.T) {
	dir := t.TempDir()
	cli := func(args ...string) (string, int) { return esealCLI(append([]string{"--dir", dir}, args...)...) }
	org := initJSON(t, cli)
	out, code := cli("person", "add", "--seal", org.SealID, "--name", "李四", "--passkey", "--public-url", "https://eseal.example.gov.cn", "--json")
	var added struct{ ID string }
	if err := json.Unmarshal([]byte(out), &added); code != 0 || err != nil {
		t.Fatalf("person add --passkey: exit %d\n%s", code, out)
	}
	if out, code := cli("person", "passkey", "add", added.ID, "--public-url", "https://eseal.example.gov.cn"); code == 0 || !strings.Contains(out, "has not registered") {
		t.Fatalf("passkey add for a person still enrolling: exit %d\n%s", code, out)
	}
	if out, code := cli("person", "passkey", "list", added.ID, "--json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("passkey list: exit %d\n%s", code, out)
	}
	if out, code := cli("person", "passkey", "remove", added.ID, "AAAA"); code == 0 || !strings.Contains(out, "passkey-unknown") {
		t.Fatalf("passkey remove of an unknown passkey: exit %d\n%s", code, out)
	}
	if out, code := cli("person", "passkey", "add", "p-nosuchperson00", "--public-url", "https://eseal.example.gov.cn"); code == 0 {
		t.Fatalf("passkey add for no one: exit %d\n%s", code, out)
	}
}

// fileWriter writes files into a temporary directory of the test and
// returns each one's path.
func fileWriter(t *testing.T) func(name string, b []byte) string {
	tmp := t.TempDir()
	return func(name string, b []byte) string {
		t.Helper()
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
}
