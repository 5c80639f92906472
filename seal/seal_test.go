package seal_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/fs"
	"eseal/keys"
	"eseal/pdf/pdftest"
	"eseal/seal"
)

type fixture struct {
	reg    *seal.Registry
	store  archive.Store
	kek    *keys.KEK
	sealID string
	now    time.Time
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	store, err := fs.New(tb.TempDir(), fs.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	kek, _, err := keys.NewKEK()
	if err != nil {
		tb.Fatal(err)
	}
	f := &fixture{}
	reg, err := seal.InitOrg(context.Background(), store, kek, "测试市行政审批服务局", seal.Options{Now: func() time.Time {
		if f.now.IsZero() {
			return time.Now()
		}
		return f.now
	}})
	if err != nil {
		tb.Fatal(err)
	}
	s, err := reg.CreateSeal(context.Background(), seal.CreateSpec{Name: "测试专用章", Type: seal.TypeApproval, Policy: seal.PolicyKey})
	if err != nil {
		tb.Fatal(err)
	}
	f.reg, f.store, f.kek, f.sealID = reg, store, kek, s.ID
	return f
}

func (f *fixture) verifier(tb testing.TB) *seal.Verifier {
	ts, err := f.reg.TrustStore(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return &seal.Verifier{Trust: ts, Registry: f.reg}
}

// stamp returns in ‖ update.
func (f *fixture) stamp(tb testing.TB, in []byte, page int) []byte {
	tb.Helper()
	st := &seal.Stamper{Registry: f.reg}
	res, err := st.Stamp(context.Background(), bytes.NewReader(in), int64(len(in)), seal.SignRequest{
		SealID: f.sealID, Placement: seal.Placement{Page: page, XMM: 100, YMM: 150},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return append(append([]byte{}, in...), res.Update...)
}

func (f *fixture) verify(t *testing.T, doc []byte) *seal.Report {
	t.Helper()
	rep, err := f.verifier(t).VerifyPDF(context.Background(), bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestStampTwiceVerify(t *testing.T) {
	f := newFixture(t)
	in := pdftest.Document(pdftest.Options{Pages: 3})
	once := f.stamp(t, in, 1)
	twice := f.stamp(t, once, 3)
	if !bytes.HasPrefix(twice, once) || !bytes.HasPrefix(once, in) {
		t.Fatal("an earlier revision is not a prefix")
	}
	rep := f.verify(t, twice)
	if rep.Verdict != seal.Valid || len(rep.Signatures) != 2 {
		t.Fatalf("verdict %s with %d signatures: %+v", rep.Verdict, len(rep.Signatures), rep)
	}
	if rep.Signatures[0].Revision == rep.Signatures[1].Revision {
		t.Fatal("both signatures claim the same revision")
	}
}

// TestFlippedBytes flips single bytes inside the signed ranges: the verdict
// is never VALID.
func TestFlippedBytes(t *testing.T) {
	f := newFixture(t)
	signed := f.stamp(t, pdftest.Document(pdftest.Options{}), 1)
	rep := f.verify(t, signed)
	br := rep.Signatures[0].ByteRange
	for i := 0; i < 300; i++ {
		// Spread positions over both ranges, deterministic.
		var pos int64
		if i%2 == 0 {
			pos = int64(i*7919) % br[1]
		} else {
			pos = br[2] + int64(i*104729)%br[3]
		}
		bad := append([]byte{}, signed...)
		bad[pos] ^= 0x01
		if r := f.verify(t, bad); r.Verdict == seal.Valid {
			t.Fatalf("flipping byte %d left the document VALID", pos)
		}
	}
}

func TestSealLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := pdftest.Document(pdftest.Options{})
	// Each step a minute apart: the CMS signing time has whole seconds, so
	// steps within one second of the signing would fall on either side of it.
	t0 := time.Now().Truncate(time.Second)
	f.now = t0
	signed := f.stamp(t, in, 1)

	f.now = t0.Add(time.Minute)
	if _, err := f.reg.SetStatus(ctx, f.sealID, seal.Suspended, "保管人变更", "test"); err != nil {
		t.Fatal(err)
	}
	st := &seal.Stamper{Registry: f.reg}
	_, err := st.Stamp(ctx, bytes.NewReader(in), int64(len(in)), seal.SignRequest{SealID: f.sealID, Placement: seal.Placement{Page: 1, XMM: 10, YMM: 10}})
	var se *seal.StateError
	if !errors.As(err, &se) {
		t.Fatalf("stamping with a suspended seal: %v", err)
	}
	f.now = t0.Add(2 * time.Minute)
	if _, err := f.reg.SetStatus(ctx, f.sealID, seal.Active, "恢复", "test"); err != nil {
		t.Fatal(err)
	}
	// A signature made before the revocation: the signer certificate was
	// revoked after the (unproven) signing time → not VALID without a timestamp.
	f.now = t0.Add(time.Hour)
	if _, err := f.reg.SetStatus(ctx, f.sealID, seal.Revoked, "印章停用", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.SetStatus(ctx, f.sealID, seal.Active, "", "test"); err == nil {
		t.Fatal("a revoked seal came back")
	}
	rep := f.verify(t, signed)
	if rep.Verdict != seal.Indeterminate {
		t.Fatalf("signed before revocation, verified after: %s %v", rep.Verdict, rep.Signatures[0].Reasons)
	}
}
