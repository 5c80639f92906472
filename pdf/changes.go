package pdf

import (
	"bytes"
	"fmt"
	"io"
	"sort"
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
	// Revision is the revision (1-based, as Revisions counts) whose
	// cross-reference section defines the object last.
	Revision int
	Kind     ChangeKind
	Detail   string
}

// ChangesAfter compares the document as it was at offset (a revision end,
// see Revisions) with the final document by object number: every number a
// later cross-reference section defines — whatever the new object is,
// object and cross-reference streams included — is compared with what that
// number was when signed. A number free or absent when signed is a new
// object, unless an object of the signed revision already referred to it:
// filling in such a reference later changes signed content.
func (d *Document) ChangesAfter(offset int64) ([]Change, error) {
	if offset <= 0 || offset > d.size {
		return nil, formatErr(offset, "revision end outside the file")
	}
	old, err := open(io.NewSectionReader(d.r, 0, offset), offset, d.strict)
	if err != nil {
		return nil, err
	}
	revOf := map[int]int{} // number → newest later revision defining it
	later := d.laterSections(offset)
	for i := len(later) - 1; i >= 0; i-- {
		s := later[i]
		for _, n := range append(append([]int{}, s.nums...), s.xrefNum, s.stmNum) {
			if _, ok := revOf[n]; !ok && n > 0 {
				revOf[n] = s.revision
			}
		}
	}
	newest := 0
	if len(later) > 0 {
		newest = later[len(later)-1].revision
	}
	var changes []Change
	if !equalObjects(old.trailer["Root"], d.trailer["Root"]) {
		changes = append(changes, Change{0, newest, Disallowed, "trailer /Root changed"})
	}
	if !equalObjects(old.trailer["Info"], d.trailer["Info"]) {
		changes = append(changes, Change{0, newest, Disallowed, "trailer /Info changed: the document information dictionary was replaced"})
	}
	roles := old.roles()
	refs := old.references()
	nums := make([]int, 0, len(revOf))
	for n := range revOf {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	for _, n := range nums {
		rev := revOf[n]
		add := func(k ChangeKind, detail string) { changes = append(changes, Change{n, rev, k, detail}) }
		ne, defined := d.xref[n]
		defined = defined && ne.typ != 0
		nobj, err := d.Object(Ref{n, d.genOf(n)})
		if err != nil {
			add(Disallowed, "unreadable: "+err.Error())
			continue
		}
		oe, existed := old.xref[n]
		if !existed || oe.typ == 0 {
			switch {
			case !defined:
			case refs[n] != 0:
				by := fmt.Sprintf("object %d", refs[n]-1)
				if refs[n] == 1 {
					by = "the trailer"
				}
				add(Disallowed, fmt.Sprintf("%s of the signed revision refers to object %d, which did not exist when signed and is defined later", by, n))
			case refs[n] == 0 && nobj == nil:
			default:
				add(AllowedNewObject, describe(nobj))
			}
			continue
		}
		oobj, err := old.Object(Ref{n, old.genOf(n)})
		if err != nil {
			add(Disallowed, "unreadable in signed revision: "+err.Error())
			continue
		}
		if !defined {
			add(Disallowed, fmt.Sprintf("object %d deleted (marked free)", n))
			continue
		}
		if sameObject(old, d, oobj, nobj) {
			add(AllowedIdentical, "rewritten unchanged")
			continue
		}
		kind, detail := old.classify(d, n, roles, oobj, nobj)
		add(kind, detail)
	}
	return changes, nil
}

// references returns, for every object number some live object or the
// trailer of d refers to, 1 + the number of one object referring to it (1
// for the trailer): the numbers signed content depends on.
func (d *Document) references() map[int]int {
	refs := map[int]int{}
	var walk func(from int, o Object, depth int)
	walk = func(from int, o Object, depth int) {
		if depth > maxDepth {
			return
		}
		switch v := o.(type) {
		case Ref:
			if _, ok := refs[v.Num]; !ok {
				refs[v.Num] = from + 1
			}
		case Array:
			for _, e := range v {
				walk(from, e, depth+1)
			}
		case Dict:
			for _, e := range v {
				walk(from, e, depth+1)
			}
		case *Stream:
			walk(from, v.Dict, depth+1)
		}
	}
	walk(0, d.trailer, 0)
	live := map[int]bool{}
	for n, e := range d.xref {
		live[n] = e.typ != 0
	}
	// In number order, so that the referrer named is the same every time.
	for _, n := range sortedNums(live) {
		if !live[n] {
			continue
		}
		if o, err := d.Object(Ref{n, d.genOf(n)}); err == nil {
			walk(n, o, 0)
		}
	}
	return refs
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
				nvr, _ := nd.Resolve(nv)
				if ov == nil {
					// A new form, but not one telling viewers to redraw
					// what the signed pages already show.
					na, _ := nvr.(Dict)
					return na != nil && na["NeedAppearances"] != true
				}
				ovr, _ := d.Resolve(ov)
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
		// An empty signature field may only be signed; its appearance
		// changes with the signature or not at all. Whether the new /V
		// verifies is for the caller, who checks signatures.
		signed := ndict["V"] != nil
		if k, ok := d.diffKeys(nd, od, ndict, func(k Name, ov, nv Object) bool {
			return (k == "V" && ov == nil) || (k == "AP" && signed)
		}); !ok {
			if !signed && k == "AP" {
				return Disallowed, fmt.Sprintf("appearance of empty signature field %d changed without a signature", num)
			}
			return Disallowed, "signature field /" + string(k) + " changed"
		}
		return AllowedSignatureField, fmt.Sprintf("empty signature field %d signed", num)
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
