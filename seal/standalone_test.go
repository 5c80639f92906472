package seal_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"eseal/keys"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

func gbt38540(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("ses", "testdata", "gbt38540", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func data(b []byte) *seal.StandaloneData {
	return &seal.StandaloneData{R: bytes.NewReader(b), Size: int64(len(b))}
}

// The outside fixtures verified on their own give what their README says:
// every signature and maker signature it calls valid passes, the one it
// says does not verify fails; their issuers are not trusted here, so
// nothing else can be VALID.
func TestVerifyStandaloneFixtures(t *testing.T) {
	v := &seal.Verifier{Trust: keys.NewTrustStore()}
	xml := gbt38540(t, "v4_Signature.xml")
	for _, c := range []struct {
		file    string
		data    []byte
		kind    string
		verdict seal.Verdict
		pass    []string
		fail    []string
	}{
		{"v4_SignedValue.dat", xml, seal.KindSESignature, seal.Indeterminate,
			[]string{seal.CheckSESignature, "signature value", "seal maker signature", "signer in seal", "document digest"}, nil},
		{"v4_SignedValue.dat", nil, seal.KindSESignature, seal.Indeterminate,
			[]string{"signature value", "seal maker signature"}, nil},
		{"SignedValueV4.dat", nil, seal.KindSESignature, seal.Indeterminate,
			[]string{"signature value", "seal maker signature"}, nil},
		{"SESealData.DER", nil, seal.KindSeal, seal.Invalid, []string{"seal format"}, []string{"seal maker signature"}},
		{"UserV1.esl", nil, seal.KindSeal, seal.Indeterminate, []string{"seal format", "seal maker signature"}, nil},
		{"UserV5_ts.esl", nil, seal.KindSeal, seal.Indeterminate, []string{"seal format", "seal maker signature"}, nil},
	} {
		var d *seal.StandaloneData
		if c.data != nil {
			d = data(c.data)
		}
		rep, err := v.VerifyStandalone(context.Background(), gbt38540(t, c.file), d)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Verdict != c.verdict || len(rep.Signatures) != 1 || rep.Signatures[0].Kind != c.kind {
			t.Errorf("%s (data %t): %s %v", c.file, d != nil, rep.Verdict, rep.Reasons)
			continue
		}
		sr := &rep.Signatures[0]
		for _, name := range c.pass {
			if r := checkResult(sr, name); r != seal.Pass {
				t.Errorf("%s: check %q %q, want pass", c.file, name, r)
			}
		}
		for _, name := range c.fail {
			if r := checkResult(sr, name); r != seal.Fail {
				t.Errorf("%s: check %q %q, want fail", c.file, name, r)
			}
		}
		if c.verdict != seal.Invalid {
			for _, ck := range sr.Checks {
				if ck.Result == seal.Fail {
					t.Errorf("%s: check %q fails: %s", c.file, ck.Name, ck.Detail)
				}
			}
		}
	}
	// The signed file changed: INVALID.
	bad := bytes.Clone(xml)
	bad[10] ^= 1
	if rep, _ := v.VerifyStandalone(context.Background(), gbt38540(t, "v4_SignedValue.dat"), data(bad)); rep.Verdict != seal.Invalid {
		t.Errorf("changed Signature.xml: %s", rep.Verdict)
	}
}

// eseal's own seal and SES_Signature, on their own, are VALID; hostile
// files are INVALID reports, never errors or panics.
func TestVerifyStandaloneOwn(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := pdftest.Document(pdftest.Options{})
	res, err := (&seal.Stamper{Registry: f.reg}).Stamp(ctx, bytes.NewReader(in), int64(len(in)), seal.SignRequest{
		SealID: f.sealID, Placement: seal.Placement{Page: 1, XMM: 100, YMM: 150}, SESignature: true})
	if err != nil {
		t.Fatal(err)
	}
	signed := append(bytes.Clone(in), res.Update...)
	sealDER, err := f.reg.SESeal(ctx, f.sealID)
	if err != nil {
		t.Fatal(err)
	}
	v := f.verifier(t)
	for name, c := range map[string]struct {
		der  []byte
		data []byte
		want seal.Verdict
	}{
		"seal":                          {sealDER, nil, seal.Valid},
		"SES_Signature over the PDF":    {res.SESignature, signed, seal.Valid},
		"SES_Signature without data":    {res.SESignature, nil, seal.Indeterminate},
		"SES_Signature, other PDF":      {res.SESignature, append(bytes.Clone(signed[:len(signed)-10]), []byte("%%EOF\n\n\n\n")...), seal.Invalid},
		"SES_Signature, not a PDF":      {res.SESignature, []byte("some other bytes"), seal.Invalid},
		"empty":                         {nil, nil, seal.Invalid},
		"truncated seal":                {sealDER[:len(sealDER)/2], nil, seal.Invalid},
		"seal with a byte after":        {append(bytes.Clone(sealDER), 0), nil, seal.Invalid},
		"seal, maker signature changed": {flipLast(sealDER), nil, seal.Invalid},
		"SES_Signature, value changed":  {flipLast(res.SESignature), signed, seal.Invalid},
		"text":                          {[]byte("not DER at all"), nil, seal.Invalid},
		"a bare SEQUENCE":               {[]byte{0x30, 0x00}, nil, seal.Invalid},
	} {
		var d *seal.StandaloneData
		if c.data != nil {
			d = data(c.data)
		}
		rep, err := v.VerifyStandalone(ctx, c.der, d)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if rep.Verdict != c.want {
			t.Errorf("%s: %s, want %s: %v %+v", name, rep.Verdict, c.want, rep.Reasons, rep.Signatures)
		}
	}
	var ie *seal.InvalidError
	if _, err := v.VerifyStandalone(ctx, sealDER, data(signed)); !errors.As(err, &ie) {
		t.Errorf("data with a seal: %v", err)
	}
}

// flipLast changes the last byte's lowest bit: the end of a signature value.
func flipLast(b []byte) []byte {
	out := bytes.Clone(b)
	out[len(out)-1] ^= 1
	return out
}
