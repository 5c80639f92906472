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
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"
)

// CheckOptions configure Check. Every hook is optional: a check whose hook
// is nil is reported "manual", never "pass".
type CheckOptions struct {
	// Verify verifies each PDF's signatures and seals.
	Verify VerifyFunc
	// Inspect parses each PDF for the usability checks; nil marks them
	// manual.
	Inspect InspectFunc
	// VerifySig checks the register's signature: chain holds the
	// certificates from SignerPath (DER, signer first); it must check the
	// chain against trusted roots as well as the SM2 signature over msg.
	VerifySig func(chain [][]byte, msg, sig []byte) error
	// VerifyEvidence checks the signature of each authorization's evidence
	// with the certificate the evidence carries; nil marks it manual.
	VerifyEvidence VerifyEvidenceFunc
	// VerifyPasskey checks the assertion of each passkey evidence with the
	// credential the evidence carries; nil marks it manual.
	VerifyPasskey VerifyPasskeyFunc
	// Scan scans one payload file for malware: clean=false is a finding,
	// err a scanner failure (also a finding: the file was not scanned).
	Scan func(ctx context.Context, name string, r io.Reader) (clean bool, detail string, err error)
	// Audit looks the transfer up in the audit log.
	Audit func(ctx context.Context, packageID, digest string) (found bool, detail string, err error)
	// RetentionCodes maps retention classes to the codes in reference
	// codes; nil means DefaultRetentionCodes.
	RetentionCodes map[string]string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Progress, if set, is called as files are read.
	Progress func(done, total int)
	// Limits on what a package may hold; zero fields take DefaultLimits.
	Limits Limits
}

// Limits bound what Check reads, so that a hostile package (a zip bomb,
// millions of entries) cannot exhaust the machine.
type Limits struct {
	// MaxEntries is the most ZIP entries.
	MaxEntries int
	// MaxFileSize is the largest uncompressed entry.
	MaxFileSize int64
	// MaxTotalSize is the largest sum of uncompressed entries.
	MaxTotalSize int64
	// MaxRatio is the largest uncompressed/compressed ratio of an entry
	// larger than 1 MiB.
	MaxRatio int64
	// MaxInMemory is the largest file held in memory (metadata, and
	// compressed PDFs that cannot be read in place).
	MaxInMemory int64
}

// DefaultLimits are generous for real transfers and small for bombs.
var DefaultLimits = Limits{MaxEntries: 500_000, MaxFileSize: 4 << 30, MaxTotalSize: 256 << 30, MaxRatio: 200, MaxInMemory: 64 << 20}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxEntries > 0 {
		d.MaxEntries = l.MaxEntries
	}
	if l.MaxFileSize > 0 {
		d.MaxFileSize = l.MaxFileSize
	}
	if l.MaxTotalSize > 0 {
		d.MaxTotalSize = l.MaxTotalSize
	}
	if l.MaxRatio > 0 {
		d.MaxRatio = l.MaxRatio
	}
	if l.MaxInMemory > 0 {
		d.MaxInMemory = l.MaxInMemory
	}
	return d
}

// entry is one file of the package as read.
type entry struct {
	f      *zip.File
	digest fileDigest
	head   []byte // first bytes, for format sniffing
	body   []byte // whole content, for tag and metadata files
	err    error  // reading failed (beyond a CRC mismatch)
}

type checker struct {
	ctx    context.Context
	opts   CheckOptions
	lim    Limits
	c      *collector
	pkg    io.ReaderAt
	root   string
	files  map[string]*entry // by path relative to the bag directory
	report *CheckReport
}

// Check runs the four-property check (DA/T 70) on a transfer package read
// from pkg: BagIt manifests and Payload-Oxum, the register's signature and
// digest, the catalogue against the item folders, every item's metadata,
// reference code, content digests, format, readability and signatures. The
// error is for I/O and cancellation; everything wrong with the package is a
// row of the report.
func Check(ctx context.Context, pkg io.ReaderAt, size int64, opts CheckOptions) (*CheckReport, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	k := &checker{ctx: ctx, opts: opts, lim: opts.Limits.withDefaults(), c: newCollector(now), pkg: pkg, files: map[string]*entry{}}
	k.report = &CheckReport{Started: now().UTC()}
	err := k.run(size)
	k.report.Rows = k.c.rows()
	k.report.Finished = now().UTC()
	if err != nil {
		return nil, err
	}
	return k.report, nil
}

func (k *checker) run(size int64) error {
	zr, err := zip.NewReader(k.pkg, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		k.c.add(CheckStructure, Fail, "", "not a readable ZIP file: "+err.Error())
		k.c.skipRest("the package is not a readable ZIP file")
		return nil
	}
	if !k.index(zr) {
		k.c.skipRest("the package structure is unsafe")
		return nil
	}
	k.c.ok(CheckStructure)
	if err := k.readAll(); err != nil {
		return err
	}
	k.bagit()
	k.contents()
	k.security()
	k.c.skipRest("the package lacks what it needs")
	return nil
}

