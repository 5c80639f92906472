package pdf

import "io"

// An AddedAnnotation is an annotation that a page of the final document has
// and the same page of a signed revision did not: allowed after signing, but
// drawn over the page, so a verifier shows it.
type AddedAnnotation struct {
	Object   int // 0 for an annotation written inline in /Annots
	Revision int // the revision (1-based) that defines the annotation
	Subtype  string
	Field    string // fully qualified field name of a widget, when it has one
	// Signature is true for the widget of a signature field with a value.
	Signature bool
	Hidden    bool // /F has Hidden or NoView set: a viewer does not draw it
	Page      int
	Rect      [4]float64 // llx lly urx ury in default user space
	// OverlapsContent: the rectangle covers text the signed page draws.
	OverlapsContent bool
	// OverlapsSeals lists the signature fields of the signed revision whose
	// widgets on this page the rectangle covers.
	OverlapsSeals []string
}

// AddedAnnotations lists, page by page, the annotations the final document
// has that the revision ending at offset did not.
func (d *Document) AddedAnnotations(offset int64) ([]AddedAnnotation, error) {
	if offset <= 0 || offset > d.size {
		return nil, formatErr(offset, "revision end outside the file")
	}
	old, err := open(io.NewSectionReader(d.r, 0, offset), offset, d.strict)
	if err != nil {
		return nil, err
	}
	revOf := map[int]int{}
	later := d.laterSections(offset)
	for i := len(later) - 1; i >= 0; i-- {
		for _, n := range later[i].nums {
			if _, ok := revOf[n]; !ok {
				revOf[n] = later[i].revision
			}
		}
	}
	pages, err := d.pageRefs()
	if err != nil {
		return nil, err
	}
	oldPages, _ := old.pageRefs()
	names := d.fieldNamesByObject()
	in := newInterp(old)
	var out []AddedAnnotation
	for i, p := range pages {
		pd, ok := d.resolveDict(p)
		if !ok {
			continue
		}
		annots, _ := d.resolveArray(pd["Annots"])
		var before Array
		var oldPage *Page
		var seals []sealWidget
		if i < len(oldPages) {
			if opd, ok := old.resolveDict(oldPages[i]); ok {
				before, _ = old.resolveArray(opd["Annots"])
			}
			oldPage, _ = old.Page(i + 1)
			seals = old.sealWidgets(before)
		}
		var glyphs []textGlyph
		glyphsRead := false
		for _, a := range annots {
			if containsObject(before, a) {
				continue
			}
			ad, ok := d.resolveDict(a)
			if !ok {
				continue
			}
			aa := AddedAnnotation{Subtype: string(ad.name("Subtype")), Page: i + 1}
			if r, ok := a.(Ref); ok {
				aa.Object, aa.Revision = r.Num, revOf[r.Num]
				aa.Field = names[r.Num]
			} else {
				aa.Revision = revOf[p.Num]
			}
			if f, ok := ad["F"].(int64); ok && f&(2|32) != 0 {
				aa.Hidden = true
			}
			if aa.Subtype == "Widget" && d.fieldType(ad) == "Sig" {
				v, _ := d.Resolve(d.inherited(ad, "V"))
				aa.Signature = v != nil
			}
			aa.Rect, _ = d.box(ad["Rect"])
			if oldPage != nil && !glyphsRead {
				glyphsRead = true
				glyphs, _ = in.pageGlyphs(oldPage)
				glyphs = append([]textGlyph(nil), glyphs...)
			}
			for _, g := range glyphs {
				if overlaps(aa.Rect, g.box) {
					aa.OverlapsContent = true
					break
				}
			}
			for _, s := range seals {
				if overlaps(aa.Rect, s.rect) {
					aa.OverlapsSeals = append(aa.OverlapsSeals, s.field)
				}
			}
			out = append(out, aa)
		}
	}
	return out, nil
}

// containsObject reports whether a holds o: the same reference, or an equal
// inline dictionary.
func containsObject(a Array, o Object) bool {
	for _, x := range a {
		if equalObjects(x, o) {
			return true
		}
	}
	return false
}

func overlaps(a, b [4]float64) bool {
	return a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

type sealWidget struct {
	field string
	rect  [4]float64
}

// sealWidgets returns the widgets among annots of signature fields with a
// value: the seals on the page.
func (d *Document) sealWidgets(annots Array) []sealWidget {
	names := d.fieldNamesByObject()
	var out []sealWidget
	for _, a := range annots {
		ad, ok := d.resolveDict(a)
		if !ok || ad.name("Subtype") != "Widget" || d.fieldType(ad) != "Sig" {
			continue
		}
		if v, _ := d.Resolve(d.inherited(ad, "V")); v == nil {
			continue
		}
		r, ok := d.box(ad["Rect"])
		if !ok {
			continue
		}
		name := ""
		if ar, ok := a.(Ref); ok {
			name = names[ar.Num]
		}
		out = append(out, sealWidget{name, r})
	}
	return out
}

// fieldNamesByObject maps each field and widget object under /AcroForm to
// its fully qualified name.
func (d *Document) fieldNamesByObject() map[int]string {
	names := map[int]string{}
	cat, err := d.Catalog()
	if err != nil {
		return names
	}
	af, err := d.acroForm(cat)
	if err != nil {
		return names
	}
	d.walkFields(af.fields, func(r Ref, _ Dict, name string, _ Name) {
		if r.Num > 0 {
			names[r.Num] = name
		}
	})
	return names
}

// inherited returns key from the field dictionary fd or its /Parent chain.
func (d *Document) inherited(fd Dict, key Name) Object {
	for i := 0; i < maxTreeDepth && fd != nil; i++ {
		if v, ok := fd[key]; ok {
			return v
		}
		fd, _ = d.resolveDict(fd["Parent"])
	}
	return nil
}

// fieldType returns the inherited /FT of a field or widget.
func (d *Document) fieldType(fd Dict) Name {
	ft, _ := d.inherited(fd, "FT").(Name)
	return ft
}
