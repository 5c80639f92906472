package pdf

import (
	"bytes"
	"testing"
)

func TestInspect(t *testing.T) {
	classic := genPDF(genOpts{pages: 3})
	for _, tc := range []struct {
		name      string
		in        []byte
		pages     int
		encrypted bool
		err       bool
	}{
		{name: "three pages", in: classic, pages: 3},
		{name: "xref stream", in: genPDF(genOpts{xref: "stream"}), pages: 1},
		{name: "encrypted", in: bytes.Replace(classic, []byte("trailer\n<<"), []byte("trailer\n<</Encrypt<</Filter/Standard/V 2>>"), 1), encrypted: true},
		{name: "not a PDF", in: []byte("hello, world"), err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Inspect(bytes.NewReader(tc.in), int64(len(tc.in)))
			if (got.Err != nil) != tc.err || got.Encrypted != tc.encrypted || got.Pages != tc.pages || got.EmbeddedFiles {
				t.Errorf("Inspect = %+v, want pages %d, encrypted %v, error %v, no embedded files", got, tc.pages, tc.encrypted, tc.err)
			}
		})
	}
}
