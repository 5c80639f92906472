package pdf

// CMaps as fonts carry them: /ToUnicode streams (code → text) and embedded
// /Encoding streams of Type0 fonts (code space and code → CID). Parsing is
// bounded: a hostile CMap costs at most maxCMapBytes of input and
// maxCMapEntries of memory.

import (
	"sort"
	"unicode/utf16"
)

const (
	maxCMapBytes   = 4 << 20 // decoded CMap stream bytes read
	maxCMapEntries = 1 << 17 // single mappings plus ranges kept
	maxCMapDst     = 256     // bytes of one destination string
)

// A codeKey is a character code with its length in bytes.
type codeKey struct {
	n uint8
	v uint32
}

type codeRange struct {
	n      uint8
	lo, hi []byte // byte-wise bounds, len n
}

type uniRange struct {
	n      uint8
	lo, hi uint32
	dst    []rune // text of lo; later codes add to the last rune
}

type cidRange struct {
	n      uint8
	lo, hi uint32
	cid    uint32
}

type cmap struct {
	spaces    []codeRange
	uni       map[codeKey]string
	uniRanges []uniRange // sorted by (n, lo)
	cid       map[codeKey]uint32
	cidRanges []cidRange // sorted by (n, lo)
	useCMap   Name       // usecmap operand, for predefined parents
	wmode     int
	lengths   [5]bool // code lengths seen in mappings (for maps without codespace)
	entries   int
}

func codeValue(b []byte) uint32 {
	var v uint32
	for _, c := range b {
		v = v<<8 | uint32(c)
	}
	return v
}

