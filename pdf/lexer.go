package pdf

import (
	"io"
	"strconv"
)

// maxDepth bounds nesting of arrays and dictionaries so hostile input cannot
// exhaust the stack.
const maxDepth = 64

// A lexer tokenizes and parses PDF objects from a ReaderAt through a small
// sliding window, so only the bytes around the wanted object are read.
type lexer struct {
	r     io.ReaderAt // nil when buf holds the whole source
	size  int64
	buf   []byte // source bytes starting at base
	base  int64
	pos   int64
	depth int

	// spanHook, when set, is called for every dictionary parsed with the
	// byte spans of its string values; Signatures uses it to find where a
	// /Contents string lies in the file.
	spanHook func(d Dict, spans map[Name][2]int64)
}

const lexChunk = 4096

func newLexer(r io.ReaderAt, size, pos int64) *lexer {
	return &lexer{r: r, size: size, pos: pos}
}

func newBytesLexer(b []byte) *lexer {
	return &lexer{buf: b, size: int64(len(b))}
}

// at returns the byte at p, or -1 outside the source.
func (l *lexer) at(p int64) int {
	if p < 0 || p >= l.size {
		return -1
	}
	if p >= l.base && p < l.base+int64(len(l.buf)) {
		return int(l.buf[p-l.base])
	}
	if l.r == nil {
		return -1
	}
	end := l.base + int64(len(l.buf))
	if p == end && len(l.buf) > 0 && len(l.buf) < 1<<20 {
		n := min(int64(lexChunk), l.size-p)
		old := len(l.buf)
		l.buf = append(l.buf, make([]byte, n)...)
		m, _ := l.r.ReadAt(l.buf[old:], p)
		l.buf = l.buf[:old+m]
	} else {
		n := min(int64(lexChunk), l.size-p)
		if cap(l.buf) >= int(n) && cap(l.buf) <= 1<<16 {
			l.buf = l.buf[:n]
		} else {
			l.buf = make([]byte, n)
		}
		m, _ := l.r.ReadAt(l.buf, p)
		l.buf = l.buf[:m]
		l.base = p
	}
	if p >= l.base && p < l.base+int64(len(l.buf)) {
		return int(l.buf[p-l.base])
	}
	return -1
}

func isWS(c int) bool {
	return c == 0 || c == 9 || c == 10 || c == 12 || c == 13 || c == 32
}

func isDelim(c int) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func isRegular(c int) bool { return c >= 0 && !isWS(c) && !isDelim(c) }

func isDigit(c int) bool { return c >= '0' && c <= '9' }

func (l *lexer) errf(format string, args ...any) error {
	return formatErr(l.pos, format, args...)
}

// skipWS skips white space and comments.
func (l *lexer) skipWS() {
	for {
		c := l.at(l.pos)
		if isWS(c) {
			l.pos++
			continue
		}
		if c == '%' {
			for c != -1 && c != '\n' && c != '\r' {
				l.pos++
				c = l.at(l.pos)
			}
			continue
		}
		return
	}
}

// token reads a run of regular characters.
func (l *lexer) token() string {
	start := l.pos
	var b []byte
	for isRegular(l.at(l.pos)) {
		b = append(b, byte(l.at(l.pos)))
		l.pos++
		if l.pos-start > 256 {
			break
		}
	}
	return string(b)
}

// keyword skips white space and reads a bare word.
func (l *lexer) keyword() string {
	l.skipWS()
	return l.token()
}

// integer reads a non-negative or signed integer token.
func (l *lexer) integer() (int64, bool) {
	l.skipWS()
	start := l.pos
	t := l.token()
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		l.pos = start
		return 0, false
	}
	return n, true
}

// object parses one object. Keywords other than true/false/null come back
// as keyword values so the caller can handle obj/endobj/stream.
func (l *lexer) object() (Object, error) {
	l.depth++
	defer func() { l.depth-- }()
	if l.depth > maxDepth {
		return nil, l.errf("objects nested too deeply")
	}
	l.skipWS()
	c := l.at(l.pos)
	switch {
	case c == -1:
		return nil, l.errf("unexpected end of data")
	case c == '/':
		l.pos++
		return l.name(), nil
	case c == '(':
		l.pos++
		return l.literal()
	case c == '<':
		if l.at(l.pos+1) == '<' {
			l.pos += 2
			return l.dict()
		}
		l.pos++
		return l.hex()
	case c == '[':
		l.pos++
		return l.array()
	case c == '+' || c == '-' || c == '.' || isDigit(c):
		return l.number()
	case isRegular(c):
		switch t := l.token(); t {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "null":
			return nil, nil
		default:
			return keyword(t), nil
		}
	}
	return nil, l.errf("unexpected character %q", rune(c))
}

