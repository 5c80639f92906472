package pdf

// Cross-page seals (骑缝章): the seal picture is cut into as many vertical
// strips as there are pages in the range and strip i is drawn at the right
// edge of the range's page i, so the pages laid edge to edge show the whole
// seal and no page can be swapped unnoticed. All strips are widgets of one
// signature field, signed once.

// A CrossPage selects the pages of a cross-page seal. The seal is
// SignatureRequest.WidthMM × HeightMM in total; each of the N pages in the
// range shows a WidthMM/N wide strip at its right edge, with its top
// SignatureRequest.YMM millimetres below the top of the visible page, or
// vertically centred when YMM is zero. SignatureRequest.Page and XMM are
// ignored.
type CrossPage struct {
	FirstPage, LastPage int // 1-based and inclusive; 0 means the first or last page
}

// minStripPt is the narrowest strip drawn, in points.
const minStripPt = 0.05

// A widgetPlan is one widget of the field being added: its page and where
// on it the (part of the) seal goes.
type widgetPlan struct {
	page *Page
	pl   *placement
	qr   [][]bool // a QR code's modules instead of the seal picture
}

// planWidgets places the widgets of a request: one for an ordinary seal,
// one per page for a cross-page seal.
func (d *Document) planWidgets(req SignatureRequest) ([]widgetPlan, error) {
	if req.CrossPage == nil {
		page, err := d.Page(req.Page)
		if err != nil {
			return nil, err
		}
		pl, err := place(page, req.XMM, req.YMM, req.WidthMM, req.HeightMM)
		if err != nil {
			return nil, err
		}
		plans := []widgetPlan{{page: page, pl: pl}}
		if req.QR != nil {
			qp, err := planQR(page, req)
			if err != nil {
				return nil, err
			}
			plans = append(plans, qp)
		}
		return plans, nil
	}
	np := d.NumPages()
	first, last := req.CrossPage.FirstPage, req.CrossPage.LastPage
	if first == 0 {
		first = 1
	}
	if last == 0 {
		last = np
	}
	for _, p := range []int{first, last} {
		if p < 1 || p > np {
			return nil, &PageRangeError{Page: p, NumPages: np}
		}
	}
	n := last - first + 1
	if n < 2 {
		return nil, &PlacementError{Reason: "a cross-page seal needs a range of at least two pages"}
	}
	if !finite(req.YMM, req.WidthMM, req.HeightMM) || req.WidthMM <= 0 || req.HeightMM <= 0 {
		return nil, &PlacementError{Reason: "seal size must be positive and finite"}
	}
	strip := req.WidthMM / float64(n)
	if strip*ptPerMM < minStripPt {
		return nil, &PlacementError{Reason: "seal too narrow to cut into a strip per page"}
	}
	seen := map[int]bool{}
	plans := make([]widgetPlan, 0, n)
	for i := 0; i < n; i++ {
		page, err := d.Page(first + i)
		if err != nil {
			return nil, err
		}
		if seen[page.Ref.Num] {
			return nil, formatErr(-1, "page tree lists page object %d twice", page.Ref.Num)
		}
		seen[page.Ref.Num] = true
		w, h := page.displaySize()
		y := req.YMM
		if y == 0 {
			y = (h/ptPerMM - req.HeightMM) / 2
		}
		pl, err := place(page, w/ptPerMM-strip, y, strip, req.HeightMM)
		if err != nil {
			return nil, err
		}
		// Draw the whole picture, shifted so strip i falls in the box.
		pl.img[0] = req.WidthMM * ptPerMM
		pl.img[4] -= float64(i) * strip * ptPerMM
		plans = append(plans, widgetPlan{page: page, pl: pl})
	}
	return plans, nil
}
