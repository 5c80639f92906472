package pdf

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func appendDSS(t *testing.T, in []byte, add DSS) ([]byte, *Document) {
	t.Helper()
	d, err := Open(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	upd, err := d.AppendDSS(add)
	if err != nil {
		t.Fatalf("AppendDSS: %v", err)
	}
	out := append(append([]byte{}, in...), upd...)
	nd, err := Open(bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatalf("re-Open after AppendDSS: %v", err)
	}
	return out, nd
}

func TestAppendDSS(t *testing.T) {
	certA, certB, crl := fakeDER(300), fakeDER(420), fakeDER(200)
	crl2 := append(fakeDER(210), 9)
	tu := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, o := range testShapes {
		t.Run(o.name, func(t *testing.T) {
			in := genPDF(o)
			s1 := sign(t, in, SignatureRequest{Page: 1, XMM: 20, YMM: 30, WidthMM: 40, HeightMM: 40})
			s2 := sign(t, s1, SignatureRequest{Page: 1, XMM: 80, YMM: 30, WidthMM: 40, HeightMM: 40})
			d2, err := Open(bytes.NewReader(s2), int64(len(s2)))
			if err != nil {
				t.Fatal(err)
			}
			sigs, err := d2.Signatures()
			if err != nil || len(sigs) != 2 {
				t.Fatalf("%d signatures, %v", len(sigs), err)
			}
			// sign puts the same fake CMS into both signatures; the second
			// key is made up so that the two entries differ.
			k1, k2 := VRIKey(sigs[0].Contents), VRIKey([]byte(sigs[1].FieldName))
			out, d := appendDSS(t, s2, DSS{VRI: map[string]*VRI{
				k1: {Certs: [][]byte{certA, certB}, CRLs: [][]byte{crl}, TU: tu},
				k2: {Certs: [][]byte{certA}, CRLs: [][]byte{crl}, TU: tu},
			}})
			if !bytes.HasPrefix(out, s2) {
				t.Fatal("input is not a prefix")
			}
			got, err := d.DSS()
			if err != nil || got == nil {
				t.Fatalf("DSS: %v %v", got, err)
			}
			if len(got.Certs) != 2 || !bytes.Equal(got.Certs[0], certA) || !bytes.Equal(got.Certs[1], certB) || len(got.CRLs) != 1 || len(got.OCSPs) != 0 {
				t.Fatalf("DSS read back: %d certs, %d CRLs, %d OCSPs", len(got.Certs), len(got.CRLs), len(got.OCSPs))
			}
			if v := got.VRI[k1]; v == nil || len(v.Certs) != 2 || len(v.CRLs) != 1 || !v.TU.Equal(tu) {
				t.Fatalf("VRI %s: %+v", k1, v)
			}
			// Both signatures still cover their revisions, and the DSS
			// revision is an allowed change after each.
			sigs, _ = d.Signatures()
			for _, s := range sigs {
				if !s.ByteRangeOK || !s.CoversRevision {
					t.Fatalf("%s after DSS: %q", s.FieldName, s.ByteRangeProblem)
				}
				changes, err := d.ChangesAfter(s.RevisionEnd)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range changes {
					if !c.Kind.Allowed() {
						t.Errorf("%s: disallowed change %+v", s.FieldName, c)
					}
				}
			}
			if d.sections[0].stream != d2.sections[0].stream {
				t.Error("the DSS update changed the cross-reference form")
			}

			// A second store keeps the first one's entries, writes no
			// stream twice, and extends a VRI entry.
			out2, dd := appendDSS(t, out, DSS{CRLs: [][]byte{crl2}, VRI: map[string]*VRI{k2: {CRLs: [][]byte{crl2}}}})
			got2, err := dd.DSS()
			if err != nil {
				t.Fatal(err)
			}
			if len(got2.Certs) != 2 || len(got2.CRLs) != 2 || len(got2.VRI[k1].Certs) != 2 || len(got2.VRI[k2].CRLs) != 2 || len(got2.VRI[k2].Certs) != 1 {
				t.Fatalf("extended DSS: %d certs, %d CRLs, VRI %+v / %+v", len(got2.Certs), len(got2.CRLs), got2.VRI[k1], got2.VRI[k2])
			}
			if n := bytes.Count(out2[len(out):], []byte(">>\nstream\n")); n > 2 { // the new CRL (and an xref stream)
				t.Errorf("second DSS update wrote %d streams", n)
			}
			sigs, _ = dd.Signatures()
			for _, s := range sigs {
				changes, _ := dd.ChangesAfter(s.RevisionEnd)
				for _, c := range changes {
					if !c.Kind.Allowed() {
						t.Errorf("%s after second DSS: disallowed change %+v", s.FieldName, c)
					}
				}
			}
			qpdfCheck(t, out2)
			pdfcpuValidate(t, out2)
		})
	}
}

func TestAppendDSSBadKey(t *testing.T) {
	in := genPDF(genOpts{})
	d, err := Open(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.AppendDSS(DSS{VRI: map[string]*VRI{"not-a-key": {}}}); err == nil {
		t.Fatal("a malformed VRI key was accepted")
	}
	if got, err := d.DSS(); got != nil || err != nil {
		t.Fatalf("DSS of a document without one: %v %v", got, err)
	}
}

// TestAppendDSSPdfsig: pdfsig still lists both signatures after the DSS.
func TestAppendDSSPdfsig(t *testing.T) {
	pdfsig, err := exec.LookPath("pdfsig")
	if err != nil {
		if requireTools() {
			t.Fatal("pdfsig not on PATH")
		}
		t.Skip("pdfsig not on PATH")
	}
	s1 := sign(t, genPDF(genOpts{xref: "stream"}), SignatureRequest{Page: 1, XMM: 20, YMM: 30, WidthMM: 40, HeightMM: 40})
	s2 := sign(t, s1, SignatureRequest{Page: 1, XMM: 80, YMM: 30, WidthMM: 40, HeightMM: 40})
	out, _ := appendDSS(t, s2, DSS{Certs: [][]byte{fakeDER(300)}})
	f := filepath.Join(t.TempDir(), "ltv.pdf")
	if err := os.WriteFile(f, out, 0o644); err != nil {
		t.Fatal(err)
	}
	res, _ := exec.Command(pdfsig, f).CombinedOutput()
	if n := strings.Count(string(res), "Signature #"); n != 2 {
		t.Fatalf("pdfsig lists %d signatures:\n%s", n, res)
	}
}

// FuzzDSS: reading a document security store, and extending it, never
// panics whatever the file holds.
func FuzzDSS(f *testing.F) {
	for _, o := range testShapes[:3] {
		in := genPDF(o)
		d, err := Open(bytes.NewReader(in), int64(len(in)))
		if err != nil {
			f.Fatal(err)
		}
		upd, err := d.AppendDSS(DSS{Certs: [][]byte{fakeDER(40)}, VRI: map[string]*VRI{VRIKey(nil): {CRLs: [][]byte{fakeDER(30)}}}})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append(in, upd...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		if _, err := d.DSS(); err != nil {
			return
		}
		d.AppendDSS(DSS{Certs: [][]byte{fakeDER(40)}, VRI: map[string]*VRI{VRIKey(b): {CRLs: [][]byte{fakeDER(30)}}}})
	})
}
