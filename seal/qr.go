package seal

import (
	"fmt"

	"rsc.io/qr"

	"eseal/pdf"
)

// qrCode encodes text (the verify URL) for drawing beside a seal, at medium
// error correction so a stamp or a crease over it still scans.
func qrCode(text string) (*pdf.QRCode, error) {
	if len(text) > 512 {
		return nil, &PlacementError{fmt.Sprintf("QR text of %d bytes; at most 512", len(text))}
	}
	c, err := qr.Encode(text, qr.M)
	if err != nil {
		return nil, fmt.Errorf("QR code: %w", err)
	}
	m := make([][]bool, c.Size)
	for y := range m {
		m[y] = make([]bool, c.Size)
		for x := range m[y] {
			m[y][x] = c.Black(x, y)
		}
	}
	return &pdf.QRCode{Modules: m}, nil
}
