package image

import (
	"bytes"
	"compress/lzw"
	"fmt"
	"io"
)

// decodeGIF decodes frame 0 as Pillow 9.4's GifImagePlugin does: a canvas of the logical screen
// size, filled with the frame's transparency index (else index 0), the frame's pixels at its
// offset, then the palette lookup of convert("RGB") (the local colour table, else the global one;
// entries beyond the table keep Pillow's gray ramp). The raw palette colour of a transparent index
// is kept: convert("RGB") ignores transparency.
func decodeGIF(data []byte, opts *Options) (*Image, error) {
	if len(data) < 13 {
		return nil, fmt.Errorf("%w: GIF header", errCorrupt)
	}
	sw := int(data[6]) | int(data[7])<<8
	sh := int(data[8]) | int(data[9])<<8
	flags := data[10]
	if err := checkSize(sw, sh, opts); err != nil {
		return nil, err
	}
	p := 13
	var global []byte
	if flags&0x80 != 0 {
		n := 3 << (uint(flags&7) + 1)
		if p+n > len(data) {
			return nil, fmt.Errorf("%w: GIF global colour table", errCorrupt)
		}
		global = data[p : p+n]
		p += n
	}
	transparency := -1
	for {
		if p >= len(data) {
			return nil, fmt.Errorf("%w: GIF without image", errCorrupt)
		}
		switch data[p] {
		case '!': // extension
			if p+2 > len(data) {
				return nil, fmt.Errorf("%w: GIF extension", errCorrupt)
			}
			label := data[p+1]
			p += 2
			first := true
			for {
				if p >= len(data) {
					return nil, fmt.Errorf("%w: GIF extension block", errCorrupt)
				}
				n := int(data[p])
				p++
				if n == 0 {
					break
				}
				if p+n > len(data) {
					return nil, fmt.Errorf("%w: GIF extension block", errCorrupt)
				}
				if label == 0xF9 && first && n >= 4 {
					if data[p]&1 != 0 {
						transparency = int(data[p+3])
					}
				}
				first = false
				p += n
			}
		case ',':
			return gifFrame(data, p, sw, sh, global, transparency)
		case ';':
			return nil, fmt.Errorf("%w: GIF without image", errCorrupt)
		default:
			return nil, fmt.Errorf("%w: GIF block 0x%02x", errCorrupt, data[p])
		}
	}
}

func gifFrame(data []byte, p, sw, sh int, global []byte, transparency int) (*Image, error) {
	if p+10 > len(data) {
		return nil, fmt.Errorf("%w: GIF image descriptor", errCorrupt)
	}
	fx := int(data[p+1]) | int(data[p+2])<<8
	fy := int(data[p+3]) | int(data[p+4])<<8
	fw := int(data[p+5]) | int(data[p+6])<<8
	fh := int(data[p+7]) | int(data[p+8])<<8
	flags := data[p+9]
	p += 10
	palette := global
	if flags&0x80 != 0 {
		n := 3 << (uint(flags&7) + 1)
		if p+n > len(data) {
			return nil, fmt.Errorf("%w: GIF local colour table", errCorrupt)
		}
		palette = data[p : p+n]
		p += n
	}
	if p >= len(data) {
		return nil, fmt.Errorf("%w: GIF image data", errCorrupt)
	}
	lit := int(data[p])
	p++
	if lit < 2 || lit > 8 {
		return nil, fmt.Errorf("%w: GIF LZW code size %d", errCorrupt, lit)
	}
	// gather the data sub-blocks
	var buf bytes.Buffer
	for p < len(data) {
		n := int(data[p])
		p++
		if n == 0 {
			break
		}
		if p+n > len(data) {
			n = len(data) - p
		}
		buf.Write(data[p : p+n])
		p += n
	}
	canvas := make([]uint8, sw*sh)
	if transparency >= 0 {
		for i := range canvas {
			canvas[i] = uint8(transparency)
		}
	}
	if fw > 0 && fh > 0 {
		if int64(fw)*int64(fh) > 4*int64(sw)*int64(sh)+1<<20 {
			return nil, fmt.Errorf("%w: GIF frame %dx%d larger than the screen", errCorrupt, fw, fh)
		}
		pix := make([]uint8, fw*fh)
		r := lzw.NewReader(&buf, lzw.LSB, lit)
		n, err := io.ReadFull(r, pix)
		r.Close()
		if err != nil && n < len(pix) {
			return nil, fmt.Errorf("%w: GIF image data: %v", errCorrupt, err)
		}
		rows := make([]int, fh)
		if flags&0x40 != 0 { // interlaced
			i := 0
			for _, pass := range [][2]int{{0, 8}, {4, 8}, {2, 4}, {1, 2}} {
				for y := pass[0]; y < fh; y += pass[1] {
					rows[i] = y
					i++
				}
			}
		} else {
			for y := range rows {
				rows[y] = y
			}
		}
		for i, y := range rows {
			cy := fy + y
			if cy >= sh {
				continue
			}
			src := pix[i*fw : i*fw+fw]
			for x, v := range src {
				if cx := fx + x; cx < sw {
					canvas[cy*sw+cx] = v
				}
			}
		}
	}
	pal := rampPalette()
	mode := "L"
	if palette != nil && gifPaletteNeeded(palette) {
		mode = "P"
	}
	if palette != nil {
		for i := 0; i < len(palette)/3 && i < 256; i++ {
			copy(pal[i][:], palette[3*i:3*i+3])
		}
	}
	img := &Image{Width: sw, Height: sh, Pix: make([]uint8, sw*sh*3), Mode: mode}
	for i, v := range canvas {
		c := pal[v]
		img.Pix[3*i], img.Pix[3*i+1], img.Pix[3*i+2] = c[0], c[1], c[2]
	}
	return img, nil
}

// gifPaletteNeeded is GifImageFile._is_palette_needed: false when entry i is (i, i, i) for every
// entry, in which case Pillow opens the GIF as mode L.
func gifPaletteNeeded(p []byte) bool {
	for i := 0; i+2 < len(p); i += 3 {
		if !(int(p[i]) == i/3 && p[i] == p[i+1] && p[i] == p[i+2]) {
			return true
		}
	}
	return false
}