// index checks every entry's name, method and sizes and finds the bag's
// single top directory. It returns false if reading on would be unsafe.
func (k *checker) index(zr *zip.Reader) bool {
	if len(zr.File) > k.lim.MaxEntries {
		k.c.add(CheckStructure, Fail, "", fmt.Sprintf("%d entries, more than the limit of %d", len(zr.File), k.lim.MaxEntries))
		return false
	}
	safe := true
	bad := func(ref, detail string) { k.c.add(CheckStructure, Fail, ref, detail); safe = false }
	seen, folded := map[string]bool{}, map[string]string{}
	var total uint64
	for _, f := range zr.File {
		name := f.Name
		isDir := strings.HasSuffix(name, "/")
		clean := strings.TrimSuffix(name, "/")
		if !safePath(clean) {
			bad(name, "unsafe entry name (absolute, .., backslash, drive letter or not clean)")
			continue
		}
		if seen[name] {
			bad(name, "duplicate entry")
			continue
		}
		seen[name] = true
		if other, ok := folded[strings.ToLower(clean)]; ok && other != clean {
			bad(name, "differs from "+other+" only in case")
			continue
		}
		folded[strings.ToLower(clean)] = clean
		root, rel, _ := strings.Cut(clean, "/")
		if k.root == "" {
			k.root = root
		}
		if root != k.root {
			bad(name, "outside the bag's top directory "+k.root+"/")
			continue
		}
		if isDir {
			if f.UncompressedSize64 != 0 {
				bad(name, "directory entry with content")
			}
			continue
		}
		if rel == "" {
			bad(name, "a file where the bag's top directory should be")
			continue
		}
		if f.Flags&0x1 != 0 {
			k.c.add(CheckPackageUse, Fail, rel, "encrypted ZIP entry")
			continue
		}
		if f.Method != zip.Store && f.Method != zip.Deflate {
			k.c.add(CheckPackageUse, Fail, rel, fmt.Sprintf("compression method %d is not stored or deflate", f.Method))
			continue
		}
		if f.UncompressedSize64 > uint64(k.lim.MaxFileSize) {
			bad(rel, fmt.Sprintf("%d bytes uncompressed, more than the limit of %d", f.UncompressedSize64, k.lim.MaxFileSize))
			continue
		}
		if f.Method == zip.Deflate && f.UncompressedSize64 > 1<<20 && f.UncompressedSize64/max(f.CompressedSize64, 1) > uint64(k.lim.MaxRatio) {
			bad(rel, fmt.Sprintf("compression ratio above %d: a zip bomb?", k.lim.MaxRatio))
			continue
		}
		total += f.UncompressedSize64
		if total > uint64(k.lim.MaxTotalSize) {
			bad("", fmt.Sprintf("more than %d bytes uncompressed in all", k.lim.MaxTotalSize))
			return false
		}
		k.files[rel] = &entry{f: f}
	}
	// A file may not also be a folder ("a" and "a/b").
	for rel := range k.files {
		for p := path.Dir(rel); p != "."; p = path.Dir(p) {
			if _, ok := k.files[p]; ok {
				bad(p, "both a file and a folder")
			}
		}
	}
	if safe && !packageIDPattern().MatchString(k.root) {
		bad(k.root, "the bag's top directory must be named by the package id (1–64 of [A-Za-z0-9._-])")
	}
	k.report.Package = k.root
	return safe
}

// readAll reads every file once: digests, the first bytes, and the whole
// content of what is not item content.
func (k *checker) readAll() error {
	names := make([]string, 0, len(k.files))
	for n := range k.files {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		if err := k.ctx.Err(); err != nil {
			return err
		}
		e := k.files[n]
		keep := !isContent(n) && int64(e.f.UncompressedSize64) <= k.lim.MaxInMemory
		k.read(n, e, keep)
		if k.opts.Progress != nil {
			k.opts.Progress(i+1, len(names))
		}
	}
	return nil
}

func isContent(rel string) bool {
	_, ok := contentFormats[strings.ToLower(path.Ext(rel))]
	return ok && strings.HasPrefix(rel, "data/") && strings.Count(rel, "/") == 2
}

