package seal_test

import (
	"bytes"
	"context"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"eseal/keys"
	"eseal/pdf"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// addLTV returns doc ‖ the DSS update.
func (f *fixture) addLTV(t *testing.T, doc []byte) []byte {
	t.Helper()
	upd, err := seal.AddLTV(context.Background(), f.reg, bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		t.Fatalf("AddLTV: %v", err)
	}
	return append(append([]byte{}, doc...), upd...)
}

// verifyRoots verifies with the organisation root alone, as someone
// outside would: no registry, no CRL but what the PDF carries.
func (f *fixture) verifyRoots(t *testing.T, doc []byte, at time.Time) *seal.Report {
	t.Helper()
	v := &seal.Verifier{Trust: keys.NewTrustStore(f.reg.Roots()...), At: at}
	rep, err := v.VerifyPDF(context.Background(), bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func want(t *testing.T, what string, rep *seal.Report, v seal.Verdict) {
	t.Helper()
	if rep.Verdict != v {
		var reasons []string
		for _, s := range rep.Signatures {
			reasons = append(reasons, s.Reasons...)
		}
		t.Fatalf("%s: %s, want %s: %v %v", what, rep.Verdict, v, rep.Reasons, reasons)
	}
}

func TestLTVAfterExpiry(t *testing.T) {
	f, t0, stamped, plain := ltvPair(t)
	ltv := f.addLTV(t, stamped)
	later := t0.Add(seal.DefaultValidity + 365*24*time.Hour) // the signer certificate has expired

	rep := f.verifyRoots(t, ltv, later)
	want(t, "timestamped, with DSS, after expiry", rep, seal.Valid)
	if rep.Revisions != 3 {
		t.Fatalf("%d revisions, want 3", rep.Revisions)
	}
	found := false
	for _, c := range rep.Signatures[0].Checks {
		found = found || c.Name == "validation data"
		if c.Name == "signer certificate" && (c.Result != seal.Pass || !strings.Contains(c.Detail, "not revoked")) {
			t.Fatalf("signer certificate check: %+v", c)
		}
	}
	if !found {
		t.Fatal("no validation data check in the report")
	}
	want(t, "timestamped, without DSS, after expiry", f.verifyRoots(t, stamped, later), seal.Indeterminate)
	want(t, "timestamped, with DSS, now", f.verifyRoots(t, ltv, time.Time{}), seal.Valid)
	want(t, "no timestamp, with DSS, after expiry", f.verifyRoots(t, f.addLTV(t, plain), later), seal.Indeterminate)
	want(t, "registry trust, with DSS, after expiry", f.verifyAt(t, ltv, later), seal.Valid)

	// A CRL signed by someone else's CA is not evidence.
	key, _ := keys.GenerateKey()
	other, err := keys.NewRootCA("别的机关", key, t0.Add(-time.Hour), t0.Add(20*365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	forged, err := other.IssueCRL(nil, big.NewInt(1), t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := pdf.Open(bytes.NewReader(stamped), int64(len(stamped)))
	if err != nil {
		t.Fatal(err)
	}
	var certs [][]byte
	dss, _ := mustOpen(t, ltv).DSS()
	certs = dss.Certs
	upd, err := doc.AppendDSS(pdf.DSS{Certs: certs, CRLs: [][]byte{forged}})
	if err != nil {
		t.Fatal(err)
	}
	want(t, "DSS with a foreign CRL", f.verifyRoots(t, append(append([]byte{}, stamped...), upd...), later), seal.Indeterminate)
}

func (f *fixture) verifyAt(t *testing.T, doc []byte, at time.Time) *seal.Report {
	t.Helper()
	v := f.verifier(t)
	v.At = at
	rep, err := v.VerifyPDF(context.Background(), bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func mustOpen(t *testing.T, b []byte) *pdf.Document {
	t.Helper()
	d, err := pdf.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestLTVRevokedLater: the signer certificate is revoked an hour after
// signing, and the DSS is added after that, so its CRL lists the revocation.
func TestLTVRevokedLater(t *testing.T) {
	f, t0, stamped, plain := ltvPair(t)
	ctx := context.Background()
	f.now = t0.Add(time.Hour)
	if err := f.reg.RevokeSignerCertificate(ctx, f.sealID, "key compromise", "test"); err != nil {
		t.Fatal(err)
	}
	f.now = t0.Add(2 * time.Hour)
	stampedLTV, plainLTV := f.addLTV(t, stamped), f.addLTV(t, plain)

	before, after := t0.Add(30*time.Minute), t0.Add(90*time.Minute)
	for _, c := range []struct {
		what string
		doc  []byte
		at   time.Time
		want seal.Verdict
	}{
		{"timestamped, before the revocation", stampedLTV, before, seal.Valid},
		{"timestamped, after the revocation", stampedLTV, after, seal.Valid},
		{"timestamped, after expiry", stampedLTV, t0.Add(seal.DefaultValidity + time.Hour), seal.Valid},
		{"no timestamp, before the revocation", plainLTV, before, seal.Valid},
		{"no timestamp, after the revocation", plainLTV, after, seal.Indeterminate},
		{"no timestamp, now", plainLTV, time.Time{}, seal.Indeterminate},
	} {
		t.Run(c.what, func(t *testing.T) {
			want(t, c.what, f.verifyRoots(t, c.doc, c.at), c.want)
		})
	}
	// Without the DSS, the root alone knows nothing of the revocation: the
	// CRL in the PDF is what makes the difference.
	want(t, "no timestamp, no DSS, after the revocation", f.verifyRoots(t, plain, after), seal.Valid)
}

// TestLTVTwoSignatures: one DSS revision after two signatures keeps both
// valid, and outside tools still read the file.
func TestLTVTwoSignatures(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	srv, err := f.reg.TSA(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := &seal.Stamper{Registry: f.reg}
	doc := pdftest.Document(pdftest.Options{Pages: 2})
	for i, ltv := range []bool{false, true} { // the second stamping appends the DSS itself
		res, err := st.Stamp(ctx, bytes.NewReader(doc), int64(len(doc)), seal.SignRequest{
			SealID: f.sealID, Placement: seal.Placement{Page: i + 1, XMM: 100, YMM: 150},
			Timestamps: seal.EmbeddedTSA{Server: srv}, RequireTimestamp: true, LTV: ltv,
		})
		if err != nil {
			t.Fatal(err)
		}
		doc = append(doc, res.Update...)
	}
	rep := f.verify(t, doc)
	want(t, "two signatures and a DSS", rep, seal.Valid)
	if len(rep.Signatures) != 2 || rep.Revisions != 4 {
		t.Fatalf("%d signatures, %d revisions", len(rep.Signatures), rep.Revisions)
	}
	dss, err := mustOpen(t, doc).DSS()
	if err != nil || dss == nil || len(dss.VRI) != 2 || len(dss.CRLs) != 1 {
		t.Fatalf("DSS: %+v %v", dss, err)
	}
	want(t, "roots only, after expiry", f.verifyRoots(t, doc, time.Now().Add(seal.DefaultValidity+time.Hour)), seal.Valid)

	// A second AddLTV extends the store and changes nothing signed.
	again := f.addLTV(t, doc)
	want(t, "after a second DSS", f.verify(t, again), seal.Valid)

	file := filepath.Join(t.TempDir(), "ltv.pdf")
	if err := os.WriteFile(file, again, 0o644); err != nil {
		t.Fatal(err)
	}
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	if err := api.ValidateFile(file, conf); err != nil {
		t.Errorf("pdfcpu validate (relaxed): %v", err)
	}
	for _, tool := range []string{"qpdf", "pdfsig"} {
		path, err := exec.LookPath(tool)
		if err != nil {
			if os.Getenv("ESEAL_REQUIRE_TOOLS") == "1" {
				t.Fatalf("%s not on PATH", tool)
			}
			t.Logf("%s not on PATH; skipped", tool)
			continue
		}
		args := []string{file}
		if tool == "qpdf" {
			args = []string{"--check", file}
		}
		out, err := exec.Command(path, args...).CombinedOutput()
		switch tool {
		case "qpdf":
			if err != nil || strings.Contains(strings.ToUpper(string(out)), "WARNING") {
				t.Errorf("qpdf --check: %v\n%s", err, out)
			}
		case "pdfsig":
			if n := strings.Count(string(out), "Signature #"); n != 2 {
				t.Errorf("pdfsig lists %d signatures:\n%s", n, out)
			}
		}
	}
}

// ltvPair stamps one document twice at a fixed clock: with a timestamp from
// the embedded TSA (stamped) and without (plain).
func ltvPair(t *testing.T) (f *fixture, t0 time.Time, stamped, plain []byte) {
	t.Helper()
	f = newFixture(t)
	t0 = time.Now().UTC().Truncate(time.Second)
	f.now = t0
	srv, err := f.reg.TSA(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	in := pdftest.Document(pdftest.Options{})
	if _, stamped, err = f.stampWith(t, in, seal.EmbeddedTSA{Server: srv}, true); err != nil {
		t.Fatal(err)
	}
	if _, plain, err = f.stampWith(t, in, nil, false); err != nil {
		t.Fatal(err)
	}
	return f, t0, stamped, plain
}
