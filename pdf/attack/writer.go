package attack

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"eseal/pdf"
)

// An object is one indirect object an attack writes: a dictionary or other
// value in body, or, when stream is not nil, a stream whose dictionary
// entries (without /Length) are body.
type object struct {
	num    int
	body   string
	stream []byte
}

// A revision is one appended incremental update, well formed or crafted.
type revision struct {
	objects []object
	// inStream puts these (non-stream) objects into a new object stream
	// numbered objStm; the section is then a cross-reference stream.
	inStream []object
	objStm   int
	// point lists cross-reference entries aimed at bytes already in the
	// file (objects of the signed revision, shadow objects).
	point map[int]int64
	// trailer entries to set (PDF syntax), on top of /Size /Prev /Root
	// /Info /ID carried over.
	trailer map[string]string
	// xrefStream writes a cross-reference stream numbered xrefNum (0: the
	// next free number) instead of a table.
	xrefStream bool
	xrefNum    int
}

// state is what an appended revision continues from.
type state struct {
	startxref int64
	size      int
	trailer   pdf.Dict
}

func stateOf(b []byte) (state, error) {
	d, err := pdf.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return state{}, err
	}
	i := bytes.LastIndex(b, []byte("startxref"))
	if i < 0 {
		return state{}, fmt.Errorf("attack: no startxref")
	}
	f := strings.Fields(string(b[i+len("startxref"):]))
	if len(f) == 0 {
		return state{}, fmt.Errorf("attack: no startxref value")
	}
	sx, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return state{}, err
	}
	size, _ := d.Trailer()["Size"].(int64)
	return state{startxref: sx, size: int(size), trailer: d.Trailer()}, nil
}

// appendRevision appends r to b as an incremental update.
func appendRevision(b []byte, r revision) ([]byte, error) {
	st, err := stateOf(b)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Write(b)
	if b[len(b)-1] != '\n' {
		buf.WriteByte('\n')
	}
	type entry struct {
		typ      int
		off, idx int64
	}
	entries := map[int]entry{}
	for n, off := range r.point {
		entries[n] = entry{1, off, 0}
	}
	maxNum := st.size - 1
	for _, o := range r.objects {
		entries[o.num] = entry{1, int64(buf.Len()), 0}
		writeObject(&buf, o)
		maxNum = max(maxNum, o.num)
	}
	if len(r.inStream) > 0 {
		var head, body bytes.Buffer
		for i, o := range r.inStream {
			fmt.Fprintf(&head, "%d %d ", o.num, body.Len())
			body.WriteString(o.body + "\n")
			entries[o.num] = entry{2, int64(r.objStm), int64(i)}
			maxNum = max(maxNum, o.num)
		}
		entries[r.objStm] = entry{1, int64(buf.Len()), 0}
		writeObject(&buf, object{num: r.objStm,
			body:   fmt.Sprintf("/Type/ObjStm/N %d/First %d/Filter/FlateDecode", len(r.inStream), head.Len()),
			stream: deflate(append(head.Bytes(), body.Bytes()...))})
		maxNum = max(maxNum, r.objStm)
	}
	for n := range r.point {
		maxNum = max(maxNum, n)
	}
	tr := map[string]string{
		"Prev": strconv.FormatInt(st.startxref, 10),
		"Root": format(st.trailer["Root"]),
	}
	for _, k := range []pdf.Name{"Info", "ID"} {
		if v, ok := st.trailer[k]; ok {
			tr[string(k)] = format(v)
		}
	}
	for k, v := range r.trailer {
		tr[k] = v
	}
	if r.xrefStream || len(r.inStream) > 0 {
		xnum := r.xrefNum
		if xnum == 0 {
			xnum = maxNum + 1
		}
		maxNum = max(maxNum, xnum)
		xoff := int64(buf.Len())
		if _, ok := entries[xnum]; !ok {
			entries[xnum] = entry{1, xoff, 0}
		}
		nums := sortedNums(entries)
		var data []byte
		var index []string
		for i := 0; i < len(nums); {
			j := i
			for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
				j++
			}
			index = append(index, strconv.Itoa(nums[i]), strconv.Itoa(j-i+1))
			for k := i; k <= j; k++ {
				e := entries[nums[k]]
				data = append(data, byte(e.typ), byte(e.off>>24), byte(e.off>>16), byte(e.off>>8), byte(e.off), byte(e.idx>>8), byte(e.idx))
			}
			i = j + 1
		}
		tr["Type"] = "/XRef"
		tr["Size"] = strconv.Itoa(maxNum + 1)
		tr["W"] = "[1 4 2]"
		tr["Index"] = "[" + strings.Join(index, " ") + "]"
		tr["Filter"] = "/FlateDecode"
		writeObject(&buf, object{num: xnum, body: dictBody(tr), stream: deflate(data)})
		fmt.Fprintf(&buf, "startxref\n%d\n%%%%EOF\n", xoff)
		return buf.Bytes(), nil
	}
	xoff := buf.Len()
	buf.WriteString("xref\n")
	nums := sortedNums(entries)
	for _, n := range nums {
		fmt.Fprintf(&buf, "%d 1\n%010d 00000 n\r\n", n, entries[n].off)
	}
	tr["Size"] = strconv.Itoa(maxNum + 1)
	fmt.Fprintf(&buf, "trailer\n<<%s>>\nstartxref\n%d\n%%%%EOF\n", dictBody(tr), xoff)
	return buf.Bytes(), nil
}

func writeObject(buf *bytes.Buffer, o object) {
	if o.stream == nil {
		fmt.Fprintf(buf, "%d 0 obj\n%s\nendobj\n", o.num, o.body)
		return
	}
	fmt.Fprintf(buf, "%d 0 obj\n<<%s/Length %d>>\nstream\n", o.num, o.body, len(o.stream))
	buf.Write(o.stream)
	buf.WriteString("\nendstream\nendobj\n")
}

func dictBody(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, "/%s %s", k, m[k])
	}
	return sb.String()
}

func sortedNums[V any](m map[int]V) []int {
	out := make([]int, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

func deflate(b []byte) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// format writes a parsed object back in PDF syntax.
func format(o pdf.Object) string {
	switch v := o.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case pdf.Name:
		return "/" + string(v) // names here are plain ASCII
	case pdf.String:
		return fmt.Sprintf("<%x>", []byte(v))
	case pdf.Ref:
		return fmt.Sprintf("%d %d R", v.Num, v.Gen)
	case pdf.Array:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = format(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case pdf.Dict:
		m := map[string]string{}
		for k, e := range v {
			m[string(k)] = format(e)
		}
		return "<<" + dictBody(m) + ">>"
	}
	return "null"
}

// withEntries returns d with entries set (values in PDF syntax).
func withEntries(d pdf.Dict, set map[string]string) string {
	m := map[string]string{}
	for k, e := range d {
		m[string(k)] = format(e)
	}
	for k, v := range set {
		if v == "" {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return "<<" + dictBody(m) + ">>"
}
