package seal_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eseal/pdf"
	"eseal/pdf/attack"
	"eseal/seal"
)

// randomEnv, set to a duration ("5m"), runs TestRandomRevisions that long
// instead of a few seconds.
const randomEnv = "ESEAL_RANDOM_REVISIONS"

// TestRandomRevisions appends random well-formed revisions to a stamped
// document, seeded: whenever poppler renders the final file differently
// from the signed revision, the verdict is not plain VALID.
func TestRandomRevisions(t *testing.T) {
	budget := 4 * time.Second
	if v := os.Getenv(randomEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s=%q: %v", randomEnv, v, err)
		}
		budget = d
	}
	r := newRevisionRig(t)
	start := time.Now()
	runs, differing := 0, 0
	for seed := int64(1); time.Since(start) < budget || runs < 8; seed++ {
		if r.run(t, seed) {
			differing++
		}
		runs++
	}
	t.Logf("%d random documents in %s, %d rendered differently from the signed revision", runs, time.Since(start).Round(time.Millisecond), differing)
	if differing == 0 || differing == runs {
		t.Fatalf("the generator is not exercising both outcomes: %d of %d differ", differing, runs)
	}
}

// FuzzRandomRevisions is TestRandomRevisions driven by the fuzzer's seeds
// (make fuzz).
func FuzzRandomRevisions(f *testing.F) {
	r := newRevisionRig(f)
	for i := uint64(1); i <= 4; i++ {
		f.Add(binary.LittleEndian.AppendUint64(nil, i))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var seed int64
		for i, c := range b {
			seed ^= int64(c) << (8 * (i % 8))
		}
		r.run(t, seed)
	})
}

type revisionRig struct {
	fx       *fixture
	v        *seal.Verifier
	signed   []byte
	pdftoppm string
	want     []byte // the signed revision rendered
	dir      string
}

func newRevisionRig(tb testing.TB) *revisionRig {
	tb.Helper()
	p, err := exec.LookPath("pdftoppm")
	if err != nil {
		if os.Getenv("ESEAL_REQUIRE_TOOLS") == "1" {
			tb.Fatal("pdftoppm not on PATH (ESEAL_REQUIRE_TOOLS=1)")
		}
		tb.Skip("pdftoppm not on PATH")
	}
	fx := newFixture(tb)
	r := &revisionRig{fx: fx, v: fx.verifier(tb), signed: fx.stamp(tb, attack.Input(), 1), pdftoppm: p, dir: tb.TempDir()}
	r.want = r.render(tb, r.signed)
	return r
}

// render rasterises page 1 at a low resolution: enough to see any drawing
// that moved or changed.
func (r *revisionRig) render(tb testing.TB, b []byte) []byte {
	in := filepath.Join(r.dir, "in.pdf")
	if err := os.WriteFile(in, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	out, err := exec.Command(r.pdftoppm, "-r", "24", "-gray", "-f", "1", "-l", "1", in).Output()
	if err != nil {
		tb.Fatalf("pdftoppm: %v", err)
	}
	return out
}

// run appends one to three random revisions and checks the verdict against
// the rendering; it reports whether the rendering differed.
func (r *revisionRig) run(tb testing.TB, seed int64) bool {
	rng := rand.New(rand.NewSource(seed))
	b := r.signed
	var did []string
	for n := 1 + rng.Intn(3); n > 0; n-- {
		if rng.Intn(6) == 0 { // another seal, as eseal stamps it
			p := seal.Placement{Page: 1, XMM: float64(10 + rng.Intn(150)), YMM: float64(10 + rng.Intn(250))}
			res, err := (&seal.Stamper{Registry: r.fx.reg}).Stamp(context.Background(), bytes.NewReader(b), int64(len(b)),
				seal.SignRequest{SealID: r.fx.sealID, Placement: p})
			if errors.As(err, new(*pdf.PlacementError)) {
				continue // a random revision shrank the page
			}
			if err != nil {
				tb.Fatalf("seed %d: stamp: %v", seed, err)
			}
			b = append(append([]byte{}, b...), res.Update...)
			did = append(did, fmt.Sprintf("seal at %.0f,%.0f mm", p.XMM, p.YMM))
			continue
		}
		var what string
		var err error
		if b, what, err = attack.RandomRevision(rng, b); err != nil {
			tb.Fatalf("seed %d: %v", seed, err)
		}
		did = append(did, what)
	}
	rep, err := r.v.VerifyPDF(context.Background(), bytes.NewReader(b), int64(len(b)))
	if err != nil {
		tb.Fatal(err)
	}
	differs := !bytes.Equal(r.render(tb, b), r.want)
	if differs && rep.Summary == string(seal.Valid) {
		tb.Fatalf("seed %d (%s): rendered differently from the signed revision, yet plain VALID", seed, strings.Join(did, "; "))
	}
	return differs
}
