package transfer_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	tjsm3 "github.com/tjfoc/gmsm/sm3"

	"eseal/archive"
	"eseal/archive/fs"
	"eseal/archive/transfer"
	"eseal/keys"
	"eseal/pdf"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// env is an organisation with stamped, committed records in a filesystem
// store, built once for all tests.
type env struct {
	store  archive.Store
	reg    *seal.Registry
	svc    *seal.Service
	kek    *keys.KEK
	signer *smSigner
	ts     *keys.TrustStore
	// pkg is the package of every record of 2026, written once.
	pkg     []byte
	summary *transfer.Package
}

const records = 210

var (
	envOnce sync.Once
	theEnv  *env
	envErr  error
)

func getEnv(t testing.TB) *env {
	t.Helper()
	envOnce.Do(func() { theEnv, envErr = buildEnv() })
	if envErr != nil {
		t.Fatal(envErr)
	}
	return theEnv
}

var rule = transfer.Rule{Fonds: "Z001"}

func buildEnv() (*env, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "eseal-transfer-test-")
	if err != nil {
		return nil, err
	}
	store, err := fs.New(dir, fs.Options{})
	if err != nil {
		return nil, err
	}
	kek, _, err := keys.NewKEK()
	if err != nil {
		return nil, err
	}
	reg, err := seal.InitOrg(ctx, store, kek, "测试市行政审批服务局", seal.Options{})
	if err != nil {
		return nil, err
	}
	sl, err := reg.CreateSeal(ctx, seal.CreateSpec{Name: "行政审批专用章", Type: seal.TypeApproval, Policy: seal.PolicyKey})
	if err != nil {
		return nil, err
	}
	sched, err := archive.ParseSchedule([]byte("items:\n  \"330000-XK-0001\": permanent\n  \"330000-XK-0002\": 30y\n  \"330000-XK-0003\": 10y\n"))
	if err != nil {
		return nil, err
	}
	svc := &seal.Service{Registry: reg, Store: store, Schedule: sched, Application: "eseal-test"}
	in := pdftest.Document(pdftest.Options{Pages: 2})
	items := []string{"330000-XK-0001", "330000-XK-0002", "330000-XK-0003"}
	var az *seal.Authorization
	for i := 0; i < records; i++ {
		caseNo := fmt.Sprintf("2026-CASE-%d", i/100)
		if i%100 == 0 {
			if az, err = reg.Grant(ctx, seal.GrantRequest{SealID: sl.ID, CaseNo: caseNo, MaxUses: 100, GrantedBy: "负责人"}); err != nil {
				return nil, err
			}
		}
		_, err := svc.Stamp(ctx, seal.StampRequest{
			SealID: sl.ID, AuthorizationID: az.ID, Placement: seal.Placement{Page: 1, XMM: 120, YMM: 200},
			Record: seal.RecordInput{Title: fmt.Sprintf("准予行政许可决定书（第%d号）", i+1), DocumentNo: fmt.Sprintf("审批〔2026〕%d号", i+1),
				ItemCode: items[i%3], CaseNo: caseNo, Applicant: "某某有限公司"},
			PDF: in,
		})
		if err != nil {
			return nil, fmt.Errorf("stamping %d: %w", i, err)
		}
	}
	ts, err := reg.TrustStore(ctx)
	if err != nil {
		return nil, err
	}
	signer, err := orgSigner(ctx, reg)
	if err != nil {
		return nil, err
	}
	e := &env{store: store, reg: reg, svc: svc, kek: kek, signer: signer, ts: ts}
	recs, err := transfer.Select(ctx, svc.Documents(), transfer.Filter{Year: time.Now().In(transfer.China).Year()})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	e.summary, err = transfer.Write(ctx, &buf, recs, e.writeOptions())
	if err != nil {
		return nil, err
	}
	e.pkg = buf.Bytes()
	return e, nil
}

// smSigner is the organisation's register signer: its service key, as
// cmd/eseal uses it.
type smSigner struct {
	sign  transfer.SignFunc
	chain [][]byte
}