// utf16Text decodes a bfchar/bfrange destination (UTF-16BE; odd lengths
// are taken as bytes).
func utf16Text(b []byte) []rune {
	if len(b)%2 != 0 {
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return r
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return utf16.Decode(u)
}

// parseCMap reads the mappings of a CMap program. It never fails: what
// cannot be read is skipped.
func parseCMap(data []byte) *cmap {
	if len(data) > maxCMapBytes {
		data = data[:maxCMapBytes]
	}
	m := &cmap{uni: map[codeKey]string{}, cid: map[codeKey]uint32{}}
	l := newBytesLexer(data)
	var prev [2]Object // the two operands before the current token
	next := func() (Object, bool) {
		for {
			l.skipWS()
			if l.pos >= l.size {
				return nil, false
			}
			start := l.pos
			o, err := l.object()
			if err == nil {
				return o, true
			}
			if l.pos <= start {
				l.pos = start + 1
			}
		}
	}
	// block reads operands of a begin…end section in groups of k.
	block := func(end string, k int, f func(ops []Object)) {
		ops := make([]Object, 0, k)
		for {
			o, ok := next()
			if !ok {
				return
			}
			if kw, isKw := o.(keyword); isKw {
				if string(kw) == end {
					return
				}
				ops = ops[:0]
				continue
			}
			ops = append(ops, o)
			if len(ops) == k {
				if m.entries < maxCMapEntries {
					f(ops)
				}
				ops = ops[:0]
			}
		}
	}
	for {
		o, ok := next()
		if !ok {
			break
		}
		kw, isKw := o.(keyword)
		if !isKw {
			prev[0], prev[1] = prev[1], o
			continue
		}
		switch kw {
		case "begincodespacerange":
			block("endcodespacerange", 2, func(ops []Object) {
				lo, ok1 := ops[0].(String)
				hi, ok2 := ops[1].(String)
				if ok1 && ok2 && len(lo) == len(hi) && len(lo) >= 1 && len(lo) <= 4 {
					m.spaces = append(m.spaces, codeRange{uint8(len(lo)), []byte(lo), []byte(hi)})
					m.entries++
				}
			})
		case "beginbfchar":
			block("endbfchar", 2, func(ops []Object) {
				src, ok := ops[0].(String)
				if !ok || len(src) < 1 || len(src) > 4 {
					return
				}
				var text string
				switch dst := ops[1].(type) {
				case String:
					if len(dst) > maxCMapDst {
						return
					}
					text = string(utf16Text(dst))
				case Name:
					var ok bool
					if text, ok = glyphText(string(dst)); !ok {
						return
					}
				default:
					return
				}
				m.uni[codeKey{uint8(len(src)), codeValue(src)}] = text
				m.lengths[len(src)] = true
				m.entries++
			})
		case "beginbfrange":
			block("endbfrange", 3, func(ops []Object) {
				lo, ok1 := ops[0].(String)
				hi, ok2 := ops[1].(String)
				if !ok1 || !ok2 || len(lo) < 1 || len(lo) > 4 || len(hi) != len(lo) {
					return
				}
				n := uint8(len(lo))
				a, b := codeValue(lo), codeValue(hi)
				if b < a {
					return
				}
				m.lengths[n] = true
				switch dst := ops[2].(type) {
				case String:
					if len(dst) == 0 || len(dst) > maxCMapDst {
						return
					}
					m.uniRanges = append(m.uniRanges, uniRange{n, a, b, utf16Text(dst)})
					m.entries++
				case Array:
					for i, e := range dst {
						if uint64(a)+uint64(i) > uint64(b) || m.entries >= maxCMapEntries {
							break
						}
						s, ok := e.(String)
						if !ok || len(s) > maxCMapDst {
							continue
						}
						m.uni[codeKey{n, a + uint32(i)}] = string(utf16Text(s))
						m.entries++
					}
				}
			})
		case "begincidchar":
			block("endcidchar", 2, func(ops []Object) {
				src, ok1 := ops[0].(String)
				cid, ok2 := ops[1].(int64)
				if ok1 && ok2 && len(src) >= 1 && len(src) <= 4 && cid >= 0 && cid <= 0xffff {
					m.cid[codeKey{uint8(len(src)), codeValue(src)}] = uint32(cid)
					m.entries++
				}
			})
		case "begincidrange":
			block("endcidrange", 3, func(ops []Object) {
				lo, ok1 := ops[0].(String)
				hi, ok2 := ops[1].(String)
				cid, ok3 := ops[2].(int64)
				if ok1 && ok2 && ok3 && len(lo) >= 1 && len(lo) <= 4 && len(hi) == len(lo) && cid >= 0 && cid <= 0xffff {
					a, b := codeValue(lo), codeValue(hi)
					if a <= b {
						m.cidRanges = append(m.cidRanges, cidRange{uint8(len(lo)), a, b, uint32(cid)})
						m.entries++
					}
				}
			})
		case "usecmap":
			if n, ok := prev[1].(Name); ok {
				m.useCMap = n
			}
		case "def":
			if n, ok := prev[0].(Name); ok && n == "WMode" {
				if v, ok := prev[1].(int64); ok && v == 1 {
					m.wmode = 1
				}
			}
		}
		prev = [2]Object{}
	}
	sort.Slice(m.uniRanges, func(i, j int) bool {
		a, b := m.uniRanges[i], m.uniRanges[j]
		return a.n < b.n || a.n == b.n && a.lo < b.lo
	})
	sort.Slice(m.cidRanges, func(i, j int) bool {
		a, b := m.cidRanges[i], m.cidRanges[j]
		return a.n < b.n || a.n == b.n && a.lo < b.lo
	})
	return m
}

// codeLen returns the length of the code starting at s by the code space
// ranges, or 0 when none matches (or there are none).
func (m *cmap) codeLen(s []byte) int {
	for n := 1; n <= 4 && n <= len(s); n++ {
		for _, r := range m.spaces {
			if int(r.n) != n {
				continue
			}
			in := true
			for i := 0; i < n; i++ {
				if s[i] < r.lo[i] || s[i] > r.hi[i] {
					in = false
					break
				}
			}
			if in {
				return n
			}
		}
	}
	return 0
}

// shortest returns the shortest code length in the code space, 1 if none.
func (m *cmap) shortest() int {
	n := 4
	for _, r := range m.spaces {
		n = min(n, int(r.n))
	}
	if len(m.spaces) == 0 {
		return 1
	}
	return n
}

// text maps a code to Unicode text.
func (m *cmap) text(k codeKey) (string, bool) {
	if s, ok := m.uni[k]; ok {
		return s, true
	}
	i := sort.Search(len(m.uniRanges), func(i int) bool {
		r := m.uniRanges[i]
		return r.n > k.n || r.n == k.n && r.lo > k.v
	}) - 1
	if i >= 0 {
		r := m.uniRanges[i]
		if r.n == k.n && k.v >= r.lo && k.v <= r.hi {
			d := append([]rune(nil), r.dst...)
			d[len(d)-1] += rune(k.v - r.lo)
			return string(d), true
		}
	}
	return "", false
}

// lookupText tries the code at its own length, then — for maps written
// with other lengths than the font's encoding uses — at the others.
func (m *cmap) lookupText(k codeKey) (string, bool) {
	if s, ok := m.text(k); ok {
		return s, true
	}
	for n := 1; n <= 4; n++ {
		if uint8(n) == k.n || !m.lengths[n] || (n < 4 && k.v >= 1<<(8*n)) {
			continue
		}
		if s, ok := m.text(codeKey{uint8(n), k.v}); ok {
			return s, true
		}
	}
	return "", false
}

// cidOf maps a code to a CID.
func (m *cmap) cidOf(k codeKey) (uint32, bool) {
	if c, ok := m.cid[k]; ok {
		return c, true
	}
	i := sort.Search(len(m.cidRanges), func(i int) bool {
		r := m.cidRanges[i]
		return r.n > k.n || r.n == k.n && r.lo > k.v
	}) - 1
	if i >= 0 {
		r := m.cidRanges[i]
		if r.n == k.n && k.v >= r.lo && k.v <= r.hi {
			return r.cid + (k.v - r.lo), true
		}
	}
	return 0, false
}
