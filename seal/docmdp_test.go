package seal_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"eseal/pdf"
	"eseal/pdf/attack"
	"eseal/seal"
)

// A certifying seal (DocMDP /P 2): reported, in force through /Perms;
// later seals allowed, an added annotation not; only the first seal of a
// document can certify it.
func TestCertify(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	st := &seal.Stamper{Registry: f.reg}
	in := attack.Input()
	res, err := st.Stamp(ctx, bytes.NewReader(in), int64(len(in)), seal.SignRequest{
		SealID: f.sealID, Placement: seal.Placement{Page: 1, XMM: 100, YMM: 150}, Certify: true})
	if err != nil {
		t.Fatal(err)
	}
	certified := append(bytes.Clone(in), res.Update...)
	rep := f.verify(t, certified)
	s := rep.Signatures[0]
	if rep.Verdict != seal.Valid || s.Certification != 2 || checkResult(&s, "certification") != seal.Pass {
		t.Fatalf("%s certification %d: %v %+v", rep.Verdict, s.Certification, rep.Reasons, s.Checks)
	}
	d, _ := pdf.Open(bytes.NewReader(certified), int64(len(certified)))
	if sigs, _ := d.Signatures(); sigs[0].DocMDP != 2 || !sigs[0].DocMDPInForce {
		t.Fatalf("DocMDP %d, in force %t", sigs[0].DocMDP, sigs[0].DocMDPInForce)
	}

	// A second seal is allowed by /P 2 ...
	twice := f.stamp(t, certified, 1)
	if rep := f.verify(t, twice); rep.Verdict != seal.Valid || checkResult(&rep.Signatures[0], "certification") != seal.Pass {
		t.Errorf("a second seal after certification: %s %v", rep.Verdict, rep.Reasons)
	}
	// ... but it cannot certify.
	var ce *pdf.CertifyError
	if _, err := st.Stamp(ctx, bytes.NewReader(certified), int64(len(certified)), seal.SignRequest{
		SealID: f.sealID, Placement: seal.Placement{Page: 1}, Certify: true}); !errors.As(err, &ce) {
		t.Errorf("certifying a signed document: %v", err)
	}

	// An annotation over the page, which an approval signature allows, is
	// refused by the certification.
	cases, err := attack.Build(certified)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if c.Name != "overlay-freetext" {
			continue
		}
		rep := f.verify(t, c.PDF)
		s := rep.Signatures[0]
		if rep.Verdict != seal.Invalid || !strings.Contains(strings.Join(s.Changes, "; "), "not allowed by the certification (DocMDP /P 2)") {
			t.Errorf("annotation after certification: %s %v", rep.Verdict, s.Changes)
		}
		return
	}
	t.Fatal("attack corpus has no overlay-freetext")
}