func (k *checker) read(rel string, e *entry, keep bool) {
	rc, err := e.f.Open()
	if err != nil {
		e.err = err
		k.c.add(CheckReadable, Fail, rel, "cannot open the entry: "+err.Error())
		return
	}
	defer rc.Close()
	h3, h2 := sm3.New(), sha256.New()
	var body bytes.Buffer
	w := io.MultiWriter(h3, h2)
	if keep {
		w = io.MultiWriter(h3, h2, &body)
	}
	head := make([]byte, 1024)
	hn, herr := io.ReadFull(rc, head)
	head = head[:hn]
	_, _ = w.Write(head)
	var n int64
	if herr == nil {
		n, err = io.Copy(w, io.LimitReader(rc, int64(e.f.UncompressedSize64)+1))
	} else if herr != io.EOF && herr != io.ErrUnexpectedEOF {
		err = herr
	}
	n += int64(hn)
	e.head = head
	e.digest = fileDigest{Path: rel, Size: n, SM3: hex.EncodeToString(h3.Sum(nil)), SHA256: hex.EncodeToString(h2.Sum(nil))}
	switch {
	case errors.Is(err, zip.ErrChecksum):
		// The bytes were all read; the manifests will say which changed.
		k.c.add(CheckDigests, Fail, rel, "ZIP CRC-32 does not match the content")
	case errors.Is(err, zip.ErrFormat):
		e.err = err
		k.c.add(CheckStructure, Fail, rel, "the entry is corrupt or longer than the ZIP directory says")
		return
	case err != nil:
		e.err = err
		k.c.add(CheckReadable, Fail, rel, "reading the entry: "+err.Error())
		return
	case n != int64(e.f.UncompressedSize64):
		e.err = fmt.Errorf("size %d, the ZIP directory says %d", n, e.f.UncompressedSize64)
		k.c.add(CheckStructure, Fail, rel, e.err.Error())
		return
	}
	if keep {
		e.body = body.Bytes()
	}
}

// bagit checks the BagIt layer: declaration, bag-info, manifests, tag
// manifests and Payload-Oxum.
func (k *checker) bagit() {
	decl := k.files[bagitTxt]
	switch {
	case decl == nil || decl.body == nil:
		k.c.add(CheckPackage, Fail, bagitTxt, "missing or unreadable")
	default:
		tags, err := parseTagFile(decl.body)
		v, nv := tagValue(tags, "BagIt-Version")
		enc, ne := tagValue(tags, "Tag-File-Character-Encoding")
		switch {
		case err != nil:
			k.c.add(CheckPackage, Fail, bagitTxt, err.Error())
		case nv != 1 || ne != 1 || len(tags) != 2:
			k.c.add(CheckPackage, Fail, bagitTxt, "want exactly BagIt-Version and Tag-File-Character-Encoding")
		case v != "1.0" && v != "0.97":
			k.c.add(CheckPackage, Fail, bagitTxt, "unsupported BagIt-Version "+v)
		case !strings.EqualFold(enc, "UTF-8"):
			k.c.add(CheckPackage, Fail, bagitTxt, "tag files must be UTF-8, not "+enc)
		default:
			k.c.ok(CheckPackage)
		}
	}

	var payloadBytes, payloadFiles int64
	for rel, e := range k.files {
		if strings.HasPrefix(rel, "data/") {
			payloadBytes += e.digest.Size
			payloadFiles++
		}
	}
	if info := k.files[bagInfoTxt]; info == nil || info.body == nil {
		k.c.add(CheckPackage, Fail, bagInfoTxt, "missing or unreadable")
	} else if tags, err := parseTagFile(info.body); err != nil {
		k.c.add(CheckPackage, Fail, bagInfoTxt, err.Error())
	} else if ox, n := tagValue(tags, "Payload-Oxum"); n != 1 {
		k.c.add(CheckBytes, Fail, bagInfoTxt, "Payload-Oxum missing or repeated")
	} else if oct, cnt, err := parseOxum(ox); err != nil {
		k.c.add(CheckBytes, Fail, bagInfoTxt, err.Error())
	} else if oct != payloadBytes || cnt != payloadFiles {
		k.c.add(CheckBytes, Fail, bagInfoTxt, fmt.Sprintf("Payload-Oxum %s, the payload has %d.%d", ox, payloadBytes, payloadFiles))
	} else {
		k.c.ok(CheckBytes)
		k.c.ok(CheckPackage)
		if id, _ := tagValue(tags, "External-Identifier"); id != "" && id != k.root {
			k.c.add(CheckRegister, Fail, bagInfoTxt, "External-Identifier "+id+" is not the package id "+k.root)
		}
	}

	for _, m := range []struct {
		name string
		tag  bool
		sm   bool
	}{{manifestSHA, false, false}, {manifestSM3, false, true}, {tagmanSHA, true, false}, {tagmanSM3, true, true}} {
		k.manifest(m.name, m.tag, m.sm)
	}
	for rel := range k.files {
		if strings.HasPrefix(rel, "manifest-") || strings.HasPrefix(rel, "tagmanifest-") {
			if rel != manifestSHA && rel != manifestSM3 && rel != tagmanSHA && rel != tagmanSM3 {
				k.c.add(CheckDigests, Warn, rel, "manifest of an algorithm this checker does not compute; not checked")
			}
		} else if !strings.HasPrefix(rel, "data/") && rel != bagitTxt && rel != bagInfoTxt {
			k.c.add(CheckPackage, Warn, rel, "tag file this profile does not define")
		}
	}
}

