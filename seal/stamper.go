package seal

import (
	"context"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"eseal/keys"
	"eseal/keys/cms"
	"eseal/keys/tsa"
	"eseal/pdf"
)

// OIDSESeal identifies the CMS signed attribute that carries the DER of the
// GB/T 38540 SESeal the signature was made with. It is a UUID-based OID
// (ITU-T X.667 arc 2.25, one arc holding the 128-bit UUID): no registry
// assigns one for this binding. encoding/asn1's ObjectIdentifier cannot
// hold that arc, hence cms.OID.
var OIDSESeal = cms.MustOID("2.25.64693171627294065741459426975091645976")

// oidSESealSplit is how eseal wrote OIDSESeal before it encoded the UUID
// as one arc: the same digits cut into several arcs. The verifier still
// reads it, so that documents issued then stay verifiable; nothing writes it.
var oidSESealSplit = asn1.ObjectIdentifier{2, 25, 64693171, 627294065, 741459426, 975091645, 976}

// OIDTSAPolicy is the policy of the embedded time-stamping authority, under
// the next UUID arc.
var OIDTSAPolicy = cms.MustOID("2.25.64693171627294065741459426975091645977.1")

// sealAttribute returns the signed attribute carrying the seal: under
// OIDSESeal, or under the split encoding of documents made before it.
func sealAttribute(si *cms.SignerInfo) (cms.Attribute, bool) {
	if a, ok := si.AttributeOID(OIDSESeal); ok {
		return a, true
	}
	return si.Attribute(oidSESealSplit)
}

// oidTimeStampToken is RFC 3161's id-aa-timeStampToken, the unsigned
// attribute carrying a token over the signature value.
var oidTimeStampToken = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}

// TimestampSource returns an RFC 3161 token (DER) over an SM3 digest.
type TimestampSource interface {
	Timestamp(ctx context.Context, digest []byte) ([]byte, error)
}

// EmbeddedTSA stamps with the organisation's own time-stamping authority.
type EmbeddedTSA struct{ Server *tsa.Server }

// Timestamp implements TimestampSource.
func (e EmbeddedTSA) Timestamp(_ context.Context, digest []byte) ([]byte, error) {
	req, err := tsa.NewRequest(digest, nil, true)
	if err != nil {
		return nil, err
	}
	return e.Server.Stamp(req)
}

// Placement says where the seal's top-left corner goes: a page (1-based) and
// millimetres from the visible page's top-left corner.
//
// Instead of coordinates, Keyword centres the seal on the Nth occurrence
// (from 1; 0 means the first) of a text, shifted by DXMM/DYMM. CrossPage
// makes a 骑缝章: the seal cut into strips at the right edge of pages
// FirstPage..LastPage (0 = first/last page), YMM from the top (0: centred).
type Placement struct {
	Page      int     `json:"page"`
	XMM       float64 `json:"x_mm"`
	YMM       float64 `json:"y_mm"`
	Keyword   string  `json:"keyword,omitempty"`
	Nth       int     `json:"nth,omitempty"`
	DXMM      float64 `json:"dx_mm,omitempty"`
	DYMM      float64 `json:"dy_mm,omitempty"`
	CrossPage bool    `json:"cross_page,omitempty"`
	FirstPage int     `json:"first_page,omitempty"`
	LastPage  int     `json:"last_page,omitempty"`
}

// PlacementError is a placement the request cannot have: a keyword given
// with coordinates, a negative match number.
type PlacementError struct{ Reason string }

func (e *PlacementError) Error() string { return "placement: " + e.Reason }

// MaxKeywordRunes bounds a keyword; a seal goes over a few words.
const MaxKeywordRunes = 64

// resolve turns a keyword or cross-page placement into the PDF request's
// page and coordinates.
func (p Placement) resolve(doc *pdf.Document, wMM, hMM float64, req *pdf.SignatureRequest) error {
	req.Page, req.XMM, req.YMM = p.Page, p.XMM, p.YMM
	switch {
	case p.CrossPage && p.Keyword != "":
		return &PlacementError{"a cross-page seal is not placed by keyword"}
	case p.CrossPage:
		req.CrossPage = &pdf.CrossPage{FirstPage: p.FirstPage, LastPage: p.LastPage}
		if req.Page == 0 {
			req.Page = max(p.FirstPage, 1)
		}
		return nil
	case p.Keyword == "":
		return nil
	}
	if utf8.RuneCountInString(p.Keyword) > MaxKeywordRunes {
		return &PlacementError{fmt.Sprintf("keyword longer than %d characters", MaxKeywordRunes)}
	}
	if p.Nth < 0 {
		return &PlacementError{"nth counts matches from 1"}
	}
	matches, err := doc.FindText(p.Keyword)
	if err != nil {
		return err
	}
	n := max(p.Nth, 1)
	if n > len(matches) {
		return &pdf.TextNotFoundError{Text: fmt.Sprintf("%s (match %d of %d)", p.Keyword, n, len(matches)), Pages: doc.NumPages()}
	}
	req.Page, req.XMM, req.YMM = doc.PlacementForMatch(matches[n-1], wMM, hMM, p.DXMM, p.DYMM)
	return nil
}

