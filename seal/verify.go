package seal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"eseal/keys"
	"eseal/keys/cms"
	"eseal/keys/tsa"
	"eseal/pdf"
	"eseal/seal/ses"
)

// Verdict is the outcome of verifying a signature or a document.
type Verdict string

// Verdicts, as in ETSI EN 319 102-1: VALID means every check passed; INVALID
// means a check failed for sure (tampering, wrong key, expired at signing);
// INDETERMINATE means a check could not be completed (unknown root, missing
// revocation data, unsupported algorithm).
const (
	Valid         Verdict = "VALID"
	Invalid       Verdict = "INVALID"
	Indeterminate Verdict = "INDETERMINATE"
)

// CheckResult is the outcome of one verification step.
type CheckResult string

// Results of one step.
const (
	Pass    CheckResult = "pass"
	Fail    CheckResult = "fail"
	Unknown CheckResult = "indeterminate"
	Warn    CheckResult = "warn"
)

// Check is one verification step and what it found.
type Check struct {
	Name   string      `json:"name"`
	Result CheckResult `json:"result"`
	Detail string      `json:"detail,omitempty"`
}

// SealSummary describes the GB/T 38540 seal a signature was made with.
type SealSummary struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Type       int       `json:"type"`
	Version    int       `json:"version"`
	Vendor     string    `json:"vendor"`
	ValidStart time.Time `json:"valid_start"`
	ValidEnd   time.Time `json:"valid_end"`
	Status     string    `json:"status,omitempty"`
}

// SignatureReport is what verification found about one signature.
type SignatureReport struct {
	Field   string   `json:"field"`
	Verdict Verdict  `json:"verdict"`
	Reasons []string `json:"reasons"`
	Checks  []Check  `json:"checks"`
	// Kind is "page" for a seal on one page, "cross-page" for a 骑缝章.
	Kind string `json:"kind"`
	// Profile is the signature format: "cms" (adbe.pkcs7.detached), "pades"
	// (ETSI.CAdES.detached) or "ses" (a GB/T 38540 SES_Signature in
	// /Contents); empty for a document timestamp or a format not known.
	Profile string `json:"profile,omitempty"`
	// PAdESLevel is the PAdES baseline level a "pades" signature reaches:
	// B-B, B-T, B-LT or B-LTA (ETSI EN 319 142-1); empty when it reaches
	// none or is not PAdES.
	PAdESLevel string `json:"pades_level,omitempty"`
	// Certification is the DocMDP /P of a certification signature (1 no
	// change, 2 form filling and signing, 3 also annotations), 0 for an
	// approval signature.
	Certification int          `json:"certification,omitempty"`
	Page          int          `json:"page,omitempty"`
	Pages         []int        `json:"pages,omitempty"` // every page with a widget (cross-page seals)
	SubFilter     string       `json:"sub_filter"`
	ByteRange     [4]int64     `json:"byte_range"`
	Revision      int          `json:"revision"`
	SigningTime   *time.Time   `json:"signing_time"`
	Timestamp     *time.Time   `json:"timestamp"`
	Signer        string       `json:"signer,omitempty"`
	SignerSerial  string       `json:"signer_serial,omitempty"`
	Seal          *SealSummary `json:"seal,omitempty"`
	// Changes lists what later revisions changed that a signature does not allow.
	Changes []string `json:"modified_after_signing,omitempty"`
	// LaterChanges lists every revision after the signed one and what it
	// changed or added, allowed or not.
	LaterChanges []LaterChange `json:"later_changes"`
	// ChangedAfterSigning is set when a later revision changed what a
	// viewer shows — an annotation, a form field, another signature — even
	// when the change is one a signature allows.
	ChangedAfterSigning bool `json:"changed_after_signing"`
}

// A LaterChange is one thing a revision after the signed one changed or
// added.
type LaterChange struct {
	Revision int `json:"revision"`
	Object   int `json:"object,omitempty"` // 0: the trailer, or a summary of the revision
	// Kind is "modification" (not allowed), "annotation", "form field",
	// "signature", or "revision" for a revision that adds nothing shown
	// (validation data, unchanged rewrites, unreferenced objects).
	Kind       string            `json:"kind"`
	Allowed    bool              `json:"allowed"`
	Detail     string            `json:"detail"`
	Annotation *AnnotationChange `json:"annotation,omitempty"`
}

// AnnotationChange describes an annotation added after signing.
type AnnotationChange struct {
	Subtype         string     `json:"subtype"`
	Page            int        `json:"page"`
	Rect            [4]float64 `json:"rect"`
	Field           string     `json:"field,omitempty"`
	Hidden          bool       `json:"hidden,omitempty"`
	OverlapsContent bool       `json:"overlaps_content"`
	OverlapsSeals   []string   `json:"overlaps_seals,omitempty"`
}