func orgSigner(ctx context.Context, reg *seal.Registry) (*smSigner, error) {
	key, err := reg.AuditSigner(ctx)
	if err != nil {
		return nil, err
	}
	cert, err := reg.AuditCertificate(ctx)
	if err != nil {
		return nil, err
	}
	return &smSigner{sign: func(msg []byte) ([]byte, error) { return keys.SignSM2(key, msg) }, chain: [][]byte{cert.Raw, reg.Roots()[0].Raw}}, nil
}

func (e *env) writeOptions() transfer.Options {
	return transfer.Options{
		Store: e.store, Rule: rule, Organisation: e.reg.Info().Name, Receiver: "测试市档案馆",
		Sign: e.signer.sign, SignerChain: e.signer.chain, Verify: e.verify, Inspect: inspectPDF,
		Evidence: e.reg.TransferEvidence,
	}
}

func (e *env) verify(ctx context.Context, r io.ReaderAt, size int64) (string, string, error) {
	v := &seal.Verifier{Trust: e.ts, Registry: e.reg}
	rep, err := v.VerifyPDF(ctx, r, size)
	if err != nil {
		return "", "", err
	}
	return string(rep.Verdict), strings.Join(rep.Reasons, "; "), nil
}

// verifySig trusts only the organisation root.
func (e *env) verifySig(chain [][]byte, msg, sig []byte) error {
	var certs []*smx509.Certificate
	for _, der := range chain {
		c, err := smx509.ParseCertificate(der)
		if err != nil {
			return err
		}
		certs = append(certs, c)
	}
	if _, err := e.ts.Verify(certs[0], certs[1:], time.Now(), keys.UsageSign); err != nil {
		return err
	}
	if !keys.VerifySM2(certs[0].PublicKey, msg, sig) {
		return errors.New("SM2 signature does not verify")
	}
	return nil
}

func (e *env) checkOptions() transfer.CheckOptions {
	return transfer.CheckOptions{
		Verify: e.verify, VerifySig: e.verifySig, Inspect: inspectPDF, VerifyEvidence: seal.VerifyEvidenceSignature,
		Audit: func(ctx context.Context, id, digest string) (bool, string, error) { return true, "", nil },
	}
}

