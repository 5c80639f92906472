package seal_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"eseal/keys/cms"
	"eseal/pdf"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

// The pades profile: ETSI.CAdES.detached, ESS signing-certificate-v2, no
// signingTime, the seal carried; each addition reaches the next baseline
// level, and the report names the profile and the level.
func TestPAdESProfile(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	srv, err := f.reg.TSA(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in := pdftest.Document(pdftest.Options{})
	stamp := func(req seal.SignRequest) []byte {
		t.Helper()
		req.SealID, req.Placement, req.Profile = f.sealID, seal.Placement{Page: 1, XMM: 100, YMM: 150}, seal.ProfilePAdES
		res, err := (&seal.Stamper{Registry: f.reg}).Stamp(ctx, bytes.NewReader(in), int64(len(in)), req)
		if err != nil {
			t.Fatal(err)
		}
		return append(bytes.Clone(in), res.Update...)
	}
	bb := stamp(seal.SignRequest{})
	bt := stamp(seal.SignRequest{Timestamps: seal.EmbeddedTSA{Server: srv}})
	blt := stamp(seal.SignRequest{Timestamps: seal.EmbeddedTSA{Server: srv}, LTV: true})
	upd, err := seal.AddArchiveTimestamp(ctx, f.reg, seal.EmbeddedTSA{Server: srv}, bytes.NewReader(bt), int64(len(bt)))
	if err != nil {
		t.Fatal(err)
	}
	blta := append(bytes.Clone(bt), upd...)
	// A document timestamp alone, without a DSS, makes B-T of B-B.
	dts, err := seal.AddDocTimestamp(ctx, seal.EmbeddedTSA{Server: srv}, bytes.NewReader(bb), int64(len(bb)), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bbts := append(bytes.Clone(bb), dts...)

	sd := signedData(t, bb, 0)
	si := sd.SignerInfos[0]
	if _, ok := si.Attribute(cms.OIDAttrSigningTime); ok {
		t.Error("signingTime in a PAdES signature")
	}
	if _, ok := si.Attribute(cms.OIDAttrSigningCertificateV2); !ok {
		t.Error("no signing-certificate-v2")
	}
	if _, ok := si.AttributeOID(seal.OIDSESeal); !ok {
		t.Error("the seal is not carried")
	}
	for name, c := range map[string]struct {
		doc   []byte
		level string
	}{
		"B-B": {bb, seal.PAdESBB}, "B-T": {bt, seal.PAdESBT}, "B-LT": {blt, seal.PAdESBLT},
		"B-LTA": {blta, seal.PAdESBLTA}, "B-B + document timestamp": {bbts, seal.PAdESBT},
	} {
		rep := f.verify(t, c.doc)
		s := rep.Signatures[0]
		if rep.Verdict != seal.Valid || s.SubFilter != pdf.SubFilterCAdESDetached || s.Profile != "pades" || s.PAdESLevel != c.level || s.SigningTime == nil || s.Seal == nil {
			t.Errorf("%s: %s, sub-filter %s, profile %q, level %q, time %v: %v", name, rep.Verdict, s.SubFilter, s.Profile, s.PAdESLevel, s.SigningTime, s.Reasons)
		}
	}
	// The CMS profile reaches no PAdES level, whatever it carries.
	cmsDoc := f.stamp(t, in, 1)
	if s := f.verify(t, cmsDoc).Signatures[0]; s.Profile != "cms" || s.PAdESLevel != "" {
		t.Errorf("cms profile: %q %q", s.Profile, s.PAdESLevel)
	}
	var pe *seal.ProfileError
	if _, err := (&seal.Stamper{Registry: f.reg}).Stamp(ctx, bytes.NewReader(in), int64(len(in)), seal.SignRequest{
		SealID: f.sealID, Placement: seal.Placement{Page: 1}, Profile: "pades-lta"}); !errors.As(err, &pe) {
		t.Errorf("unknown profile: %v", err)
	}
}