// Profile is the signature format of one stamping (docs/formats.md,
// "Signature profiles").
type Profile string

// Profiles a stamping can ask for.
const (
	// ProfileCMS is ISO 32000-1's adbe.pkcs7.detached: a CMS with
	// signingTime and the seal. The default.
	ProfileCMS Profile = "cms"
	// ProfileSES is the national format in the PDF (pattern B of
	// docs/formats.md): a GB/T 38540 SES_Signature itself in /Contents
	// under SubFilter GBT38540.SES_Signature, dataHash the SM3 of the
	// ByteRange bytes, with its timeStamp when a timestamp is asked for.
	ProfileSES Profile = "ses"
	// ProfilePAdES is PAdES baseline (ETSI EN 319 142-1): SubFilter
	// ETSI.CAdES.detached, ESS signing-certificate-v2, no signingTime (the
	// claimed time is /M), the seal still carried. B-T with a timestamp,
	// B-LT with LTV, B-LTA with a document timestamp (AddArchiveTimestamp).
	ProfilePAdES Profile = "pades"
)

// ProfileError is a profile eseal does not write.
type ProfileError struct{ Profile string }

func (e *ProfileError) Error() string {
	return fmt.Sprintf("profile %q: want %s, %s or %s", e.Profile, ProfileCMS, ProfilePAdES, ProfileSES)
}

// ParseProfile reads a profile name; empty means ProfileCMS.
func ParseProfile(s string) (Profile, error) {
	switch Profile(s) {
	case "", ProfileCMS:
		return ProfileCMS, nil
	case ProfilePAdES, ProfileSES:
		return Profile(s), nil
	}
	return "", &ProfileError{Profile: s}
}

// SignRequest asks the Stamper for one seal on one PDF: one signature, in
// one incremental revision. (A whole stamping, authorized and archived, is a
// StampRequest to the Service.)
type SignRequest struct {
	SealID    string
	Placement Placement
	// Reason and Location go into the PDF signature dictionary.
	Reason, Location string
	// Timestamps, when set, adds an RFC 3161 token over the signature
	// value. If the source fails, the stamp is made without one and a
	// warning says so — unless RequireTimestamp.
	Timestamps       TimestampSource
	RequireTimestamp bool
	// QRText, when set, is drawn as a QR code beside the seal (the
	// document's verify URL).
	QRText string
	// LTV appends, after the signature's revision, a second one holding the
	// document security store (see AddLTV); Signed.Update then carries both.
	LTV bool
	// SESignature asks for a GB/T 38540 SES_Signature over the same signed
	// bytes as well, returned in Signed.SESignature (see sesig.go).
	SESignature bool
	// Profile is the signature format; empty means ProfileCMS.
	Profile Profile
	// Certify makes the seal a certification signature (DocMDP, /P 2:
	// later form filling and signatures allowed, nothing else). Only the
	// first seal of a document can certify it (a *pdf.CertifyError).
	Certify bool
}

// WarnNoTimestamp is the warning of a stamping whose TSA did not answer.
const WarnNoTimestamp = "timestamp-unavailable"

// Signed is one seal's signature made by the Stamper: the incremental update
// to append to the input, and what the record needs to know about it.
type Signed struct {
	// Update holds only the appended bytes: the signed PDF is input ‖ Update.
	Update       []byte
	SealID       string
	SealName     string
	Signer       string // signer certificate subject
	SignerSerial string
	SigningTime  time.Time
	ByteRange    [4]int64
	// Page is where the seal went (the first page of a cross-page seal).
	Page int
	// ContentSM3 is the SM3 digest over the signed byte range.
	ContentSM3 []byte
	// Timestamp is the time the TSA vouched for; zero without a token.
	Timestamp time.Time
	// Warnings lists what went less well than asked (WarnNoTimestamp).
	Warnings []string
	// SESignature is the DER of the GB/T 38540 SES_Signature over ByteRange,
	// when SignRequest.SESignature asked for it.
	SESignature []byte
}

// TimestampError says a required timestamp could not be had.
type TimestampError struct{ Err error }

func (e *TimestampError) Error() string {
	return "timestamp required but unavailable: " + e.Err.Error()
}

func (e *TimestampError) Unwrap() error { return e.Err }