func (e *env) check(t *testing.T, pkg []byte) *transfer.CheckReport {
	t.Helper()
	rep, err := transfer.Check(context.Background(), bytes.NewReader(pkg), int64(len(pkg)), e.checkOptions())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func dump(rep *transfer.CheckReport) string {
	var b strings.Builder
	for _, r := range rep.Rows {
		if r.Result != transfer.Pass {
			fmt.Fprintf(&b, "  %-5s %-24s %s %s\n", r.Result, r.Check, r.DocRef, r.Detail)
		}
	}
	return b.String()
}

func TestTransferPasses(t *testing.T) {
	e := getEnv(t)
	s := e.summary
	if s.Items != records {
		t.Fatalf("%d items in the package, want %d", s.Items, records)
	}
	if s.First != "Z001-"+fmt.Sprint(time.Now().In(transfer.China).Year())+"-Y-330000XK0001-0001" {
		t.Errorf("first reference code %s", s.First)
	}
	rep := e.check(t, e.pkg)
	if !rep.OK() {
		t.Fatalf("a fresh package fails its check:\n%s", dump(rep))
	}
	for _, it := range transfer.Items {
		want := transfer.Pass
		switch it.ID {
		case transfer.CheckVirus:
			want = transfer.Manual // no scanner configured
		case transfer.CheckAuthorization:
			want = transfer.Warn // the seal's policy is key: api-key grants
		}
		if got := rep.Result(it.ID); got != want {
			t.Errorf("%s (%s): %s, want %s", it.ID, it.Name, got, want)
		}
	}
	if rep.Items != records || rep.Digest != s.Digest {
		t.Errorf("report: %d items, digest %s; package: %s", rep.Items, rep.Digest, s.Digest)
	}
	// Without hooks nothing that did not run passes.
	bare, err := transfer.Check(context.Background(), bytes.NewReader(e.pkg), int64(len(e.pkg)), transfer.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{transfer.CheckSignatures, transfer.CheckRegister, transfer.CheckAuthorization, transfer.CheckVirus, transfer.CheckProcess} {
		if got := bare.Result(id); got != transfer.Manual {
			t.Errorf("without hooks %s is %s, want manual", id, got)
		}
	}
}

// TestManifestsIndependently recomputes both manifests with other code:
// crypto/sha256 and the tjfoc SM3 implementation.
func TestManifestsIndependently(t *testing.T) {
	e := getEnv(t)
	files := unzip(t, e.pkg)
	for _, m := range []struct {
		name string
		sum  func([]byte) string
	}{
		{"manifest-sha256.txt", func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }},
		{"manifest-sm3.txt", func(b []byte) string { return hex.EncodeToString(tjsm3.Sm3Sum(b)) }},
		{"tagmanifest-sm3.txt", func(b []byte) string { return hex.EncodeToString(tjsm3.Sm3Sum(b)) }},
	} {
		lines := strings.Split(strings.TrimSpace(string(files.get(m.name))), "\n")
		for _, l := range lines {
			sum, p, _ := strings.Cut(l, " ")
			if got := m.sum(files.get(p)); got != sum {
				t.Errorf("%s: %s is %s, listed %s", m.name, p, got, sum)
			}
		}
		// Per item: PDF, metadata and its authorization's three evidence
		// files; then description, catalogue and the register's three files.
		if strings.HasPrefix(m.name, "manifest") && len(lines) != 5*records+5 {
			t.Errorf("%s has %d lines, want %d", m.name, len(lines), 5*records+5)
		}
	}
}

func TestSelect(t *testing.T) {
	e := getEnv(t)
	ctx := context.Background()
	year := time.Now().In(transfer.China).Year()
	for _, c := range []struct {
		f    transfer.Filter
		want int
	}{
		{transfer.Filter{}, records},
		{transfer.Filter{Year: year}, records},
		{transfer.Filter{Year: year - 1}, 0},
		{transfer.Filter{Retention: archive.Years30}, records / 3},
		{transfer.Filter{ItemCode: "330000-XK-0003"}, records / 3},
		{transfer.Filter{CaseNo: "2026-CASE-2"}, records - 200},
		{transfer.Filter{CaseNo: "2026-CASE-0", Retention: archive.Permanent}, 34},
	} {
		got, err := transfer.Select(ctx, e.svc.Documents(), c.f)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != c.want {
			t.Errorf("%+v: %d records, want %d", c.f, len(got), c.want)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Date.Before(got[i-1].Date) {
				t.Fatalf("%+v: not in date order", c.f)
			}
		}
	}
	// Uncommitted records are never selected: a record staged as a
	// stamping cut short before its commit leaves it (no use of its
	// authorization names it), in a unit of its own so the other tests
	// do not see it.
	all, err := transfer.Select(ctx, e.svc.Documents(), transfer.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	staged := all[0]
	staged.DocumentID = "doc-zzzzzzzz-" + strings.TrimPrefix(staged.DocumentID, "doc-")
	b, _ := json.Marshal(staged)
	if _, err := archive.PutBytesIfAbsent(ctx, e.store, archive.RecordKey(staged.DocumentID), b); err != nil && !errors.Is(err, archive.ErrExists) {
		t.Fatal(err)
	}
	if ids, _ := archive.DocumentIDs(ctx, e.store, "zzzzzzzz"); len(ids) != 1 {
		t.Fatalf("the staged record is not listed: %v", ids)
	}
	none, err := transfer.Select(ctx, e.svc.Documents(), transfer.Filter{UnitTag: "zzzzzzzz"})
	if err != nil || len(none) != 0 {
		t.Fatalf("uncommitted: %d records, %v", len(none), err)
	}
}

// TestWriteRefusesBadRecords: a stored PDF that no longer matches its record
// stops the transfer.
func TestWriteRefusesBadRecords(t *testing.T) {
	e := getEnv(t)
	ctx := context.Background()
	recs, err := transfer.Select(ctx, e.svc.Documents(), transfer.Filter{CaseNo: "2026-CASE-2"})
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]archive.Record{}, recs...)
	bad[3].SM3 = strings.Repeat("0", 64)
	var ie *transfer.ItemError
	if _, err := transfer.Write(ctx, io.Discard, bad, e.writeOptions()); !errors.As(err, &ie) || ie.DocumentID != recs[3].DocumentID {
		t.Fatalf("a record whose PDF does not match: %v", err)
	}
	if _, err := transfer.Write(ctx, io.Discard, nil, e.writeOptions()); err == nil {
		t.Fatal("an empty transfer was written")
	}
	opts := e.writeOptions()
	opts.Sign = nil
	if _, err := transfer.Write(ctx, io.Discard, recs, opts); err == nil {
		t.Fatal("a transfer without a register signer was written")
	}
	// Progress is reported for every item.
	opts = e.writeOptions()
	calls := 0
	opts.Progress = func(done, total int) { calls++ }
	if _, err := transfer.Write(ctx, io.Discard, recs, opts); err != nil || calls != len(recs) {
		t.Fatalf("progress called %d times for %d items: %v", calls, len(recs), err)
	}
}

