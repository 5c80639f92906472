package pdf

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"flag"
	"image"
	"image/color"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata fixtures")

// sealPicture is a red ring on a transparent background.
func sealPicture(opaque bool) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, 48, 48))
	for y := 0; y < 48; y++ {
		for x := 0; x < 48; x++ {
			r := math.Hypot(float64(x)-23.5, float64(y)-23.5)
			switch {
			case r > 18 && r < 23:
				img.SetNRGBA(x, y, color.NRGBA{220, 20, 20, 255})
			case opaque:
				img.SetNRGBA(x, y, color.NRGBA{255, 255, 255, 255})
			case y < 8: // a marker on top to see orientation
				img.SetNRGBA(x, y, color.NRGBA{0, 0, 200, 128})
			}
		}
	}
	return img
}

func testImage(t testing.TB) *Image {
	im, err := NewImage(sealPicture(false))
	if err != nil {
		t.Fatal(err)
	}
	return im
}

var signTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("CST", 8*3600))

func fakeDER(n int) []byte {
	b := make([]byte, n)
	b[0] = 0x30
	for i := 1; i < n; i++ {
		b[i] = byte(i*7 + 1)
	}
	return b
}

// sign appends one signature to in and checks the update's invariants.
func sign(t testing.TB, in []byte, req SignatureRequest) []byte {
	t.Helper()
	d, err := Open(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if req.Image == nil {
		req.Image = testImage(t)
	}
	if req.SigningTime.IsZero() {
		req.SigningTime = signTime
	}
	if req.ContentsSize == 0 {
		req.ContentsSize = 4096
	}
	u, err := d.PrepareSignature(req)
	if err != nil {
		t.Fatalf("PrepareSignature: %v", err)
	}
	h := sha256.New()
	if err := u.Digest(h); err != nil {
		t.Fatal(err)
	}
	digest := h.Sum(nil)
	if err := u.SetContents(fakeDER(req.ContentsSize + 1)); !errors.As(err, new(*ContentsTooLargeError)) {
		t.Fatalf("oversized contents: got %v", err)
	}
	if err := u.SetContents(fakeDER(1000)); err != nil {
		t.Fatal(err)
	}
	var w bytes.Buffer
	w.Write(in)
	u.WriteTo(&w)
	out := w.Bytes()
	if !bytes.HasPrefix(out, in) {
		t.Fatal("input is not a prefix of the output")
	}
	br := u.ByteRange()
	if br[0] != 0 || br[2]+br[3] != int64(len(out)) || out[br[1]] != '<' || out[br[2]-1] != '>' {
		t.Fatalf("bad ByteRange %v for %d bytes", br, len(out))
	}
	h2 := sha256.New()
	h2.Write(out[:br[1]])
	h2.Write(out[br[2] : br[2]+br[3]])
	if !bytes.Equal(digest, h2.Sum(nil)) {
		t.Fatal("Digest differs from hashing the ByteRange")
	}
	return out
}

func signatureNamed(t testing.TB, pdf []byte, name string) (*Document, Signature) {
	t.Helper()
	d, err := Open(bytes.NewReader(pdf), int64(len(pdf)))
	if err != nil {
		t.Fatalf("re-Open: %v", err)
	}
	sigs, err := d.Signatures()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sigs {
		if s.FieldName == name {
			return d, s
		}
	}
	t.Fatalf("no signature %q among %d", name, len(sigs))
	return nil, Signature{}
}

func TestSignShapes(t *testing.T) {
	shapes := map[string][]byte{}
	for _, o := range testShapes {
		shapes[o.name] = genPDF(o)
	}
	for _, name := range []string{"linearized.pdf", "qpdf-objstm.pdf"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			shapes[strings.TrimSuffix(name, ".pdf")] = b
		}
	}
	for name, in := range shapes {
		t.Run(name, func(t *testing.T) {
			out1 := sign(t, in, SignatureRequest{Page: 1, XMM: 20, YMM: 30, WidthMM: 40, HeightMM: 40,
				Name: "审批专用章", Reason: "approval", Location: "Hangzhou"})
			d1, s1 := signatureNamed(t, out1, "Seal1")
			if !s1.ByteRangeOK || !s1.CoversRevision || s1.RevisionEnd != int64(len(out1)) {
				t.Fatalf("first signature: ok=%v %q covers=%v end=%d len=%d", s1.ByteRangeOK, s1.ByteRangeProblem, s1.CoversRevision, s1.RevisionEnd, len(out1))
			}
			if s1.Name != "审批专用章" || s1.Page != 1 || s1.SubFilter != SubFilterPKCS7Detached || !s1.SigningTime.Equal(signTime) {
				t.Fatalf("first signature fields: %+v", s1)
			}
			if !bytes.HasPrefix(s1.Contents, fakeDER(1000)) {
				t.Fatal("contents not read back")
			}
			if revs := d1.Revisions(); revs[len(revs)-1] != int64(len(out1)) {
				t.Fatalf("revisions %v, len %d", revs, len(out1))
			}

			out2 := sign(t, out1, SignatureRequest{Page: 1, XMM: 80, YMM: 30, WidthMM: 40, HeightMM: 40, SubFilter: SubFilterCAdESDetached})
			d2, s2 := signatureNamed(t, out2, "Seal2")
			if !s2.ByteRangeOK || s2.RevisionEnd != int64(len(out2)) {
				t.Fatalf("second signature: %+v", s2.ByteRangeProblem)
			}
			_, s1b := signatureNamed(t, out2, "Seal1")
			if !s1b.ByteRangeOK || s1b.RevisionEnd != int64(len(out1)) {
				t.Fatalf("first signature in second output: %q end %d", s1b.ByteRangeProblem, s1b.RevisionEnd)
			}
			changes, err := d2.ChangesAfter(s1b.RevisionEnd)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range changes {
				if !c.Kind.Allowed() {
					t.Errorf("disallowed change after first signature: %+v", c)
				}
			}
			qpdfCheck(t, out1)
			qpdfCheck(t, out2)
			pdfcpuValidate(t, out2)
		})
	}
}

func requireTools() bool { return os.Getenv("ESEAL_REQUIRE_TOOLS") == "1" }

func qpdfCheck(t *testing.T, pdf []byte) {
	t.Helper()
	qpdf, err := exec.LookPath("qpdf")
	if err != nil {
		if requireTools() {
			t.Fatal("qpdf not on PATH")
		}
		t.Skip("qpdf not on PATH")
	}
	f := filepath.Join(t.TempDir(), "out.pdf")
	os.WriteFile(f, pdf, 0o644)
	out, err := exec.Command(qpdf, "--check", f).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No syntax or stream encoding errors") || strings.Contains(string(out), "WARNING") {
		t.Fatalf("qpdf --check: %v\n%s", err, out)
	}
}

// TestFixtures keeps testdata/ in step with the generator (go test -update).
func TestFixtures(t *testing.T) {
	for _, o := range testShapes {
		path := filepath.Join("testdata", o.name+".pdf")
		want := genPDF(o)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is stale; run go test ./pdf -run TestFixtures -update", path)
		}
	}
}