// Stamper puts seals on PDFs. It checks the seal's state but not
// authorizations, which are the caller's business (the REST path consumes
// one per stamping).
type Stamper struct {
	Registry *Registry
	// Now is the clock; nil means the registry's.
	Now func() time.Time
}

func (st *Stamper) now() time.Time {
	if st.Now != nil {
		return st.Now()
	}
	return st.Registry.now()
}

// Stamp signs the PDF in (size bytes) with the requested seal and returns the
// incremental update. Nothing is written anywhere; the caller stores it.
func (st *Stamper) Stamp(ctx context.Context, in io.ReaderAt, size int64, req SignRequest) (*Signed, error) {
	s, err := st.Registry.Get(ctx, req.SealID)
	if err != nil {
		return nil, err
	}
	return st.stamp(ctx, s, in, size, req)
}

// stamp signs with a seal already read from the registry.
func (st *Stamper) stamp(ctx context.Context, s *Seal, in io.ReaderAt, size int64, req SignRequest) (*Signed, error) {
	now := st.now().UTC()
	profile, err := ParseProfile(string(req.Profile))
	if err != nil {
		return nil, err
	}
	if err := usable(s, now); err != nil {
		return nil, err
	}
	ss, err := st.Registry.signingSeal(ctx, s)
	if err != nil {
		return nil, err
	}
	if err := st.checkSigner(ctx, s, ss, now); err != nil {
		return nil, err
	}
	doc, err := pdf.Open(in, size)
	if err != nil {
		return nil, err
	}
	preq := pdf.SignatureRequest{
		WidthMM: ss.widthMM, HeightMM: ss.heightMM,
		Image: ss.image, Name: ss.name, Reason: req.Reason, Location: req.Location,
		SigningTime: now, ContentsSize: contentsSize(ss, req.Timestamps != nil),
	}
	if req.Certify {
		preq.Certify = 2
	}
	switch profile {
	case ProfilePAdES:
		preq.SubFilter = pdf.SubFilterCAdESDetached
	case ProfileSES:
		preq.SubFilter = pdf.SubFilterGBT38540
	}
	if err := req.Placement.resolve(doc, ss.widthMM, ss.heightMM, &preq); err != nil {
		return nil, err
	}
	if req.QRText != "" {
		if preq.QR, err = qrCode(req.QRText); err != nil {
			return nil, err
		}
	}
	upd, err := doc.PrepareSignature(preq)
	if err != nil {
		return nil, err
	}
	h := sm3.New()
	if err := upd.Digest(h); err != nil {
		return nil, err
	}
	digest := h.Sum(nil)
	tsr := &timestamper{ctx: ctx, req: req}
	var der, sesDER []byte
	if profile == ProfileSES {
		// Pattern B: the SES_Signature itself is the signature value (and
		// the side file, when one is asked for).
		if der, err = pdfSESignature(ss, now, digest, upd.ByteRange(), tsr.tokenFunc()); err != nil {
			return nil, asTimestampError(err)
		}
		if req.SESignature {
			sesDER = der
		}
	} else {
		if der, err = st.signCMS(ss, profile, now, digest, tsr); err != nil {
			return nil, err
		}
		if req.SESignature {
			if sesDER, err = pdfSESignature(ss, now, digest, upd.ByteRange(), tsr.tokenFunc()); err != nil {
				return nil, asTimestampError(err)
			}
		}
	}
	if err := upd.SetContents(der); err != nil {
		return nil, err
	}
	update := upd.Bytes()
	if req.LTV {
		dss, err := AddLTV(ctx, st.Registry, appended{in, size, update}, size+int64(len(update)))
		if err != nil {
			return nil, fmt.Errorf("long-term validation data: %w", err)
		}
		update = append(update, dss...)
	}
	return &Signed{
		Update: update, SealID: s.ID, SealName: s.Name,
		Signer: ss.cert.Subject.String(), SignerSerial: s.SignerSerial,
		SigningTime: now, ByteRange: upd.ByteRange(), ContentSM3: digest,
		Timestamp: tsr.genTime, Warnings: tsr.warnings, Page: preq.Page, SESignature: sesDER,
	}, nil
}

