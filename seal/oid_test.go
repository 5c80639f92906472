package seal_test

// The UUID OIDs under 2.25 (docs/formats.md, "Identifiers eseal defines"):
// written as one arc, read also in the split form documents carried before.

import (
	"bytes"
	"context"
	"encoding/asn1"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eseal/keys"
	"eseal/keys/cms"
	"eseal/keys/tsa"
	"eseal/pdf"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

const (
	sealOIDText   = "2.25.64693171627294065741459426975091645976"
	policyOIDText = "2.25.64693171627294065741459426975091645977.1"
)

// OpenSSL, an outside DER reader, prints the seal attribute's type and the
// embedded TSA's policy as single-arc OIDs.
func TestUUIDOIDsSingleArc(t *testing.T) {
	openssl := lookTool(t, "openssl")
	f := newFixture(t)
	srv, err := f.reg.TSA(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, signed, err := f.stampWith(t, pdftest.Document(pdftest.Options{}), seal.EmbeddedTSA{Server: srv}, true)
	if err != nil {
		t.Fatal(err)
	}
	sd := signedData(t, signed, 0)
	dir := t.TempDir()
	asn1parse := func(name string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, der, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(openssl, "asn1parse", "-inform", "DER", "-in", p).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl asn1parse %s: %v\n%s", name, err, out)
		}
		return string(out)
	}
	out := asn1parse("cms.der", sd.Raw)
	if !strings.Contains(out, ":"+sealOIDText+"\n") {
		t.Errorf("openssl does not show the seal attribute as %s:\n%s", sealOIDText, grepOID(out))
	}
	attr, ok := sd.SignerInfos[0].UnsignedAttribute(cms.OIDAttrTimeStampToken)
	if !ok {
		t.Fatal("no timestamp token")
	}
	tok, err := tsa.ParseToken(attr.Values[0].FullBytes)
	if err != nil {
		t.Fatal(err)
	}
	if out := asn1parse("tstinfo.der", tok.RawInfo); !strings.Contains(out, ":"+policyOIDText+"\n") {
		t.Errorf("openssl does not show the TSA policy as %s:\n%s", policyOIDText, grepOID(out))
	}
	if got := tok.Policy.String(); got != policyOIDText {
		t.Errorf("token policy %s, want %s", got, policyOIDText)
	}
	if got := seal.OIDSESeal.String(); got != sealOIDText {
		t.Errorf("OIDSESeal %s", got)
	}
	if rep := f.verify(t, signed); rep.Verdict != seal.Valid || rep.Signatures[0].Seal == nil {
		t.Fatalf("%s %v", rep.Verdict, rep.Reasons)
	}
}

func grepOID(asn1parse string) string {
	var lines []string
	for _, l := range strings.Split(asn1parse, "\n") {
		if strings.Contains(l, "OBJECT") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// testdata/oid/old-split-oid.pdf was stamped (with a timestamp and
// long-term validation data) by eseal before the single-arc encoding: its
// seal attribute is 2.25.64693171.627294065.741459426.975091645.976, its
// token's policy the split policy. testdata/oid/root.pem is the root it
// chains to. It still verifies VALID, seal included.
func TestOldSplitOIDStillVerifies(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("testdata", "oid", "old-split-oid.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	split, _ := asn1.Marshal(asn1.ObjectIdentifier{2, 25, 64693171, 627294065, 741459426, 975091645, 976})
	sd := signedData(t, doc, 0)
	if !bytes.Contains(sd.Raw, split) || bytes.Contains(sd.Raw, seal.OIDSESeal.DER()) {
		t.Fatal("the fixture does not carry the split OID")
	}
	v := &seal.Verifier{Trust: trustPEM(t, filepath.Join("testdata", "oid", "root.pem"))}
	rep, err := v.VerifyPDF(context.Background(), bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != seal.Valid || rep.Signatures[0].Seal == nil || rep.Signatures[0].Timestamp == nil {
		t.Fatalf("%s %v %+v", rep.Verdict, rep.Reasons, rep.Signatures[0].Checks)
	}
	if r := checkResult(&rep.Signatures[0], "signer in seal"); r != seal.Pass {
		t.Errorf("signer in seal: %s", r)
	}
	// Years later, the certificates long expired: the timestamp and the
	// document security store still carry it.
	v.At = time.Now().AddDate(30, 0, 0)
	if rep, _ := v.VerifyPDF(context.Background(), bytes.NewReader(doc), int64(len(doc))); rep.Verdict != seal.Valid {
		t.Errorf("in 30 years: %s %v", rep.Verdict, rep.Reasons)
	}
}

// signedData parses the CMS of the document's signature i.
func signedData(t *testing.T, doc []byte, i int) *cms.SignedData {
	t.Helper()
	d, err := pdf.Open(bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := d.Signatures()
	if err != nil || len(sigs) <= i {
		t.Fatalf("signatures: %v (%d)", err, len(sigs))
	}
	sd, err := cms.Parse(sigs[i].Contents)
	if err != nil {
		t.Fatal(err)
	}
	return sd
}

// trustPEM is a trust store of the root certificates in a PEM file.
func trustPEM(t *testing.T, path string) *keys.TrustStore {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := keys.ParseCertificatesPEM(b)
	if err != nil {
		t.Fatal(err)
	}
	return keys.NewTrustStore(certs...)
}
