package ses

import (
	"os"
	"path/filepath"
	"testing"
)

func addFixtureSeeds(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "gbt38540", "*"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x00})
}

// FuzzParseSeal checks that ParseSeal and everything on a parsed seal never
// panic, and that failures are FormatErrors.
func FuzzParseSeal(f *testing.F) {
	addFixtureSeeds(f)
	f.Fuzz(func(t *testing.T, der []byte) {
		s, err := ParseSeal(der)
		if err != nil {
			if _, ok := err.(*FormatError); !ok {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		_ = s.VerifyMakerSignature()
		_ = s.ValidAt(s.CreateDate)
		_ = s.AllowsSigner(s.MakerCert)
	})
}

// FuzzParseSignature checks that ParseSignature and Verify never panic.
func FuzzParseSignature(f *testing.F) {
	addFixtureSeeds(f)
	f.Fuzz(func(t *testing.T, der []byte) {
		sg, err := ParseSignature(der)
		if err != nil {
			if _, ok := err.(*FormatError); !ok {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		_ = sg.Verify()
		_ = sg.Seal.VerifyMakerSignature()
		_ = sg.Seal.AllowsSigner(sg.Cert)
	})
}
