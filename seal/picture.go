package seal

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
)

// Limits on seal pictures. A seal is a small emblem; anything larger is a
// mistake or an attack on the stamping path, which embeds the picture in every
// signed revision.
const (
	MaxPictureBytes  = 1 << 20 // encoded PNG
	MaxPicturePixels = 2048    // width or height
	MinPictureMM     = 10
	MaxPictureMM     = 100
)

// PictureError says why a seal picture was refused.
type PictureError struct{ Reason string }

func (e *PictureError) Error() string { return "seal picture: " + e.Reason }

// DecodePicture checks an uploaded seal picture: a PNG of sensible size. The
// returned image keeps its alpha channel, which becomes the PDF soft mask.
func DecodePicture(data []byte) (image.Image, error) {
	if len(data) == 0 {
		return nil, &PictureError{"empty"}
	}
	if len(data) > MaxPictureBytes {
		return nil, &PictureError{fmt.Sprintf("%d bytes, the limit is %d", len(data), MaxPictureBytes)}
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, &PictureError{"not a PNG: " + err.Error()}
	}
	if cfg.Width < 16 || cfg.Height < 16 || cfg.Width > MaxPicturePixels || cfg.Height > MaxPicturePixels {
		return nil, &PictureError{fmt.Sprintf("%d×%d pixels; allowed 16–%d", cfg.Width, cfg.Height, MaxPicturePixels)}
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, &PictureError{"broken PNG: " + err.Error()}
	}
	return img, nil
}
