package pdf

import "strconv"

// QRCode is a code drawn beside a seal, typically pointing at the
// verification page of the stamped document. The caller encodes it (pdf
// knows no QR); the drawing is vector rectangles, sharp at any zoom.
type QRCode struct {
	// Modules[y][x] is true for a dark module; the matrix is square.
	Modules [][]bool
	// SizeMM is the printed side of the code, quiet zone included.
	SizeMM float64
}

// Limits on a QR code: version 40 has 177 modules a side; a code smaller
// than 12 mm does not scan reliably from paper.
const (
	maxQRModules = 177
	minQRMM      = 12
	qrGapMM      = 2 // between the seal and the code
	qrQuiet      = 2 // modules of white around the code
)

// planQR places the code beside the seal: to its right, top-aligned, or to
// its left when the right has no room. A QR code is never clipped — a
// clipped code does not scan — so it must fit wholly on the visible page.
func planQR(page *Page, req SignatureRequest) (widgetPlan, error) {
	q := req.QR
	n := len(q.Modules)
	if n == 0 || n > maxQRModules {
		return widgetPlan{}, &PlacementError{Reason: "QR code: 1 to 177 modules a side"}
	}
	for _, row := range q.Modules {
		if len(row) != n {
			return widgetPlan{}, &PlacementError{Reason: "QR code: the module matrix is not square"}
		}
	}
	size := q.SizeMM
	if size == 0 {
		size = req.HeightMM / 2
	}
	if !finite(size) || size < minQRMM {
		size = minQRMM
	}
	W, H := page.displaySize()
	fits := func(x float64) bool {
		return x >= 0 && (x+size)*ptPerMM <= W && req.YMM >= 0 && (req.YMM+size)*ptPerMM <= H
	}
	x := req.XMM + req.WidthMM + qrGapMM
	if !fits(x) {
		x = req.XMM - qrGapMM - size
	}
	if !fits(x) {
		return widgetPlan{}, &PlacementError{Reason: "no room beside the seal for the QR code on the visible page"}
	}
	pl, err := place(page, x, req.YMM, size, size)
	if err != nil {
		return widgetPlan{}, err
	}
	return widgetPlan{page: page, pl: pl, qr: q.Modules}, nil
}

// writeQRAppearance draws a QR code: a white square, then one filled
// rectangle per run of dark modules in each row.
func (w *updateWriter) writeQRAppearance(objNum int, p widgetPlan) {
	pl := p.pl
	n := len(p.qr)
	cell := pl.bw / float64(n+2*qrQuiet)
	var c []byte
	c = append(c, "q 1 g 0 0 "+num(pl.bw)+" "+num(pl.bh)+" re f 0 g\n"...)
	for y, row := range p.qr {
		for x := 0; x < n; {
			if !row[x] {
				x++
				continue
			}
			run := 1
			for x+run < n && row[x+run] {
				run++
			}
			// Module rows run top to bottom; PDF's y axis runs up.
			px := float64(x+qrQuiet) * cell
			py := pl.bh - float64(y+qrQuiet+1)*cell
			c = append(c, num(px)+" "+num(py)+" "+num(float64(run)*cell)+" "+num(cell)+" re\n"...)
			x += run
		}
	}
	c = append(c, "f Q"...)
	w.begin(objNum, 0)
	w.buf = append(w.buf, "<</Type/XObject/Subtype/Form/BBox [0 0 "+num(pl.bw)+" "+num(pl.bh)+"]"...)
	if p.page.Rotate != 0 {
		m := pl.matrix
		w.buf = append(w.buf, "/Matrix ["+num(m[0])+" "+num(m[1])+" "+num(m[2])+" "+num(m[3])+" 0 0]"...)
	}
	w.buf = append(w.buf, "/Resources<<>>/Length "...)
	w.buf = strconv.AppendInt(w.buf, int64(len(c)), 10)
	w.buf = append(w.buf, ">>\nstream\n"...)
	w.buf = append(w.buf, c...)
	w.buf = append(w.buf, "\nendstream"...)
	w.end()
}