func (k *checker) manifest(name string, tag, sm bool) {
	alg := "SHA-256"
	if sm {
		alg = "SM3"
	}
	e := k.files[name]
	if e == nil || e.body == nil {
		k.c.add(CheckPackage, Fail, name, "missing or unreadable (this profile requires SM3 and SHA-256 manifests and tag manifests)")
		return
	}
	listed, err := parseManifest(e.body, 64)
	if err != nil {
		k.c.add(CheckPackage, Fail, name, err.Error())
		return
	}
	for p, sum := range listed {
		f := k.files[p]
		switch {
		case !tag && !strings.HasPrefix(p, "data/"):
			k.c.add(CheckPackage, Fail, p, name+" lists a file outside data/")
		case tag && (strings.HasPrefix(p, "data/") || strings.HasPrefix(p, "tagmanifest-")):
			k.c.add(CheckPackage, Fail, p, name+" lists a file that is not a tag file it may cover")
		case f == nil:
			k.c.add(CheckPackage, Fail, p, name+" lists a file the package lacks")
		case f.err != nil:
			k.c.add(CheckDigests, Fail, p, alg+" not computed: the file is unreadable")
		case (sm && f.digest.SM3 != sum) || (!sm && f.digest.SHA256 != sum):
			k.c.add(CheckDigests, Fail, p, alg+" differs from "+name)
		default:
			k.c.ok(CheckDigests)
		}
	}
	for rel := range k.files {
		_, ok := listed[rel]
		switch {
		case !tag && strings.HasPrefix(rel, "data/") && !ok:
			k.c.add(CheckPackage, Fail, rel, "payload file not in "+name)
		case tag && (rel == bagitTxt || rel == bagInfoTxt || rel == manifestSHA || rel == manifestSM3) && !ok:
			k.c.add(CheckPackage, Fail, rel, "tag file not in "+name)
		}
	}
	k.c.ok(CheckPackage)
}

// itemState is what Check learns about one catalogue entry.
type itemState struct {
	entry CatalogueEntry
	ref   RefCode
	meta  *Metadata
}

func (k *checker) xmlFile(rel string, v any) bool {
	e := k.files[rel]
	switch {
	case e == nil:
		k.c.add(CheckContent, Fail, rel, "missing")
		return false
	case e.body == nil:
		k.c.add(CheckMetaAccess, Fail, rel, "unreadable or larger than the in-memory limit")
		return false
	}
	if err := unmarshalXML(e.body, v); err != nil {
		k.c.add(CheckMetaAccess, Fail, rel, "not well-formed XML of the expected kind: "+err.Error())
		return false
	}
	k.c.ok(CheckMetaAccess)
	return true
}

// contents checks the DA/T 93 layer: description, catalogue, items and
// register.
func (k *checker) contents() {
	var desc Description
	var cat Catalogue
	var reg Register
	haveDesc := k.xmlFile(DescriptionPath, &desc)
	haveCat := k.xmlFile(CataloguePath, &cat)
	regE := k.files[RegisterPath]
	haveReg := k.xmlFile(RegisterPath, &reg)
	for _, v := range []struct {
		ok   bool
		path string
		ver  string
	}{{haveDesc, DescriptionPath, desc.Version}, {haveCat, CataloguePath, cat.Version}, {haveReg, RegisterPath, reg.Version}} {
		if v.ok && v.ver != FormatVersion {
			k.c.add(CheckMetaAccess, Fail, v.path, fmt.Sprintf("format version %q, want %q", v.ver, FormatVersion))
		}
	}
	if !haveCat {
		k.c.notRun[CheckSequence] = "no readable catalogue"
		return
	}
	items, itemBytes := k.items(&cat)
	n := len(cat.Entries)
	k.report.Items = n

	// Counts: catalogue, its count attribute, item folders, description, register.
	count := func(what, v string) {
		if v != strconv.Itoa(n) {
			k.c.add(CheckCount, Fail, what, fmt.Sprintf("says %q items, the catalogue has %d", v, n))
		} else {
			k.c.ok(CheckCount)
		}
	}
	count(CataloguePath+" 件数", cat.Count)
	if haveDesc {
		count(DescriptionPath+" 件数", desc.Count)
	}
	if haveReg {
		count(RegisterPath+" 移交电子档案数量", reg.Count)
	}
	folders := 0
	for rel := range k.files {
		if strings.HasPrefix(rel, "data/") && strings.Count(rel, "/") == 2 && !strings.HasPrefix(rel, RegisterDir) && strings.HasSuffix(rel, ".xml") {
			folders++
		}
	}
	if folders != n {
		k.c.add(CheckCount, Fail, "data/", fmt.Sprintf("%d item folders with metadata, the catalogue has %d entries", folders, n))
	}
	if n == 0 {
		k.c.add(CheckCount, Fail, CataloguePath, "the catalogue is empty")
	}
	k.sequence(items)

	// The register: its statements, its digest, its signature.
	payload := map[string]string{}
	for rel, e := range k.files {
		if strings.HasPrefix(rel, "data/") {
			payload[rel] = e.digest.SM3
		}
	}
	digest := PackageDigest(payload)
	k.report.Digest = digest
	if !haveReg {
		k.c.notRun[CheckRegister] = "no readable register"
		return
	}
	if reg.Bytes != strconv.FormatInt(itemBytes, 10) {
		k.c.add(CheckBytes, Fail, RegisterPath, fmt.Sprintf("移交数据量 %q, the items hold %d bytes", reg.Bytes, itemBytes))
	} else {
		k.c.ok(CheckBytes)
	}
	if reg.PackageID != k.root {
		k.c.add(CheckRegister, Fail, RegisterPath, "交接工作名称 "+reg.PackageID+" is not the package id "+k.root)
	}
	if reg.Fonds != cat.Fonds {
		k.c.add(CheckRegister, Fail, RegisterPath, "全宗号 differs from the catalogue's")
	}
	if reg.Digest.Algorithm != sm3Algorithm || !strings.EqualFold(strings.TrimSpace(reg.Digest.Value), digest) {
		k.c.add(CheckRegister, Fail, RegisterPath, "the package digest differs from the register's: content, metadata, catalogue or description changed after signing")
	} else {
		k.c.ok(CheckRegister)
	}
	for _, rc := range reg.Checks {
		if rc.Result == string(Fail) {
			k.c.add(CheckRegister, Fail, RegisterPath, "the register records a failed check before transfer: "+rc.Item)
		}
	}
	k.registerSignature(regE)
}

