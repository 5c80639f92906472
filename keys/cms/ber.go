package cms

// BER input. RFC 5652 lets a SignedData be BER-encoded (indefinite lengths,
// long-form lengths, strings cut into constructed pieces — what streaming
// encoders such as Bouncy Castle's write); only the signed attributes must
// be DER, because the signature is over their DER. encoding/asn1 reads DER
// alone, so Parse first turns BER into its DER equivalent: elements already
// in DER are copied byte for byte, the others re-encoded. The signed
// attributes of the result must then be found, unchanged, in the input —
// the bytes verified are the bytes received.

import (
	"bytes"
	"errors"
	"fmt"
)

// maxBERDepth bounds the nesting the converter follows. A SignedData with a
// time-stamp token inside nests about 20 deep.
const maxBERDepth = 64

// BERError says where input is not BER.
type BERError struct {
	Offset int
	Reason string
}

func (e *BERError) Error() string {
	return fmt.Sprintf("BER at byte %d: %s", e.Offset, e.Reason)
}

// berToDER converts the first BER element of b to DER and returns it and
// the number of input bytes it took.
func berToDER(b []byte) ([]byte, int, error) {
	c := berConverter{in: b}
	out, n, err := c.element(0, 0)
	return out, n, err
}

type berConverter struct{ in []byte }

// header reads an identifier and length at off: the identifier bytes, the
// content start, the content length (-1 when indefinite) and whether the
// length was the shortest form.
func (c *berConverter) header(off int) (id []byte, start, length int, minimal bool, err error) {
	b := c.in
	bad := func(reason string) ([]byte, int, int, bool, error) {
		return nil, 0, 0, false, &BERError{Offset: off, Reason: reason}
	}
	p := off
	if p >= len(b) {
		return bad("truncated identifier")
	}
	if b[p]&0x1f == 0x1f { // high tag number form
		p++
		for {
			if p >= len(b) {
				return bad("truncated tag")
			}
			if p-off > 4 {
				return bad("tag number too large")
			}
			if b[p]&0x80 == 0 {
				break
			}
			p++
		}
	}
	p++
	id = b[off:p]
	if p >= len(b) {
		return bad("truncated length")
	}
	l := int(b[p])
	p++
	switch {
	case l < 0x80:
		if l > len(b)-p {
			return bad(fmt.Sprintf("length %d runs past the end of the input", l))
		}
		return id, p, l, true, nil
	case l == 0x80:
		if id[0]&0x20 == 0 {
			return bad("indefinite length on a primitive element")
		}
		return id, p, -1, false, nil
	case l == 0xff:
		return bad("reserved length octet")
	}
	n := l & 0x7f
	if n > 4 || p+n > len(b) {
		return bad("length too large or truncated")
	}
	length = 0
	for _, x := range b[p : p+n] {
		length = length<<8 | int(x)
	}
	p += n
	if length > len(b)-p {
		return bad(fmt.Sprintf("length %d runs past the end of the input", length))
	}
	minimal = length >= 0x80 && b[p-n] != 0
	return id, p, length, minimal, nil
}

// element converts the element at off. Constructed OCTET STRINGs and BIT
// STRINGs become primitive; everything else keeps its tag.
func (c *berConverter) element(off, depth int) ([]byte, int, error) {
	if depth > maxBERDepth {
		return nil, 0, &BERError{Offset: off, Reason: "nested too deep"}
	}
	id, start, length, minimal, err := c.header(off)
	if err != nil {
		return nil, 0, err
	}
	if id[0]&0x20 == 0 { // primitive
		end := start + length
		if minimal {
			return c.in[off:end], end - off, nil
		}
		return derElement(id, c.in[start:end]), end - off, nil
	}
	// Constructed: convert each child up to the end or the end-of-contents.
	var children [][]byte
	changed := !minimal
	p := start
	for {
		if length >= 0 && p == start+length {
			break
		}
		if length >= 0 && p > start+length {
			return nil, 0, &BERError{Offset: p, Reason: "element runs past its parent"}
		}
		if length < 0 {
			if p+1 < len(c.in) && c.in[p] == 0 && c.in[p+1] == 0 {
				p += 2
				break
			}
			if p >= len(c.in) {
				return nil, 0, &BERError{Offset: p, Reason: "indefinite length without end-of-contents"}
			}
		}
		child, n, err := c.element(p, depth+1)
		if err != nil {
			return nil, 0, err
		}
		changed = changed || !bytes.Equal(child, c.in[p:p+n])
		children = append(children, child)
		p += n
	}
	if length >= 0 && p != start+length {
		return nil, 0, &BERError{Offset: p, Reason: "element runs past its parent"}
	}
	// A constructed string (tag 3 or 4, universal) is its pieces joined.
	if len(id) == 1 && (id[0] == 0x24 || id[0] == 0x23) {
		joined, err := joinStringPieces(id[0]&0x1f, children)
		if err != nil {
			return nil, 0, &BERError{Offset: off, Reason: err.Error()}
		}
		return derElement([]byte{id[0] &^ 0x20}, joined), p - off, nil
	}
	if !changed {
		return c.in[off:p], p - off, nil
	}
	return derElement(id, bytes.Join(children, nil)), p - off, nil
}

// joinStringPieces joins the DER pieces of a constructed OCTET STRING (tag
// 4) or BIT STRING (tag 3): each piece must be a primitive of the same
// tag; only the last BIT STRING piece may have unused bits.
func joinStringPieces(tag byte, pieces [][]byte) ([]byte, error) {
	var out []byte
	if tag == 3 {
		out = []byte{0}
	}
	for i, pc := range pieces {
		if pc[0] != tag {
			return nil, errors.New("a piece of a constructed string is not of its type")
		}
		_, hl := derHeaderLen(pc)
		body := pc[hl:]
		if tag == 3 {
			if len(body) == 0 || body[0] > 7 || (body[0] != 0 && i != len(pieces)-1) {
				return nil, errors.New("malformed BIT STRING piece")
			}
			out[0] = body[0]
			body = body[1:]
		}
		out = append(out, body...)
	}
	return out, nil
}

// derHeaderLen returns the length and header size of a DER element made by
// this converter (one identifier byte, minimal length).
func derHeaderLen(der []byte) (int, int) {
	if der[1] < 0x80 {
		return int(der[1]), 2
	}
	n := int(der[1] & 0x7f)
	l := 0
	for _, x := range der[2 : 2+n] {
		l = l<<8 | int(x)
	}
	return l, 2 + n
}

// derElement writes identifier id, the minimal length of body, and body.
func derElement(id, body []byte) []byte {
	out := append([]byte{}, id...)
	switch n := len(body); {
	case n < 0x80:
		out = append(out, byte(n))
	default:
		var lb []byte
		for ; n > 0; n >>= 8 {
			lb = append([]byte{byte(n)}, lb...)
		}
		out = append(out, 0x80|byte(len(lb)))
		out = append(out, lb...)
	}
	return append(out, body...)
}
