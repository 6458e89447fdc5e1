package image

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
)

// decodeTIFF reads the first image of a TIFF file: strips (no tiles), chunky or planar,
// uncompressed, LZW, PackBits or Deflate, horizontal predictor; photometric BlackIsZero /
// WhiteIsZero (1, 4, 8, 16 bits), RGB(A) 8-bit, palette 4/8-bit and CMYK 8-bit, converted to RGB as
// Pillow's convert("RGB") does (16-bit gray is mode I;16 and clips).
func decodeTIFF(data []byte, opts *Options) (*Image, error) {
	var bo binary.ByteOrder = binary.LittleEndian
	if data[0] == 'M' {
		bo = binary.BigEndian
	}
	if len(data) < 8 {
		return nil, fmt.Errorf("%w: TIFF header", errCorrupt)
	}
	ifd := int(bo.Uint32(data[4:8]))
	if ifd < 8 || ifd+2 > len(data) {
		return nil, fmt.Errorf("%w: TIFF IFD offset", errCorrupt)
	}
	n := int(bo.Uint16(data[ifd:]))
	if ifd+2+12*n > len(data) {
		return nil, fmt.Errorf("%w: TIFF IFD", errCorrupt)
	}
	tags := map[int][]int{}
	typeSize := map[int]int{1: 1, 2: 1, 3: 2, 4: 4, 6: 1, 7: 1, 8: 2, 9: 4, 16: 8}
	for i := 0; i < n; i++ {
		e := data[ifd+2+12*i:]
		tag := int(bo.Uint16(e[0:]))
		typ := int(bo.Uint16(e[2:]))
		cnt := int(bo.Uint32(e[4:]))
		sz, ok := typeSize[typ]
		if !ok || cnt < 0 || cnt > 1<<24 {
			continue
		}
		var vals []byte
		if sz*cnt <= 4 {
			vals = e[8 : 8+sz*cnt]
		} else {
			off := int(bo.Uint32(e[8:]))
			if off < 0 || off+sz*cnt > len(data) {
				return nil, fmt.Errorf("%w: TIFF tag %d out of range", errCorrupt, tag)
			}
			vals = data[off : off+sz*cnt]
		}
		v := make([]int, cnt)
		for j := range v {
			switch sz {
			case 1:
				v[j] = int(vals[j])
			case 2:
				v[j] = int(bo.Uint16(vals[2*j:]))
			case 4:
				v[j] = int(bo.Uint32(vals[4*j:]))
			case 8:
				v[j] = int(bo.Uint64(vals[8*j:]))
			}
		}
		tags[tag] = v
	}
	get := func(tag, def int) int {
		if v, ok := tags[tag]; ok && len(v) > 0 {
			return v[0]
		}
		return def
	}
	w, h := get(256, 0), get(257, 0)
	if err := checkSize(w, h, opts); err != nil {
		return nil, err
	}
	bps := get(258, 1)
	spp := get(277, 1)
	comp := get(259, 1)
	photo := get(262, -1)
	planar := get(284, 1)
	pred := get(317, 1)
	if v, ok := tags[258]; ok {
		for _, b := range v {
			if b != bps {
				return nil, fmt.Errorf("%w: TIFF with mixed bits per sample", ErrUnsupported)
			}
		}
	}
	if spp < 1 || spp > 8 || (bps != 1 && bps != 4 && bps != 8 && bps != 16) {
		return nil, fmt.Errorf("%w: TIFF %d samples of %d bits", ErrUnsupported, spp, bps)
	}
	if fmtv := get(339, 1); fmtv != 1 {
		return nil, fmt.Errorf("%w: TIFF sample format %d", ErrUnsupported, fmtv)
	}
	if pred != 1 && pred != 2 {
		return nil, fmt.Errorf("%w: TIFF predictor %d", ErrUnsupported, pred)
	}
	if pred == 2 && bps != 8 && bps != 16 {
		return nil, fmt.Errorf("%w: TIFF predictor with %d bits", ErrUnsupported, bps)
	}
	planes := 1
	chunky := spp
	if planar == 2 {
		planes, chunky = spp, 1
	}
	// chunks are strips (tw = w, th = rows per strip) or tiles
	tw, th := w, get(278, h)
	offTag, cntTag := 273, 279
	_, tiled := tags[322]
	if tiled {
		tw, th = get(322, 0), get(323, 0)
		offTag, cntTag = 324, 325
		if tw <= 0 || th <= 0 || tw%16 != 0 || th%16 != 0 || tw > 1<<16 || th > 1<<16 {
			return nil, fmt.Errorf("%w: TIFF tile size %dx%d", errCorrupt, tw, th)
		}
	} else if th <= 0 || th > h {
		th = h
	}
	offs, counts := tags[offTag], tags[cntTag]
	if len(offs) == 0 || len(counts) != len(offs) {
		return nil, fmt.Errorf("%w: TIFF strip/tile offsets", errCorrupt)
	}
	across, down := (w+tw-1)/tw, (h+th-1)/th
	perPlane := across * down
	if len(offs) < perPlane*planes {
		return nil, fmt.Errorf("%w: TIFF has %d strips/tiles, want %d", errCorrupt, len(offs), perPlane*planes)
	}
	rowBytes := (w*chunky*bps + 7) / 8
	chunkRow := (tw*chunky*bps + 7) / 8
	raw := make([][]byte, planes) // decompressed rows of each plane
	for pl := 0; pl < planes; pl++ {
		buf := make([]byte, rowBytes*h)
		for ci := 0; ci < perPlane; ci++ {
			i := pl*perPlane + ci
			cx, cy := ci%across, ci/across
			o, c := offs[i], counts[i]
			if o < 0 || c < 0 || o+c > len(data) {
				return nil, fmt.Errorf("%w: TIFF strip/tile %d out of range", errCorrupt, i)
			}
			rows := th
			if !tiled {
				rows = min(th, h-cy*th)
			}
			want := rows * chunkRow
			src := data[o : o+c]
			var dec []byte
			var err error
			switch comp {
			case 1:
				dec = append([]byte(nil), src...)
			case 5:
				dec, err = tiffLZW(src, want)
			case 32773:
				dec, err = packBits(src, want)
			case 8, 32946:
				var zr io.ReadCloser
				zr, err = zlib.NewReader(bytes.NewReader(src))
				if err == nil {
					dec = make([]byte, want)
					_, err = io.ReadFull(zr, dec)
				}
			default:
				return nil, fmt.Errorf("%w: TIFF compression %d", ErrUnsupported, comp)
			}
			if err != nil {
				return nil, fmt.Errorf("%w: TIFF strip/tile %d: %v", errCorrupt, i, err)
			}
			if len(dec) < want {
				return nil, fmt.Errorf("%w: TIFF strip/tile %d short", errCorrupt, i)
			}
			for r := 0; r < rows; r++ {
				row := dec[r*chunkRow : (r+1)*chunkRow]
				if pred == 2 {
					tiffUnpredict(row, tw, chunky, bps, bo)
				}
				y := cy*th + r
				if y >= h {
					break
				}
				x0 := cx * tw
				nb := (min(tw, w-x0)*chunky*bps + 7) / 8
				if (x0*chunky*bps)%8 != 0 {
					return nil, fmt.Errorf("%w: TIFF tiles with sub-byte offsets", ErrUnsupported)
				}
				copy(buf[y*rowBytes+x0*chunky*bps/8:], row[:nb])
			}
		}
		raw[pl] = buf
	}
	// sample s of pixel (x, y)
	sample := func(x, y, s int) int {
		pl, idx := 0, x*spp+s
		if planes > 1 {
			pl, idx = s, x
		}
		row := raw[pl][y*rowBytes:]
		switch bps {
		case 8:
			return int(row[idx])
		case 16:
			if bo == binary.LittleEndian {
				return int(row[2*idx]) | int(row[2*idx+1])<<8
			}
			return int(row[2*idx])<<8 | int(row[2*idx+1])
		default:
			bit := idx * bps
			return int(row[bit>>3]>>uint(8-bps-bit&7)) & (1<<uint(bps) - 1)
		}
	}
	img := &Image{Width: w, Height: h, Pix: make([]uint8, w*h*3)}
	px := img.Pix
	switch {
	case (photo == 0 || photo == 1) && spp <= 2:
		img.Mode = "L"
		if bps == 1 {
			img.Mode = "1"
		} else if bps == 16 {
			img.Mode = "I;16"
		}
		if spp == 2 {
			img.Mode = "LA"
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				v := sample(x, y, 0)
				var g uint8
				switch bps {
				case 1:
					g = uint8(v * 255)
				case 4:
					g = uint8(v * 0x11)
				case 8:
					g = uint8(v)
				case 16:
					g = uint8(min(v, 255))
				}
				if photo == 0 {
					g = 255 - g
					if bps == 16 {
						return nil, fmt.Errorf("%w: 16-bit WhiteIsZero TIFF", ErrUnsupported)
					}
				}
				i := 3 * (y*w + x)
				px[i], px[i+1], px[i+2] = g, g, g
			}
		}
	case photo == 2 && spp >= 3 && (bps == 8 || bps == 16):
		img.Mode = "RGB"
		if spp == 4 {
			img.Mode = "RGBA"
		}
		shift := uint(0)
		if bps == 16 {
			shift = 8 // Pillow's RGB;16 raw modes keep the most significant byte
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				i := 3 * (y*w + x)
				px[i], px[i+1], px[i+2] = uint8(sample(x, y, 0)>>shift), uint8(sample(x, y, 1)>>shift), uint8(sample(x, y, 2)>>shift)
			}
		}
	case photo == 3 && spp == 1 && bps <= 8:
		img.Mode = "P"
		cm := tags[320]
		if len(cm) != 3<<uint(bps) {
			return nil, fmt.Errorf("%w: TIFF colour map", errCorrupt)
		}
		nc := 1 << uint(bps)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				v := sample(x, y, 0)
				i := 3 * (y*w + x)
				// Pillow scales the 16-bit colour map entries by // 256
				px[i], px[i+1], px[i+2] = uint8(cm[v]/256), uint8(cm[nc+v]/256), uint8(cm[2*nc+v]/256)
			}
		}
	case photo == 5 && spp >= 4 && bps == 8:
		img.Mode = "CMYK"
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				r, g, b := cmykToRGB(uint8(sample(x, y, 0)), uint8(sample(x, y, 1)), uint8(sample(x, y, 2)), uint8(sample(x, y, 3)))
				i := 3 * (y*w + x)
				px[i], px[i+1], px[i+2] = r, g, b
			}
		}
	default:
		return nil, fmt.Errorf("%w: TIFF photometric %d with %d samples of %d bits", ErrUnsupported, photo, spp, bps)
	}
	return img, nil
}

