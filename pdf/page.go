package pdf

// maxTreeDepth bounds the page tree descent.
const maxTreeDepth = 64

// A Page is one page with its inheritable attributes resolved.
type Page struct {
	Number   int        // 1-based
	Ref      Ref        // the page object
	Dict     Dict       // the page dictionary as stored
	MediaBox [4]float64 // normalised: llx, lly, urx, ury
	CropBox  [4]float64 // defaults to MediaBox
	Rotate   int        // 0, 90, 180 or 270
}

// Visible returns CropBox ∩ MediaBox, the region a viewer shows.
func (p *Page) Visible() [4]float64 {
	m, c := p.MediaBox, p.CropBox
	v := [4]float64{max(m[0], c[0]), max(m[1], c[1]), min(m[2], c[2]), min(m[3], c[3])}
	if v[2] <= v[0] || v[3] <= v[1] {
		return m
	}
	return v
}

// displaySize returns the width and height of the visible page as a viewer
// shows it, after /Rotate.
func (p *Page) displaySize() (w, h float64) {
	v := p.Visible()
	w, h = v[2]-v[0], v[3]-v[1]
	if p.Rotate == 90 || p.Rotate == 270 {
		w, h = h, w
	}
	return w, h
}

// toUser maps display coordinates — points right and down from the top-left
// corner of the visible page as a viewer shows it — into default user space.
func (p *Page) toUser(u, t float64) (x, y float64) {
	v := p.Visible()
	switch p.Rotate {
	case 90:
		return v[0] + t, v[1] + u
	case 180:
		return v[2] - u, v[1] + t
	case 270:
		return v[2] - t, v[3] - u
	}
	return v[0] + u, v[3] - t
}

// toDisplay is the inverse of toUser.
func (p *Page) toDisplay(x, y float64) (u, t float64) {
	v := p.Visible()
	switch p.Rotate {
	case 90:
		return y - v[1], x - v[0]
	case 180:
		return v[2] - x, y - v[1]
	case 270:
		return v[3] - y, v[2] - x
	}
	return x - v[0], v[3] - y
}

// NumPages returns the page count the page tree root declares, or 0 when the
// tree is unreadable.
func (d *Document) NumPages() int {
	if d.numPages >= 0 {
		return d.numPages
	}
	d.numPages = 0
	root, err := d.pagesRoot()
	if err != nil {
		return 0
	}
	o, err := d.Object(root)
	if err != nil {
		return 0
	}
	dict, _ := o.(Dict)
	c, _ := d.Resolve(dict["Count"])
	if n, ok := c.(int64); ok && n > 0 && n <= maxObjectNum {
		d.numPages = int(n)
	}
	return d.numPages
}

func (d *Document) pagesRoot() (Ref, error) {
	cat, err := d.Catalog()
	if err != nil {
		return Ref{}, err
	}
	r, ok := cat["Pages"].(Ref)
	if !ok {
		return Ref{}, formatErr(-1, "catalog has no /Pages reference")
	}
	return r, nil
}

func isLeaf(d Dict) bool {
	switch d.name("Type") {
	case "Page":
		return true
	case "Pages":
		return false
	}
	_, hasKids := d["Kids"]
	return !hasKids
}

