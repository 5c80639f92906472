package pdf

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
)

func decodeFilter(f Object, p Dict, data []byte) ([]byte, error) {
	name, _ := f.(Name)
	switch name {
	case "FlateDecode", "Fl":
		out, err := inflate(data)
		if err != nil {
			return nil, err
		}
		return unpredict(p, out)
	case "ASCIIHexDecode", "AHx":
		l := newBytesLexer(append(bytes.TrimRight(data, " \t\r\n\f\x00>"), '>'))
		o, err := l.hex()
		if err != nil {
			return nil, err
		}
		return o.(String), nil
	}
	return nil, fmt.Errorf("unsupported filter %q", string(name))
}

// inflate decompresses zlib data up to maxDecoded bytes. Truncated or
// checksum-damaged streams, common in the wild, yield what was decoded.
func inflate(data []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("flate: %v", err)
	}
	var out bytes.Buffer
	n, err := io.Copy(&out, io.LimitReader(zr, maxDecoded+1))
	if n > maxDecoded {
		return nil, errors.New("flate: stream expands beyond limit")
	}
	if err != nil && out.Len() == 0 {
		return nil, fmt.Errorf("flate: %v", err)
	}
	return out.Bytes(), nil
}

func intParm(p Dict, k Name, def int64) int64 {
	if v, ok := p[k].(int64); ok {
		return v
	}
	return def
}

// unpredict undoes PNG (10–15) and TIFF (2) predictors.
func unpredict(p Dict, data []byte) ([]byte, error) {
	pred := intParm(p, "Predictor", 1)
	if pred == 1 {
		return data, nil
	}
	colors := intParm(p, "Colors", 1)
	bpc := intParm(p, "BitsPerComponent", 8)
	cols := intParm(p, "Columns", 1)
	if colors < 1 || colors > 32 || cols < 1 || cols > 1<<20 || (bpc != 1 && bpc != 2 && bpc != 4 && bpc != 8 && bpc != 16) {
		return nil, errors.New("bad predictor parameters")
	}
	bpp := int((colors*bpc + 7) / 8)
	rowLen := int((cols*colors*bpc + 7) / 8)
	switch {
	case pred == 2:
		if bpc != 8 {
			return nil, errors.New("unsupported TIFF predictor depth")
		}
		out := append([]byte(nil), data...)
		for r := 0; r+rowLen <= len(out); r += rowLen {
			for i := bpp; i < rowLen; i++ {
				out[r+i] += out[r+i-bpp]
			}
		}
		return out, nil
	case pred >= 10 && pred <= 15:
		out := make([]byte, 0, len(data))
		prev := make([]byte, rowLen)
		cur := make([]byte, rowLen)
		for p := 0; p < len(data); p += rowLen + 1 {
			ft := data[p]
			end := min(p+1+rowLen, len(data))
			n := copy(cur, data[p+1:end])
			clear(cur[n:])
			for i := 0; i < rowLen; i++ {
				var a, b, c int
				if i >= bpp {
					a = int(cur[i-bpp])
					c = int(prev[i-bpp])
				}
				b = int(prev[i])
				switch ft {
				case 0:
				case 1:
					cur[i] += byte(a)
				case 2:
					cur[i] += byte(b)
				case 3:
					cur[i] += byte((a + b) / 2)
				case 4:
					cur[i] += byte(paeth(a, b, c))
				default:
					return nil, errors.New("bad PNG predictor row type")
				}
			}
			out = append(out, cur[:n]...)
			prev, cur = cur, prev
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported predictor %d", pred)
}

func paeth(a, b, c int) int {
	p := a + b - c
	pa, pb, pc := abs(p-a), abs(p-b), abs(p-c)
	if pa <= pb && pa <= pc {
		return a
	}
	if pb <= pc {
		return b
	}
	return c
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