// tiffLZW decodes TIFF's LZW variant (MSB-first codes, early change) up to want bytes.
func tiffLZW(src []byte, want int) ([]byte, error) {
	out := make([]byte, 0, want)
	var prefix [4096]int
	var suffix [4096]byte
	var first [4096]byte
	var length [4096]int
	for i := 0; i < 256; i++ {
		suffix[i] = byte(i)
		first[i] = byte(i)
		length[i] = 1
		prefix[i] = -1
	}
	next := 258
	width := 9
	prev := -1
	var acc uint32
	nacc := 0
	pos := 0
	tmp := make([]byte, 4096)
	emit := func(code int) {
		n := length[code]
		c := code
		for i := n - 1; i >= 0; i-- {
			tmp[i] = suffix[c]
			c = prefix[c]
		}
		out = append(out, tmp[:n]...)
	}
	for len(out) < want {
		for nacc < width {
			if pos >= len(src) {
				return out, nil
			}
			acc = acc<<8 | uint32(src[pos])
			pos++
			nacc += 8
		}
		code := int(acc>>uint(nacc-width)) & (1<<uint(width) - 1)
		nacc -= width
		if code == 257 {
			break
		}
		if code == 256 {
			next = 258
			width = 9
			prev = -1
			continue
		}
		if prev < 0 {
			if code > 255 {
				return nil, fmt.Errorf("bad LZW code %d", code)
			}
			emit(code)
			prev = code
			continue
		}
		if code < next {
			emit(code)
			if next < 4096 {
				prefix[next] = prev
				suffix[next] = first[code]
				first[next] = first[prev]
				length[next] = length[prev] + 1
				next++
			}
		} else if code == next && next < 4096 {
			prefix[next] = prev
			suffix[next] = first[prev]
			first[next] = first[prev]
			length[next] = length[prev] + 1
			next++
			emit(code)
		} else {
			return nil, fmt.Errorf("bad LZW code %d", code)
		}
		prev = code
		if next+1 >= 1<<uint(width) && width < 12 {
			width++
		}
	}
	return out, nil
}

