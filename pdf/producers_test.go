package pdf

import (
	"bytes"
	"encoding/xml"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"eseal/pdf/pdftest"
)

// Keyword search on PDFs written by other producers. Where poppler's
// pdftotext is installed its word boxes are the independent oracle; the
// fixed expectations below were read from it once.

type popplerWord struct {
	page int
	text string
	rect [4]float64 // user space
}

// popplerWords runs pdftotext -bbox; nil when it is not installed.
func popplerWords(t *testing.T, pdf []byte) []popplerWord {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		if requireTools() {
			t.Fatal("pdftotext not on PATH")
		}
		return nil
	}
	f := filepath.Join(t.TempDir(), "in.pdf")
	os.WriteFile(f, pdf, 0o644)
	out, err := exec.Command(bin, "-bbox", f, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	var doc struct {
		Pages []struct {
			Height float64 `xml:"height,attr"`
			Words  []struct {
				XMin float64 `xml:"xMin,attr"`
				YMin float64 `xml:"yMin,attr"`
				XMax float64 `xml:"xMax,attr"`
				YMax float64 `xml:"yMax,attr"`
				Text string  `xml:",chardata"`
			} `xml:"word"`
		} `xml:"body>doc>page"`
	}
	dec := xml.NewDecoder(bytes.NewReader(out))
	dec.Strict = false
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("pdftotext output: %v", err)
	}
	var words []popplerWord
	for i, p := range doc.Pages {
		for _, w := range p.Words {
			words = append(words, popplerWord{i + 1, w.Text, [4]float64{w.XMin, p.Height - w.YMax, w.XMax, p.Height - w.YMin}})
		}
	}
	return words
}

// agrees checks a match against an expected box: the same horizontal
// extent and the same line (vertical centres within a quarter of the
// height; producers and poppler differ on ascent and descent).
func agrees(got, want [4]float64) bool {
	h := want[3] - want[1]
	return math.Abs(got[0]-want[0]) < 0.5 && math.Abs(got[2]-want[2]) < 0.5 &&
		math.Abs((got[1]+got[3])/2-(want[1]+want[3])/2) < h/4
}

type keywordCase struct {
	text string
	page int
	rect [4]float64 // expected box; x exact, y as agrees allows
	word bool       // the keyword is a whole pdftotext word: check against poppler too
	n    int        // matches in the document when not 1 (the same box on every page)
}

func checkKeywords(t *testing.T, pdf []byte, cases []keywordCase) {
	t.Helper()
	d, err := Open(bytes.NewReader(pdf), int64(len(pdf)))
	if err != nil {
		t.Fatal(err)
	}
	words := popplerWords(t, pdf)
	for _, kc := range cases {
		m, err := d.FindText(kc.text)
		if err != nil {
			t.Errorf("%s: %v", kc.text, err)
			continue
		}
		if len(m) != max(kc.n, 1) || m[0].Page != kc.page || !agrees(m[0].Rect, kc.rect) {
			t.Errorf("%s: got %+v, want page %d %v", kc.text, m, kc.page, kc.rect)
			continue
		}
		if !kc.word || words == nil {
			continue
		}
		found := false
		for _, w := range words {
			if w.text == kc.text && w.page == kc.page {
				found = true
				if !agrees(m[0].Rect, w.rect) {
					t.Errorf("%s: %v, poppler says %v", kc.text, m[0].Rect, w.rect)
				}
			}
		}
		if !found {
			t.Errorf("%s: poppler has no such word on page %d", kc.text, kc.page)
		}
	}
	if _, err := d.FindText("不在文中"); !isNotFound(err) {
		t.Errorf("absent keyword: %v", err)
	}
}

func isNotFound(err error) bool {
	_, ok := err.(*TextNotFoundError)
	return ok
}

// pdftestCases: pdftest.Document draws the title at 160 760 in 22 pt and
// "第n页，共m页" at 72 700 in 12 pt, STSong-Light/UniGB-UCS2-H, 1 em each.
var pdftestCases = []keywordCase{
	{text: "许可", page: 1, rect: [4]float64{160 + 2*22, 760 - 0.2*22, 160 + 4*22, 760 + 0.8*22}, n: 3},
	{text: "行政许可决定书", page: 1, rect: [4]float64{160, 760 - 0.2*22, 160 + 7*22, 760 + 0.8*22}, n: 3},
	{text: "第3页", page: 3, rect: [4]float64{72, 700 - 0.2*12, 72 + 3*12, 700 + 0.8*12}},
}

func TestKeywordHandWritten(t *testing.T) {
	checkKeywords(t, pdftest.Document(pdftest.Options{Pages: 3}), pdftestCases)
}

