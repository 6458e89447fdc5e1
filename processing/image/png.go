package image

import (
	"bytes"
	"encoding/binary"
	"fmt"
	stdimage "image"
	"image/color"
	"image/png"
)

// rampPalette fills a 256-entry RGB palette as Pillow's ImagingPaletteNew does (a gray ramp);
// a file's palette then overwrites the entries it defines.
func rampPalette() [256][3]uint8 {
	var p [256][3]uint8
	for i := range p {
		p[i] = [3]uint8{uint8(i), uint8(i), uint8(i)}
	}
	return p
}

// decodePNG uses Go's image/png for the pixel data (it keeps raw 16-bit values and palette
// indices) and maps the result as Pillow 9.4's PngImagePlugin + convert("RGB") would.
func decodePNG(data []byte, opts *Options) (*Image, error) {
	// walk the chunks for IHDR and PLTE before decoding
	if len(data) < 8+8+13 || string(data[12:16]) != "IHDR" {
		return nil, fmt.Errorf("%w: PNG without IHDR", errCorrupt)
	}
	ihdr := data[16:29]
	w := int(binary.BigEndian.Uint32(ihdr[0:4]))
	h := int(binary.BigEndian.Uint32(ihdr[4:8]))
	depth := int(ihdr[8])
	ctype := int(ihdr[9])
	if err := checkSize(w, h, opts); err != nil {
		return nil, err
	}
	pal := rampPalette()
	npal := -1
	for p := 8; p+8 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[p : p+4]))
		typ := string(data[p+4 : p+8])
		if n < 0 || p+12+n > len(data) {
			break
		}
		if typ == "PLTE" {
			npal = min(n/3, 256)
			for i := 0; i < npal; i++ {
				copy(pal[i][:], data[p+8+3*i:p+11+3*i])
			}
		}
		if typ == "IDAT" || typ == "IEND" {
			break
		}
		p += 12 + n
	}
	m, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	b := m.Bounds()
	if b.Dx() != w || b.Dy() != h {
		return nil, fmt.Errorf("%w: PNG size mismatch", errCorrupt)
	}
	img := &Image{Width: w, Height: h, Pix: make([]uint8, w*h*3)}
	px := img.Pix
	switch ctype {
	case 0:
		img.Mode = "L"
		if depth == 1 {
			img.Mode = "1"
		} else if depth == 16 {
			img.Mode = "I"
		}
	case 2:
		img.Mode = "RGB"
	case 3:
		img.Mode = "P"
	case 4:
		img.Mode = "LA"
		if depth == 16 {
			img.Mode = "RGBA" // Pillow opens 16-bit gray+alpha as RGBA (rawmode LA;16B)
		}
	case 6:
		img.Mode = "RGBA"
	}
	set := func(i int, r, g, b uint8) { px[3*i], px[3*i+1], px[3*i+2] = r, g, b }
	clip16 := func(v uint16) uint8 {
		if v > 255 {
			return 255
		}
		return uint8(v)
	}
	switch mm := m.(type) {
	case *stdimage.Gray:
		for y := 0; y < h; y++ {
			row := mm.Pix[y*mm.Stride : y*mm.Stride+w]
			for x, v := range row {
				set(y*w+x, v, v, v)
			}
		}
	case *stdimage.Gray16:
		for y := 0; y < h; y++ {
			row := mm.Pix[y*mm.Stride : y*mm.Stride+2*w]
			for x := 0; x < w; x++ {
				v := clip16(uint16(row[2*x])<<8 | uint16(row[2*x+1]))
				set(y*w+x, v, v, v)
			}
		}
	case *stdimage.RGBA: // opaque 8-bit truecolor
		for y := 0; y < h; y++ {
			row := mm.Pix[y*mm.Stride : y*mm.Stride+4*w]
			for x := 0; x < w; x++ {
				set(y*w+x, row[4*x], row[4*x+1], row[4*x+2])
			}
		}
	case *stdimage.NRGBA: // RGBA, LA, or 8-bit gray/RGB with tRNS
		for y := 0; y < h; y++ {
			row := mm.Pix[y*mm.Stride : y*mm.Stride+4*w]
			for x := 0; x < w; x++ {
				set(y*w+x, row[4*x], row[4*x+1], row[4*x+2])
			}
		}
	case *stdimage.RGBA64, *stdimage.NRGBA64: // 16-bit RGB(A)/LA: Pillow keeps the high byte; 16-bit gray with tRNS is mode I: clipped
		var pix []uint8
		var stride int
		if a, ok := mm.(*stdimage.RGBA64); ok {
			pix, stride = a.Pix, a.Stride
		} else {
			a := mm.(*stdimage.NRGBA64)
			pix, stride = a.Pix, a.Stride
		}
		for y := 0; y < h; y++ {
			row := pix[y*stride : y*stride+8*w]
			for x := 0; x < w; x++ {
				if ctype == 0 {
					v := clip16(uint16(row[8*x])<<8 | uint16(row[8*x+1]))
					set(y*w+x, v, v, v)
				} else {
					set(y*w+x, row[8*x], row[8*x+2], row[8*x+4])
				}
			}
		}
	case *stdimage.Paletted:
		if npal < 0 {
			return nil, fmt.Errorf("%w: PNG palette image without PLTE", errCorrupt)
		}
		for y := 0; y < h; y++ {
			row := mm.Pix[y*mm.Stride : y*mm.Stride+w]
			for x, idx := range row {
				c := pal[idx]
				set(y*w+x, c[0], c[1], c[2])
			}
		}
	default:
		// should not happen with image/png; fall back to the generic colour model
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBAModel.Convert(m.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				set(y*w+x, c.R, c.G, c.B)
			}
		}
	}
	return img, nil
}
