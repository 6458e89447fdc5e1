package image

import "fmt"

// Constants of libjpeg's jidctint.c (CONST_BITS 13, PASS1_BITS 2).
const (
	idctConstBits = 13
	idctPass1Bits = 2
	fix0298631336 = 2446
	fix0390180644 = 3196
	fix0541196100 = 4433
	fix0765366865 = 6270
	fix0899976223 = 7373
	fix1175875602 = 9633
	fix1501321110 = 12299
	fix1847759065 = 15137
	fix1961570560 = 16069
	fix2053119869 = 16819
	fix2562915447 = 20995
	fix3072711026 = 25172
)

// idctRangeLimit reproduces libjpeg's post-IDCT range_limit[x & RANGE_MASK] lookup: the value
// wraps to 10 bits (signed) and is then clamped to 0..255 after adding CENTERJSAMPLE.
func idctRangeLimit(x int) uint8 {
	v := x & 1023
	if v >= 512 {
		v -= 1024
	}
	v += 128
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// idctIslow is jpeg_idct_islow: coefficients (natural order) times quantizers -> 8x8 samples
// written to out with the given stride.
func idctIslow(coef []int16, q *[64]int32, out []uint8, stride int) {
	var ws [64]int32
	for col := 0; col < 8; col++ {
		if coef[8+col] == 0 && coef[16+col] == 0 && coef[24+col] == 0 && coef[32+col] == 0 &&
			coef[40+col] == 0 && coef[48+col] == 0 && coef[56+col] == 0 {
			dc := int32(int64(coef[col]) * int64(q[col]) << idctPass1Bits)
			for r := 0; r < 8; r++ {
				ws[r*8+col] = dc
			}
			continue
		}
		deq := func(r int) int64 { return int64(coef[r*8+col]) * int64(q[r*8+col]) }
		z2 := deq(2)
		z3 := deq(6)
		z1 := (z2 + z3) * fix0541196100
		tmp2 := z1 + z3*(-fix1847759065)
		tmp3 := z1 + z2*fix0765366865
		z2 = deq(0)
		z3 = deq(4)
		tmp0 := (z2 + z3) << idctConstBits
		tmp1 := (z2 - z3) << idctConstBits
		tmp10 := tmp0 + tmp3
		tmp13 := tmp0 - tmp3
		tmp11 := tmp1 + tmp2
		tmp12 := tmp1 - tmp2

		tmp0 = deq(7)
		tmp1 = deq(5)
		tmp2 = deq(3)
		tmp3 = deq(1)
		z1 = tmp0 + tmp3
		z2 = tmp1 + tmp2
		z3 = tmp0 + tmp2
		z4 := tmp1 + tmp3
		z5 := (z3 + z4) * fix1175875602
		tmp0 *= fix0298631336
		tmp1 *= fix2053119869
		tmp2 *= fix3072711026
		tmp3 *= fix1501321110
		z1 *= -fix0899976223
		z2 *= -fix2562915447
		z3 *= -fix1961570560
		z4 *= -fix0390180644
		z3 += z5
		z4 += z5
		tmp0 += z1 + z3
		tmp1 += z2 + z4
		tmp2 += z2 + z3
		tmp3 += z1 + z4

		const sh = idctConstBits - idctPass1Bits
		const rnd = 1 << (sh - 1)
		ws[0*8+col] = int32((tmp10 + tmp3 + rnd) >> sh)
		ws[7*8+col] = int32((tmp10 - tmp3 + rnd) >> sh)
		ws[1*8+col] = int32((tmp11 + tmp2 + rnd) >> sh)
		ws[6*8+col] = int32((tmp11 - tmp2 + rnd) >> sh)
		ws[2*8+col] = int32((tmp12 + tmp1 + rnd) >> sh)
		ws[5*8+col] = int32((tmp12 - tmp1 + rnd) >> sh)
		ws[3*8+col] = int32((tmp13 + tmp0 + rnd) >> sh)
		ws[4*8+col] = int32((tmp13 - tmp0 + rnd) >> sh)
	}
	for row := 0; row < 8; row++ {
		w := ws[row*8 : row*8+8]
		o := out[row*stride : row*stride+8]
		if w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 && w[5] == 0 && w[6] == 0 && w[7] == 0 {
			v := idctRangeLimit(int((int64(w[0]) + (1 << (idctPass1Bits + 2))) >> (idctPass1Bits + 3)))
			for i := range o {
				o[i] = v
			}
			continue
		}
		z2 := int64(w[2])
		z3 := int64(w[6])
		z1 := (z2 + z3) * fix0541196100
		tmp2 := z1 + z3*(-fix1847759065)
		tmp3 := z1 + z2*fix0765366865
		tmp0 := (int64(w[0]) + int64(w[4])) << idctConstBits
		tmp1 := (int64(w[0]) - int64(w[4])) << idctConstBits
		tmp10 := tmp0 + tmp3
		tmp13 := tmp0 - tmp3
		tmp11 := tmp1 + tmp2
		tmp12 := tmp1 - tmp2

		tmp0 = int64(w[7])
		tmp1 = int64(w[5])
		tmp2 = int64(w[3])
		tmp3 = int64(w[1])
		z1 = tmp0 + tmp3
		z2 = tmp1 + tmp2
		z3 = tmp0 + tmp2
		z4 := tmp1 + tmp3
		z5 := (z3 + z4) * fix1175875602
		tmp0 *= fix0298631336
		tmp1 *= fix2053119869
		tmp2 *= fix3072711026
		tmp3 *= fix1501321110
		z1 *= -fix0899976223
		z2 *= -fix2562915447
		z3 *= -fix1961570560
		z4 *= -fix0390180644
		z3 += z5
		z4 += z5
		tmp0 += z1 + z3
		tmp1 += z2 + z4
		tmp2 += z2 + z3
		tmp3 += z1 + z4

		const sh = idctConstBits + idctPass1Bits + 3
		const rnd = 1 << (sh - 1)
		o[0] = idctRangeLimit(int((tmp10 + tmp3 + rnd) >> sh))
		o[7] = idctRangeLimit(int((tmp10 - tmp3 + rnd) >> sh))
		o[1] = idctRangeLimit(int((tmp11 + tmp2 + rnd) >> sh))
		o[6] = idctRangeLimit(int((tmp11 - tmp2 + rnd) >> sh))
		o[2] = idctRangeLimit(int((tmp12 + tmp1 + rnd) >> sh))
		o[5] = idctRangeLimit(int((tmp12 - tmp1 + rnd) >> sh))
		o[3] = idctRangeLimit(int((tmp13 + tmp0 + rnd) >> sh))
		o[4] = idctRangeLimit(int((tmp13 - tmp0 + rnd) >> sh))
	}
}

// h1v2Bias selects libjpeg-turbo 2.1's h1v2 rounding: bias 1 for the output row nearer the row
// above, 2 for the one nearer the row below.
const h1v2Bias = true

// upsample expands component c's samples to a width x height plane as libjpeg-turbo's
// jdsample.c does with do_fancy_upsampling (its default).
func (d *jpegDecoder) upsample(c *jpegComp) []uint8 {
	W, H := d.width, d.height
	in := c.plane
	stride := c.bw * 8
	out := make([]uint8, W*H)
	hexp, vexp := d.hmax/c.h, d.vmax/c.v
	row := func(y int) []uint8 {
		if y < 0 {
			y = 0
		}
		if y > c.dh-1 {
			y = c.dh - 1
		}
		return in[y*stride : y*stride+stride]
	}
	parallelRows(H, W*H*4, func(lo, hi int) {
		tmp := make([]uint8, 2*c.dw+2)
		switch {
		case hexp == 1 && vexp == 1:
			for y := lo; y < hi; y++ {
				copy(out[y*W:y*W+W], in[y*stride:y*stride+W])
			}
		case hexp == 2 && vexp == 1 && c.dw > 2:
			for y := lo; y < hi; y++ {
				r := in[y*stride : y*stride+stride]
				h2v1Fancy(r, c.dw, tmp)
				copy(out[y*W:y*W+W], tmp)
			}
		case hexp == 1 && vexp == 2:
			for y := lo; y < hi; y++ {
				inrow := y / 2
				r0 := row(inrow)
				var r1 []uint8
				bias := 1
				if y%2 == 0 {
					r1 = row(inrow - 1)
				} else {
					r1 = row(inrow + 1)
					bias = 2
				}
				if !h1v2Bias {
					bias = 1
				}
				o := out[y*W : y*W+W]
				for x := range o {
					o[x] = uint8((int(r0[x])*3 + int(r1[x]) + bias) >> 2)
				}
			}
		case hexp == 2 && vexp == 2 && c.dw > 2:
			for y := lo; y < hi; y++ {
				inrow := y / 2
				r0 := row(inrow)
				var r1 []uint8
				if y%2 == 0 {
					r1 = row(inrow - 1)
				} else {
					r1 = row(inrow + 1)
				}
				h2v2Fancy(r0, r1, c.dw, tmp)
				copy(out[y*W:y*W+W], tmp)
			}
		default: // box replication (int_upsample, h2v1_upsample, h2v2_upsample)
			for y := lo; y < hi; y++ {
				r := in[(y/vexp)*stride:]
				o := out[y*W : y*W+W]
				for x := range o {
					o[x] = r[x/hexp]
				}
			}
		}
	})
	return out
}

func h2v1Fancy(in []uint8, dw int, out []uint8) {
	v := int(in[0])
	out[0] = uint8(v)
	out[1] = uint8((v*3 + int(in[1]) + 2) >> 2)
	o := 2
	for i := 1; i < dw-1; i++ {
		v = int(in[i]) * 3
		out[o] = uint8((v + int(in[i-1]) + 1) >> 2)
		out[o+1] = uint8((v + int(in[i+1]) + 2) >> 2)
		o += 2
	}
	v = int(in[dw-1])
	out[o] = uint8((v*3 + int(in[dw-2]) + 1) >> 2)
	out[o+1] = uint8(v)
}

func h2v2Fancy(r0, r1 []uint8, dw int, out []uint8) {
	this := int(r0[0])*3 + int(r1[0])
	next := int(r0[1])*3 + int(r1[1])
	out[0] = uint8((this*4 + 8) >> 4)
	out[1] = uint8((this*3 + next + 7) >> 4)
	last := this
	this = next
	o := 2
	for i := 2; i < dw; i++ {
		next = int(r0[i])*3 + int(r1[i])
		out[o] = uint8((this*3 + last + 8) >> 4)
		out[o+1] = uint8((this*3 + next + 7) >> 4)
		last, this = this, next
		o += 2
	}
	out[o] = uint8((this*3 + last + 8) >> 4)
	out[o+1] = uint8((this*4 + 7) >> 4)
}

// jdcolor.c tables (SCALEBITS 16).
type yccTables struct {
	crR, cbB, crG, cbG [256]int32
}

func newYCCTables() *yccTables {
	t := &yccTables{}
	const scale = 16
	const half = 1 << (scale - 1)
	fix := func(x float64) int64 { return int64(x*(1<<scale) + 0.5) }
	for i := 0; i < 256; i++ {
		x := int64(i - 128)
		t.crR[i] = int32((fix(1.40200)*x + half) >> scale)
		t.cbB[i] = int32((fix(1.77200)*x + half) >> scale)
		t.crG[i] = int32(-fix(0.71414) * x)
		t.cbG[i] = int32(-fix(0.34414)*x + half)
	}
	return t
}

func clamp255(v int) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

func (d *jpegDecoder) output() (*Image, error) {
	smooth := d.smoothingOK()
	for i := range d.comps {
		c := &d.comps[i]
		if !c.latched {
			return nil, fmt.Errorf("%w: JPEG component %d has no scan", errCorrupt, c.id)
		}
		stride := c.bw * 8
		c.plane = make([]uint8, stride*c.bh*8)
		if smooth {
			d.smoothIDCT(c)
		} else {
			parallelRows(c.hb, c.wb*c.hb*64*4, func(lo, hi int) {
				for by := lo; by < hi; by++ {
					for bx := 0; bx < c.wb; bx++ {
						off := (by*c.bw + bx) * 64
						idctIslow(c.coef[off:off+64], &c.quant, c.plane[by*8*stride+bx*8:], stride)
					}
				}
			})
		}
		c.coef = nil
	}
	W, H := d.width, d.height
	img := &Image{Width: W, Height: H, Pix: make([]uint8, W*H*3)}
	planes := make([][]uint8, len(d.comps))
	for i := range d.comps {
		planes[i] = d.upsample(&d.comps[i])
		d.comps[i].plane = nil
	}
	px := img.Pix
	switch len(d.comps) {
	case 1:
		img.Mode = "L"
		for i, v := range planes[0] {
			px[3*i], px[3*i+1], px[3*i+2] = v, v, v
		}
	case 3:
		img.Mode = "RGB"
		ycc := true
		if d.jfif {
			ycc = true
		} else if d.adobe {
			ycc = d.transform != 0
		} else if d.comps[0].id == 82 && d.comps[1].id == 71 && d.comps[2].id == 66 {
			ycc = false
		}
		if !ycc {
			for i := 0; i < W*H; i++ {
				px[3*i], px[3*i+1], px[3*i+2] = planes[0][i], planes[1][i], planes[2][i]
			}
			break
		}
		t := newYCCTables()
		parallelRows(H, W*H*8, func(lo, hi int) {
			for i := lo * W; i < hi*W; i++ {
				y := int(planes[0][i])
				cb := planes[1][i]
				cr := planes[2][i]
				px[3*i] = clamp255(y + int(t.crR[cr]))
				px[3*i+1] = clamp255(y + int((t.cbG[cb]+t.crG[cr])>>16))
				px[3*i+2] = clamp255(y + int(t.cbB[cb]))
			}
		})
	case 4:
		img.Mode = "CMYK"
		ycck := d.adobe && d.transform != 0
		var t *yccTables
		if ycck {
			t = newYCCTables()
		}
		for i := 0; i < W*H; i++ {
			c, m, yy, k := planes[0][i], planes[1][i], planes[2][i], planes[3][i]
			if ycck {
				y := int(c)
				cb, cr := m, yy
				c = 255 - clamp255(y+int(t.crR[cr]))
				m = 255 - clamp255(y+int((t.cbG[cb]+t.crG[cr])>>16))
				yy = 255 - clamp255(y+int(t.cbB[cb]))
			}
			// Pillow reads CMYK JPEGs with rawmode "CMYK;I" (inverted), then cmyk2rgb.
			r, g, b := cmykToRGB(255-c, 255-m, 255-yy, 255-k)
			px[3*i], px[3*i+1], px[3*i+2] = r, g, b
		}
	}
	return img, nil
}