func (k *checker) registerSignature(regE *entry) {
	sigE, certE := k.files[SignaturePath], k.files[SignerPath]
	if sigE == nil || sigE.body == nil || certE == nil || certE.body == nil {
		k.c.add(CheckRegister, Fail, SignaturePath, "the register's signature or certificate is missing")
		return
	}
	var chain [][]byte
	rest := certE.body
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			chain = append(chain, blk.Bytes)
		}
	}
	if len(chain) == 0 {
		k.c.add(CheckRegister, Fail, SignerPath, "no certificate")
		return
	}
	if k.opts.VerifySig == nil {
		k.c.add(CheckRegister, Manual, SignaturePath, "no signature verifier configured: check the register's signature by hand")
		return
	}
	if err := k.opts.VerifySig(chain, regE.body, sigE.body); err != nil {
		k.c.add(CheckRegister, Fail, SignaturePath, "the register's signature does not verify: "+err.Error())
		return
	}
	k.c.ok(CheckRegister)
}

// items checks each catalogue entry against its folder and returns what it
// learnt, and the bytes of all item files.
func (k *checker) items(cat *Catalogue) ([]itemState, int64) {
	var out []itemState
	known := map[string]bool{DescriptionPath: true, CataloguePath: true}
	refs := map[string]bool{}
	var itemBytes int64
	for i, ce := range cat.Entries {
		if err := k.ctx.Err(); err != nil {
			return out, itemBytes
		}
		st := itemState{entry: ce}
		docRef := ce.RefCode
		if docRef == "" {
			docRef = fmt.Sprintf("条目 %d", i+1)
		}
		ref, err := ParseRefCode(ce.RefCode)
		switch {
		case err != nil:
			k.c.add(CheckRefCodes, Fail, docRef, err.Error())
		case refs[ce.RefCode]:
			k.c.add(CheckRefCodes, Fail, docRef, "reference code used twice")
		case ce.File != ce.RefCode+"/"+ce.RefCode+".pdf" || ce.Metadata != ce.RefCode+"/"+ce.RefCode+".xml":
			k.c.add(CheckRefCodes, Fail, docRef, "the item's folder and files must be named by its reference code")
		default:
			k.c.ok(CheckRefCodes)
			st.ref = ref
		}
		refs[ce.RefCode] = true
		contentPath, metaPath := "data/"+ce.File, "data/"+ce.Metadata
		known[contentPath], known[metaPath] = true, true
		content, metaE := k.files[contentPath], k.files[metaPath]
		if !safePath(ce.File) || content == nil {
			k.c.add(CheckContent, Fail, docRef, "the catalogue entry has no content file "+ce.File)
		} else {
			k.c.ok(CheckContent)
			itemBytes += content.digest.Size
		}
		if metaE == nil {
			k.c.add(CheckContent, Fail, docRef, "the catalogue entry has no metadata file "+ce.Metadata)
			k.c.add(CheckMandatory, Fail, docRef, "no metadata")
		} else {
			itemBytes += metaE.digest.Size
			var m Metadata
			if k.xmlFile(metaPath, &m) {
				st.meta = &m
				k.metadata(docRef, cat.Fonds, &st)
			} else {
				k.c.add(CheckMandatory, Fail, docRef, "metadata unreadable")
			}
		}
		if content != nil && content.err == nil {
			k.content(docRef, contentPath, content, st.meta)
		}
		if st.ref.Seq > 0 {
			for _, f := range k.evidence(docRef, ce.RefCode, st.meta) {
				known[f] = true
			}
		}
		out = append(out, st)
	}
	// Everything in data/ must be a fixed file, the register or an item's file.
	for rel := range k.files {
		if strings.HasPrefix(rel, "data/") && !known[rel] && !strings.HasPrefix(rel, RegisterDir) {
			k.c.add(CheckContent, Fail, rel, "not in the catalogue: an extra item or file")
		}
	}
	for _, p := range []string{RegisterPath, SignaturePath, SignerPath} {
		if k.files[p] == nil {
			k.c.add(CheckContent, Fail, p, "missing")
		}
	}
	for rel := range k.files {
		if strings.HasPrefix(rel, RegisterDir) && rel != RegisterPath && rel != SignaturePath && rel != SignerPath {
			k.c.add(CheckContent, Fail, rel, "unexpected file in the register folder")
		}
	}
	return out, itemBytes
}