// Report is the verification of a whole PDF.
type Report struct {
	Verdict Verdict `json:"verdict"`
	// Summary is the verdict in words: "VALID, with changes after signing"
	// when a signature is valid and later revisions added what it allows.
	Summary   string   `json:"summary"`
	Reasons   []string `json:"reasons"`
	Size      int64    `json:"size"`
	Revisions int      `json:"revisions"`
	// RevisionEnds is where each revision ends, oldest first: the first
	// RevisionEnds[n-1] bytes are the document as revision n left it.
	RevisionEnds []int64           `json:"revision_ends"`
	Signatures   []SignatureReport `json:"signatures"`
	VerifiedAt   time.Time         `json:"verified_at"`
	// Authorizations says, for an archived document, whether the evidence of
	// each authorization its record names verifies (Registry.CheckEvidence):
	// who approved each use of a seal is checked, not only named. Empty for
	// an uploaded PDF, which names none the verifier can trust.
	Authorizations []AuthorizationCheck `json:"authorizations,omitempty"`
}

// AuthorizationCheck is the check of one authorization's evidence.
type AuthorizationCheck struct {
	ID       string `json:"id"`
	Verified bool   `json:"verified"`
	// Detail says why it did not verify.
	Detail string `json:"detail,omitempty"`
}

// Verifier checks the seals on a PDF in the order of docs/formats.md ("Verification order").
type Verifier struct {
	// Trust holds the trusted roots and CRLs.
	Trust *keys.TrustStore
	// Registry, when set, supplies the status history of seals made here.
	Registry *Registry
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// At is the time the verdict is for; zero means now. Certificates are
	// judged at the signing time, revocations as of At (see ltv.go).
	At time.Time

	asOf time.Time // At or now, fixed for one verification
	ltv  *ltvData  // the document security store's validation data
}

// VerifyPDF verifies every signature in the PDF. A file that cannot be read
// as a PDF yields an INVALID report, not an error; errors are for I/O.
func (v *Verifier) VerifyPDF(ctx context.Context, r io.ReaderAt, size int64) (*Report, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	v = v.asOfNow(now)
	rep := &Report{Size: size, Signatures: []SignatureReport{}, Reasons: []string{}, RevisionEnds: []int64{}, VerifiedAt: v.asOf.UTC()}
	defer rep.summarise()
	// Strictly: a startxref a few bytes off is not corrected, so that what
	// is verified is what the chain says, not what a repair guessed.
	doc, err := pdf.OpenStrict(r, size)
	if err != nil {
		rep.Verdict = Invalid
		rep.Reasons = append(rep.Reasons, "the file cannot be read as a PDF: "+err.Error())
		rep.Signatures = repairedSignatures(r, size, err)
		return rep, nil
	}
	v.loadDSS(doc)
	revs := doc.Revisions()
	rep.Revisions = len(revs)
	rep.RevisionEnds = append(rep.RevisionEnds, revs...)
	sigs, err := doc.Signatures()
	if err != nil {
		rep.Verdict = Invalid
		rep.Reasons = append(rep.Reasons, "the signature fields cannot be read: "+err.Error())
		return rep, nil
	}
	// A later revision can drop a signature from the document (a new /Root,
	// a field removed): signatures of earlier revisions are looked for too.
	removed := removedSignatures(r, revs, sigs)
	final := len(sigs)
	sigs = append(sigs, removed...)
	if len(sigs) == 0 {
		rep.Verdict = Indeterminate
		rep.Reasons = append(rep.Reasons, "the document has no signatures")
		return rep, nil
	}
	for i := range sigs {
		sr := v.verifySignature(ctx, doc, r, size, revs, &sigs[i])
		if i >= final {
			sigCheck{&sr}.add("signature field", Fail, fmt.Sprintf("signature %s of revision %d is no longer in the document as signed: a later revision removed or replaced it", sigs[i].FieldName, sr.Revision))
		}
		rep.Signatures = append(rep.Signatures, sr)
	}
	// What later revisions did is judged once every signature is checked:
	// an empty signature field may only gain a signature that verifies.
	for i := range rep.Signatures {
		if rep.Signatures[i].Revision > 0 {
			v.checkLaterRevisions(sigCheck{&rep.Signatures[i]}, doc, revs, size, sigs, rep.Signatures)
		}
	}
	padesLevels(r, revs, rep.Signatures)
	rep.Verdict = Valid
	for _, s := range rep.Signatures {
		rep.Verdict = worse(rep.Verdict, s.Verdict)
		if s.Verdict != Valid {
			rep.Reasons = append(rep.Reasons, fmt.Sprintf("signature %s is %s", s.Field, s.Verdict))
		}
	}
	return rep, nil
}