// Page returns page n (1-based), descending the page tree by /Count so only
// the nodes on the path to it are read.
func (d *Document) Page(n int) (*Page, error) {
	np := d.NumPages()
	if n < 1 || n > np {
		return nil, &PageRangeError{Page: n, NumPages: np}
	}
	node, err := d.pagesRoot()
	if err != nil {
		return nil, err
	}
	inherited := Dict{}
	seen := map[int]bool{}
	remaining := n
	for depth := 0; ; depth++ {
		if depth > maxTreeDepth || seen[node.Num] {
			return nil, formatErr(-1, "loop in page tree at object %d", node.Num)
		}
		seen[node.Num] = true
		o, err := d.Object(node)
		if err != nil {
			return nil, err
		}
		dict, ok := o.(Dict)
		if !ok {
			return nil, formatErr(-1, "page tree node %d is not a dictionary", node.Num)
		}
		for _, k := range []Name{"MediaBox", "CropBox", "Rotate", "Resources"} {
			if v, ok := dict[k]; ok {
				inherited[k] = v
			}
		}
		if isLeaf(dict) {
			if remaining != 1 {
				return nil, formatErr(-1, "page tree /Count inconsistent")
			}
			return d.makePage(n, node, dict, inherited)
		}
		ko, err := d.Resolve(dict["Kids"])
		if err != nil {
			return nil, err
		}
		kids, _ := ko.(Array)
		next := Ref{}
		found := false
		for _, k := range kids {
			kr, ok := k.(Ref)
			if !ok {
				continue
			}
			if seen[kr.Num] {
				return nil, formatErr(-1, "loop in page tree at object %d", kr.Num)
			}
			ko, err := d.Object(kr)
			if err != nil {
				return nil, err
			}
			kd, ok := ko.(Dict)
			if !ok {
				continue
			}
			c := 1
			if !isLeaf(kd) {
				co, _ := d.Resolve(kd["Count"])
				cn, _ := co.(int64)
				if cn < 0 || cn > maxObjectNum {
					return nil, formatErr(-1, "bad /Count in page tree node %d", kr.Num)
				}
				c = int(cn)
			}
			if remaining <= c {
				next, found = kr, true
				break
			}
			remaining -= c
		}
		if !found {
			return nil, formatErr(-1, "page tree /Count inconsistent: page %d not found", n)
		}
		node = next
	}
}

func (d *Document) box(o Object) ([4]float64, bool) {
	o, err := d.Resolve(o)
	if err != nil {
		return [4]float64{}, false
	}
	a, ok := o.(Array)
	if !ok || len(a) != 4 {
		return [4]float64{}, false
	}
	var v [4]float64
	for i := range a {
		e, _ := d.Resolve(a[i])
		if v[i], ok = toFloat(e); !ok {
			return [4]float64{}, false
		}
	}
	return [4]float64{min(v[0], v[2]), min(v[1], v[3]), max(v[0], v[2]), max(v[1], v[3])}, true
}

func (d *Document) makePage(n int, ref Ref, dict, inh Dict) (*Page, error) {
	p := &Page{Number: n, Ref: ref, Dict: dict}
	var ok bool
	if p.MediaBox, ok = d.box(inh["MediaBox"]); !ok || p.MediaBox[2] == p.MediaBox[0] || p.MediaBox[3] == p.MediaBox[1] {
		p.MediaBox = [4]float64{0, 0, 612, 792} // US Letter, what viewers assume
	}
	if p.CropBox, ok = d.box(inh["CropBox"]); !ok {
		p.CropBox = p.MediaBox
	}
	ro, _ := d.Resolve(inh["Rotate"])
	if r, ok := toFloat(ro); ok {
		rot := int(r) % 360
		if rot < 0 {
			rot += 360
		}
		if rot%90 == 0 {
			p.Rotate = rot
		}
	}
	return p, nil
}

// pageRefs walks the whole page tree (for verification, not for stamping)
// and returns page object numbers in order.
func (d *Document) pageRefs() ([]Ref, error) {
	root, err := d.pagesRoot()
	if err != nil {
		return nil, err
	}
	var out []Ref
	seen := map[int]bool{}
	var walk func(r Ref, depth int) error
	walk = func(r Ref, depth int) error {
		if depth > maxTreeDepth || seen[r.Num] {
			return formatErr(-1, "loop in page tree at object %d", r.Num)
		}
		seen[r.Num] = true
		o, err := d.Object(r)
		if err != nil {
			return err
		}
		dict, ok := o.(Dict)
		if !ok {
			return nil
		}
		if isLeaf(dict) {
			out = append(out, r)
			return nil
		}
		ko, err := d.Resolve(dict["Kids"])
		if err != nil {
			return err
		}
		kids, _ := ko.(Array)
		for _, k := range kids {
			if kr, ok := k.(Ref); ok {
				if err := walk(kr, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err = walk(root, 0)
	return out, err
}