// packBits decodes Macintosh PackBits run-length data up to want bytes.
func packBits(src []byte, want int) ([]byte, error) {
	out := make([]byte, 0, want)
	for i := 0; i < len(src) && len(out) < want; {
		n := int(int8(src[i]))
		i++
		switch {
		case n >= 0:
			if i+n+1 > len(src) {
				return nil, fmt.Errorf("PackBits literal run past the end")
			}
			out = append(out, src[i:i+n+1]...)
			i += n + 1
		case n != -128:
			if i >= len(src) {
				return nil, fmt.Errorf("PackBits run past the end")
			}
			for j := 0; j < 1-n; j++ {
				out = append(out, src[i])
			}
			i++
		}
	}
	return out, nil
}

// tiffUnpredict undoes TIFF's horizontal differencing (Predictor 2) on one row of n pixels.
func tiffUnpredict(row []byte, n, chunky, bps int, bo binary.ByteOrder) {
	if bps == 8 {
		for x := chunky; x < n*chunky; x++ {
			row[x] += row[x-chunky]
		}
		return
	}
	for x := chunky; x < n*chunky; x++ {
		v := bo.Uint16(row[2*x:]) + bo.Uint16(row[2*(x-chunky):])
		bo.PutUint16(row[2*x:], v)
	}
}
