// Package pdf reads PDF files lazily and appends incremental updates that
// sign them: it finds the objects a stamping needs (trailer, cross-reference
// sections, catalog, the path to one page, the AcroForm) without parsing the
// rest, writes a signature field with a visible appearance, and extracts
// signatures and later modifications for verification.
//
// The package knows nothing about the signature algorithm: the caller passes
// a hash.Hash to digest the signed byte ranges and puts its own CMS bytes
// into the reserved /Contents.
package pdf

import (
	"bytes"
	"math"
	"strconv"
)

// An Object is a parsed PDF object: nil (null), bool, int64, float64, Name,
// String, Array, Dict, Ref or *Stream.
type Object any

// A Name is a PDF name object without its leading slash, #xx escapes decoded.
type Name string

// A String is a PDF string object (literal or hexadecimal), escapes decoded.
type String []byte

// An Array is a PDF array.
type Array []Object

// A Dict is a PDF dictionary.
type Dict map[Name]Object

// A Ref is an indirect reference "Num Gen R".
type Ref struct {
	Num, Gen int
}

// A Stream is a stream object. Its data stays in the file until asked for.
type Stream struct {
	Dict   Dict
	Offset int64 // absolute offset of the first data byte
	Length int64 // length of the raw (encoded) data
}

// keyword is a bare token such as obj, endobj, stream, R inside the parser.
type keyword string

// appendObject serialises o in PDF syntax.
func appendObject(b []byte, o Object) []byte {
	switch v := o.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		if v {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case float64:
		return appendReal(b, v)
	case Name:
		return appendName(b, v)
	case String:
		return appendString(b, v)
	case Array:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ' ')
			}
			b = appendObject(b, e)
		}
		return append(b, ']')
	case Dict:
		b = append(b, "<<"...)
		for _, k := range sortedKeys(v) {
			b = appendName(b, k)
			b = append(b, ' ')
			b = appendObject(b, v[k])
		}
		return append(b, ">>"...)
	case Ref:
		b = strconv.AppendInt(b, int64(v.Num), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(v.Gen), 10)
		return append(b, " R"...)
	case keyword:
		return append(b, v...)
	}
	return append(b, "null"...)
}

func sortedKeys(d Dict) []Name {
	keys := make([]Name, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	// insertion sort: dictionaries are small
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// appendReal writes a number without exponent, at most 5 decimals.
func appendReal(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, '0')
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.AppendInt(b, int64(f), 10)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if i := bytes.IndexByte([]byte(s), '.'); i >= 0 && len(s)-i-1 > 10 {
		s = strconv.FormatFloat(f, 'f', 10, 64)
		for s[len(s)-1] == '0' {
			s = s[:len(s)-1]
		}
	}
	if s == "-0" {
		s = "0"
	}
	return append(b, s...)
}

// num formats a layout coordinate with 4 decimals at most.
func num(f float64) string {
	s := strconv.FormatFloat(f, 'f', 4, 64)
	for s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	s = trimDot(s)
	if s == "-0" {
		return "0"
	}
	return s
}

func trimDot(s string) string {
	if s[len(s)-1] == '.' {
		return s[:len(s)-1]
	}
	return s
}

func appendName(b []byte, n Name) []byte {
	b = append(b, '/')
	const hexd = "0123456789ABCDEF"
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c < '!' || c > '~' || c == '#' || isDelim(int(c)) {
			b = append(b, '#', hexd[c>>4], hexd[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}

// appendString writes a literal string when the bytes are printable ASCII and
// a hex string otherwise.
func appendString(b []byte, s String) []byte {
	printable := true
	for _, c := range s {
		if c < 0x20 || c > 0x7e {
			printable = false
			break
		}
	}
	if !printable {
		return appendHex(b, s)
	}
	b = append(b, '(')
	for _, c := range s {
		if c == '(' || c == ')' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, c)
	}
	return append(b, ')')
}

func appendHex(b []byte, s []byte) []byte {
	const hexd = "0123456789ABCDEF"
	b = append(b, '<')
	for _, c := range s {
		b = append(b, hexd[c>>4], hexd[c&15])
	}
	return append(b, '>')
}

// cloneDict returns a shallow copy, so cached objects are never mutated.
func cloneDict(d Dict) Dict {
	n := make(Dict, len(d)+2)
	for k, v := range d {
		n[k] = v
	}
	return n
}

// equalObjects compares two parsed objects by value; references compare by
// number and generation, streams by dictionary and position-independent raw
// data (compared by the caller).
func equalObjects(a, b Object) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case float64:
			return float64(x) == y
		}
		return false
	case float64:
		switch y := b.(type) {
		case int64:
			return x == float64(y)
		case float64:
			return x == y
		}
		return false
	case Name:
		y, ok := b.(Name)
		return ok && x == y
	case String:
		y, ok := b.(String)
		return ok && bytes.Equal(x, y)
	case Ref:
		y, ok := b.(Ref)
		return ok && x == y
	case Array:
		y, ok := b.(Array)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalObjects(x[i], y[i]) {
				return false
			}
		}
		return true
	case Dict:
		y, ok := b.(Dict)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equalObjects(v, w) {
				return false
			}
		}
		return true
	case *Stream:
		y, ok := b.(*Stream)
		return ok && equalObjects(x.Dict, y.Dict)
	}
	return false
}

// Helpers to read typed values out of dictionaries without resolving.

func (d Dict) name(k Name) Name {
	n, _ := d[k].(Name)
	return n
}

func toFloat(o Object) (float64, bool) {
	switch v := o.(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}