// TestKeywordQPDF searches the same document after qpdf compressed its
// content streams into Flate and its objects into object streams.
func TestKeywordQPDF(t *testing.T) {
	qpdf, err := exec.LookPath("qpdf")
	if err != nil {
		if requireTools() {
			t.Fatal("qpdf not on PATH")
		}
		t.Skip("qpdf not on PATH")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	os.WriteFile(in, pdftest.Document(pdftest.Options{Pages: 3}), 0o644)
	if b, err := exec.Command(qpdf, "--object-streams=generate", "--compress-streams=y", "--recompress-flate", in, out).CombinedOutput(); err != nil {
		t.Fatalf("qpdf: %v %s", err, b)
	}
	pdf, _ := os.ReadFile(out)
	if !bytes.Contains(pdf, []byte("/ObjStm")) || !bytes.Contains(pdf, []byte("/FlateDecode")) {
		t.Fatal("qpdf did not compress")
	}
	checkKeywords(t, pdf, pdftestCases)
}

// TestKeywordPDFCPU searches a text watermark pdfcpu draws with an
// embedded subset of WenQuanYi Zen Hei (Type0 Identity-H with ToUnicode,
// inside a Form XObject).
func TestKeywordPDFCPU(t *testing.T) {
	const ttc = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
	if _, err := os.Stat(ttc); err != nil {
		if requireTools() {
			t.Fatal("fonts-wqy-zenhei not installed")
		}
		t.Skip("fonts-wqy-zenhei not installed")
	}
	// pdfcpuCmd gives every call its own config dir; fonts must be
	// installed into the one the watermark call uses, so share it here.
	conf := pdfcpuConfig(t)
	run := func(args ...string) {
		t.Helper()
		bin, err := exec.LookPath("pdfcpu")
		if err != nil {
			if requireTools() {
				t.Fatal("pdfcpu not on PATH")
			}
			t.Skip("pdfcpu not on PATH")
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+conf)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pdfcpu %v: %v\n%s", args, err, out)
		}
	}
	run("fonts", "install", ttc)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	os.WriteFile(in, pdftest.Document(pdftest.Options{Pages: 2, Title: "Approval"}), 0o644)
	run("watermark", "add", "-m", "text", "--", "审批专用章 Seal",
		"fontname:WenQuanYiZenHei, points:24, scale:1 abs, pos:c, rot:0, fillc:#FF0000", in, out)
	pdf, _ := os.ReadFile(out)
	d, err := Open(bytes.NewReader(pdf), int64(len(pdf)))
	if err != nil {
		t.Fatal(err)
	}
	m, err := d.FindText("审批专用章")
	if err != nil || len(m) != 2 || m[0].Page != 1 || m[1].Page != 2 {
		t.Fatalf("matches %+v %v", m, err)
	}
	// Five 24 pt ideographs, centred on the A4 page with " Seal" after them.
	want := [4]float64{210.82, 409.05, 330.82, 433.03}
	for _, mm := range m {
		if !agrees(mm.Rect, want) {
			t.Errorf("page %d: %v, want %v", mm.Page, mm.Rect, want)
		}
	}
	if words := popplerWords(t, pdf); words != nil {
		n := 0
		for _, w := range words {
			if w.text == "审批专用章" {
				n++
				if !agrees(m[w.page-1].Rect, w.rect) {
					t.Errorf("page %d: %v, poppler says %v", w.page, m[w.page-1].Rect, w.rect)
				}
			}
		}
		if n != 2 {
			t.Errorf("poppler found the watermark %d times", n)
		}
	}
}

// libreOfficeCases are the keywords of testdata/libreoffice-*.pdf, which
// LibreOffice 7.4 (Debian 12) converted from testdata/libreoffice/ with
// WenQuanYi Zen Hei embedded as subset TrueType fonts with ToUnicode.
var libreOfficeCases = map[string][]keywordCase{
	"licence": {
		{text: "（盖章）", page: 1, rect: [4]float64{56.8, 695.69, 96.8, 708.69}, word: true},
		{text: "盖章", page: 1, rect: [4]float64{66.8, 695.69, 86.8, 708.69}},
		{text: "杭州市市场监督管理局", page: 1, rect: [4]float64{56.8, 682.19, 156.8, 695.19}, word: true},
		{text: "2024-17", page: 1, rect: [4]float64{134.98, 720.19, 177.09, 733.19}, word: true},
		{text: "Approval No.", page: 1, rect: [4]float64{56.8, 720.19, 129.0, 733.19}},
		{text: "2024年5月6日", page: 1, rect: [4]float64{56.8, 668.69, 132.9, 681.69}},
	},
	"permit": {
		{text: "发证机关（盖章）", page: 2, rect: [4]float64{56.8, 785.49, 216.8, 811.49}, word: true},
		{text: "盖章", page: 2, rect: [4]float64{156.8, 785.49, 196.8, 811.49}},
		{text: "杭州市西湖区市场监督管理局", page: 2, rect: [4]float64{411.1, 758.59, 567.1, 774.19}, word: true},
		{text: "中华人民共和国食品经营许可证", page: 1, rect: [4]float64{144, 767.89, 480, 799.09}, word: true},
		{text: "JY13301060012345", page: 1, rect: [4]float64{128.8, 720.59, 240.83, 736.19}},
	},
}

