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
	palStart := 14
	switch {
	case hsize == 12:
		palStart = 14 + 12
		w = int(le.Uint16(data[18:20]))
		h = int(le.Uint16(data[20:22]))
		bits = int(le.Uint16(data[24:26]))
	case hsize >= 40 && 14+hsize <= len(data):
		palStart = 14 + hsize
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
			// Pillow: 4 masks from the header when it has them (>= 56 bytes), else 3 masks
			// right after the header
			mp, n := 14+hsize, 3
			if hsize-4 >= 52 {
				mp, n = 54, 4
			}
			if mp+4*n > len(data) {
				return nil, fmt.Errorf("%w: BMP bit masks", errCorrupt)
			}
			for i := 0; i < n; i++ {
				masks[i] = le.Uint32(data[mp+4*i:])
			}
			palStart = mp + 4*n
		}
	default:
		return nil, fmt.Errorf("%w: BMP header size %d", ErrUnsupported, hsize)
	}
	if err := checkSize(w, h, opts); err != nil {
		return nil, err
	}
	rle := compression == 1 || compression == 2
	if compression != 0 && compression != 3 && compression != 6 && !rle {
		return nil, fmt.Errorf("%w: BMP compression %d", ErrUnsupported, compression)
	}
	stride := ((w*bits + 31) >> 5) << 2
	if bits != 1 && bits != 2 && bits != 4 && bits != 8 && bits != 16 && bits != 24 && bits != 32 {
		return nil, fmt.Errorf("%w: BMP with %d bits per pixel", ErrUnsupported, bits)
	}
	if offset < 0 || offset > len(data) || (!rle && int64(stride)*int64(h) > int64(len(data)-offset)) {
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
		pp := palStart
		if offset == 14+hsize {
			offset += 4 * colors // Pillow's fix-up for offsets that point at the palette
		}
		if pp+entry*colors > len(data) {
			return nil, fmt.Errorf("%w: BMP palette", errCorrupt)
		}
		grey := true
		for i := 0; i < colors && i < 256; i++ {
			e := data[pp+entry*i:]
			pal[i] = [3]uint8{e[2], e[1], e[0]}
			want := uint8(i)
			if colors == 2 {
				want = uint8(255 * i)
			}
			if e[0] != want || e[1] != want || e[2] != want {
				grey = false
			}
		}
		if grey { // Pillow ignores a grey ramp palette: mode 1 or L
			img.Mode = "L"
			if colors == 2 {
				img.Mode = "1"
			}
		}
	}
	var m565 bool
	var order [3]int // byte positions of R, G, B in a 32-bit pixel
	order = [3]int{2, 1, 0}
	if compression == 3 || compression == 6 {
		a := masks[3]
		if bits != 32 {
			a = 0 // Pillow compares the RGB masks only below 32 bits
		}
		key := fmt.Sprintf("%d:%x,%x,%x,%x", bits, masks[0], masks[1], masks[2], a)
		switch key {
		case "32:ff0000,ff00,ff,0": // BGRX
		case "32:ff000000,ff0000,ff00,0": // XBGR
			order = [3]int{3, 2, 1}
		case "32:ff000000,ff0000,ff00,ff": // ABGR
			order = [3]int{3, 2, 1}
			img.Mode = "RGBA"
		case "32:ff,ff00,ff0000,ff000000": // RGBA
			order = [3]int{0, 1, 2}
			img.Mode = "RGBA"
		case "32:ff0000,ff00,ff,ff000000", "32:0,0,0,0": // BGRA
			img.Mode = "RGBA"
		case "24:ff0000,ff00,ff,0":
		case "16:f800,7e0,1f,0":
			m565 = true
		case "16:7c00,3e0,1f,0":
		default:
			return nil, fmt.Errorf("%w: BMP bit fields layout %s", ErrUnsupported, key)
		}
	}
	if rle {
		if bits != 8 && bits != 4 {
			return nil, fmt.Errorf("%w: BMP RLE with %d bits", errCorrupt, bits)
		}
		idx, err := bmpRLE(data, offset, w, h, compression == 2)
		if err != nil {
			return nil, err
		}
		for y := 0; y < h; y++ {
			sy := h - 1 - y
			if topDown {
				sy = y
			}
			for x := 0; x < w; x++ {
				c := pal[idx[sy*w+x]]
				i := 3 * (y*w + x)
				img.Pix[i], img.Pix[i+1], img.Pix[i+2] = c[0], c[1], c[2]
			}
		}
		return img, nil
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
			case 1, 2, 4, 8:
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
				r, g, b = row[4*x+order[0]], row[4*x+order[1]], row[4*x+order[2]]
			}
			out[3*x], out[3*x+1], out[3*x+2] = r, g, b
		}
	}
	return img, nil
}

// bmpRLE is Pillow 9.4's BmpRleDecoder (a Python decoder): the palette indices in file row
// order. Its quirks are kept: a delta escape consumes four bytes and uses the last two, absolute
// runs in RLE4 drop an odd last pixel, word alignment follows the absolute file position.
func bmpRLE(data []byte, offset, w, h int, rle4 bool) ([]uint8, error) {
	need := w * h
	out := make([]uint8, 0, need)
	x := 0
	p := offset
	read := func(n int) []byte {
		if p+n > len(data) {
			b := data[min(p, len(data)):]
			p = len(data)
			return b
		}
		b := data[p : p+n]
		p += n
		return b
	}
	for len(out) < need {
		pb := read(1)
		bb := read(1)
		if len(pb) == 0 || len(bb) == 0 {
			break
		}
		n, b := int(pb[0]), bb[0]
		if n > 0 {
			if x+n > w {
				n = max(0, w-x)
			}
			for i := 0; i < n; i++ {
				if rle4 {
					if i%2 == 0 {
						out = append(out, b>>4)
					} else {
						out = append(out, b&15)
					}
				} else {
					out = append(out, b)
				}
			}
			x += n
			continue
		}
		switch b {
		case 0: // end of line
			for len(out)%w != 0 {
				out = append(out, 0)
			}
			x = 0
		case 1: // end of bitmap
			goto done
		case 2: // delta
			if len(read(2)) < 2 {
				goto done
			}
			ru := read(2)
			if len(ru) < 2 {
				return nil, fmt.Errorf("%w: BMP RLE delta", errCorrupt)
			}
			skip := int(ru[0]) + int(ru[1])*w
			if len(out)+skip > 4*need+w {
				return nil, fmt.Errorf("%w: BMP RLE delta out of range", errCorrupt)
			}
			for i := 0; i < skip; i++ {
				out = append(out, 0)
			}
			x = len(out) % w
		default: // absolute run
			cnt := int(b)
			if rle4 {
				got := read(cnt / 2)
				for _, v := range got {
					out = append(out, v>>4, v&15)
				}
				if len(got) < cnt/2 {
					goto done
				}
			} else {
				got := read(cnt)
				out = append(out, got...)
				if len(got) < cnt {
					goto done
				}
			}
			x += cnt
			if p%2 != 0 {
				p++
			}
		}
	}
done:
	if len(out) < need {
		return nil, fmt.Errorf("%w: BMP RLE data ends early (not enough image data)", errCorrupt)
	}
	return out[:need], nil
}
