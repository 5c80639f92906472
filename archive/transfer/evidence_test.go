package transfer_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	tjsm3 "github.com/tjfoc/gmsm/sm3"

	"eseal/archive"
	"eseal/archive/fs"
	"eseal/archive/transfer"
	"eseal/keys"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// evidenceEnv is an organisation with two stamped documents: one under a
// responsible person's SM2 approval (seal under policy person), one under an
// authorizer key's direct grant (seal under policy key), packed with their
// evidence.
type evidenceEnv struct {
	root     string
	store    archive.Store
	reg      *seal.Registry
	personAz string // the SM2-approved authorization
	keyAz    string // the api-key grant
	personID string
	key      *sm2.PrivateKey
	pkg      []byte
}

func newEvidenceEnv(t *testing.T) *evidenceEnv {
	t.Helper()
	ctx := context.Background()
	root := t.TempDir()
	store, err := fs.New(root, fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	kek, _, err := keys.NewKEK()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := seal.InitOrg(ctx, store, kek, "测试市行政审批服务局", seal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	personSeal, err := reg.CreateSeal(ctx, seal.CreateSpec{Name: "行政审批专用章"})
	if err != nil {
		t.Fatal(err)
	}
	keySeal, err := reg.CreateSeal(ctx, seal.CreateSpec{Name: "业务专用章", Policy: seal.PolicyKey})
	if err != nil {
		t.Fatal(err)
	}
	key, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := keys.SelfSignedPersonCertificate("张三", key, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	p, err := reg.EnrolPerson(ctx, seal.PersonSpec{SealID: personSeal.ID, Name: "张三", CertPEM: keys.EncodeCertificatesPEM(cert), By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	rq, err := reg.RequestAuthorization(ctx, seal.RequestSpec{SealID: personSeal.ID, CaseNo: "2026-EV-1", Title: "食品经营许可证", ExpiresIn: time.Hour, By: "审批系统"})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := keys.SignSM2(key, rq.Challenge)
	if err != nil {
		t.Fatal(err)
	}
	personAz, err := reg.Approve(ctx, rq.RequestID, p.ID, sig)
	if err != nil {
		t.Fatal(err)
	}
	// The key's grant is for one document: the PDF stamped under it.
	keyPDF := pdftest.Document(pdftest.Options{Pages: 1, Title: "业务专用"})
	keyAz, err := reg.Grant(ctx, seal.GrantRequest{SealID: keySeal.ID, CaseNo: "2026-EV-2", GrantedBy: "集成系统",
		DocumentSM3: hex.EncodeToString(tjsm3.Sm3Sum(keyPDF))})
	if err != nil {
		t.Fatal(err)
	}
	sched, err := archive.ParseSchedule([]byte("items:\n  \"330000-XK-0001\": permanent\n"))
	if err != nil {
		t.Fatal(err)
	}
	svc := &seal.Service{Registry: reg, Store: store, Schedule: sched, Application: "eseal-test"}
	for i, u := range []struct {
		seal, az, caseNo string
		pdf              []byte
	}{{personSeal.ID, personAz.ID, "2026-EV-1", pdftest.Document(pdftest.Options{Pages: 1})}, {keySeal.ID, keyAz.ID, "2026-EV-2", keyPDF}} {
		if _, err := svc.Stamp(ctx, seal.StampRequest{
			SealID: u.seal, AuthorizationID: u.az, Placement: seal.Placement{Page: 1, XMM: 120, YMM: 200},
			Record: seal.RecordInput{Title: "准予行政许可决定书", DocumentNo: "审批〔2026〕" + itoa(i+1) + "号", ItemCode: "330000-XK-0001", CaseNo: u.caseNo, Applicant: "某某有限公司"},
			PDF:    u.pdf,
		}); err != nil {
			t.Fatal(err)
		}
	}
	e := &evidenceEnv{root: root, store: store, reg: reg, personAz: personAz.ID, keyAz: keyAz.ID, personID: p.ID, key: key}
	recs, err := transfer.Select(ctx, svc.Documents(), transfer.Filter{Year: time.Now().In(transfer.China).Year()})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := orgSigner(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := transfer.Write(ctx, &buf, recs, transfer.Options{
		Store: store, Rule: rule, Organisation: reg.Info().Name, Sign: signer.sign, SignerChain: signer.chain,
		Inspect: inspectPDF, Evidence: reg.TransferEvidence,
	}); err != nil {
		t.Fatal(err)
	}
	e.pkg = buf.Bytes()
	return e
}

// checkOffline checks a package as a receiving archive would: no store, no
// keys of eseal, only the SM2 verification of what the package carries.
func checkOffline(t *testing.T, pkg []byte) *transfer.CheckReport {
	t.Helper()
	rep, err := transfer.Check(context.Background(), bytes.NewReader(pkg), int64(len(pkg)), transfer.CheckOptions{
		Inspect: inspectPDF, VerifyEvidence: seal.VerifyEvidenceSignature,
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// evidencePath finds the folder of an authorization's evidence in a package
// and the reference code of its item.
func evidencePath(t *testing.T, p *pkgFiles, az string) (ref, dir string) {
	t.Helper()
	for _, n := range p.names {
		if strings.HasSuffix(n, "/evidence/"+az+"/grant.bin") {
			dir = strings.TrimSuffix(n, "grant.bin")
			ref = strings.Split(n, "/")[1]
			return ref, dir
		}
	}
	t.Fatalf("no evidence of %s in the package", az)
	return "", ""
}

func TestEvidenceInPackage(t *testing.T) {
	e := newEvidenceEnv(t)
	p := unzip(t, e.pkg)
	ref, dir := evidencePath(t, p, e.personAz)
	// The files are the stored evidence, byte for byte, and listed in both
	// manifests and the item's metadata.
	ev, err := e.reg.Evidence(context.Background(), e.personAz)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"grant.bin": ev.Grant, "signature.der": ev.Signature, "certificate.pem": []byte(ev.Certificate)} {
		if !bytes.Equal(p.get(dir+name), want) {
			t.Errorf("%s%s is not the stored evidence", dir, name)
		}
		for _, man := range []string{"manifest-sm3.txt", "manifest-sha256.txt"} {
			if !bytes.Contains(p.get(man), []byte(" "+dir+name+"\n")) {
				t.Errorf("%s does not list %s%s", man, dir, name)
			}
		}
	}
	var m transfer.Metadata
	if err := xmlUnmarshal(p.get("data/"+ref+"/"+ref+".xml"), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Evidence) != 1 {
		t.Fatalf("metadata lists %d evidences, want 1", len(m.Evidence))
	}
	got := m.Evidence[0]
	if got.AuthzID != e.personAz || got.Method != "sm2" || got.PersonID != e.personID || got.PersonName != "张三" ||
		got.GrantSM3 != hex.EncodeToString(tjsm3.Sm3Sum(ev.Grant)) || m.Signatures[0].AuthzID != e.personAz {
		t.Errorf("metadata's evidence: %+v", got)
	}

	rep := checkOffline(t, e.pkg)
	if !rep.OK() {
		t.Fatalf("a fresh package fails:\n%s", dump(rep))
	}
	// The person's approval passes; the API key's grant verifies but is
	// reported as the weaker evidence it is.
	if got := rep.Result(transfer.CheckAuthorization); got != transfer.Warn {
		t.Errorf("%s: %s, want warn (one api-key grant)\n%s", transfer.CheckAuthorization, got, dump(rep))
	}
	findings := rep.Findings(transfer.CheckAuthorization)
	if len(findings) != 1 || findings[0].Result != transfer.Warn || !strings.Contains(findings[0].DocRef, e.keyAz) ||
		!strings.Contains(findings[0].Detail, "api-key") {
		t.Errorf("findings: %+v", findings)
	}
	for _, r := range rep.Rows {
		if r.Check == transfer.CheckAuthorization && r.DocRef == "" && r.Property != transfer.Authenticity {
			t.Errorf("the evidence check is under %s, want 真实性", r.Property)
		}
	}
	// Without a verifier, the signatures are left to a person, not passed.
	bare, err := transfer.Check(context.Background(), bytes.NewReader(e.pkg), int64(len(e.pkg)), transfer.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := bare.Result(transfer.CheckAuthorization); got != transfer.Manual {
		t.Errorf("without a verifier: %s, want manual", got)
	}
}

// TestEvidenceTampering: each damage to the evidence in a package is a
// fail row of the evidence check naming the item and the file, never a
// crash. The manifests are recomputed (as a careful forger would) so the
// evidence check itself must notice.
func TestEvidenceTampering(t *testing.T) {
	e := newEvidenceEnv(t)
	other, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	otherCert, err := keys.SelfSignedPersonCertificate("李四", other, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// setGrant replaces the grant bytes and states their SM3 in the
	// metadata, so that the checks after the digest run.
	setGrant := func(t *testing.T, p *pkgFiles, ref, dir string, b []byte) {
		old := hex.EncodeToString(tjsm3.Sm3Sum(p.get(dir + "grant.bin")))
		meta := "data/" + ref + "/" + ref + ".xml"
		p.set(meta, replaceOnce(t, p.get(meta), old, hex.EncodeToString(tjsm3.Sm3Sum(b))))
		p.set(dir+"grant.bin", b)
	}
	flip := func(b []byte, i int) []byte {
		out := append([]byte{}, b...)
		out[(i+len(out))%len(out)] ^= 0x01
		return out
	}
	cases := []struct {
		name   string
		mutate func(t *testing.T, p *pkgFiles, ref, dir string)
		file   string // the file the fail row names
		detail string
	}{
		{"one byte of grant.bin flipped", func(t *testing.T, p *pkgFiles, ref, dir string) {
			p.set(dir+"grant.bin", flip(p.get(dir+"grant.bin"), -3))
		}, "grant.bin", "SM3 of the grant bytes differs"},
		{"one byte of grant.bin flipped, metadata digest forged", func(t *testing.T, p *pkgFiles, ref, dir string) {
			setGrant(t, p, ref, dir, flip(p.get(dir+"grant.bin"), -3))
		}, "signature.der", "does not verify"},
		{"one byte of signature.der flipped", func(t *testing.T, p *pkgFiles, ref, dir string) {
			p.set(dir+"signature.der", flip(p.get(dir+"signature.der"), -5))
		}, "signature.der", "does not verify"},
		{"truncated grant", func(t *testing.T, p *pkgFiles, ref, dir string) {
			g := p.get(dir + "grant.bin")
			setGrant(t, p, ref, dir, g[:len(g)/2])
		}, "grant.bin", "not grant bytes"},
		{"empty grant", func(t *testing.T, p *pkgFiles, ref, dir string) {
			setGrant(t, p, ref, dir, nil)
		}, "grant.bin", "not an eseal grant"},
		{"truncated signature", func(t *testing.T, p *pkgFiles, ref, dir string) {
			s := p.get(dir + "signature.der")
			p.set(dir+"signature.der", s[:len(s)-7])
		}, "signature.der", "does not verify"},
		{"wrong certificate", func(t *testing.T, p *pkgFiles, ref, dir string) {
			p.set(dir+"certificate.pem", keys.EncodeCertificatesPEM(otherCert))
		}, "signature.der", "does not verify"},
		{"signature of other bytes", func(t *testing.T, p *pkgFiles, ref, dir string) {
			sig, err := keys.SignSM2(e.key, []byte("eseal authorization grant v1\nsomething else\n"))
			if err != nil {
				t.Fatal(err)
			}
			p.set(dir+"signature.der", sig)
		}, "signature.der", "does not verify"},
		{"another signer's signature and certificate", func(t *testing.T, p *pkgFiles, ref, dir string) {
			sig, err := keys.SignSM2(other, p.get(dir+"grant.bin"))
			if err != nil {
				t.Fatal(err)
			}
			p.set(dir+"signature.der", sig)
			p.set(dir+"certificate.pem", keys.EncodeCertificatesPEM(otherCert))
			// It verifies: the package alone cannot know who was enrolled;
			// the register's signature over the package digest is what
			// binds the certificate (authenticity.register fails).
		}, "", ""},
		{"certificate not PEM", func(t *testing.T, p *pkgFiles, ref, dir string) {
			p.set(dir+"certificate.pem", []byte("not a certificate"))
		}, "certificate.pem", "not a PEM certificate"},
		{"two certificates", func(t *testing.T, p *pkgFiles, ref, dir string) {
			p.set(dir+"certificate.pem", append(p.get(dir+"certificate.pem"), keys.EncodeCertificatesPEM(otherCert)...))
		}, "certificate.pem", "more than one"},
		{"missing certificate", func(t *testing.T, p *pkgFiles, ref, dir string) {
			p.remove(dir + "certificate.pem")
		}, "certificate.pem", "missing"},
		{"missing grant", func(t *testing.T, p *pkgFiles, ref, dir string) {
			p.remove(dir + "grant.bin")
		}, "grant.bin", "missing"},
		{"the document's case changed", func(t *testing.T, p *pkgFiles, ref, dir string) {
			meta := "data/" + ref + "/" + ref + ".xml"
			p.set(meta, replaceOnce(t, p.get(meta), "<办件编号>2026-EV-1<", "<办件编号>2026-EV-9<"))
		}, "grant.bin", "the grant is for case"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := unzip(t, e.pkg)
			ref, dir := evidencePath(t, p, e.personAz)
			c.mutate(t, p, ref, dir)
			p.rebag()
			rep := checkOffline(t, p.zip(t))
			if rep.OK() {
				t.Fatalf("a package with damaged evidence passes:\n%s", dump(rep))
			}
			if c.file == "" {
				if got := rep.Result(transfer.CheckRegister); got != transfer.Fail {
					t.Errorf("register: %s, want fail", got)
				}
				return
			}
			var found bool
			for _, r := range rep.Findings(transfer.CheckAuthorization) {
				if r.Result == transfer.Fail && r.DocRef == dir+c.file && strings.Contains(r.Detail, ref) && strings.Contains(r.Detail, c.detail) {
					found = true
				}
			}
			if !found {
				t.Errorf("no fail row naming %s%s (%q):\n%s", dir, c.file, c.detail, dump(rep))
			}
			if got := rep.Result(transfer.CheckAuthorization); got != transfer.Fail {
				t.Errorf("%s: %s, want fail", transfer.CheckAuthorization, got)
			}
		})
	}
	// Without recomputing the manifests, a flipped byte in the stored grant
	// of a package fails both the manifests and the evidence.
	p := unzip(t, e.pkg)
	_, dir := evidencePath(t, p, e.personAz)
	p.set(dir+"grant.bin", flip(p.get(dir+"grant.bin"), 40))
	rep := checkOffline(t, p.zip(t))
	if rep.Result(transfer.CheckDigests) != transfer.Fail || rep.Result(transfer.CheckAuthorization) != transfer.Fail {
		t.Errorf("digests %s, evidence %s, want both fail\n%s", rep.Result(transfer.CheckDigests), rep.Result(transfer.CheckAuthorization), dump(rep))
	}
}

// TestFixityEvidence: a flipped byte in a stored grant.bin is reported by
// fixity with the authorization and the document.
func TestFixityEvidence(t *testing.T) {
	e := newEvidenceEnv(t)
	ctx := context.Background()
	rep, err := archive.Fixity(ctx, e.store, time.Now, nil, e.reg.CheckEvidence, nil)
	if err != nil || !rep.OK() || rep.Documents != 2 {
		t.Fatalf("clean archive: %v %+v", err, rep)
	}
	var victim string
	_ = filepath.Walk(e.root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && fi.Name() == "grant.bin" && strings.Contains(p, e.personAz) && strings.Contains(p, "evidence") {
			victim = p
		}
		return nil
	})
	if victim == "" {
		t.Fatal("no stored grant.bin on disk")
	}
	_ = os.Chmod(victim, 0o644)
	b, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-3] ^= 0x01
	if err := os.WriteFile(victim, b, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err = archive.Fixity(ctx, e.store, time.Now, nil, e.reg.CheckEvidence, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 {
		t.Fatalf("problems: %+v", rep.Problems)
	}
	pr := rep.Problems[0]
	if pr.AuthorizationID != e.personAz || pr.DocumentID == "" || !strings.Contains(pr.Key, e.personAz) {
		t.Errorf("problem: %+v", pr)
	}
	st, err := e.reg.Authorization(ctx, e.personAz)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Uses) != 1 || st.Uses[0].DocumentID != pr.DocumentID {
		t.Errorf("the problem names %s, the authorization was used for %+v", pr.DocumentID, st.Uses)
	}
}

// TestInputInPackage: each item's metadata names the file its stamping
// sealed (用印前文件: size and SM3); the check confirms the PDF begins
// with it, and that a grant for one document was for that file. A
// 用印前文件 that is not the PDF's beginning fails both.
func TestInputInPackage(t *testing.T) {
	e := newEvidenceEnv(t)
	p := unzip(t, e.pkg)
	ref, dir := evidencePath(t, p, e.keyAz)
	meta := "data/" + ref + "/" + ref + ".xml"
	var m transfer.Metadata
	if err := xmlUnmarshal(p.get(meta), &m); err != nil {
		t.Fatal(err)
	}
	pdf := p.get("data/" + ref + "/" + ref + ".pdf")
	n, err := strconv.Atoi(m.InputSize)
	if err != nil || n < 1 || n >= len(pdf) || m.InputSM3 != hex.EncodeToString(tjsm3.Sm3Sum(pdf[:n])) {
		t.Fatalf("用印前文件 %q %q of a %d-byte PDF", m.InputSize, m.InputSM3, len(pdf))
	}
	if rep := checkOffline(t, e.pkg); !rep.OK() || rep.Result(transfer.CheckAttributes) != transfer.Pass {
		t.Fatalf("a fresh package:\n%s", dump(rep))
	}

	// Hostile 用印前文件 values: each fails the attributes, never a crash.
	for name, edit := range map[string][2]string{
		"size not a number": {"<计算机文件大小>" + m.InputSize + "</计算机文件大小>", "<计算机文件大小>many</计算机文件大小>"},
		"size negative":     {"<计算机文件大小>" + m.InputSize + "</计算机文件大小>", "<计算机文件大小>-5</计算机文件大小>"},
		"size past the end": {"<计算机文件大小>" + m.InputSize + "</计算机文件大小>", "<计算机文件大小>99999999</计算机文件大小>"},
		"SM3 not hex":       {m.InputSM3, strings.Repeat("z", 64)},
		"SM3 short":         {m.InputSM3, m.InputSM3[:40]},
	} {
		q := unzip(t, e.pkg)
		body := q.get(meta)
		if !bytes.Contains(body, []byte(edit[0])) {
			t.Fatalf("%s: %q not in the metadata:\n%s", name, edit[0], body)
		}
		q.set(meta, bytes.Replace(body, []byte(edit[0]), []byte(edit[1]), 1))
		q.rebag()
		if rep := checkOffline(t, q.zip(t)); rep.Result(transfer.CheckAttributes) != transfer.Fail {
			t.Errorf("%s: attributes %s\n%s", name, rep.Result(transfer.CheckAttributes), dump(rep))
		}
	}

	other := hex.EncodeToString(tjsm3.Sm3Sum([]byte("another document")))
	p.set(meta, replaceOnce(t, p.get(meta), m.InputSM3, other))
	p.rebag()
	rep := checkOffline(t, p.zip(t))
	var prefix, grant bool
	for _, r := range rep.Rows {
		if r.Result != transfer.Fail {
			continue
		}
		prefix = prefix || r.Check == transfer.CheckAttributes && strings.Contains(r.Detail, "does not begin with the one it was sealed from")
		grant = grant || r.Check == transfer.CheckAuthorization && r.DocRef == dir+"grant.bin" && strings.Contains(r.Detail, "sealed from "+other)
	}
	if !prefix || !grant {
		t.Fatalf("用印前文件 not the PDF's beginning: prefix fail %v, grant fail %v\n%s", prefix, grant, dump(rep))
	}
}