func TestKeywordLibreOffice(t *testing.T) {
	for name, cases := range libreOfficeCases {
		t.Run(name, func(t *testing.T) {
			pdf, err := os.ReadFile(filepath.Join("testdata", "libreoffice-"+name+".pdf"))
			if err != nil {
				t.Fatal(err)
			}
			d, err := Open(bytes.NewReader(pdf), int64(len(pdf)))
			if err != nil {
				t.Fatal(err)
			}
			info, _ := d.resolveDict(d.Trailer()["Info"])
			if p, _ := info["Producer"].(String); !strings.HasPrefix(decodeText(p), "LibreOffice") {
				t.Fatalf("fixture produced by %q", decodeText(p))
			}
			checkKeywords(t, pdf, cases)
		})
	}
}

// TestKeywordLibreOfficeLive converts the fixture sources with the
// installed LibreOffice and checks every keyword against poppler's word
// boxes for the same file. Positions are never taken from the fixtures:
// they depend on the fonts and the LibreOffice version of this machine.
func TestKeywordLibreOfficeLive(t *testing.T) {
	soffice, err := exec.LookPath("soffice")
	if err != nil || testing.Short() {
		if requireTools() && err != nil {
			t.Fatal("soffice not on PATH")
		}
		t.Skip("soffice not on PATH or -short")
	}
	dir := t.TempDir()
	for _, src := range []struct{ file, filter string }{
		{"licence.txt", "Text (encoded):UTF8"},
		{"permit.html", "HTML (StarWriter)"},
	} {
		b, _ := os.ReadFile(filepath.Join("testdata", "libreoffice", src.file))
		os.WriteFile(filepath.Join(dir, src.file), b, 0o644)
		cmd := exec.Command(soffice, "-env:UserInstallation=file://"+filepath.Join(dir, "profile"), "--headless",
			"--infilter="+src.filter, "--convert-to", "pdf:writer_pdf_Export", "--outdir", dir, filepath.Join(dir, src.file))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("soffice: %v %s", err, out)
		}
		name := strings.TrimSuffix(src.file, filepath.Ext(src.file))
		pdf, err := os.ReadFile(filepath.Join(dir, name+".pdf"))
		if err != nil {
			t.Fatal(err)
		}
		words := popplerWords(t, pdf)
		if words == nil {
			t.Skip("pdftotext not on PATH")
		}
		var texts []string
		for _, kc := range libreOfficeCases[name] {
			texts = append(texts, kc.text)
		}
		checkKeywordsAgainst(t, pdf, words, texts)
		if *update {
			os.WriteFile(filepath.Join("testdata", "libreoffice-"+name+".pdf"), pdf, 0o644)
		}
	}
}

// popplerHolder is the poppler word on page that holds text, or the run of
// consecutive words that spells it (poppler splits words at spaces and at
// wide gaps, as between "2024" and "年"), as one word with the union of
// their boxes.
func popplerHolder(words []popplerWord, page int, text string) *popplerWord {
	for i, w := range words {
		if w.page != page {
			continue
		}
		if strings.Contains(w.text, text) {
			return &words[i]
		}
		run := w
		joined, spaced := w.text, w.text
		for _, n := range words[i+1:] {
			if n.page != page || (len(joined) >= len(text) && len(spaced) >= len(text)) {
				break
			}
			joined, spaced = joined+n.text, spaced+" "+n.text
			run.rect[0], run.rect[1] = min(run.rect[0], n.rect[0]), min(run.rect[1], n.rect[1])
			run.rect[2], run.rect[3] = max(run.rect[2], n.rect[2]), max(run.rect[3], n.rect[3])
			if joined == text || spaced == text {
				run.text = text
				return &run
			}
		}
	}
	return nil
}

// checkKeywordsAgainst finds each text with FindText and with poppler: the
// text must be found once, on the page of the poppler word holding it, and
// on that word's line; a text that is a whole poppler word must have that
// word's horizontal extent, a part of a word must lie inside it.
func checkKeywordsAgainst(t *testing.T, pdf []byte, words []popplerWord, texts []string) {
	t.Helper()
	d, err := Open(bytes.NewReader(pdf), int64(len(pdf)))
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range texts {
		m, err := d.FindText(text)
		if err != nil || len(m) != 1 {
			t.Errorf("%s: %+v %v, want one match", text, m, err)
			continue
		}
		got := m[0].Rect
		holder := popplerHolder(words, m[0].Page, text)
		if holder == nil {
			t.Errorf("%s: poppler has no word holding it on page %d", text, m[0].Page)
			continue
		}
		w := holder.rect
		sameLine := math.Abs((got[1]+got[3])/2-(w[1]+w[3])/2) < (w[3]-w[1])/4
		if holder.text == text {
			if !agrees(got, w) {
				t.Errorf("%s: %v, poppler says %v", text, got, w)
			}
		} else if !sameLine || got[0] < w[0]-0.5 || got[2] > w[2]+0.5 {
			t.Errorf("%s: %v not inside poppler's word %q %v", text, got, holder.text, w)
		}
	}
}
