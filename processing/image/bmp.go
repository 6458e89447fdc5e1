package image

import (
	"encoding/binary"
	"fmt"
)

// decodeBMP reads Windows and OS/2 bitmaps as Pillow 9.4's BmpImagePlugin does: 1/4/8-bit
// palette images (mode P; entries past the file's palette keep Pillow's gray ramp), 16-bit
// (5-5-5, or 5-6-5 bit fields), 24-bit BGR, 32-bit BGRX / bit-field BGRA, bottom-up and top-down.
// RLE-compressed bitmaps are not supported.
func decodeBMP(data []byte, opts *Options) (*Image, error) {
	if len(data) < 26 {
		return nil, fmt.Errorf("%w: BMP header", errCorrupt)
	}
	le := binary.LittleEndian
	offset := int(le.Uint32(data[10:14]))
	hsize := int(le.Uint32(data[14:18]))
	var w, h, bits, compression, colors int
	topDown := false
	var masks [4]uint32
	switch {
	case hsize == 12:
		w = int(le.Uint16(data[18:20]))
		h = int(le.Uint16(data[20:22]))
		bits = int(le.Uint16(data[24:26]))
	case hsize >= 40 && 14+hsize <= len(data):
		w = int(int32(le.Uint32(data[18:22])))
		hh := int32(le.Uint32(data[22:26]))
		if hh < 0 {
			topDown = true
			hh = -hh
		}
		h = int(hh)
		bits = int(le.Uint16(data[28:30]))
		compression = int(le.Uint32(data[30:34]))
		colors = int(le.Uint32(data[46:50]))
		if compression == 3 || compression == 6 {
			mp := 54
			if hsize >= 52 {
				mp = 14 + 40
			}
			n := 3
			if hsize >= 56 || compression == 6 {
				n = 4
			}
			if mp+4*n > len(data) {
				return nil, fmt.Errorf("%w: BMP bit masks", errCorrupt)
			}
			for i := 0; i < n; i++ {
				masks[i] = le.Uint32(data[mp+4*i:])
			}
		}
	default:
		return nil, fmt.Errorf("%w: BMP header size %d", ErrUnsupported, hsize)
	}
	if err := checkSize(w, h, opts); err != nil {
		return nil, err
	}
	if compression != 0 && compression != 3 && compression != 6 {
		return nil, fmt.Errorf("%w: BMP compression %d", ErrUnsupported, compression)
	}
	stride := ((w*bits + 31) >> 5) << 2
	if bits != 1 && bits != 4 && bits != 8 && bits != 16 && bits != 24 && bits != 32 {
		return nil, fmt.Errorf("%w: BMP with %d bits per pixel", ErrUnsupported, bits)
	}
	if offset < 0 || offset > len(data) || int64(stride)*int64(h) > int64(len(data)-offset) {
		return nil, fmt.Errorf("%w: BMP pixel data truncated", errCorrupt)
	}
	img := &Image{Width: w, Height: h, Pix: make([]uint8, w*h*3), Mode: "RGB"}
	pal := rampPalette()
	if bits <= 8 {
		img.Mode = "P"
		entry := 4
		if hsize == 12 {
			entry = 3
		}
		if colors <= 0 || colors > 1<<uint(bits) {
			colors = 1 << uint(bits)
		}
		pp := 14 + hsize
		if pp+entry*colors > len(data) {
			return nil, fmt.Errorf("%w: BMP palette", errCorrupt)
		}
		for i := 0; i < colors && i < 256; i++ {
			e := data[pp+entry*i:]
			pal[i] = [3]uint8{e[2], e[1], e[0]}
		}
	}
	var m565 bool
	if compression == 3 || compression == 6 {
		switch {
		case bits == 32 && masks[0] == 0xff0000 && masks[1] == 0xff00 && masks[2] == 0xff:
		case bits == 16 && masks[0] == 0xf800 && masks[1] == 0x7e0 && masks[2] == 0x1f:
			m565 = true
		case bits == 16 && masks[0] == 0x7c00 && masks[1] == 0x3e0 && masks[2] == 0x1f:
		default:
			return nil, fmt.Errorf("%w: BMP bit fields %x", ErrUnsupported, masks)
		}
		if bits == 32 && masks[3] == 0xff000000 {
			img.Mode = "RGBA"
		}
	}
	for y := 0; y < h; y++ {
		sy := h - 1 - y
		if topDown {
			sy = y
		}
		row := data[offset+sy*stride : offset+sy*stride+stride]
		out := img.Pix[y*w*3 : (y+1)*w*3]
		for x := 0; x < w; x++ {
			var r, g, b uint8
			switch bits {
			case 1, 4, 8:
				bitpos := x * bits
				idx := int(row[bitpos>>3]>>uint(8-bits-bitpos&7)) & (1<<uint(bits) - 1)
				c := pal[idx]
				r, g, b = c[0], c[1], c[2]
			case 16:
				v := int(row[2*x]) | int(row[2*x+1])<<8
				if m565 {
					r = uint8(((v >> 11) & 31) * 255 / 31)
					g = uint8(((v >> 5) & 63) * 255 / 63)
					b = uint8((v & 31) * 255 / 31)
				} else {
					r = uint8(((v >> 10) & 31) * 255 / 31)
					g = uint8(((v >> 5) & 31) * 255 / 31)
					b = uint8((v & 31) * 255 / 31)
				}
			case 24:
				b, g, r = row[3*x], row[3*x+1], row[3*x+2]
			case 32:
				b, g, r = row[4*x], row[4*x+1], row[4*x+2]
			}
			out[3*x], out[3*x+1], out[3*x+2] = r, g, b
		}
	}
	return img, nil
}
