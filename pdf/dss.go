package pdf

// The document security store (ISO 32000-2 §12.8.4.3, ETSI EN 319 142-1
// PAdES-LT): certificates and revocation data appended after the
// signatures, so that they can still be validated once the certificates
// have expired and their issuers no longer publish revocation data for them.

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"
)

// maxDSSEntries bounds the streams read from a /DSS array or VRI entry, and
// the VRI entries read, against hostile files.
const maxDSSEntries = 4096

// A DSS is the content of a document security store: DER certificates, CRLs
// and OCSP responses, and per-signature validation-related information.
type DSS struct {
	Certs [][]byte // DER X.509 certificates
	CRLs  [][]byte // DER CRLs
	OCSPs [][]byte // DER OCSP responses
	// VRI maps VRIKey of a signature's /Contents to the data that validates
	// that signature. Its certificates and revocation data should also be
	// in Certs, CRLs and OCSPs (AppendDSS adds them there itself).
	VRI map[string]*VRI
}

// A VRI is the validation-related information of one signature.
type VRI struct {
	Certs, CRLs, OCSPs [][]byte
	// TU is when the data was gathered; zero leaves /TU out.
	TU time.Time
}

// VRIKey returns the /VRI key of the signature whose /Contents string (hex
// decoded, zero padding included, as Signature.Contents holds it) is
// contents: the uppercase hexadecimal SHA-1 of those bytes. ISO 32000-2
// fixes SHA-1 here; the key only names a signature, it protects nothing, so
// readers (PDFBox, iText, DSS) look entries up this way whatever the
// signature algorithm is, SM2/SM3 included.
func VRIKey(contents []byte) string {
	sum := sha1.Sum(contents)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// DSS returns the document security store the catalog points to, its
// streams decoded; nil without one. Entries that are not streams or cannot
// be decoded are skipped.
func (d *Document) DSS() (*DSS, error) {
	cat, err := d.Catalog()
	if err != nil {
		return nil, err
	}
	if cat["DSS"] == nil {
		return nil, nil
	}
	dict, ok := d.resolveDict(cat["DSS"])
	if !ok {
		return nil, formatErr(-1, "/DSS is not a dictionary")
	}
	out := &DSS{
		Certs: d.dssStreams(dict["Certs"]),
		CRLs:  d.dssStreams(dict["CRLs"]),
		OCSPs: d.dssStreams(dict["OCSPs"]),
	}
	vri, _ := d.resolveDict(dict["VRI"])
	for _, k := range sortedKeys(vri) {
		if len(out.VRI) >= maxDSSEntries {
			break
		}
		e, ok := d.resolveDict(vri[k])
		if !ok {
			continue
		}
		v := &VRI{Certs: d.dssStreams(e["Cert"]), CRLs: d.dssStreams(e["CRL"]), OCSPs: d.dssStreams(e["OCSP"])}
		if s, ok := e["TU"].(String); ok {
			v.TU, _ = ParseDate(string(s))
		}
		if out.VRI == nil {
			out.VRI = map[string]*VRI{}
		}
		out.VRI[strings.ToUpper(string(k))] = v
	}
	return out, nil
}

// dssStreams decodes the streams of a /DSS array.
func (d *Document) dssStreams(o Object) [][]byte {
	a, _ := d.resolveArray(o)
	var out [][]byte
	for i, e := range a {
		if i >= maxDSSEntries {
			break
		}
		so, err := d.Resolve(e)
		if err != nil {
			continue
		}
		st, ok := so.(*Stream)
		if !ok {
			continue
		}
		if b, err := d.StreamData(st); err == nil {
			out = append(out, b)
		}
	}
	return out
}

// AppendDSS returns one incremental update (the bytes to append to the
// input) that gives the catalog a /DSS holding add, kept together with what
// an existing /DSS already holds: its entries stay, data already present is
// referenced rather than written again, and a VRI entry for a signature
// that already has one gains the new data. The store is always written as a
// new object and the catalog rewritten to point at it, because that — a
// changed catalog /DSS plus new objects — is what signatures allow later
// revisions to do (see ChangesAfter). The cross-reference section takes the
// previous section's form.
func (d *Document) AppendDSS(add DSS) ([]byte, error) {
	cat, err := d.Catalog()
	if err != nil {
		return nil, err
	}
	rootRef := d.trailer["Root"].(Ref)
	old := Dict{}
	if cat["DSS"] != nil {
		dict, ok := d.resolveDict(cat["DSS"])
		if !ok {
			return nil, formatErr(-1, "/DSS is not a dictionary")
		}
		old = dict
	}

	w, alloc := d.newUpdate()

	// Streams already in the store, by content, so nothing is written twice.
	known := map[[32]byte]Ref{}
	for _, k := range []Name{"Certs", "CRLs", "OCSPs"} {
		a, _ := d.resolveArray(old[k])
		for i, e := range a {
			if i >= maxDSSEntries {
				break
			}
			r, ok := e.(Ref)
			if !ok {
				continue
			}
			if so, err := d.Object(r); err == nil {
				if st, ok := so.(*Stream); ok {
					if b, err := d.StreamData(st); err == nil {
						known[sha256.Sum256(b)] = r
					}
				}
			}
		}
	}
	stream := func(der []byte) Ref {
		h := sha256.Sum256(der)
		if r, ok := known[h]; ok {
			return r
		}
		r := Ref{alloc(1), 0}
		w.begin(r.Num, 0)
		w.buf = append(w.buf, "<</Length "...)
		w.buf = strconv.AppendInt(w.buf, int64(len(der)), 10)
		w.buf = append(w.buf, ">>\nstream\n"...)
		w.buf = append(w.buf, der...)
		w.buf = append(w.buf, "\nendstream"...)
		w.end()
		known[h] = r
		return r
	}
	// merged keeps an array's entries and appends refs not yet in it.
	merged := func(prev Object, ders [][]byte) Array {
		pa, _ := d.resolveArray(prev)
		out := append(Array{}, pa...)
		for _, der := range ders {
			r := stream(der)
			dup := false
			for _, e := range out {
				dup = dup || equalObjects(e, r)
			}
			if !dup {
				out = append(out, r)
			}
		}
		return out
	}

	nd := cloneDict(old)
	nd["Type"] = Name("DSS")
	stamp := time.Time{}
	vri, _ := d.resolveDict(old["VRI"])
	nvri := cloneDict(vri)
	keys := make([]string, 0, len(add.VRI))
	for k := range add.VRI {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var certs, crls, ocsps [][]byte
	for _, k := range keys {
		v := add.VRI[k]
		if v == nil {
			continue
		}
		if len(k) != 40 {
			return nil, errors.New("pdf: a VRI key is 40 hexadecimal digits (see VRIKey)")
		}
		if _, err := hex.DecodeString(k); err != nil {
			return nil, errors.New("pdf: a VRI key is 40 hexadecimal digits (see VRIKey)")
		}
		key := Name(strings.ToUpper(k))
		pe, _ := d.resolveDict(vri[key])
		e := cloneDict(pe)
		for _, f := range []struct {
			name Name
			ders [][]byte
		}{{"Cert", v.Certs}, {"CRL", v.CRLs}, {"OCSP", v.OCSPs}} {
			if a := merged(pe[f.name], f.ders); len(a) > 0 {
				e[f.name] = a
			}
		}
		if !v.TU.IsZero() {
			e["TU"] = String(pdfDate(v.TU))
			if v.TU.After(stamp) {
				stamp = v.TU
			}
		}
		nvri[key] = e
		certs, crls, ocsps = append(certs, v.Certs...), append(crls, v.CRLs...), append(ocsps, v.OCSPs...)
	}
	for _, f := range []struct {
		name Name
		ders [][]byte
	}{{"Certs", concat(add.Certs, certs)}, {"CRLs", concat(add.CRLs, crls)}, {"OCSPs", concat(add.OCSPs, ocsps)}} {
		if a := merged(old[f.name], f.ders); len(a) > 0 {
			nd[f.name] = a
		}
	}
	if len(nvri) > 0 {
		nd["VRI"] = nvri
	}

	dssRef := Ref{alloc(1), 0}
	w.object(dssRef, nd)
	nc := cloneDict(cat)
	nc["DSS"] = dssRef
	w.object(Ref{rootRef.Num, d.genOf(rootRef.Num)}, nc)

	if stamp.IsZero() {
		stamp = time.Now()
	}
	if err := d.writeXRef(w, alloc, stamp, "DSS"); err != nil {
		return nil, err
	}
	return w.buf, nil
}

// concat returns a ‖ b without touching a's backing array.
func concat(a, b [][]byte) [][]byte { return append(append([][]byte{}, a...), b...) }