// metadata checks one item's metadata: mandatory elements, well-formed
// values, agreement with the catalogue and with its reference code.
func (k *checker) metadata(docRef, fonds string, st *itemState) {
	m, ce := st.meta, st.entry
	if miss := missingMetadata(m); len(miss) > 0 {
		k.c.add(CheckMandatory, Fail, docRef, "missing: "+strings.Join(miss, ", "))
	} else {
		k.c.ok(CheckMandatory)
	}
	bad := malformedMetadata(m)
	for _, d := range []struct{ name, cat, meta string }{
		{"档号", ce.RefCode, m.RefCode}, {"题名", ce.Title, m.Title}, {"责任者", ce.Responsible, m.Responsible},
		{"日期", ce.Date, m.Date}, {"保管期限", ce.Retention, m.Retention}, {"文件编号", ce.DocumentNo, m.DocumentNo},
		{"分类号/事项编码", ce.ItemCode, m.ItemCode}, {"全宗号", fonds, m.Fonds},
	} {
		if d.cat != d.meta {
			bad = append(bad, fmt.Sprintf("%s: the catalogue says %q, the metadata %q", d.name, d.cat, d.meta))
		}
	}
	if len(bad) > 0 {
		k.c.add(CheckMetadata, Fail, docRef, strings.Join(bad, "; "))
	} else {
		k.c.ok(CheckMetadata)
	}
	if st.ref.Seq == 0 {
		return // the reference code itself is already reported
	}
	var wrong []string
	r := st.ref
	if r.Fonds != m.Fonds {
		wrong = append(wrong, "全宗号")
	}
	if strconv.Itoa(r.Year) != m.Year {
		wrong = append(wrong, "年度")
	}
	if code, ok := k.retentionCode(m.Retention); !ok || code != r.Retention {
		wrong = append(wrong, "保管期限")
	}
	if n, err := strconv.Atoi(m.ItemNo); err != nil || n != r.Seq {
		wrong = append(wrong, "件号")
	}
	if want := itemPart(m.ItemCode, Rule{}); m.ItemCode != "" && want != r.Item {
		wrong = append(wrong, "事项编码")
	}
	if len(wrong) > 0 {
		k.c.add(CheckRefCodes, Fail, docRef, "the reference code does not match the metadata's "+strings.Join(wrong, ", "))
	} else {
		k.c.ok(CheckRefCodes)
	}
}

func (k *checker) retentionCode(name string) (string, bool) {
	if k.opts.RetentionCodes == nil {
		return Rule{}.retentionCode(name)
	}
	for c, n := range RetentionNames {
		if n == name {
			code, ok := k.opts.RetentionCodes[string(c)]
			return code, ok
		}
	}
	return "", false
}

