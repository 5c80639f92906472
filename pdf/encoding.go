package pdf

// Tables for decoding text of simple fonts: the built-in encodings of
// ISO 32000-1 Annex D, the glyph names they use (a subset of the Adobe Glyph
// List), metrics of the standard 14 fonts for files that omit /Widths, and
// the Kangxi radicals that CJK producers put into ToUnicode maps in place of
// the ideographs they look like.

import (
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// textTables are the tables below that need building. They are built on
// first use — only text extraction (placing a seal by keyword) reads them —
// so that a command which never looks at text does not pay for them at
// start-up.
type textTables struct {
	glyphNames                                          map[string]rune
	standardEncoding, winAnsiEncoding, macRomanEncoding [256]rune
	fallbackFont                                        *font
}

var tables = sync.OnceValue(func() *textTables {
	t := &textTables{glyphNames: glyphNames()}
	t.standardEncoding, t.winAnsiEncoding, t.macRomanEncoding = baseEncodings()
	t.fallbackFont = newFallbackFont(&t.standardEncoding)
	return t
})

// asciiNames are the glyph names of codes 0x20–0x7E in WinAnsiEncoding.
const asciiNames = `space exclam quotedbl numbersign dollar percent ampersand quotesingle
parenleft parenright asterisk plus comma hyphen period slash zero one two three four five six seven
eight nine colon semicolon less equal greater question at A B C D E F G H I J K L M N O P Q R S T U V
W X Y Z bracketleft backslash bracketright asciicircum underscore grave a b c d e f g h i j k l m n o
p q r s t u v w x y z braceleft bar braceright asciitilde`

// latin1Names are the glyph names of U+00A1–U+00FF.
const latin1Names = `exclamdown cent sterling currency yen brokenbar section dieresis
copyright ordfeminine guillemotleft logicalnot hyphen registered macron degree plusminus twosuperior
threesuperior acute mu paragraph periodcentered cedilla onesuperior ordmasculine guillemotright
onequarter onehalf threequarters questiondown Agrave Aacute Acircumflex Atilde Adieresis Aring AE
Ccedilla Egrave Eacute Ecircumflex Edieresis Igrave Iacute Icircumflex Idieresis Eth Ntilde Ograve
Oacute Ocircumflex Otilde Odieresis multiply Oslash Ugrave Uacute Ucircumflex Udieresis Yacute Thorn
germandbls agrave aacute acircumflex atilde adieresis aring ae ccedilla egrave eacute ecircumflex
edieresis igrave iacute icircumflex idieresis eth ntilde ograve oacute ocircumflex otilde odieresis
divide oslash ugrave uacute ucircumflex udieresis yacute thorn ydieresis`

// glyphNames maps the glyph names of the Latin text encodings to their
// runes: asciiNames, latin1Names and the others below.
func glyphNames() map[string]rune {
	m := make(map[string]rune, 260)
	for i, n := range strings.Fields(asciiNames) {
		m[n] = rune(0x20 + i)
	}
	for i, n := range strings.Fields(latin1Names) {
		if _, ok := m[n]; !ok { // "hyphen" stays U+002D
			m[n] = rune(0xa1 + i)
		}
	}
	others := map[string]rune{
		"quoteleft": '‘', "quoteright": '’', "quotedblleft": '“', "quotedblright": '”',
		"quotesinglbase": '‚', "quotedblbase": '„', "guilsinglleft": '‹', "guilsinglright": '›',
		"endash": '–', "emdash": '—', "bullet": '•', "ellipsis": '…', "dagger": '†', "daggerdbl": '‡',
		"perthousand": '‰', "Euro": '€', "florin": 'ƒ', "circumflex": 'ˆ', "tilde": '˜', "trademark": '™',
		"Scaron": 'Š', "scaron": 'š', "Zcaron": 'Ž', "zcaron": 'ž', "OE": 'Œ', "oe": 'œ', "Ydieresis": 'Ÿ',
		"minus": '−', "fraction": '⁄', "dotlessi": 'ı', "Lslash": 'Ł', "lslash": 'ł', "breve": '˘',
		"dotaccent": '˙', "ring": '˚', "hungarumlaut": '˝', "ogonek": '˛', "caron": 'ˇ', "nbspace": '\u00a0',
		"fi": 'ﬁ', "fl": 'ﬂ', "notequal": '≠', "infinity": '∞', "lessequal": '≤', "greaterequal": '≥',
		"partialdiff": '∂', "summation": '∑', "product": '∏', "pi": 'π', "integral": '∫', "Omega": 'Ω',
		"radical": '√', "approxequal": '≈', "Delta": '∆', "lozenge": '◊', "apple": '\uf8ff',
		"sfthyphen": '\u00ad', "middot": '·', "periodcentered": '·', "quotereversed": '‛',
	}
	for n, r := range others {
		m[n] = r
	}
	return m
}

// glyphText maps a glyph name to its text: the table above, uniXXXX[XXXX…],
// uXXXX[XX], ligatures joined with "_" and variants suffixed with ".xxx".
func glyphText(name string) (string, bool) {
	if i := strings.IndexByte(name, '.'); i > 0 {
		name = name[:i]
	}
	if strings.Contains(name, "_") {
		var b strings.Builder
		for _, part := range strings.Split(name, "_") {
			s, ok := glyphText(part)
			if !ok {
				return "", false
			}
			b.WriteString(s)
		}
		return b.String(), true
	}
	if r, ok := tables().glyphNames[name]; ok {
		return string(r), true
	}
	if h, ok := strings.CutPrefix(name, "uni"); ok && len(h) >= 4 && len(h)%4 == 0 {
		var b strings.Builder
		for i := 0; i < len(h); i += 4 {
			v, err := strconv.ParseUint(h[i:i+4], 16, 32)
			if err != nil || (v >= 0xd800 && v <= 0xdfff) {
				return "", false
			}
			b.WriteRune(rune(v))
		}
		return b.String(), true
	}
	if h, ok := strings.CutPrefix(name, "u"); ok && len(h) >= 4 && len(h) <= 6 {
		v, err := strconv.ParseUint(h, 16, 32)
		if err == nil && utf8.ValidRune(rune(v)) {
			return string(rune(v)), true
		}
	}
	return "", false
}

// baseEncodings returns the base encodings, code → rune (0 = undefined).
func baseEncodings() (standardEncoding, winAnsiEncoding, macRomanEncoding [256]rune) {
	for c := 0x20; c < 0x7f; c++ {
		standardEncoding[c] = rune(c)
		winAnsiEncoding[c] = rune(c)
		macRomanEncoding[c] = rune(c)
	}
	standardEncoding['\''] = '’'
	standardEncoding['`'] = '‘'
	std := map[int]rune{
		0xa1: '¡', 0xa2: '¢', 0xa3: '£', 0xa4: '⁄', 0xa5: '¥', 0xa6: 'ƒ', 0xa7: '§', 0xa8: '¤',
		0xa9: '\'', 0xaa: '“', 0xab: '«', 0xac: '‹', 0xad: '›', 0xae: 'ﬁ', 0xaf: 'ﬂ', 0xb1: '–',
		0xb2: '†', 0xb3: '‡', 0xb4: '·', 0xb6: '¶', 0xb7: '•', 0xb8: '‚', 0xb9: '„', 0xba: '”',
		0xbb: '»', 0xbc: '…', 0xbd: '‰', 0xbf: '¿', 0xc1: '`', 0xc2: '´', 0xc3: 'ˆ', 0xc4: '˜',
		0xc5: '¯', 0xc6: '˘', 0xc7: '˙', 0xc8: '¨', 0xca: '˚', 0xcb: '¸', 0xcd: '˝', 0xce: '˛',
		0xcf: 'ˇ', 0xd0: '—', 0xe1: 'Æ', 0xe3: 'ª', 0xe8: 'Ł', 0xe9: 'Ø', 0xea: 'Œ', 0xeb: 'º',
		0xf1: 'æ', 0xf5: 'ı', 0xf8: 'ł', 0xf9: 'ø', 0xfa: 'œ', 0xfb: 'ß',
	}
	for c, r := range std {
		standardEncoding[c] = r
	}
	for i, r := range []rune("€\x00‚ƒ„…†‡ˆ‰Š‹Œ\x00Ž\x00\x00‘’“”•–—˜™š›œ\x00žŸ") {
		winAnsiEncoding[0x80+i] = r
	}
	for c := 0xa0; c <= 0xff; c++ {
		winAnsiEncoding[c] = rune(c)
	}
	for i, r := range []rune("ÄÅÇÉÑÖÜáàâäãåçéèêëíìîïñóòôöõúùûü†°¢£§•¶ß®©™´¨≠ÆØ∞±≤≥¥µ∂∑∏π∫ªºΩæø" +
		"¿¡¬√ƒ≈∆«»…\u00a0ÀÃÕŒœ–—“”‘’÷◊ÿŸ⁄¤‹›ﬁﬂ‡·‚„‰ÂÊÁËÈÍÎÏÌÓÔ\uf8ffÒÚÛÙıˆ˜¯˘˙˚¸˝˛ˇ") {
		macRomanEncoding[0x80+i] = r
	}
	return
}

// Widths of codes 0x20–0x7E in the standard 14 fonts, for the files that
// rely on a viewer knowing them. Bold and italic faces use the regular
// widths: close enough for a search box.
var (
	helveticaWidths = [95]int16{278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
		556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015,
		667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611,
		278, 278, 278, 469, 556, 333,
		556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500,
		334, 260, 334, 584}
	timesWidths = [95]int16{250, 333, 408, 500, 500, 833, 778, 180, 333, 333, 500, 564, 250, 333, 250, 278,
		500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 278, 278, 564, 564, 564, 444, 921,
		722, 667, 667, 722, 611, 556, 722, 722, 333, 389, 722, 611, 889, 722, 722, 556, 722, 667, 556, 611, 722, 722, 944, 722, 722, 611,
		333, 278, 333, 469, 500, 333,
		444, 500, 444, 500, 444, 333, 500, 500, 278, 278, 500, 278, 778, 500, 500, 500, 500, 333, 389, 278, 500, 500, 722, 500, 500, 444,
		480, 200, 480, 541}
)

// standardWidth returns the width of an ASCII code in a standard font
// named base, in thousandths of an em.
func standardWidth(base string, code int) (float64, bool) {
	b := strings.ToLower(base)
	var tab *[95]int16
	switch {
	case strings.Contains(b, "courier"):
		return 600, true
	case strings.Contains(b, "helvetica") || strings.Contains(b, "arial"):
		tab = &helveticaWidths
	case strings.Contains(b, "times"):
		tab = &timesWidths
	default:
		return 0, false
	}
	if code < 0x20 || code > 0x7e {
		return 0, false
	}
	return float64(tab[code-0x20]), true
}

// kangxiRadicals are the ideographs U+2F00–U+2FD5 stand for (their NFKC
// forms). Word and WPS often map glyphs such as 用 to ⽤ in ToUnicode.
const kangxiRadicals = "一丨丶丿乙亅二亠人儿入八冂冖冫几凵刀力勹匕匚匸十卜卩厂厶又口囗土士夂夊夕大女子宀寸小尢尸屮山巛工己巾干幺广廴廾弋弓彐彡彳心戈戶手支攴文斗斤方无日曰月木欠止歹殳毋比毛氏气水火爪父爻爿片牙牛犬玄玉瓜瓦甘生用田疋疒癶白皮皿目矛矢石示禸禾穴立竹米糸缶网羊羽老而耒耳聿肉臣自至臼舌舛舟艮色艸虍虫血行衣襾見角言谷豆豕豸貝赤走足身車辛辰辵邑酉釆里金長門阜隶隹雨靑非面革韋韭音頁風飛食首香馬骨高髟鬥鬯鬲鬼魚鳥鹵鹿麥麻黃黍黑黹黽鼎鼓鼠鼻齊齒龍龜龠"

var kangxi = []rune(kangxiRadicals)

// foldRune normalises a rune for keyword matching: full-width ASCII forms
// to ASCII, Kangxi radicals to ideographs.
func foldRune(r rune) rune {
	switch {
	case r >= 0xff01 && r <= 0xff5e:
		return r - 0xfee0
	case r >= 0x2f00 && r < 0x2f00+rune(len(kangxi)):
		return kangxi[r-0x2f00]
	}
	return r
}