// pkgFiles is an unpacked package, in ZIP order, paths relative to the bag.
type pkgFiles struct {
	root  string
	names []string
	data  map[string][]byte
}

func unzip(t testing.TB, pkg []byte) *pkgFiles {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(pkg), int64(len(pkg)))
	if err != nil {
		t.Fatal(err)
	}
	p := &pkgFiles{data: map[string][]byte{}}
	for _, f := range zr.File {
		root, rel, _ := strings.Cut(f.Name, "/")
		p.root = root
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		p.names = append(p.names, rel)
		p.data[rel] = b
	}
	return p
}

func (p *pkgFiles) get(rel string) []byte { return p.data[rel] }

func (p *pkgFiles) set(rel string, b []byte) {
	if _, ok := p.data[rel]; !ok {
		p.names = append(p.names, rel)
	}
	p.data[rel] = b
}

func (p *pkgFiles) remove(prefix string) {
	var keep []string
	for _, n := range p.names {
		if strings.HasPrefix(n, prefix) {
			delete(p.data, n)
		} else {
			keep = append(keep, n)
		}
	}
	p.names = keep
}

func (p *pkgFiles) rename(from, to string) {
	for i, n := range p.names {
		if strings.HasPrefix(n, from) {
			nn := to + strings.TrimPrefix(n, from)
			p.data[nn] = p.data[n]
			delete(p.data, n)
			p.names[i] = nn
		}
	}
}

// rebag recomputes the manifests, tag manifests and Payload-Oxum after an
// edit, as a careful forger would, so only the deeper checks can notice.
func (p *pkgFiles) rebag() {
	var payload []string
	var octets int
	for _, n := range p.names {
		if strings.HasPrefix(n, "data/") {
			payload = append(payload, n)
			octets += len(p.data[n])
		}
	}
	sort.Strings(payload)
	man := func(list []string, sm bool) []byte {
		var b bytes.Buffer
		for _, n := range list {
			var sum string
			if sm {
				sum = hex.EncodeToString(tjsm3.Sm3Sum(p.data[n]))
			} else {
				s := sha256.Sum256(p.data[n])
				sum = hex.EncodeToString(s[:])
			}
			fmt.Fprintf(&b, "%s %s\n", sum, n)
		}
		return b.Bytes()
	}
	p.set("manifest-sha256.txt", man(payload, false))
	p.set("manifest-sm3.txt", man(payload, true))
	var info []string
	for _, l := range strings.Split(strings.TrimSpace(string(p.data["bag-info.txt"])), "\n") {
		if strings.HasPrefix(l, "Payload-Oxum:") {
			l = fmt.Sprintf("Payload-Oxum: %d.%d", octets, len(payload))
		}
		info = append(info, l)
	}
	p.set("bag-info.txt", []byte(strings.Join(info, "\n")+"\n"))
	tags := []string{"bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sm3.txt"}
	p.set("tagmanifest-sha256.txt", man(tags, false))
	p.set("tagmanifest-sm3.txt", man(tags, true))
}