// signCMS makes the CMS SignedData of the cms and pades profiles over
// digest, with a signature timestamp from tsr when the request asks.
func (st *Stamper) signCMS(ss *signingSeal, profile Profile, now time.Time, digest []byte, tsr *timestamper) ([]byte, error) {
	opts := cms.SignOptions{
		Signer: ss.key, Cert: ss.cert, Chain: st.Registry.Roots(), SigningTime: now,
		ExtraSignedAttributes: []cms.Attribute{{OID: OIDSESeal, Values: []asn1.RawValue{{FullBytes: ss.sesealDER}}}},
	}
	if profile == ProfilePAdES {
		ess, err := cms.SigningCertificateV2(ss.cert)
		if err != nil {
			return nil, err
		}
		opts.NoSigningTime = true
		opts.ExtraSignedAttributes = append(opts.ExtraSignedAttributes, ess)
	}
	if token := tsr.tokenFunc(); token != nil {
		opts.Unsigned = func(sig []byte) ([]cms.Attribute, error) {
			tok, err := token(sig)
			if err != nil || tok == nil {
				return nil, err
			}
			return []cms.Attribute{{Type: oidTimeStampToken, Values: []asn1.RawValue{{FullBytes: tok}}}}, nil
		}
	}
	der, err := cms.SignDetached(digest, opts)
	if err != nil {
		if te := asTimestampError(err); te != err {
			return nil, te
		}
		return nil, fmt.Errorf("signing: %w", err)
	}
	return der, nil
}

// timestamper gets the RFC 3161 tokens of one stamping from the request's
// TSA: over the SM3 of a signature value, the CMS's or the
// SES_Signature's. A TSA that fails gives no token and a warning, or a
// *TimestampError when the request requires one.
type timestamper struct {
	ctx      context.Context
	req      SignRequest
	genTime  time.Time
	warnings []string
}

// tokenFunc returns the function that stamps a signature value, nil when
// the request asks for no timestamp.
func (t *timestamper) tokenFunc() func(sig []byte) ([]byte, error) {
	if t.req.Timestamps == nil {
		return nil
	}
	return func(sig []byte) ([]byte, error) {
		imprint := sm3.Sum(sig)
		token, err := t.req.Timestamps.Timestamp(t.ctx, imprint[:])
		if err == nil {
			var tok *tsa.Token
			if tok, err = tsa.ParseToken(token); err == nil {
				t.genTime = tok.GenTime
				return token, nil
			}
		}
		if t.req.RequireTimestamp {
			return nil, &TimestampError{err}
		}
		if !slices.Contains(t.warnings, WarnNoTimestamp) {
			t.warnings = append(t.warnings, WarnNoTimestamp)
		}
		return nil, nil
	}
}

// asTimestampError returns the *TimestampError inside err, else err.
func asTimestampError(err error) error {
	var te *TimestampError
	if errors.As(err, &te) {
		return te
	}
	return err
}

// usable says whether a seal may stamp at time t.
func usable(s *Seal, t time.Time) error {
	if s.Status != Active {
		return &StateError{ID: s.ID, Status: s.Status, Reason: "only an active seal can stamp"}
	}
	if t.Before(s.ValidStart) || t.After(s.ValidEnd) {
		return &StateError{ID: s.ID, Status: s.Status, Reason: fmt.Sprintf("outside its validity %s – %s",
			s.ValidStart.Format(time.RFC3339), s.ValidEnd.Format(time.RFC3339))}
	}
	return nil
}

// contentsSize is the room reserved in /Contents for the CMS: certificates,
// the SESeal (which carries the picture) and the fixed parts, with margin.
func contentsSize(ss *signingSeal, timestamp bool) int {
	n := len(ss.cert.Raw) + len(ss.sesealDER) + 4096 // the root certificate and CMS framing fit in the margin
	if timestamp {
		n += 6144 // a token with the TSA's certificate and chain
	}
	return (n + 1023) / 1024 * 1024
}

// CertificateError says the seal's signer certificate cannot sign now:
// expired, not yet valid, or revoked.
type CertificateError struct {
	SealID string
	Err    error
}

func (e *CertificateError) Error() string {
	return fmt.Sprintf("seal %s: signer certificate: %v", e.SealID, e.Err)
}

func (e *CertificateError) Unwrap() error { return e.Err }

// checkSigner refuses to sign with a certificate that would not verify:
// outside its validity, not chaining to the organisation root, or on the CRL.
func (st *Stamper) checkSigner(ctx context.Context, s *Seal, ss *signingSeal, now time.Time) error {
	ts, err := st.Registry.TrustStore(ctx)
	if err != nil {
		return err
	}
	// The chain's signatures and the CRL do not change until a new CRL
	// makes a new trust store: verify once per trust store, and only the
	// validity period on every stamping.
	root := st.Registry.rootCert()
	if ss.checkedWith.Load() == ts && inValidity(ss.cert, now) && inValidity(root, now) {
		return nil
	}
	if _, err := ts.Verify(ss.cert, nil, now, keys.UsageSign); err != nil {
		return &CertificateError{SealID: s.ID, Err: err}
	}
	ss.checkedWith.Store(ts)
	return nil
}

func inValidity(c *smx509.Certificate, t time.Time) bool {
	return !t.Before(c.NotBefore) && !t.After(c.NotAfter)
}