// content checks one item's content file: attributes against its metadata,
// format, nesting, readability, encryption and signatures.
func (k *checker) content(docRef, rel string, e *entry, m *Metadata) {
	ext := strings.ToLower(path.Ext(rel))
	format, listed := contentFormats[ext]
	switch {
	case !listed:
		k.c.add(CheckFormat, Fail, docRef, "format "+ext+" is not on the archival list")
	case format == "PDF" && !bytes.Contains(e.head, []byte("%PDF-")):
		k.c.add(CheckFormat, Fail, docRef, "named .pdf but has no PDF header")
	default:
		k.c.ok(CheckFormat)
	}
	if m != nil {
		var diff []string
		if m.Size != strconv.FormatInt(e.digest.Size, 10) {
			diff = append(diff, fmt.Sprintf("计算机文件大小 %s, the file has %d bytes", m.Size, e.digest.Size))
		}
		if m.FileName != path.Base(rel) {
			diff = append(diff, "计算机文件名 "+m.FileName+" is not "+path.Base(rel))
		}
		if m.Format != format {
			diff = append(diff, "格式信息 "+m.Format+" is not "+format)
		}
		if !strings.EqualFold(m.digest(sm3Algorithm), e.digest.SM3) {
			diff = append(diff, "SM3 differs from the metadata's 数字摘要")
		}
		if !strings.EqualFold(m.digest(shaAlgorithm), e.digest.SHA256) {
			diff = append(diff, "SHA-256 differs from the metadata's 数字摘要")
		}
		if len(diff) > 0 {
			k.c.add(CheckAttributes, Fail, docRef, strings.Join(diff, "; "))
		} else {
			k.c.ok(CheckAttributes)
		}
	}
	if format != "PDF" {
		k.c.add(CheckReadable, Manual, docRef, format+" content is not parsed by this checker")
		k.c.add(CheckSignatures, Manual, docRef, format+" signatures are not verified by this checker")
		return
	}
	r, size, err := k.readerAt(e)
	if err != nil {
		k.c.add(CheckReadable, Fail, docRef, err.Error())
		return
	}
	if m != nil && m.InputSM3 != "" {
		k.input(docRef, r, size, m)
	}
	if k.opts.Inspect == nil {
		k.c.add(CheckReadable, Manual, docRef, "no PDF inspector configured")
		k.c.add(CheckPackageUse, Manual, docRef, "no PDF inspector configured")
	} else {
		in := k.opts.Inspect(r, size)
		switch {
		case in.Encrypted:
			k.c.add(CheckPackageUse, Fail, docRef, "the PDF is encrypted")
			k.c.add(CheckReadable, Fail, docRef, "encrypted")
		case in.Err != nil:
			k.c.add(CheckReadable, Fail, docRef, "the PDF cannot be parsed: "+in.Err.Error())
		case in.Pages < 1:
			k.c.add(CheckReadable, Fail, docRef, "the PDF has no pages")
		default:
			k.c.ok(CheckReadable)
			if in.EmbeddedFiles {
				k.c.add(CheckPackageUse, Warn, docRef, "the PDF embeds files (/EmbeddedFiles): check them by hand")
			} else {
				k.c.ok(CheckPackageUse)
			}
		}
	}
	if k.opts.Verify == nil {
		k.c.add(CheckSignatures, Manual, docRef, "no signature verifier configured")
		return
	}
	verdict, detail, err := k.opts.Verify(k.ctx, r, size)
	switch {
	case err != nil:
		k.c.add(CheckSignatures, Fail, docRef, "verification could not run: "+err.Error())
	case verdict == VerdictValid:
		k.c.ok(CheckSignatures)
	case verdict == VerdictIndeterminate:
		k.c.add(CheckSignatures, Warn, docRef, "INDETERMINATE: "+detail)
	default:
		k.c.add(CheckSignatures, Fail, docRef, verdict+": "+detail)
	}
}

// input checks that the PDF r begins with the file the item's stamping
// sealed (用印前文件): its first InputSize bytes hash to InputSM3 — the
// stamped PDF is that file with eseal's incremental update appended. It
// reads through the content's one reader (content), not a second copy.
func (k *checker) input(docRef string, r io.ReaderAt, fileSize int64, m *Metadata) {
	size, err := strconv.ParseInt(m.InputSize, 10, 64)
	if err != nil || size < 1 || size > fileSize || !sm3HexPattern().MatchString(strings.ToLower(m.InputSM3)) {
		k.c.add(CheckAttributes, Fail, docRef, fmt.Sprintf("用印前文件: size %q and SM3 %q are not a prefix of the %d-byte file", m.InputSize, m.InputSM3, fileSize))
		return
	}
	h := sm3.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
		k.c.add(CheckReadable, Fail, docRef, "reading the content: "+err.Error())
		return
	}
	if !strings.EqualFold(hex.EncodeToString(h.Sum(nil)), m.InputSM3) {
		k.c.add(CheckAttributes, Fail, docRef, fmt.Sprintf("the file does not begin with the one it was sealed from: its first %d bytes do not hash to the 用印前文件's SM3", size))
		return
	}
	k.c.ok(CheckAttributes)
}

// readerAt gives random access to an entry: in place for a stored one,
// in memory for a compressed one.
func (k *checker) readerAt(e *entry) (io.ReaderAt, int64, error) {
	size := int64(e.f.UncompressedSize64)
	if e.f.Method == zip.Store {
		off, err := e.f.DataOffset()
		if err != nil {
			return nil, 0, err
		}
		return io.NewSectionReader(k.pkg, off, size), size, nil
	}
	if size > k.lim.MaxInMemory {
		return nil, 0, fmt.Errorf("compressed content of %d bytes, more than the in-memory limit; store PDFs uncompressed", size)
	}
	rc, err := e.f.Open()
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, size+1))
	if err != nil && !errors.Is(err, zip.ErrChecksum) {
		return nil, 0, err
	}
	return bytes.NewReader(b), int64(len(b)), nil
}