func (p *pkgFiles) zip(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range p.names {
		m := zip.Deflate
		if strings.HasSuffix(n, ".pdf") {
			m = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: p.root + "/" + n, Method: m})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(p.data[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// item returns the reference code of the i-th catalogue entry (from 0).
func (p *pkgFiles) item(t testing.TB, i int) string {
	var cat transfer.Catalogue
	if err := xmlUnmarshal(p.get(transfer.CataloguePath), &cat); err != nil {
		t.Fatal(err)
	}
	return cat.Entries[i].RefCode
}

func replaceOnce(t testing.TB, b []byte, old, new string) []byte {
	t.Helper()
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%q not found", old)
	}
	return bytes.Replace(b, []byte(old), []byte(new), 1)
}

// TestTamperingCaught: each kind of damage makes its check item fail.
func TestTamperingCaught(t *testing.T) {
	e := getEnv(t)
	cases := []struct {
		name   string
		mutate func(t *testing.T, p *pkgFiles)
		// raw edits the package bytes instead (no re-zipping).
		raw  func(t *testing.T, pkg []byte) []byte
		fail []string
	}{
		{name: "flipped byte in one PDF, in place", raw: func(t *testing.T, pkg []byte) []byte {
			out := append([]byte{}, pkg...)
			zr, _ := zip.NewReader(bytes.NewReader(out), int64(len(out)))
			for _, f := range zr.File {
				if strings.HasSuffix(f.Name, "-0007.pdf") {
					off, _ := f.DataOffset()
					out[off+200] ^= 0x01
					return out
				}
			}
			t.Fatal("no item 0007")
			return nil
		}, fail: []string{transfer.CheckDigests, transfer.CheckSignatures, transfer.CheckAttributes, transfer.CheckRegister}},
		{name: "flipped byte in one PDF, manifests recomputed", mutate: func(t *testing.T, p *pkgFiles) {
			ref := p.item(t, 10)
			b := append([]byte{}, p.get("data/"+ref+"/"+ref+".pdf")...)
			b[300] ^= 0x20
			p.set("data/"+ref+"/"+ref+".pdf", b)
			p.rebag()
		}, fail: []string{transfer.CheckSignatures, transfer.CheckAttributes, transfer.CheckRegister}},
		{name: "missing item", mutate: func(t *testing.T, p *pkgFiles) {
			ref := p.item(t, 42)
			p.remove("data/" + ref + "/")
			p.rebag()
		}, fail: []string{transfer.CheckContent, transfer.CheckCount, transfer.CheckBytes, transfer.CheckRegister}},
		{name: "changed metadata value", mutate: func(t *testing.T, p *pkgFiles) {
			ref := p.item(t, 5)
			path := "data/" + ref + "/" + ref + ".xml"
			p.set(path, replaceOnce(t, p.get(path), "（第6号）", "（第60号）"))
			p.rebag()
		}, fail: []string{transfer.CheckMetadata, transfer.CheckRegister}},
		{name: "changed metadata size", mutate: func(t *testing.T, p *pkgFiles) {
			ref := p.item(t, 8)
			path := "data/" + ref + "/" + ref + ".xml"
			b := p.get(path)
			i := bytes.Index(b, []byte("<计算机文件大小>")) + len("<计算机文件大小>")
			b = append(append(append([]byte{}, b[:i]...), '9'), b[i:]...)
			p.set(path, b)
			p.rebag()
		}, fail: []string{transfer.CheckAttributes, transfer.CheckRegister}},
		{name: "gap in the sequence", mutate: func(t *testing.T, p *pkgFiles) {
			// The last item of its group is renumbered one further on.
			var cat transfer.Catalogue
			_ = xmlUnmarshal(p.get(transfer.CataloguePath), &cat)
			last := cat.Entries[len(cat.Entries)-1].RefCode
			r, _ := transfer.ParseRefCode(last)
			next := r
			next.Seq++
			gap := strings.TrimSuffix(last, fmt.Sprintf("%04d", r.Seq)) + fmt.Sprintf("%04d", next.Seq)
			p.rename("data/"+last+"/"+last+".pdf", "data/"+gap+"/"+gap+".pdf")
			p.rename("data/"+last+"/"+last+".xml", "data/"+gap+"/"+gap+".xml")
			meta := "data/" + gap + "/" + gap + ".xml"
			m := strings.ReplaceAll(string(p.get(meta)), last, gap)
			m = strings.Replace(m, fmt.Sprintf("<件号>%04d</件号>", r.Seq), fmt.Sprintf("<件号>%04d</件号>", next.Seq), 1)
			p.set(meta, []byte(m))
			p.set(transfer.CataloguePath, []byte(strings.ReplaceAll(string(p.get(transfer.CataloguePath)), last, gap)))
			p.rebag()
		}, fail: []string{transfer.CheckSequence, transfer.CheckRegister}},
		{name: "register edited", mutate: func(t *testing.T, p *pkgFiles) {
			p.set(transfer.RegisterPath, replaceOnce(t, p.get(transfer.RegisterPath), "<接收单位>测试市档案馆", "<接收单位>另一档案馆"))
			p.rebag()
		}, fail: []string{transfer.CheckRegister}},
		{name: "register forged and re-signed by another key", mutate: func(t *testing.T, p *pkgFiles) {
			reg := replaceOnce(t, p.get(transfer.RegisterPath), fmt.Sprintf("<移交电子档案数量>%d<", records), fmt.Sprintf("<移交电子档案数量>%d<", records+1))
			priv, _ := keys.GenerateKey()
			ca, err := keys.NewRootCA("伪造单位", priv, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			sig, _ := keys.SignSM2(priv, reg)
			p.set(transfer.RegisterPath, reg)
			p.set(transfer.SignaturePath, sig)
			p.set(transfer.SignerPath, keys.EncodeCertificatesPEM(ca.Cert))
			p.rebag()
		}, fail: []string{transfer.CheckRegister, transfer.CheckCount}},
		{name: "extra item", mutate: func(t *testing.T, p *pkgFiles) {
			p.set("data/Z001-2000-Y-X-0001/Z001-2000-Y-X-0001.pdf", []byte("%PDF-1.7\n"))
			p.rebag()
		}, fail: []string{transfer.CheckContent, transfer.CheckRegister}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var pkg []byte
			if c.raw != nil {
				pkg = c.raw(t, e.pkg)
			} else {
				p := unzip(t, e.pkg)
				c.mutate(t, p)
				pkg = p.zip(t)
			}
			rep := e.check(t, pkg)
			if rep.OK() {
				t.Fatal("the damaged package passes")
			}
			for _, id := range c.fail {
				if rep.Result(id) != transfer.Fail {
					t.Errorf("%s is %s, want fail\n%s", id, rep.Result(id), dump(rep))
				}
			}
		})
	}
}

func inspectPDF(r io.ReaderAt, size int64) transfer.Inspection {
	return transfer.Inspection(pdf.Inspect(r, size))
}

// BenchmarkSelect measures choosing the records of one transfer among 210
// (10 match): every committed record read pinned to its commit.
func BenchmarkSelect(b *testing.B) {
	e := getEnv(b)
	ctx := context.Background()
	for b.Loop() {
		recs, err := transfer.Select(ctx, e.svc.Documents(), transfer.Filter{CaseNo: "2026-CASE-2"})
		if err != nil || len(recs) != records-200 {
			b.Fatalf("%v: %d records", err, len(recs))
		}
	}
}
