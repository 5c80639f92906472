package pdf

import (
	"bytes"
	"fmt"
	"io"
)

// A ChangeKind classifies an object (re)defined after a signed revision.
type ChangeKind int

const (
	// Disallowed: the change modifies signed content (content streams, page
	// tree, resources, existing values, removed annotations, …).
	Disallowed ChangeKind = iota
	// AllowedNewObject: an object that did not exist in the signed revision.
	AllowedNewObject
	// AllowedIdentical: an object rewritten with the same value.
	AllowedIdentical
	// AllowedCatalog: the catalog gained or changed /AcroForm or /DSS only.
	AllowedCatalog
	// AllowedAcroForm: /AcroForm /Fields grew (existing entries kept), /SigFlags set.
	AllowedAcroForm
	// AllowedAnnots: a page's /Annots grew, existing entries kept.
	AllowedAnnots
	// AllowedSignatureField: an empty signature field was signed (/V added).
	AllowedSignatureField
)

// Allowed reports whether the change is one a later signer may make without
// invalidating earlier signatures.
func (k ChangeKind) Allowed() bool { return k != Disallowed }

func (k ChangeKind) String() string {
	return [...]string{"disallowed", "new object", "identical rewrite", "catalog /AcroForm or /DSS",
		"AcroForm fields growth", "page annotations growth", "signature field signed"}[k]
}

// A Change is one object (re)defined after a revision. Object 0 stands for
// the trailer.
type Change struct {
	Object int
	Kind   ChangeKind
	Detail string
}

// ChangesAfter compares the document as it was at offset (a revision end,
// see Revisions) with the final document, object by object for the objects
// later revisions (re)define.
func (d *Document) ChangesAfter(offset int64) ([]Change, error) {
	if offset <= 0 || offset > d.size {
		return nil, formatErr(offset, "revision end outside the file")
	}
	old, err := Open(io.NewSectionReader(d.r, 0, offset), offset)
	if err != nil {
		return nil, err
	}
	nums := map[int]bool{}
	containers := map[int]bool{}
	for _, s := range d.sections {
		if s.off < offset {
			continue
		}
		for _, n := range s.nums {
			nums[n] = true
		}
		containers[s.xrefNum] = true
		containers[s.stmNum] = true
	}
	var changes []Change
	if !equalObjects(old.trailer["Root"], d.trailer["Root"]) {
		changes = append(changes, Change{0, Disallowed, "trailer /Root changed"})
	}
	roles := old.roles()
	for _, n := range sortedNums(nums) {
		if n == 0 || containers[n] {
			continue
		}
		ref := Ref{n, d.genOf(n)}
		nobj, err := d.Object(ref)
		if err != nil {
			changes = append(changes, Change{n, Disallowed, "unreadable: " + err.Error()})
			continue
		}
		if st, ok := nobj.(*Stream); ok {
			if t := st.Dict.name("Type"); t == "ObjStm" || t == "XRef" {
				continue
			}
		}
		oe, existed := old.xref[n]
		if !existed || oe.typ == 0 {
			if nobj != nil {
				changes = append(changes, Change{n, AllowedNewObject, describe(nobj)})
			}
			continue
		}
		oobj, err := old.Object(Ref{n, old.genOf(n)})
		if err != nil {
			changes = append(changes, Change{n, Disallowed, "unreadable in signed revision: " + err.Error()})
			continue
		}
		if nobj == nil && oobj != nil {
			changes = append(changes, Change{n, Disallowed, "object deleted"})
			continue
		}
		if sameObject(old, d, oobj, nobj) {
			changes = append(changes, Change{n, AllowedIdentical, "rewritten unchanged"})
			continue
		}
		kind, detail := old.classify(d, n, roles, oobj, nobj)
		changes = append(changes, Change{n, kind, detail})
	}
	return changes, nil
}

func describe(o Object) string {
	switch v := o.(type) {
	case Dict:
		if t := v.name("Subtype"); t != "" {
			return "new /" + string(t)
		}
		if t := v.name("Type"); t != "" {
			return "new /" + string(t)
		}
		return "new dictionary"
	case *Stream:
		return "new stream"
	case Array:
		return "new array"
	}
	return "new object"
}

// sameObject compares values; streams also by raw data.
func sameObject(a, b *Document, x, y Object) bool {
	if !equalObjects(x, y) {
		return false
	}
	sx, ok := x.(*Stream)
	if !ok {
		return true
	}
	sy := y.(*Stream)
	dx, err1 := a.RawStreamData(sx)
	dy, err2 := b.RawStreamData(sy)
	return err1 == nil && err2 == nil && bytes.Equal(dx, dy)
}

// docRoles says what role objects play in the signed revision.
type docRoles struct {
	catalog, acroForm, fields int
	pages                     map[int]bool
	annots                    map[int]bool // indirect /Annots arrays
}

