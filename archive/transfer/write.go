package transfer

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"eseal/archive"
)

// VerifyFunc verifies every signature in a PDF and returns the verdict
// ("VALID", "INVALID" or "INDETERMINATE", as seal.Verifier's report) with a
// short reason. err is for I/O only: a PDF that does not verify is a verdict.
type VerifyFunc func(ctx context.Context, pdf io.ReaderAt, size int64) (verdict, detail string, err error)

// SignFunc signs a message with SM2/SM3 and the default user id, returning
// the ASN.1 signature (keys.SignSM2 with the organisation's key).
type SignFunc func(msg []byte) ([]byte, error)

// Verdicts VerifyFunc returns.
const (
	VerdictValid         = "VALID"
	VerdictInvalid       = "INVALID"
	VerdictIndeterminate = "INDETERMINATE"
)

// Options configure Write.
type Options struct {
	// Store holds the records' PDFs.
	Store archive.Store
	// Rule makes the reference codes.
	Rule Rule
	// Organisation is the transferring unit (移交单位, Source-Organization).
	Organisation string
	// Receiver is the receiving archive (接收单位), if known.
	Receiver string
	// PackageID names the transfer and the bag's top directory; "" means
	// FONDS-YYYYMMDDTHHMMSSZ. 1–64 of [A-Za-z0-9._-].
	PackageID string
	// Content describes the selection in words for the description file
	// and the register (e.g. the filter).
	Content string
	// Sign and SignerChain (DER, signer first) sign the register; required.
	Sign        SignFunc
	SignerChain [][]byte
	// Verify checks each PDF's signatures before it is packed; an INVALID
	// verdict stops the transfer. nil records the check as manual.
	Verify VerifyFunc
	// Evidence reads the evidence of each authorization a record names,
	// packed in the item's folder (see evidence.go); nil packs none, and
	// Check then warns that the evidence is missing.
	Evidence EvidenceFunc
	// Inspect parses each PDF before it is packed (readable, not
	// encrypted); nil skips the check.
	Inspect InspectFunc
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Progress, if set, is called after each item with the count done.
	Progress func(done, total int)
	// TempDir is where PDFs larger than SpoolLimit are spooled; "" means
	// the system's.
	TempDir string
	// SpoolLimit is the largest PDF held in memory while packing; 0 means
	// 32 MiB.
	SpoolLimit int64
}

// Package summarises a written transfer package.
type Package struct {
	ID string `json:"id"`
	// Items is the number of items; ItemBytes their content and metadata.
	Items     int   `json:"items"`
	ItemBytes int64 `json:"item_bytes"`
	// PayloadBytes and PayloadFiles are the bag's Payload-Oxum.
	PayloadBytes int64 `json:"payload_bytes"`
	PayloadFiles int   `json:"payload_files"`
	// Digest is the SM3 package digest stated in the register.
	Digest string `json:"digest_sm3"`
	// First and Last are the first and last reference codes.
	First string `json:"first"`
	Last  string `json:"last"`
	// Checks are the results of the checks run while packing.
	Checks []RegisterCheck `json:"checks"`
}

var packageIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`) })

// Write writes a transfer package of the records, in the order given, to w
// as a ZIP file (layout in the package comment). It streams: each PDF is
// read once from the store, checked against its record, verified and
// copied; only digests are kept. If it fails, what was written to w is not
// a package; callers write to a temporary file and keep it only on success.
func Write(ctx context.Context, w io.Writer, records []archive.Record, opts Options) (*Package, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	t := now().UTC().Truncate(time.Second)
	switch {
	case len(records) == 0:
		return nil, errors.New("transfer: no records to transfer")
	case opts.Store == nil:
		return nil, errors.New("transfer: Options.Store is nil")
	case opts.Sign == nil || len(opts.SignerChain) == 0:
		return nil, errors.New("transfer: the register needs Options.Sign and Options.SignerChain")
	case strings.TrimSpace(opts.Organisation) == "":
		return nil, errors.New("transfer: Options.Organisation is empty")
	}
	id := opts.PackageID
	if id == "" {
		id = opts.Rule.Fonds + "-" + t.Format("20060102T150405Z")
	}
	if !packageIDPattern().MatchString(id) {
		return nil, fmt.Errorf("transfer: package id %q: want 1–64 of [A-Za-z0-9._-]", id)
	}
	items, err := Assign(records, opts.Rule)
	if err != nil {
		return nil, err
	}
	if err := keptNumbers(ctx, items, opts); err != nil {
		return nil, err
	}
	pw := &packWriter{zw: zip.NewWriter(w), root: id + "/", mod: t}
	if err := pw.small(bagitTxt, []byte(bagitDeclared)); err != nil {
		return nil, err
	}
	desc := describe(id, items, opts, t)
	if err := pw.xmlFile(DescriptionPath, desc); err != nil {
		return nil, err
	}
	if err := pw.xmlFile(CataloguePath, catalogue(items, opts.Rule)); err != nil {
		return nil, err
	}

	tally := newTally()
	var itemBytes int64
	for i, it := range items {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := pw.item(ctx, it, opts, tally)
		if err != nil {
			return nil, err
		}
		itemBytes += n
		if opts.Progress != nil {
			opts.Progress(i+1, len(items))
		}
	}

	payload := map[string]string{}
	for _, f := range pw.payload {
		payload[f.Path] = f.SM3
	}
	pkg := &Package{
		ID: id, Items: len(items), ItemBytes: itemBytes, Digest: PackageDigest(payload),
		First: items[0].Ref.String(), Last: items[len(items)-1].Ref.String(), Checks: tally.rows(len(items)),
	}
	reg := Register{
		Version: FormatVersion, PackageID: id, Transferring: opts.Organisation, Receiving: opts.Receiver,
		Fonds: opts.Rule.Fonds, Time: t.Format(time.RFC3339), Content: desc.Content,
		Count: strconv.Itoa(pkg.Items), Bytes: strconv.FormatInt(itemBytes, 10),
		Range: pkg.First + " — " + pkg.Last, Carrier: "在线 (ZIP, BagIt 1.0)",
		Digest: RegisterDigest{Algorithm: sm3Algorithm, Scope: "payload-except-register", Value: pkg.Digest},
		Checks: pkg.Checks,
		Signature: RegisterSig{Algorithm: "SM2-with-SM3 (1.2.156.10197.1.501), user id 1234567812345678",
			File: strings.TrimPrefix(SignaturePath, RegisterDir), Cert: strings.TrimPrefix(SignerPath, RegisterDir)},
	}
	regXML, err := marshalXML(reg)
	if err != nil {
		return nil, err
	}
	sig, err := opts.Sign(regXML)
	if err != nil {
		return nil, fmt.Errorf("transfer: signing the register: %w", err)
	}
	var chain bytes.Buffer
	for _, der := range opts.SignerChain {
		_ = pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	for _, f := range []struct {
		p string
		b []byte
	}{{RegisterPath, regXML}, {SignaturePath, sig}, {SignerPath, chain.Bytes()}} {
		if err := pw.small(f.p, f.b); err != nil {
			return nil, err
		}
	}

	for _, f := range pw.payload {
		pkg.PayloadBytes += f.Size
	}
	pkg.PayloadFiles = len(pw.payload)
	if err := pw.small(manifestSHA, manifest(pw.payload, false)); err != nil {
		return nil, err
	}
	if err := pw.small(manifestSM3, manifest(pw.payload, true)); err != nil {
		return nil, err
	}
	var info bytes.Buffer
	for _, kv := range [][2]string{
		{"Source-Organization", opts.Organisation},
		{"Bagging-Date", t.In(opts.Rule.loc()).Format("2006-01-02")},
		{"External-Identifier", id},
		{"External-Description", "DA/T 93 transfer package: " + desc.Content},
		{"Bag-Software-Agent", "eseal"},
		{"Payload-Oxum", fmt.Sprintf("%d.%d", pkg.PayloadBytes, pkg.PayloadFiles)},
		{"Bag-Size", humanBytes(pkg.PayloadBytes)},
	} {
		fmt.Fprintf(&info, "%s: %s\n", kv[0], bagInfoValue(kv[1]))
	}
	if err := pw.small(bagInfoTxt, info.Bytes()); err != nil {
		return nil, err
	}
	tags := pw.tags
	if err := pw.small(tagmanSHA, manifest(tags, false)); err != nil {
		return nil, err
	}
	if err := pw.small(tagmanSM3, manifest(tags, true)); err != nil {
		return nil, err
	}
	if err := pw.zw.Close(); err != nil {
		return nil, err
	}
	return pkg, nil
}

// packWriter writes entries under the bag's top directory and keeps the
// digests of payload and tag files.
type packWriter struct {
	zw      *zip.Writer
	root    string
	mod     time.Time
	payload []fileDigest
	tags    []fileDigest
}

func (pw *packWriter) note(p string, b []byte) {
	s3, s2 := sm3.Sum(b), sha256.Sum256(b)
	d := fileDigest{Path: p, Size: int64(len(b)), SM3: hex.EncodeToString(s3[:]), SHA256: hex.EncodeToString(s2[:])}
	if strings.HasPrefix(p, "data/") {
		pw.payload = append(pw.payload, d)
	} else {
		pw.tags = append(pw.tags, d)
	}
}

// small writes a file held in memory, deflated.
func (pw *packWriter) small(p string, b []byte) error { return pw.put(p, b, zip.Deflate) }

// put writes a file held in memory with the given method.
func (pw *packWriter) put(p string, b []byte, method uint16) error {
	f, err := pw.zw.CreateHeader(&zip.FileHeader{Name: pw.root + p, Method: method, Modified: pw.mod})
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		return err
	}
	pw.note(p, b)
	return nil
}

func (pw *packWriter) xmlFile(p string, v any) error {
	b, err := marshalXML(v)
	if err != nil {
		return err
	}
	return pw.small(p, b)
}

// item packs one record: its PDF, checked against the record and verified,
// then its metadata. It returns the bytes of both.
func (pw *packWriter) item(ctx context.Context, it Item, opts Options, tally *tally) (int64, error) {
	rec := it.Record
	// Pinned to the version the commit stored (rec.PDFVersion; without one,
	// the key's first version), so a version put in front of it is never
	// packed.
	sp, err := spool(ctx, opts.Store, archive.DocumentKey(rec.DocumentID), rec.PDFVersion, opts.TempDir, opts.SpoolLimit)
	if err != nil {
		return 0, &ItemError{DocumentID: rec.DocumentID, Reason: "reading the stored PDF: " + err.Error()}
	}
	defer sp.close()
	switch {
	case sp.size != rec.Size:
		return 0, &ItemError{DocumentID: rec.DocumentID, Reason: fmt.Sprintf("stored PDF has %d bytes, the record says %d", sp.size, rec.Size)}
	case sp.sm3 != rec.SM3 || sp.sha != rec.SHA256:
		return 0, &ItemError{DocumentID: rec.DocumentID, Reason: "stored PDF's digests differ from the record"}
	}
	tally.pass(CheckDigests)
	if opts.Inspect != nil {
		in := opts.Inspect(sp.r, sp.size)
		switch {
		case in.Err != nil || in.Encrypted || in.Pages < 1:
			reason := "encrypted or without pages"
			if in.Err != nil {
				reason = in.Err.Error()
			}
			return 0, &ItemError{DocumentID: rec.DocumentID, Reason: "the stored PDF cannot be read: " + reason}
		}
		tally.pass(CheckReadable)
		tally.pass(CheckPackageUse)
	}
	if opts.Verify != nil {
		verdict, detail, err := opts.Verify(ctx, sp.r, sp.size)
		if err != nil {
			return 0, err
		}
		switch verdict {
		case VerdictValid:
			tally.pass(CheckSignatures)
		case VerdictIndeterminate:
			tally.warn(CheckSignatures, it.Ref.String()+": "+detail)
		default:
			return 0, &ItemError{DocumentID: rec.DocumentID, Reason: "signature verification: " + verdict + " " + detail}
		}
	}
	meta := buildMetadata(it, opts.Rule, opts.Organisation, sp.size, sp.sm3, sp.sha)
	if miss := missingMetadata(&meta); len(miss) > 0 {
		return 0, &ItemError{DocumentID: rec.DocumentID, Reason: "mandatory metadata missing: " + strings.Join(miss, ", ")}
	}
	tally.pass(CheckMandatory)
	if bad := malformedMetadata(&meta); len(bad) > 0 {
		return 0, &ItemError{DocumentID: rec.DocumentID, Reason: "metadata not well formed: " + strings.Join(bad, "; ")}
	}
	tally.pass(CheckMetadata)
	tally.pass(CheckFormat)

	ref := it.Ref.String()
	pdfPath := "data/" + ref + "/" + ref + ".pdf"
	f, err := pw.zw.CreateRaw(&zip.FileHeader{
		Name: pw.root + pdfPath, Method: zip.Store, Modified: pw.mod,
		CRC32: sp.crc, CompressedSize64: uint64(sp.size), UncompressedSize64: uint64(sp.size),
	})
	if err != nil {
		return 0, err
	}
	if _, err := io.Copy(f, io.NewSectionReader(sp.r, 0, sp.size)); err != nil {
		return 0, err
	}
	pw.payload = append(pw.payload, fileDigest{Path: pdfPath, Size: sp.size, SM3: sp.sm3, SHA256: sp.sha})
	if opts.Evidence != nil {
		if err := pw.evidence(ctx, rec.DocumentID, ref, &meta, opts.Evidence); err != nil {
			return 0, err
		}
	}
	mb, err := marshalXML(meta)
	if err != nil {
		return 0, err
	}
	if err := pw.small("data/"+ref+"/"+ref+".xml", mb); err != nil {
		return 0, err
	}
	return sp.size + int64(len(mb)), nil
}

// evidence packs the evidence of every authorization the item's metadata
// names into the item's folder and lists it in the metadata.
func (pw *packWriter) evidence(ctx context.Context, docID, ref string, meta *Metadata, get EvidenceFunc) error {
	for _, id := range authorizationIDs(meta) {
		ev, err := get(ctx, id)
		if err != nil {
			return &ItemError{DocumentID: docID, Reason: "the evidence of authorization " + id + ": " + err.Error()}
		}
		g, err := readGrant(ev.Method, ev.Grant)
		switch {
		case err != nil:
			return &ItemError{DocumentID: docID, Reason: "the evidence of authorization " + id + ": grant bytes: " + err.Error()}
		case g.AuthorizationID != id:
			return &ItemError{DocumentID: docID, Reason: "the evidence of authorization " + id + " is for " + g.AuthorizationID}
		}
		dir := evidenceDir(id)
		base := "data/" + ref + "/" + dir
		for _, f := range evidenceFiles(ev.Method, ev) {
			// Stored, as the PDFs are: the exact bytes stand in the ZIP
			// as they were approved.
			if err := pw.put(base+f.name, f.b, zip.Store); err != nil {
				return err
			}
		}
		sum := sm3.Sum(ev.Grant)
		x := evidenceXML(ev.Method, dir)
		x.AuthzID, x.Method, x.PersonID, x.PersonName, x.KeyName = id, ev.Method, ev.PersonID, ev.PersonName, ev.KeyName
		x.SealID, x.GrantSM3 = g.SealID, hex.EncodeToString(sum[:])
		meta.Evidence = append(meta.Evidence, x)
	}
	return nil
}

// spooled is a PDF read once from the store, in memory or a temporary file.
type spooled struct {
	r        io.ReaderAt
	size     int64
	crc      uint32
	sm3, sha string
	close    func()
}

func spool(ctx context.Context, s archive.Store, key, version, dir string, limit int64) (*spooled, error) {
	if limit <= 0 {
		limit = 32 << 20
	}
	rc, info, err := archive.OpenPinned(ctx, s, key, version)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	h3, h2, hc := sm3.New(), sha256.New(), crc32.NewIEEE()
	sp := &spooled{close: func() {}}
	var dst io.Writer
	var buf *bytes.Buffer
	var tmp *os.File
	if info.Size <= limit {
		buf = bytes.NewBuffer(make([]byte, 0, info.Size))
		dst = buf
	} else {
		if tmp, err = os.CreateTemp(dir, "eseal-transfer-*.pdf"); err != nil {
			return nil, err
		}
		sp.close = func() { tmp.Close(); os.Remove(tmp.Name()) }
		dst = tmp
	}
	n, err := io.Copy(io.MultiWriter(dst, h3, h2, hc), rc)
	if err != nil {
		sp.close()
		return nil, err
	}
	sp.size, sp.crc = n, hc.Sum32()
	sp.sm3, sp.sha = hex.EncodeToString(h3.Sum(nil)), hex.EncodeToString(h2.Sum(nil))
	if buf != nil {
		sp.r = bytes.NewReader(buf.Bytes())
	} else {
		sp.r = tmp
	}
	return sp, nil
}

func describe(id string, items []Item, opts Options, t time.Time) *Description {
	minY, maxY := items[0].Ref.Year, items[0].Ref.Year
	for _, it := range items {
		minY, maxY = min(minY, it.Ref.Year), max(maxY, it.Ref.Year)
	}
	years := strconv.Itoa(minY)
	if maxY != minY {
		years += "—" + strconv.Itoa(maxY)
	}
	content := opts.Content
	if content == "" {
		content = fmt.Sprintf("%s %s 年度电子档案 %d 件", opts.Organisation, years, len(items))
	}
	codes := opts.Rule.codes()
	return &Description{
		Version: FormatVersion, PackageID: id, Transferring: opts.Organisation, Receiving: opts.Receiver,
		Fonds: opts.Rule.Fonds, Content: content, Years: years, Count: strconv.Itoa(len(items)),
		Formats:   "PDF (签章版式文件, SM2/SM3 电子签名); 元数据 XML (UTF-8)",
		Standards: "DA/T 46-2009; DA/T 48-2009; DA/T 70-2018; DA/T 93-2022; GB/T 38540-2020; RFC 8493 (BagIt 1.0)",
		RefCodeRule: fmt.Sprintf("全宗号-年度-保管期限代码(永久 %s, 定期30年 %s, 定期10年 %s)-事项编码(仅字母数字; 无则 %s)-件号(%d 位, 每组从 1 起连续)",
			codes[archive.Permanent], codes[archive.Years30], codes[archive.Years10], opts.Rule.noItem(), opts.Rule.width()),
		Structure: []StructureNote{
			{"bagit.txt, bag-info.txt", "BagIt 声明与包信息 (Payload-Oxum)"},
			{"manifest-sha256.txt, manifest-sm3.txt", "每个数据文件的 SHA-256 / SM3 摘要"},
			{"tagmanifest-sha256.txt, tagmanifest-sm3.txt", "标签文件的摘要"},
			{DescriptionPath, "说明文件"},
			{CataloguePath, "目录文件, 每件一条"},
			{"data/<档号>/<档号>.pdf", "电子档案内容 (已签章 PDF)"},
			{"data/<档号>/<档号>.xml", "元数据 (DA/T 46 元素名)"},
			{"data/<档号>/evidence/<授权标识>/grant.bin, signature.der, certificate.pem", "用印授权凭证: 被批准的授权内容原文, 对其的 SM2 签名 (DER), 验签证书 (PEM)"},
			{"data/<档号>/evidence/<授权标识>/grant.bin, authenticator-data.bin, client-data.json, signature.bin, credential.cose", "通行密钥 (passkey) 授权凭证: 授权内容原文, WebAuthn 断言原文, 凭据公钥 (COSE)"},
			{RegisterPath, "移交登记表"},
			{SignaturePath, "移交登记表的 SM2 签名 (DER)"},
			{SignerPath, "签名证书及证书链 (PEM)"},
		},
		Created: t.Format(time.RFC3339), Software: "eseal",
	}
}

func catalogue(items []Item, rule Rule) *Catalogue {
	c := &Catalogue{Version: FormatVersion, Fonds: rule.Fonds, Count: strconv.Itoa(len(items))}
	for _, it := range items {
		r, ref := it.Record, it.Ref.String()
		c.Entries = append(c.Entries, CatalogueEntry{
			Index: strconv.Itoa(it.Index), RefCode: ref, Responsible: r.ResponsibleParty, Title: r.Title,
			DocumentNo: r.DocumentNo, Date: r.Date.In(rule.loc()).Format(dateLayout), Retention: RetentionNames[r.Retention],
			ItemCode: r.ItemCode, File: ref + "/" + ref + ".pdf", Metadata: ref + "/" + ref + ".xml",
		})
	}
	return c
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Inspection is what parsing one PDF found, for the usability checks
// (可用性). archive does not parse PDFs itself (archive does not import pdf):
// the program wires in pdf.Inspect, whose pdf.Inspection has these fields in
// this order, so converting one into the other is all the adapter does.
type Inspection struct {
	Err           error
	Encrypted     bool
	Pages         int
	EmbeddedFiles bool
}

// InspectFunc parses a PDF for the usability checks.
type InspectFunc func(r io.ReaderAt, size int64) Inspection

// keptNumbers gives each item the number its record was given when it was
// archived (archive.RefNumber), so every transfer of a series carries the
// same codes; the fonds code is the rule's (--fonds overrides the one kept).
// Records archived before numbers were kept are numbered after the highest
// kept number of their group in this package.
func keptNumbers(ctx context.Context, items []Item, opts Options) error {
	top := map[string]int{}
	kept := make([]bool, len(items))
	for i := range items {
		n, err := archive.ReadRefNumber(ctx, opts.Store, items[i].Record.DocumentID)
		if errors.Is(err, archive.ErrNotFound) {
			continue
		}
		if err != nil {
			return &ItemError{DocumentID: items[i].Record.DocumentID, Reason: "reading its reference number: " + err.Error()}
		}
		items[i].Ref.Year, items[i].Ref.Seq = n.Year, n.Seq
		kept[i] = true
		top[items[i].Ref.Group()] = max(top[items[i].Ref.Group()], n.Seq)
	}
	for i := range items {
		if kept[i] {
			continue
		}
		g := items[i].Ref.Group()
		top[g]++
		items[i].Ref.Seq = top[g]
	}
	for _, it := range items {
		if len(strconv.Itoa(it.Ref.Seq)) > opts.Rule.width() {
			return &RuleError{fmt.Sprintf("group %s has more than %d-digit sequences", it.Ref.Group(), opts.Rule.width())}
		}
	}
	return nil
}