// sequence checks that the catalogue's 序号 run 1..n and that each
// reference-code group's sequence runs on without gap or repeat.
func (k *checker) sequence(items []itemState) {
	for i, it := range items {
		if it.entry.Index != strconv.Itoa(i+1) {
			k.c.add(CheckSequence, Fail, it.entry.RefCode, fmt.Sprintf("序号 %q where %d is due", it.entry.Index, i+1))
		} else {
			k.c.ok(CheckSequence)
		}
	}
	groups := map[string][]int{}
	for _, it := range items {
		if it.ref.Seq > 0 {
			groups[it.ref.Group()] = append(groups[it.ref.Group()], it.ref.Seq)
		}
	}
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		seqs := groups[g]
		sort.Ints(seqs)
		// A package may hold part of a series (a filtered transfer): its
		// numbers, kept since archiving, run on without gap or repeat.
		var probs []string
		want := seqs[0]
		for i, s := range seqs {
			switch {
			case i > 0 && s == seqs[i-1]:
				probs = append(probs, fmt.Sprintf("件号 %d repeated", s))
			case s > want:
				if s == want+1 {
					probs = append(probs, fmt.Sprintf("件号 %d missing", want))
				} else {
					probs = append(probs, fmt.Sprintf("件号 %d–%d missing", want, s-1))
				}
				want = s + 1
			default:
				want = s + 1
			}
		}
		if len(probs) > 0 {
			k.c.add(CheckSequence, Fail, g, strings.Join(probs, "; "))
		} else {
			k.c.ok(CheckSequence)
		}
	}
}

// nestedArchive names the archive format a file's first bytes announce.
func nestedArchive(head []byte) string {
	for _, m := range []struct {
		magic, name string
	}{
		{"PK\x03\x04", "ZIP"}, {"PK\x05\x06", "ZIP"}, {"Rar!\x1a\x07", "RAR"}, {"7z\xbc\xaf\x27\x1c", "7z"},
		{"\x1f\x8b", "gzip"}, {"BZh", "bzip2"}, {"\xfd7zXZ\x00", "xz"}, {"\x28\xb5\x2f\xfd", "zstd"},
	} {
		if bytes.HasPrefix(head, []byte(m.magic)) {
			return m.name
		}
	}
	if len(head) > 262 && string(head[257:262]) == "ustar" {
		return "tar"
	}
	return ""
}

// security runs the malware scan and the audit-log lookup, and looks for
// archives nested in the payload.
func (k *checker) security() {
	names := make([]string, 0, len(k.files))
	for rel := range k.files {
		names = append(names, rel)
	}
	sort.Strings(names)
	for _, rel := range names {
		e := k.files[rel]
		if !strings.HasPrefix(rel, "data/") || e.err != nil {
			continue
		}
		if kind := nestedArchive(e.head); kind != "" && !(kind == "ZIP" && strings.HasSuffix(strings.ToLower(rel), ".ofd")) {
			k.c.add(CheckPackageUse, Fail, rel, "a nested "+kind+" archive inside the package")
		}
	}
	if k.opts.Scan == nil {
		k.c.manualOnly(CheckVirus, "no malware scanner configured: scan the package by hand")
	} else {
		for _, rel := range names {
			e := k.files[rel]
			if !strings.HasPrefix(rel, "data/") || e.err != nil {
				continue
			}
			rc, err := e.f.Open()
			if err != nil {
				k.c.add(CheckVirus, Fail, rel, "not scanned: "+err.Error())
				continue
			}
			clean, detail, err := k.opts.Scan(k.ctx, rel, rc)
			rc.Close()
			switch {
			case err != nil:
				k.c.add(CheckVirus, Fail, rel, "not scanned: "+err.Error())
			case !clean:
				k.c.add(CheckVirus, Fail, rel, "malware found: "+detail)
			default:
				k.c.ok(CheckVirus)
			}
		}
	}
	if k.opts.Audit == nil {
		k.c.manualOnly(CheckProcess, "no audit log supplied: check that the transfer is recorded")
		return
	}
	found, detail, err := k.opts.Audit(k.ctx, k.root, k.report.Digest)
	switch {
	case err != nil:
		k.c.add(CheckProcess, Fail, "", "the audit log could not be read: "+err.Error())
	case !found:
		k.c.add(CheckProcess, Fail, "", "the transfer is not in the audit log: "+detail)
	default:
		k.c.ok(CheckProcess)
	}
}