func (d *Document) roles() *docRoles {
	r := &docRoles{catalog: -1, acroForm: -1, fields: -1, pages: map[int]bool{}, annots: map[int]bool{}}
	if root, ok := d.trailer["Root"].(Ref); ok {
		r.catalog = root.Num
	}
	if cat, err := d.Catalog(); err == nil {
		if ar, ok := cat["AcroForm"].(Ref); ok {
			r.acroForm = ar.Num
		}
		if af, err := d.acroForm(cat); err == nil && af.fieldsInd {
			r.fields = af.fieldsRef.Num
		}
	}
	pages, _ := d.pageRefs()
	for _, p := range pages {
		r.pages[p.Num] = true
		if o, err := d.Object(p); err == nil {
			if pd, ok := o.(Dict); ok {
				if ar, ok := pd["Annots"].(Ref); ok {
					r.annots[ar.Num] = true
				}
			}
		}
	}
	return r
}

// grows reports whether newer keeps every entry of older.
func grows(older, newer Object) bool {
	if older == nil {
		_, ok := newer.(Array)
		return ok || newer == nil
	}
	oa, ok1 := older.(Array)
	na, ok2 := newer.(Array)
	if !ok1 || !ok2 || len(na) < len(oa) {
		return false
	}
	for _, o := range oa {
		found := false
		for _, n := range na {
			if equalObjects(o, n) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// classify judges a changed object; d is the signed revision, nd the final.
func (d *Document) classify(nd *Document, num int, r *docRoles, oobj, nobj Object) (ChangeKind, string) {
	od, ok1 := oobj.(Dict)
	ndict, ok2 := nobj.(Dict)
	switch {
	case num == r.catalog && ok1 && ok2:
		if k, ok := d.diffKeys(nd, od, ndict, func(k Name, ov, nv Object) bool {
			switch k {
			case "DSS":
				return true
			case "AcroForm":
				if ov == nil {
					return true
				}
				ovr, _ := d.Resolve(ov)
				nvr, _ := nd.Resolve(nv)
				oa, _ := ovr.(Dict)
				na, _ := nvr.(Dict)
				return oa != nil && na != nil && d.acroFormGrows(nd, oa, na)
			}
			return false
		}); !ok {
			return Disallowed, "catalog /" + string(k) + " changed"
		}
		return AllowedCatalog, "catalog /AcroForm or /DSS updated"
	case num == r.acroForm && ok1 && ok2:
		if !d.acroFormGrows(nd, od, ndict) {
			return Disallowed, "AcroForm changed beyond adding fields"
		}
		return AllowedAcroForm, "AcroForm fields added"
	case num == r.fields || r.annots[num]:
		if !grows(oobj, nobj) {
			return Disallowed, "array lost or changed existing entries"
		}
		if num == r.fields {
			return AllowedAcroForm, "AcroForm /Fields grew"
		}
		return AllowedAnnots, "page /Annots grew"
	case r.pages[num] && ok1 && ok2:
		if k, ok := d.diffKeys(nd, od, ndict, func(k Name, ov, nv Object) bool {
			if k != "Annots" {
				return false
			}
			ovr, _ := d.Resolve(ov)
			nvr, _ := nd.Resolve(nv)
			return grows(ovr, nvr)
		}); !ok {
			return Disallowed, "page /" + string(k) + " changed"
		}
		return AllowedAnnots, "page /Annots grew"
	case ok1 && ok2 && od.name("FT") == "Sig" && od["V"] == nil:
		if k, ok := d.diffKeys(nd, od, ndict, func(k Name, ov, nv Object) bool {
			return (k == "V" && ov == nil) || k == "AP"
		}); !ok {
			return Disallowed, "signature field /" + string(k) + " changed"
		}
		return AllowedSignatureField, "empty signature field signed"
	}
	what := "object"
	if ok1 {
		if t := od.name("Type"); t != "" {
			what = "/" + string(t)
		}
	} else if _, ok := oobj.(*Stream); ok {
		what = "stream"
	}
	return Disallowed, fmt.Sprintf("%s %d modified", what, num)
}

// diffKeys checks every differing key with allow; it returns the first key
// not allowed.
func (d *Document) diffKeys(nd *Document, od, ndict Dict, allow func(k Name, ov, nv Object) bool) (Name, bool) {
	keys := map[Name]bool{}
	for k := range od {
		keys[k] = true
	}
	for k := range ndict {
		keys[k] = true
	}
	for _, k := range sortedKeys(Dict(func() Dict {
		m := Dict{}
		for k := range keys {
			m[k] = nil
		}
		return m
	}())) {
		ov, nv := od[k], ndict[k]
		if equalObjects(ov, nv) {
			continue
		}
		if !allow(k, ov, nv) {
			return k, false
		}
	}
	return "", true
}

func (d *Document) acroFormGrows(nd *Document, oa, na Dict) bool {
	_, ok := d.diffKeys(nd, oa, na, func(k Name, ov, nv Object) bool {
		switch k {
		case "SigFlags":
			return true
		case "DR", "DA":
			return ov == nil
		case "Fields":
			ovr, _ := d.Resolve(ov)
			nvr, _ := nd.Resolve(nv)
			return grows(ovr, nvr)
		}
		return false
	})
	return ok
}