func unhex(c int) int {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return -1
}

func (l *lexer) name() Name {
	var b []byte
	for {
		c := l.at(l.pos)
		if !isRegular(c) {
			break
		}
		if c == '#' {
			h, lo := unhex(l.at(l.pos+1)), unhex(l.at(l.pos+2))
			if h >= 0 && lo >= 0 {
				b = append(b, byte(h<<4|lo))
				l.pos += 3
				continue
			}
		}
		b = append(b, byte(c))
		l.pos++
	}
	return Name(b)
}

func (l *lexer) literal() (Object, error) {
	var b []byte
	nest := 1
	for {
		c := l.at(l.pos)
		l.pos++
		switch c {
		case -1:
			return nil, l.errf("unterminated string")
		case '(':
			nest++
		case ')':
			nest--
			if nest == 0 {
				return String(b), nil
			}
		case '\r':
			if l.at(l.pos) == '\n' {
				l.pos++
			}
			c = '\n'
		case '\\':
			e := l.at(l.pos)
			l.pos++
			switch e {
			case -1:
				return nil, l.errf("unterminated string")
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if l.at(l.pos) == '\n' {
					l.pos++
				}
				continue
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					v := e - '0'
					for i := 0; i < 2; i++ {
						d := l.at(l.pos)
						if d < '0' || d > '7' {
							break
						}
						v = v*8 + d - '0'
						l.pos++
					}
					c = v & 0xff
				} else {
					c = e
				}
			}
		}
		b = append(b, byte(c))
	}
}

func (l *lexer) hex() (Object, error) {
	var b []byte
	hi := -1
	for {
		c := l.at(l.pos)
		l.pos++
		if c == '>' {
			break
		}
		if isWS(c) {
			continue
		}
		v := unhex(c)
		if v < 0 {
			return nil, l.errf("bad character in hex string")
		}
		if hi < 0 {
			hi = v
		} else {
			b = append(b, byte(hi<<4|v))
			hi = -1
		}
	}
	if hi >= 0 {
		b = append(b, byte(hi<<4))
	}
	return String(b), nil
}

func (l *lexer) array() (Object, error) {
	a := Array{}
	for {
		l.skipWS()
		c := l.at(l.pos)
		if c == ']' {
			l.pos++
			return a, nil
		}
		if c == -1 {
			return nil, l.errf("unterminated array")
		}
		o, err := l.object()
		if err != nil {
			return nil, err
		}
		if k, ok := o.(keyword); ok {
			return nil, l.errf("unexpected %q in array", string(k))
		}
		a = append(a, o)
	}
}

func (l *lexer) dict() (Object, error) {
	d := Dict{}
	var spans map[Name][2]int64
	for {
		l.skipWS()
		c := l.at(l.pos)
		if c == '>' && l.at(l.pos+1) == '>' {
			l.pos += 2
			if l.spanHook != nil {
				l.spanHook(d, spans)
			}
			return d, nil
		}
		if c != '/' {
			return nil, l.errf("dictionary key is not a name")
		}
		l.pos++
		k := l.name()
		l.skipWS()
		start := l.pos
		v, err := l.object()
		if err != nil {
			return nil, err
		}
		if _, ok := v.(keyword); ok {
			return nil, l.errf("unexpected keyword in dictionary")
		}
		if l.spanHook != nil {
			if _, ok := v.(String); ok {
				if spans == nil {
					spans = map[Name][2]int64{}
				}
				spans[k] = [2]int64{start, l.pos}
			}
		}
		d[k] = v
	}
}

// number parses a number, and "n g R" as a reference.
func (l *lexer) number() (Object, error) {
	start := l.pos
	t := l.token()
	if t == "" {
		l.pos++
		return nil, formatErr(start, "bad number")
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		if n >= 0 && n <= 1<<31 {
			save := l.pos
			l.skipWS()
			if isDigit(l.at(l.pos)) {
				gpos := l.pos
				g := l.token()
				if gen, err := strconv.ParseInt(g, 10, 32); err == nil && gen >= 0 {
					l.skipWS()
					if l.at(l.pos) == 'R' && !isRegular(l.at(l.pos+1)) {
						l.pos++
						return Ref{int(n), int(gen)}, nil
					}
				}
				_ = gpos
			}
			l.pos = save
		}
		return n, nil
	}
	f, err := parseReal(t)
	if err != nil {
		return nil, formatErr(start, "bad number %q", t)
	}
	return f, nil
}

// parseReal accepts PDF reals, tolerating doubled signs seen in the wild.
func parseReal(t string) (float64, error) {
	for len(t) > 1 && (t[0] == '-' || t[0] == '+') && (t[1] == '-' || t[1] == '+') {
		t = t[1:]
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+') {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.ParseFloat(t, 64)
}