// repairedSignatures lists, each INVALID, the signatures a tolerant reader
// finds in a file the strict one refuses (a startxref pointing next to a
// cross-reference section, not at it): readers repair such files
// differently, so what they show is not what was signed.
func repairedSignatures(r io.ReaderAt, size int64, strictErr error) []SignatureReport {
	out := []SignatureReport{}
	d, err := pdf.Open(r, size)
	if err != nil {
		return out
	}
	sigs, err := d.Signatures()
	if err != nil {
		return out
	}
	for _, s := range sigs {
		sr := SignatureReport{Field: s.FieldName, Verdict: Invalid, Kind: "page", Page: s.Page, Pages: s.Pages,
			SubFilter: s.SubFilter, ByteRange: s.ByteRange, LaterChanges: []LaterChange{}}
		sigCheck{&sr}.add("document structure", Fail, "a reader must repair the file to find this signature: "+strictErr.Error())
		out = append(out, sr)
	}
	return out
}

// removedSignatures returns the signatures each earlier revision had, at
// the end of the revision they sign, that the final document (sigs) does
// not list.
func removedSignatures(r io.ReaderAt, revs []int64, sigs []pdf.Signature) []pdf.Signature {
	have := map[[4]int64]bool{}
	for _, s := range sigs {
		have[s.ByteRange] = true
	}
	var out []pdf.Signature
	for _, end := range revs[:max(0, len(revs)-1)] {
		d, err := pdf.OpenStrict(io.NewSectionReader(r, 0, end), end)
		if err != nil {
			continue
		}
		ss, err := d.Signatures()
		if err != nil {
			continue
		}
		for _, s := range ss {
			if s.ByteRangeOK && s.RevisionEnd == end && !have[s.ByteRange] {
				have[s.ByteRange] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// summarise sets Summary from the verdict and the signatures' changes.
func (rep *Report) summarise() {
	rep.Summary = string(rep.Verdict)
	if rep.Verdict != Valid {
		return
	}
	for _, s := range rep.Signatures {
		if s.ChangedAfterSigning {
			rep.Summary = string(Valid) + ", with changes after signing"
			return
		}
	}
}

func worse(a, b Verdict) Verdict {
	rank := map[Verdict]int{Valid: 0, Indeterminate: 1, Invalid: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// sigCheck accumulates the checks of one signature.
type sigCheck struct{ rep *SignatureReport }

func (c sigCheck) add(name string, res CheckResult, detail string) {
	c.rep.Checks = append(c.rep.Checks, Check{Name: name, Result: res, Detail: detail})
	switch res {
	case Fail:
		c.rep.Verdict = worse(c.rep.Verdict, Invalid)
		c.rep.Reasons = append(c.rep.Reasons, name+": "+detail)
	case Unknown:
		c.rep.Verdict = worse(c.rep.Verdict, Indeterminate)
		c.rep.Reasons = append(c.rep.Reasons, name+": "+detail)
	}
}

func (v *Verifier) verifySignature(ctx context.Context, doc *pdf.Document, r io.ReaderAt, size int64, revs []int64, s *pdf.Signature) SignatureReport {
	rep := SignatureReport{
		Field: s.FieldName, Verdict: Valid, Reasons: []string{}, Kind: "page", Page: s.Page, Pages: s.Pages,
		SubFilter: s.SubFilter, ByteRange: s.ByteRange, LaterChanges: []LaterChange{},
	}
	if len(s.Pages) > 1 {
		rep.Kind = "cross-page"
	}
	rep.Certification = s.DocMDP
	c := sigCheck{&rep}
	br := s.ByteRange

	// (1) The byte range: well formed, covering everything but /Contents, and
	// ending where a revision ends. The revision it ends at is kept even
	// when the range is wrong, so that what later revisions changed is
	// still named.
	end := br[2] + br[3]
	rep.Revision = 0
	for i, e := range revs {
		if e == end {
			rep.Revision = i + 1
		}
	}
	if err := checkByteRange(s, size); err != nil {
		c.add("byte range", Fail, err.Error())
		return rep
	}
	if rep.Revision == 0 {
		c.add("byte range", Fail, fmt.Sprintf("the signed range ends at byte %d, which is not the end of a revision", end))
		return rep
	}
	c.add("byte range", Pass, fmt.Sprintf("covers revision %d of %d except the signature value", rep.Revision, len(revs)))

	if isDocTimestamp(s) {
		v.checkDocTimestamp(c, s, r, br)
		return rep
	}

	// Pattern B: a GB/T 38540 SES_Signature in /Contents instead of a CMS.
	if der, ok := sesContents(s); ok {
		rep.Profile = string(ProfileSES)
		v.checkPDFSES(ctx, c, der, r, br)
		v.checkLTV(c, s)
		return rep
	}

	// (2) The CMS signature over the signed bytes. A /SubFilter eseal does
	// not know is still checked when its /Contents is a CMS: the verdict
	// cannot be VALID, but a broken signature is INVALID.
	sd, err := cms.Parse(s.Contents)
	switch s.SubFilter {
	case "adbe.pkcs7.detached", "ETSI.CAdES.detached":
	default:
		if err != nil {
			c.add("format", Unknown, fmt.Sprintf("signature format /%s is not supported and its /Contents is not a CMS", s.SubFilter))
			return rep
		}
		c.add("format", Unknown, fmt.Sprintf("signature format /%s is not supported; its /Contents was checked as a detached CMS", s.SubFilter))
	}
	if err != nil {
		c.add("CMS structure", Fail, err.Error())
		return rep
	}
	switch s.SubFilter {
	case pdf.SubFilterPKCS7Detached:
		rep.Profile = string(ProfileCMS)
	case pdf.SubFilterCAdESDetached:
		rep.Profile = string(ProfilePAdES)
	}
	if sd.BER {
		c.add("CMS encoding", Pass, "BER outside the signed attributes, as RFC 5652 allows; the signed attributes are DER as received")
	}
	if len(sd.SignerInfos) != 1 {
		c.add("CMS structure", Fail, fmt.Sprintf("%d signer infos; a PDF signature has exactly one", len(sd.SignerInfos)))
		return rep
	}
	si := sd.SignerInfos[0]
	signer, err := si.SignerCertificate(sd.Certificates)
	if err != nil {
		c.add("CMS structure", Fail, "the signer certificate: "+err.Error())
		return rep
	}
	rep.Signer = signer.Subject.String()
	rep.SignerSerial = fmt.Sprintf("%x", signer.SerialNumber)
	digest, err := digestRange(r, br)
	if err != nil {
		c.add("document digest", Fail, err.Error())
		return rep
	}
	if err := si.Verify(digest); err != nil {
		var ua *cms.UnsupportedAlgorithmError
		if errors.As(err, &ua) {
			c.add("signature value", Unknown, err.Error())
		} else {
			c.add("signature value", Fail, err.Error())
		}
		return rep
	}
	c.add("signature value", Pass, "SM2/SM3 signature over the signed bytes verifies")
	checkSigningCertificate(c, si, signer, s.SubFilter == pdf.SubFilterCAdESDetached)

	// The claimed time: the CMS signingTime, else — as PAdES has it, which
	// forbids signingTime — the signature dictionary's /M.
	signingTime := si.SigningTime
	if signingTime.IsZero() {
		signingTime = s.SigningTime
	}
	if !signingTime.IsZero() {
		t := signingTime.UTC()
		rep.SigningTime = &t
	}
	// A valid timestamp token proves when the signature existed; its time is
	// preferred over the signer's own claim.
	proven := false
	if attr, ok := si.UnsignedAttribute(oidTimeStampToken); ok {
		if gen, ok := v.checkTimestamp(c, si, attr, signingTime); ok {
			t := gen.UTC()
			rep.Timestamp = &t
			signingTime, proven = gen, true
		}
	}
	if signingTime.IsZero() {
		c.add("signing time", Unknown, "no signingTime attribute and no timestamp")
		signingTime = v.validationTime()
	}

	// (3) The seal the signature was made with.
	v.checkSeal(ctx, c, si, sd.Certificates, signer, signingTime, proven)

	// (4) The signer certificate chain at signing time.
	v.checkChain(c, "signer certificate", signer, sd.Certificates, signingTime, keys.UsageSign, proven)
	v.checkLTV(c, s)
	// (5) What later revisions changed: checkLaterRevisions, once every
	// signature has been verified.
	return rep
}

// checkSigningCertificate checks the ESS signing-certificate attribute that
// binds the signer certificate to the signature. PAdES requires
// signing-certificate-v2 and forbids signingTime: without the one, or with
// the other, a CAdES signature is no PAdES baseline signature (a warning:
// its mathematics holds). An attribute that names another certificate
// fails, whatever the profile.
func checkSigningCertificate(c sigCheck, si *cms.SignerInfo, signer *smx509.Certificate, pades bool) {
	_, v2 := si.Attribute(cms.OIDAttrSigningCertificateV2)
	_, v1 := si.Attribute(cms.OIDAttrSigningCertificate)
	switch err := cms.CheckSigningCertificate(si, signer); {
	case err == nil && v2:
		c.add("signing certificate", Pass, "ESS signing-certificate-v2 names the signer certificate")
	case err == nil:
		c.add("signing certificate", Pass, "ESS signing-certificate names the signer certificate")
	case !v1 && !v2 && pades:
		c.add("signing certificate", Warn, "no ESS signing-certificate-v2: not a PAdES baseline signature")
	case !v1 && !v2:
		// The CMS profile does not carry one.
	default:
		c.add("signing certificate", Fail, err.Error())
	}
	if pades && v1 && !v2 {
		c.add("signing certificate", Warn, "ESS signing-certificate (v1, SHA-1) instead of v2: not a PAdES baseline signature")
	}
	if pades && !si.SigningTime.IsZero() {
		c.add("signing time", Warn, "a CMS signingTime attribute: PAdES baseline forbids it (the claimed time is /M)")
	}
}

// checkLaterRevisions checks and lists what the revisions after the signed
// one did: every byte after it must belong to a revision on the chain, and
// every object a later revision defines must be an allowed change (new
// signatures, annotations and form fields, validation data). An empty
// signature field may only gain a signature whose value verifies.
func (v *Verifier) checkLaterRevisions(c sigCheck, doc *pdf.Document, revs []int64, size int64, sigs []pdf.Signature, reports []SignatureReport) {
	rep := c.rep
	rep.LaterChanges = []LaterChange{}
	end := revs[rep.Revision-1]
	if end >= size {
		v.checkDocMDP(c, sigs, reports)
		return
	}
	if err := doc.CheckAppendedAfter(end); err != nil {
		var ue *pdf.UnaccountedDataError
		if errors.As(err, &ue) {
			detail := fmt.Sprintf("unaccounted data after the signed revision at byte %d: %s", ue.Offset, ue.Reason)
			rep.Changes = append(rep.Changes, detail)
			rep.LaterChanges = append(rep.LaterChanges, LaterChange{Kind: "modification", Detail: detail})
			c.add("later revisions", Fail, detail)
		} else {
			c.add("later revisions", Fail, "cannot read the later revisions: "+err.Error())
		}
		return
	}
	changes, err := doc.ChangesAfter(end)
	if err != nil {
		c.add("later revisions", Fail, "cannot compare later revisions: "+err.Error())
		return
	}
	annots, err := doc.AddedAnnotations(end)
	if err != nil {
		c.add("later revisions", Fail, "cannot list added annotations: "+err.Error())
		return
	}
	shown := map[int]bool{} // revisions with an entry of their own
	for _, ch := range changes {
		if ch.Kind == pdf.AllowedSignatureField {
			if who, ok := signedFieldVerifies(ch.Object, sigs, reports); !ok {
				ch.Kind = pdf.Disallowed
				ch.Detail = fmt.Sprintf("empty signature field %d gained a value that does not verify (%s)", ch.Object, who)
			} else {
				rep.ChangedAfterSigning = true
				rep.LaterChanges = append(rep.LaterChanges, LaterChange{Revision: ch.Revision, Object: ch.Object, Kind: "signature", Allowed: true,
					Detail: fmt.Sprintf("empty signature field %s signed", who)})
				shown[ch.Revision] = true
				continue
			}
		}
		if ch.Kind != pdf.Disallowed {
			continue
		}
		what := fmt.Sprintf("object %d (revision %d): %s", ch.Object, ch.Revision, ch.Detail)
		if ch.Object == 0 {
			what = fmt.Sprintf("trailer (revision %d): %s", ch.Revision, ch.Detail)
		}
		rep.Changes = append(rep.Changes, what)
		rep.LaterChanges = append(rep.LaterChanges, LaterChange{Revision: ch.Revision, Object: ch.Object, Kind: "modification", Detail: ch.Detail})
		shown[ch.Revision] = true
	}
	for _, a := range annots {
		lc := LaterChange{Revision: a.Revision, Object: a.Object, Kind: "annotation", Allowed: true,
			Annotation: &AnnotationChange{Subtype: a.Subtype, Page: a.Page, Rect: a.Rect, Field: a.Field, Hidden: a.Hidden,
				OverlapsContent: a.OverlapsContent, OverlapsSeals: a.OverlapsSeals}}
		switch {
		case a.Signature:
			lc.Kind = "signature"
		case a.Subtype == "Widget":
			lc.Kind = "form field"
		}
		lc.Detail = describeAnnotation(lc)
		rep.LaterChanges = append(rep.LaterChanges, lc)
		rep.ChangedAfterSigning = true
		shown[a.Revision] = true
	}
	// Every later revision is listed, also those that add nothing shown.
	kinds := map[int]map[string]int{}
	for _, ch := range changes {
		if kinds[ch.Revision] == nil {
			kinds[ch.Revision] = map[string]int{}
		}
		kinds[ch.Revision][ch.Kind.String()]++
	}
	for r := rep.Revision + 1; r <= len(revs); r++ {
		if shown[r] {
			continue
		}
		detail := "no object changed"
		if k := kinds[r]; len(k) > 0 {
			var parts []string
			for _, name := range sortedKinds(k) {
				parts = append(parts, fmt.Sprintf("%s ×%d", name, k[name]))
			}
			detail = strings.Join(parts, ", ")
		}
		rep.LaterChanges = append(rep.LaterChanges, LaterChange{Revision: r, Kind: "revision", Allowed: true, Detail: detail})
	}
	sort.SliceStable(rep.LaterChanges, func(i, j int) bool { return rep.LaterChanges[i].Revision < rep.LaterChanges[j].Revision })
	v.checkDocMDP(c, sigs, reports)
	if len(rep.Changes) > 0 {
		c.add("later revisions", Fail, "modified after signing: "+strings.Join(rep.Changes, "; "))
		return
	}
	n := len(revs) - rep.Revision
	if rep.ChangedAfterSigning {
		c.add("later revisions", Warn, fmt.Sprintf("%d later revision(s) add what a signature allows, shown over the signed page: %s", n, laterSummary(rep.LaterChanges)))
		return
	}
	c.add("later revisions", Pass, fmt.Sprintf("%d later revision(s) add nothing a viewer shows (validation data, unchanged objects)", n))
}

// signedFieldVerifies reports whether the signature field object num holds
// a signature whose byte range and value verify, and names it.
func signedFieldVerifies(num int, sigs []pdf.Signature, reports []SignatureReport) (string, bool) {
	for i, s := range sigs {
		if s.Field.Num != num {
			continue
		}
		r := reports[i]
		value, digest := false, true
		for _, ck := range r.Checks {
			switch {
			case ck.Name == "signature value" && ck.Result == Pass:
				value = true
			case (ck.Name == "document digest" || ck.Name == "byte range") && ck.Result == Fail:
				digest = false
			}
		}
		if value && digest {
			return fmt.Sprintf("%q", s.FieldName), true
		}
		return fmt.Sprintf("%q: %s", s.FieldName, strings.Join(r.Reasons, "; ")), false
	}
	return fmt.Sprintf("object %d holds no signature", num), false
}

func sortedKinds(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// describeAnnotation says in words what an added annotation covers.
func describeAnnotation(lc LaterChange) string {
	a := lc.Annotation
	s := fmt.Sprintf("/%s", a.Subtype)
	if a.Field != "" {
		s += fmt.Sprintf(" (field %q)", a.Field)
	}
	s += fmt.Sprintf(" on page %d at [%.0f %.0f %.0f %.0f]", a.Page, a.Rect[0], a.Rect[1], a.Rect[2], a.Rect[3])
	if a.Hidden {
		s += ", hidden"
	}
	if a.OverlapsContent {
		s += ", covers signed text"
	}
	if len(a.OverlapsSeals) > 0 {
		s += fmt.Sprintf(", covers seal %s", strings.Join(a.OverlapsSeals, ", "))
	}
	return s
}

// laterSummary is one line naming what the later revisions add.
func laterSummary(lcs []LaterChange) string {
	var parts []string
	for _, lc := range lcs {
		if lc.Kind == "revision" {
			continue
		}
		parts = append(parts, fmt.Sprintf("revision %d: %s %s", lc.Revision, lc.Kind, lc.Detail))
	}
	return strings.Join(parts, "; ")
}

func checkByteRange(s *pdf.Signature, size int64) error {
	br := s.ByteRange
	if br == ([4]int64{}) && s.ByteRangeProblem != "" {
		return errors.New(s.ByteRangeProblem) // no usable /ByteRange at all
	}
	if br[0] != 0 || br[1] <= 0 || br[2] <= br[1] || br[3] < 0 || br[2]+br[3] > size {
		return fmt.Errorf("malformed /ByteRange %v for a file of %d bytes", br, size)
	}
	if !s.ByteRangeOK {
		return fmt.Errorf("the gap in /ByteRange %v is not exactly this signature's /Contents", br)
	}
	return nil
}

// digestRange hashes the two signed segments, streaming.
func digestRange(r io.ReaderAt, br [4]int64) ([]byte, error) {
	h := sm3.New()
	for _, seg := range [][2]int64{{br[0], br[1]}, {br[2], br[3]}} {
		if _, err := io.Copy(h, io.NewSectionReader(r, seg[0], seg[1])); err != nil {
			return nil, err
		}
	}
	return h.Sum(nil), nil
}

func (v *Verifier) checkSeal(ctx context.Context, c sigCheck, si *cms.SignerInfo, certs []*smx509.Certificate, signer *smx509.Certificate, at time.Time, proven bool) {
	raw, ok := sealAttribute(si)
	if !ok {
		c.add("seal", Unknown, "the signature carries no GB/T 38540 seal")
		return
	}
	if len(raw.Values) != 1 {
		c.add("seal format", Fail, fmt.Sprintf("the seal attribute has %d values", len(raw.Values)))
		return
	}
	sl, err := ses.ParseSeal(raw.Values[0].FullBytes)
	if err != nil {
		c.add("seal format", Fail, err.Error())
		return
	}
	v.checkParsedSeal(ctx, c, sl, certs, signer, at, proven)
}

// checkParsedSeal runs the seal checks of docs/formats.md on a parsed seal:
// maker signature and certificate, validity and status at time at, and the
// signer in its certificate list. A nil signer means a seal judged on its
// own (VerifyStandalone): no signer to look for, and a seal outside its
// validity at the time in question is indeterminate, not invalid, since
// nothing proves another time.
func (v *Verifier) checkParsedSeal(ctx context.Context, c sigCheck, sl *ses.Seal, certs []*smx509.Certificate, signer *smx509.Certificate, at time.Time, proven bool) {
	c.rep.Seal = &SealSummary{ID: sl.ESID, Name: sl.Name, Type: sl.Type, Version: sl.Version,
		Vendor: sl.Vid, ValidStart: sl.ValidStart, ValidEnd: sl.ValidEnd}
	c.add("seal format", Pass, fmt.Sprintf("GB/T 38540 V%d seal %q (%s)", sl.Version, sl.Name, sl.ESID))
	if err := sl.VerifyMakerSignature(); err != nil {
		c.add("seal maker signature", Fail, err.Error())
		return
	}
	c.add("seal maker signature", Pass, "the seal maker's SM2 signature over the seal verifies")
	maker, err := smx509.ParseCertificate(sl.MakerCert)
	if err != nil {
		c.add("seal maker certificate", Fail, err.Error())
	} else {
		v.checkChain(c, "seal maker certificate", maker, certs, at, keys.UsageSealMaker, proven)
	}
	switch err := sl.ValidAt(at); {
	case err != nil && signer == nil:
		c.add("seal validity", Unknown, standaloneValidity(err))
	case err != nil:
		c.add("seal validity", Fail, err.Error())
	case signer == nil:
		c.add("seal validity", Pass, fmt.Sprintf("the seal is within its validity at %s", at.UTC().Format(time.RFC3339)))
	default:
		c.add("seal validity", Pass, "the seal was within its validity at signing time")
	}
	if v.Registry != nil {
		v.checkSealStatus(ctx, c, sl.ESID, at)
	}
	if signer == nil {
		c.add("seal certificates", Pass, fmt.Sprintf("%d signer certificate(s) listed (certListType %d)", len(sl.CertList), sl.CertListType))
		return
	}
	if !sl.AllowsSigner(signer.Raw) {
		c.add("signer in seal", Fail, "the signer certificate is not in the seal's certificate list")
	} else {
		c.add("signer in seal", Pass, "the signer certificate is listed in the seal")
	}
}

func (v *Verifier) checkSealStatus(ctx context.Context, c sigCheck, id string, at time.Time) {
	hist, err := v.Registry.History(ctx, id)
	var nf *NotFoundError
	if errors.As(err, &nf) {
		c.add("seal status", Warn, "the seal is not in this registry; its status is unknown here")
		return
	}
	if err != nil {
		c.add("seal status", Unknown, err.Error())
		return
	}
	st := Status("")
	for _, ev := range hist {
		if !ev.Time.After(at) {
			st = ev.Status
		}
		if ev.Status == Revoked && !ev.Time.After(at) {
			c.add("seal status", Fail, fmt.Sprintf("the seal was revoked at %s, before signing: %s", ev.Time.Format(time.RFC3339), ev.Reason))
			return
		}
	}
	c.rep.Seal.Status = string(hist[len(hist)-1].Status)
	switch st {
	case Active:
		c.add("seal status", Pass, "the seal was active at signing time")
	case Suspended:
		c.add("seal status", Fail, "the seal was suspended at signing time")
	default:
		c.add("seal status", Unknown, "the seal did not exist yet at the claimed signing time")
	}
}

func (v *Verifier) checkChain(c sigCheck, name string, cert *smx509.Certificate, others []*smx509.Certificate, at time.Time, usage keys.Usage, proven bool) {
	if v.Trust == nil {
		c.add(name, Unknown, "no trusted roots configured")
		return
	}
	res, err := v.verifyChain(cert, others, at, usage)
	if err != nil {
		var ce *keys.CertificateError
		if errors.As(err, &ce) && ce.Reason == keys.ReasonUnknownAuthority {
			c.add(name, Unknown, err.Error())
		} else {
			c.add(name, Fail, err.Error())
		}
		return
	}
	if res.RevokedAfter && proven {
		c.add(name, Pass, fmt.Sprintf("chains to a trusted root, valid at the timestamped signing time; revoked later, at %s", res.Leaf().RevokedAt.Format(time.RFC3339)))
		return
	}
	if res.RevokedAfter {
		c.add(name, Unknown, fmt.Sprintf("revoked at %s, after the claimed signing time, and no timestamp proves the signature came first", res.Leaf().RevokedAt.Format(time.RFC3339)))
		return
	}
	if msg := v.longTermProblem(res, at, proven); msg != "" {
		c.add(name, Unknown, msg)
		return
	}
	detail := "chains to a trusted root, valid at signing time"
	if !res.Leaf().CRLAvailable {
		c.add(name, Warn, detail+"; no CRL available to check revocation")
		return
	}
	c.add(name, Pass, detail+", not revoked")
}

// timestampSkew is how far a signer's claimed signing time may lie after the
// TSA's time (clocks differ a little); more means the claim is false.
const timestampSkew = 5 * time.Minute

// checkTimestamp verifies an RFC 3161 token over the signature value and
// returns the TSA's time.
func (v *Verifier) checkTimestamp(c sigCheck, si *cms.SignerInfo, attr cms.Attribute, claimed time.Time) (time.Time, bool) {
	if len(attr.Values) != 1 {
		c.add("timestamp", Fail, fmt.Sprintf("the timestamp attribute has %d values", len(attr.Values)))
		return time.Time{}, false
	}
	return v.checkTimestampToken(c, attr.Values[0].FullBytes, si.Signature, claimed)
}

// checkTimestampToken verifies an RFC 3161 token whose imprint must be the
// SM3 digest of the signature value sig, and returns the TSA's time.
func (v *Verifier) checkTimestampToken(c sigCheck, token, sig []byte, claimed time.Time) (time.Time, bool) {
	tok, err := tsa.ParseToken(token)
	if err != nil {
		c.add("timestamp", Fail, err.Error())
		return time.Time{}, false
	}
	imprint := sm3.Sum(sig)
	if err := tok.Verify(imprint[:]); err != nil {
		var te *tsa.Error
		if errors.As(err, &te) && te.Reason == tsa.Unsupported {
			c.add("timestamp", Unknown, err.Error())
		} else {
			c.add("timestamp", Fail, err.Error())
		}
		return time.Time{}, false
	}
	if v.Trust == nil {
		c.add("timestamp", Unknown, "no trusted roots configured for the TSA")
		return time.Time{}, false
	}
	if _, err := v.verifyChain(tok.Cert, tok.Certificates, tok.GenTime, keys.UsageTimestamp); err != nil {
		var ce *keys.CertificateError
		if errors.As(err, &ce) && ce.Reason == keys.ReasonUnknownAuthority {
			c.add("timestamp", Unknown, "TSA certificate: "+err.Error())
		} else {
			c.add("timestamp", Fail, "TSA certificate: "+err.Error())
		}
		return time.Time{}, false
	}
	if !claimed.IsZero() && claimed.After(tok.GenTime.Add(timestampSkew)) {
		c.add("timestamp", Fail, fmt.Sprintf("the claimed signing time %s is after the timestamp %s", claimed.Format(time.RFC3339), tok.GenTime.Format(time.RFC3339)))
		return time.Time{}, false
	}
	c.add("timestamp", Pass, fmt.Sprintf("RFC 3161 token from %s at %s over the signature value", tok.Cert.Subject.CommonName, tok.GenTime.UTC().Format(time.RFC3339)))
	return tok.GenTime, true
}
