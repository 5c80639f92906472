package seal_test

import (
	"regexp"
	"strings"
	"testing"

	"eseal/seal"
)

// caseNoSpec is the rule ValidCaseNo implements by hand (it once was this
// expression, compiled at start-up).
var caseNoSpec = regexp.MustCompile(`^[\p{L}\p{N}〔〕()（）\-_/.#:]{1,64}$`)

func TestValidCaseNo(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"余行审〔2026〕123号", true},
		{"ZJ-2026/000123", true},
		{"A", true},
		{"（2026）第1号#3:4.5_6", true},
		{"١٢٣", true},                   // Arabic-Indic digits are numbers
		{strings.Repeat("号", 64), true}, // 64 runes, 192 bytes
		{strings.Repeat("号", 65), false},
		{"", false},
		{"a b", false},
		{"a\nb", false},
		{"2026\n", false},
		{"<script>", false},
		{"a;b", false},
		{"\xff", false},   // invalid UTF-8
		{"\uFFFD", false}, // what invalid UTF-8 decodes to
		{"a\x00", false},
		{"①", true},        // a number (No)
		{"a\u0301", false}, // a combining mark is neither letter nor number
	} {
		if got := seal.ValidCaseNo(tc.in); got != tc.want || got != caseNoSpec.MatchString(tc.in) {
			t.Errorf("ValidCaseNo(%q) = %v, want %v (expression: %v)", tc.in, got, tc.want, caseNoSpec.MatchString(tc.in))
		}
	}
}

// FuzzValidCaseNo: the hand-written check agrees with the expression.
func FuzzValidCaseNo(f *testing.F) {
	for _, s := range []string{"余行审〔2026〕123号", "", "a b", strings.Repeat("x", 65), "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := seal.ValidCaseNo(s), caseNoSpec.MatchString(s); got != want {
			t.Fatalf("ValidCaseNo(%q) = %v, the expression says %v", s, got, want)
		}
	})
}
