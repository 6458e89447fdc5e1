package image

import "fmt"

// Lossy WebP (VP8 key frames, RFC 6386) decoded as libwebp 1.2.4 does, then converted to RGB
// with libwebp's "fancy" chroma upsampler and its 14-bit YUV->RGB arithmetic (what dwebp and
// Pillow's WebPAnimDecoder produce by default).

// boolDec is the VP8 boolean entropy decoder (RFC 6386 section 7).
type boolDec struct {
	buf   []byte
	pos   int
	value uint32 // window of the coded value, 'bits' valid bits below the top byte
	rng   uint32 // range, 128..255 after normalisation
	bits  int    // number of bits available below the current 8-bit window
	pad   int    // zero bytes read past the end
}

func newBoolDec(b []byte) *boolDec {
	d := &boolDec{buf: b, rng: 255}
	// load two bytes as the RFC's decoder does
	d.value = uint32(d.next())<<8 | uint32(d.next())
	d.bits = 0
	return d
}

func (d *boolDec) next() byte {
	if d.pos < len(d.buf) {
		b := d.buf[d.pos]
		d.pos++
		return b
	}
	d.pad++
	return 0
}

// bit reads one bool with probability prob/256 of being 0 (RFC 6386 read_bool).
func (d *boolDec) bit(prob uint8) bool {
	split := 1 + (((d.rng - 1) * uint32(prob)) >> 8)
	bigSplit := split << 8
	var ret bool
	if d.value >= bigSplit {
		ret = true
		d.rng -= split
		d.value -= bigSplit
	} else {
		d.rng = split
	}
	for d.rng < 128 {
		d.value <<= 1
		d.rng <<= 1
		d.bits++
		if d.bits == 8 {
			d.bits = 0
			d.value |= uint32(d.next())
		}
	}
	return ret
}

func (d *boolDec) literal(n int) int {
	v := 0
	for i := 0; i < n; i++ {
		v <<= 1
		if d.bit(128) {
			v |= 1
		}
	}
	return v
}

func (d *boolDec) signed(n int) int {
	v := d.literal(n)
	if d.bit(128) {
		return -v
	}
	return v
}

// optional reads a flag and, when set, a signed n-bit value.
func (d *boolDec) optSigned(n int) int {
	if d.bit(128) {
		return d.signed(n)
	}
	return 0
}

type vp8Quant struct {
	y1, y2, uv [2]int32 // dc, ac
}

type vp8FInfo struct {
	limit, ilevel, hev int
	inner              bool
}

type vp8MB struct {
	segment int
	skip    bool
	i4x4    bool
	ymode   int
	imodes  [16]int
	uvmode  int
	coeffs  [384]int16 // 16 Y blocks, 4 U, 4 V
	nzY     [16]bool   // block has non-zero coefficients (needs the inverse transform)
	nzUV    [8]bool
	hasNZ   bool
}

type vp8Decoder struct {
	w, h           int
	mbw, mbh       int
	segUpdateMap   bool
	useSegment     bool
	absDelta       bool
	segQuant       [4]int
	segFilter      [4]int
	segProb        [3]uint8
	simple         bool
	level          int
	sharpness      int
	useLFDelta     bool
	refLFDelta     [4]int
	modeLFDelta    [4]int
	quant          [4]vp8Quant
	coefProb       [4][8][3][11]uint8
	useSkip        bool
	skipProb       uint8
	fstr           [4][2]vp8FInfo
	filterType     int
	y, u, v        []uint8 // frame planes (MB-aligned)
	ys, uvs        int     // strides
	finfo          []vp8FInfo
	topNZ          [][9]bool // per MB column: 4 Y, 2 U, 2 V, Y2
	leftNZ         [9]bool
	leftModes      [4]int
	intraTop       [][4]int
	parts          []*boolDec
	hdr            *boolDec
	topY, topU, tV []uint8 // unfiltered bottom rows of the previous MB row
}

var vp8Bands = [17]int{0, 1, 2, 3, 6, 4, 5, 6, 6, 6, 6, 6, 6, 6, 6, 7, 0}
var vp8Zigzag = [16]int{0, 1, 4, 8, 5, 2, 3, 6, 9, 12, 13, 10, 7, 11, 14, 15}
var vp8Cat = [4][]uint8{
	{173, 148, 140},
	{176, 155, 140, 135},
	{180, 157, 141, 134, 130},
	{254, 254, 243, 230, 196, 177, 153, 140, 133, 130, 129},
}

func clampInt(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

func decodeVP8(data []byte, opts *Options) (*Image, error) {
	if len(data) < 10 {
		return nil, fmt.Errorf("%w: VP8 frame header", errCorrupt)
	}
	tag := uint32(data[0]) | uint32(data[1])<<8 | uint32(data[2])<<16
	if tag&1 != 0 {
		return nil, fmt.Errorf("%w: VP8 interframe in a WebP file", errCorrupt)
	}
	if (tag>>1)&7 > 3 {
		return nil, fmt.Errorf("%w: VP8 version %d", ErrUnsupported, (tag>>1)&7)
	}
	part0 := int(tag >> 5)
	if data[3] != 0x9d || data[4] != 0x01 || data[5] != 0x2a {
		return nil, fmt.Errorf("%w: VP8 start code", errCorrupt)
	}
	w := int(data[6]) | int(data[7]&0x3f)<<8
	h := int(data[8]) | int(data[9]&0x3f)<<8
	if err := checkSize(w, h, opts); err != nil {
		return nil, err
	}
	rest := data[10:]
	if part0 > len(rest) {
		return nil, fmt.Errorf("%w: VP8 first partition truncated", errCorrupt)
	}
	d := &vp8Decoder{w: w, h: h, mbw: (w + 15) / 16, mbh: (h + 15) / 16}
	d.hdr = newBoolDec(rest[:part0])
	if err := d.parseHeader(rest[part0:]); err != nil {
		return nil, err
	}
	if err := d.decodeFrame(); err != nil {
		return nil, err
	}
	return d.toRGB(), nil
}

func (d *vp8Decoder) parseHeader(after []byte) error {
	b := d.hdr
	b.bit(128) // colour space
	b.bit(128) // clamping type
	d.useSegment = b.bit(128)
	if d.useSegment {
		d.segUpdateMap = b.bit(128)
		if b.bit(128) { // update segment feature data
			d.absDelta = b.bit(128)
			for i := range d.segQuant {
				d.segQuant[i] = b.optSigned(7)
			}
			for i := range d.segFilter {
				d.segFilter[i] = b.optSigned(6)
			}
		}
		if d.segUpdateMap {
			for i := range d.segProb {
				d.segProb[i] = 255
				if b.bit(128) {
					d.segProb[i] = uint8(b.literal(8))
				}
			}
		}
	}
	d.simple = b.bit(128)
	d.level = b.literal(6)
	d.sharpness = b.literal(3)
	d.useLFDelta = b.bit(128)
	if d.useLFDelta {
		if b.bit(128) {
			for i := range d.refLFDelta {
				if b.bit(128) {
					d.refLFDelta[i] = b.signed(6)
				}
			}
			for i := range d.modeLFDelta {
				if b.bit(128) {
					d.modeLFDelta[i] = b.signed(6)
				}
			}
		}
	}
	// token partitions
	np := 1 << uint(b.literal(2))
	sizes := after
	if len(sizes) < 3*(np-1) {
		return fmt.Errorf("%w: VP8 partition sizes", errCorrupt)
	}
	pdata := sizes[3*(np-1):]
	for i := 0; i < np; i++ {
		var n int
		if i < np-1 {
			n = int(sizes[3*i]) | int(sizes[3*i+1])<<8 | int(sizes[3*i+2])<<16
			if n > len(pdata) {
				n = len(pdata)
			}
		} else {
			n = len(pdata)
		}
		d.parts = append(d.parts, newBoolDec(pdata[:n]))
		pdata = pdata[n:]
	}
	// quantisation
	base := b.literal(7)
	dy1dc := b.optSigned(4)
	dy2dc := b.optSigned(4)
	dy2ac := b.optSigned(4)
	duvdc := b.optSigned(4)
	duvac := b.optSigned(4)
	for i := 0; i < 4; i++ {
		var q int
		if d.useSegment {
			q = d.segQuant[i]
			if !d.absDelta {
				q += base
			}
		} else {
			if i > 0 {
				d.quant[i] = d.quant[0]
				continue
			}
			q = base
		}
		m := &d.quant[i]
		m.y1[0] = vp8DCTable[clampInt(q+dy1dc, 0, 127)]
		m.y1[1] = vp8ACTable[clampInt(q, 0, 127)]
		m.y2[0] = vp8DCTable[clampInt(q+dy2dc, 0, 127)] * 2
		m.y2[1] = vp8ACTable[clampInt(q+dy2ac, 0, 127)] * 101581 >> 16
		if m.y2[1] < 8 {
			m.y2[1] = 8
		}
		m.uv[0] = vp8DCTable[clampInt(q+duvdc, 0, 117)]
		m.uv[1] = vp8ACTable[clampInt(q+duvac, 0, 127)]
	}
	b.bit(128) // refresh entropy probs (key frame: ignored)
	d.coefProb = vp8CoeffDefaultProb
	for t := 0; t < 4; t++ {
		for bnd := 0; bnd < 8; bnd++ {
			for c := 0; c < 3; c++ {
				for p := 0; p < 11; p++ {
					if b.bit(vp8CoeffUpdateProb[t][bnd][c][p]) {
						d.coefProb[t][bnd][c][p] = uint8(b.literal(8))
					}
				}
			}
		}
	}
	d.useSkip = b.bit(128)
	if d.useSkip {
		d.skipProb = uint8(b.literal(8))
	}
	if b.pad > 2 {
		return fmt.Errorf("%w: VP8 frame header truncated", errCorrupt)
	}
	// filter strengths (libwebp PrecomputeFilterStrengths)
	if d.level == 0 {
		d.filterType = 0
	} else if d.simple {
		d.filterType = 1
	} else {
		d.filterType = 2
	}
	for s := 0; s < 4; s++ {
		base := d.level
		if d.useSegment {
			base = d.segFilter[s]
			if !d.absDelta {
				base += d.level
			}
		}
		for i4 := 0; i4 < 2; i4++ {
			f := &d.fstr[s][i4]
			level := base
			if d.useLFDelta {
				level += d.refLFDelta[0]
				if i4 == 1 {
					level += d.modeLFDelta[0]
				}
			}
			level = clampInt(level, 0, 63)
			if level > 0 {
				il := level
				if d.sharpness > 0 {
					if d.sharpness > 4 {
						il >>= 2
					} else {
						il >>= 1
					}
					if il > 9-d.sharpness {
						il = 9 - d.sharpness
					}
				}
				if il < 1 {
					il = 1
				}
				f.ilevel = il
				f.limit = 2*level + il
				switch {
				case level >= 40:
					f.hev = 2
				case level >= 15:
					f.hev = 1
				}
			}
			f.inner = i4 == 1
		}
	}
	return nil
}

// parseModes reads one macroblock header from the first partition (libwebp ParseIntraMode).
func (d *vp8Decoder) parseModes(mb *vp8MB, mbx int) {
	b := d.hdr
	mb.segment = 0
	if d.segUpdateMap {
		if !b.bit(d.segProb[0]) {
			if b.bit(d.segProb[1]) {
				mb.segment = 1
			}
		} else {
			mb.segment = 2
			if b.bit(d.segProb[2]) {
				mb.segment = 3
			}
		}
	}
	mb.skip = false
	if d.useSkip {
		mb.skip = b.bit(d.skipProb)
	}
	top := &d.intraTop[mbx]
	left := &d.leftModes
	mb.i4x4 = !b.bit(145)
	if !mb.i4x4 {
		var m int
		if b.bit(156) {
			if b.bit(128) {
				m = 1 // TM
			} else {
				m = 3 // H
			}
		} else {
			if b.bit(163) {
				m = 2 // V
			} else {
				m = 0 // DC
			}
		}
		mb.ymode = m
		for i := 0; i < 4; i++ {
			top[i] = m
			left[i] = m
		}
	} else {
		for y := 0; y < 4; y++ {
			ym := left[y]
			for x := 0; x < 4; x++ {
				p := &vp8BModeProb[top[x]][ym]
				switch {
				case !b.bit(p[0]):
					ym = 0
				case !b.bit(p[1]):
					ym = 1
				case !b.bit(p[2]):
					ym = 2
				case !b.bit(p[3]):
					if !b.bit(p[4]) {
						ym = 3
					} else if !b.bit(p[5]) {
						ym = 4
					} else {
						ym = 5
					}
				case !b.bit(p[6]):
					ym = 6
				case !b.bit(p[7]):
					ym = 7
				case !b.bit(p[8]):
					ym = 8
				default:
					ym = 9
				}
				top[x] = ym
				mb.imodes[4*y+x] = ym
			}
			left[y] = ym
		}
	}
	switch {
	case !b.bit(142):
		mb.uvmode = 0
	case !b.bit(114):
		mb.uvmode = 2
	case b.bit(183):
		mb.uvmode = 1
	default:
		mb.uvmode = 3
	}
}

// getCoeffs is libwebp's GetCoeffs: tokens of one 4x4 block from position n; returns the
// index after the last non-zero coefficient (0..16).
func (d *vp8Decoder) getCoeffs(b *boolDec, typ, ctx int, dq [2]int32, n int, out []int16) int {
	probs := &d.coefProb[typ]
	p := &probs[vp8Bands[n]][ctx]
	for ; n < 16; n++ {
		if !b.bit(p[0]) {
			return n
		}
		for !b.bit(p[1]) {
			n++
			if n == 16 {
				return 16
			}
			p = &probs[vp8Bands[n]][0]
		}
		var v int
		next := &probs[vp8Bands[n+1]]
		if !b.bit(p[2]) {
			v = 1
			p = &next[1]
		} else {
			v = largeValue(b, p)
			p = &next[2]
		}
		if b.bit(128) {
			v = -v
		}
		q := dq[1]
		if n == 0 {
			q = dq[0]
		}
		out[vp8Zigzag[n]] = int16(int32(v) * q)
	}
	return 16
}

func largeValue(b *boolDec, p *[11]uint8) int {
	var v int
	if !b.bit(p[3]) {
		if !b.bit(p[4]) {
			v = 2
		} else {
			v = 3
			if b.bit(p[5]) {
				v = 4
			}
		}
	} else if !b.bit(p[6]) {
		if !b.bit(p[7]) {
			v = 5
			if b.bit(159) {
				v = 6
			}
		} else {
			v = 7
			if b.bit(165) {
				v += 2
			}
			if b.bit(145) {
				v++
			}
		}
	} else {
		bit1 := 0
		if b.bit(p[8]) {
			bit1 = 1
		}
		bit0 := 0
		if b.bit(p[9+bit1]) {
			bit0 = 1
		}
		cat := 2*bit1 + bit0
		v = 0
		for _, pr := range vp8Cat[cat] {
			v += v
			if b.bit(pr) {
				v++
			}
		}
		v += 3 + (8 << uint(cat))
	}
	return v
}

// parseResiduals reads the coefficients of one macroblock (libwebp ParseResiduals).
func (d *vp8Decoder) parseResiduals(mb *vp8MB, mbx int, b *boolDec) {
	q := d.quant[mb.segment]
	tnz := &d.topNZ[mbx]
	lnz := &d.leftNZ
	for i := range mb.coeffs {
		mb.coeffs[i] = 0
	}
	first := 0
	acType := 3
	if !mb.i4x4 {
		var dc [16]int16
		ctx := 0
		if tnz[8] {
			ctx++
		}
		if lnz[8] {
			ctx++
		}
		nz := d.getCoeffs(b, 1, ctx, q.y2, 0, dc[:])
		tnz[8] = nz > 0
		lnz[8] = nz > 0
		if nz > 1 {
			transformWHT(&dc, mb.coeffs[:])
		} else {
			dc0 := int16((int(dc[0]) + 3) >> 3)
			for i := 0; i < 256; i += 16 {
				mb.coeffs[i] = dc0
			}
		}
		first = 1
		acType = 0
	}
	any := false
	for y := 0; y < 4; y++ {
		l := lnz[y]
		for x := 0; x < 4; x++ {
			ctx := 0
			if l {
				ctx++
			}
			if tnz[x] {
				ctx++
			}
			blk := mb.coeffs[(4*y+x)*16 : (4*y+x)*16+16]
			nz := d.getCoeffs(b, acType, ctx, q.y1, first, blk)
			l = nz > first
			tnz[x] = l
			mb.nzY[4*y+x] = nz > 0 || blk[0] != 0
			if mb.nzY[4*y+x] {
				any = true
			}
		}
		lnz[y] = l
	}
	for ch := 0; ch < 2; ch++ {
		for y := 0; y < 2; y++ {
			l := lnz[4+2*ch+y]
			for x := 0; x < 2; x++ {
				ctx := 0
				if l {
					ctx++
				}
				if tnz[4+2*ch+x] {
					ctx++
				}
				k := 16 + ch*4 + 2*y + x
				blk := mb.coeffs[k*16 : k*16+16]
				nz := d.getCoeffs(b, 2, ctx, q.uv, 0, blk)
				l = nz > 0
				tnz[4+2*ch+x] = l
				mb.nzUV[ch*4+2*y+x] = nz > 0
				if nz > 0 {
					any = true
				}
			}
			lnz[4+2*ch+y] = l
		}
	}
	mb.hasNZ = any
}

func transformWHT(in *[16]int16, out []int16) {
	var tmp [16]int
	for i := 0; i < 4; i++ {
		a0 := int(in[0+i]) + int(in[12+i])
		a1 := int(in[4+i]) + int(in[8+i])
		a2 := int(in[4+i]) - int(in[8+i])
		a3 := int(in[0+i]) - int(in[12+i])
		tmp[0+i] = a0 + a1
		tmp[8+i] = a0 - a1
		tmp[4+i] = a3 + a2
		tmp[12+i] = a3 - a2
	}
	o := 0
	for i := 0; i < 4; i++ {
		dc := tmp[0+i*4] + 3
		a0 := dc + tmp[3+i*4]
		a1 := tmp[1+i*4] + tmp[2+i*4]
		a2 := tmp[1+i*4] - tmp[2+i*4]
		a3 := dc - tmp[3+i*4]
		out[o+0] = int16((a0 + a1) >> 3)
		out[o+16] = int16((a3 + a2) >> 3)
		out[o+32] = int16((a0 - a1) >> 3)
		out[o+48] = int16((a3 - a2) >> 3)
		o += 64
	}
}

func mul1(a int) int { return ((a * 20091) >> 16) + a }
func mul2(a int) int { return (a * 35468) >> 16 }

func clip8b(v int) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// idct4 adds the inverse DCT of in to the 4x4 block at dst (libwebp TransformOne).
func idct4(in []int16, dst []uint8, stride int) {
	var c [16]int
	for i := 0; i < 4; i++ {
		a := int(in[i]) + int(in[8+i])
		b := int(in[i]) - int(in[8+i])
		cc := mul2(int(in[4+i])) - mul1(int(in[12+i]))
		dd := mul1(int(in[4+i])) + mul2(int(in[12+i]))
		c[4*i+0] = a + dd
		c[4*i+1] = b + cc
		c[4*i+2] = b - cc
		c[4*i+3] = a - dd
	}
	for i := 0; i < 4; i++ {
		dc := c[i] + 4
		a := dc + c[8+i]
		b := dc - c[8+i]
		cc := mul2(c[4+i]) - mul1(c[12+i])
		dd := mul1(c[4+i]) + mul2(c[12+i])
		row := dst[i*stride : i*stride+4]
		row[0] = clip8b(int(row[0]) + ((a + dd) >> 3))
		row[1] = clip8b(int(row[1]) + ((b + cc) >> 3))
		row[2] = clip8b(int(row[2]) + ((b - cc) >> 3))
		row[3] = clip8b(int(row[3]) + ((a - dd) >> 3))
	}
}

func (d *vp8Decoder) decodeFrame() error {
	d.ys = d.mbw * 16
	d.uvs = d.mbw * 8
	d.y = make([]uint8, d.ys*d.mbh*16)
	d.u = make([]uint8, d.uvs*d.mbh*8)
	d.v = make([]uint8, d.uvs*d.mbh*8)
	d.topNZ = make([][9]bool, d.mbw)
	d.intraTop = make([][4]int, d.mbw)
	d.finfo = make([]vp8FInfo, d.mbw)
	d.topY = make([]uint8, d.ys+4)
	d.topU = make([]uint8, d.uvs)
	d.tV = make([]uint8, d.uvs)
	mb := &vp8MB{}
	// work buffers with a border: Y 21 columns (1 left + 16 + 4 top-right) x 17 rows
	const bps = 32
	yb := make([]uint8, bps*17)
	ub := make([]uint8, bps*9)
	vb := make([]uint8, bps*9)
	for mby := 0; mby < d.mbh; mby++ {
		part := d.parts[mby%len(d.parts)]
		d.leftNZ = [9]bool{}
		d.leftModes = [4]int{}
		for mbx := 0; mbx < d.mbw; mbx++ {
			d.parseModes(mb, mbx)
			if d.hdr.pad > 8 {
				return fmt.Errorf("%w: VP8 first partition truncated", errCorrupt)
			}
			skip := mb.skip
			if !skip {
				d.parseResiduals(mb, mbx, part)
				skip = !mb.hasNZ
			} else {
				// libwebp: the Y/U/V contexts are cleared; the Y2 one only for 16x16 macroblocks
				for i := 0; i < 8; i++ {
					d.leftNZ[i] = false
					d.topNZ[mbx][i] = false
				}
				if !mb.i4x4 {
					d.leftNZ[8] = false
					d.topNZ[mbx][8] = false
				}
				mb.nzY = [16]bool{}
				mb.nzUV = [8]bool{}
				mb.coeffs = [384]int16{}
			}
			if part.pad > 64 {
				return fmt.Errorf("%w: VP8 token partition truncated", errCorrupt)
			}
			if d.filterType > 0 {
				f := d.fstr[mb.segment][b2i(mb.i4x4)]
				f.inner = f.inner || !skip
				d.finfo[mbx] = f
			}
			d.reconstruct(mb, mbx, mby, yb, ub, vb)
		}
		if d.filterType > 0 {
			for mbx := 0; mbx < d.mbw; mbx++ {
				d.filterMB(mbx, mby)
			}
		}
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

const vbps = 32

func avg3(a, b, c uint8) uint8 { return uint8((int(a) + 2*int(b) + int(c) + 2) >> 2) }
func avg2(a, b uint8) uint8    { return uint8((int(a) + int(b) + 1) >> 1) }

// predLuma4 writes the 4x4 intra prediction of mode m at buf[o] (libwebp VP8PredLuma4).
func predLuma4(m int, buf []uint8, o int) {
	top := func(i int) uint8 { return buf[o-vbps+i] }    // i in -1..7
	left := func(j int) uint8 { return buf[o-1+j*vbps] } // j in -1..3
	set := func(x, y int, v uint8) { buf[o+x+y*vbps] = v }
	switch m {
	case 0: // DC
		dc := 4
		for i := 0; i < 4; i++ {
			dc += int(top(i)) + int(left(i))
		}
		v := uint8(dc >> 3)
		for y := 0; y < 4; y++ {
			for x := 0; x < 4; x++ {
				set(x, y, v)
			}
		}
	case 1: // TM
		tl := int(top(-1))
		for y := 0; y < 4; y++ {
			l := int(left(y))
			for x := 0; x < 4; x++ {
				set(x, y, clip8b(l+int(top(x))-tl))
			}
		}
	case 2: // VE
		var v [4]uint8
		for x := 0; x < 4; x++ {
			v[x] = avg3(top(x-1), top(x), top(x+1))
		}
		for y := 0; y < 4; y++ {
			for x := 0; x < 4; x++ {
				set(x, y, v[x])
			}
		}
	case 3: // HE
		A, B, C, D, E := left(-1), left(0), left(1), left(2), left(3)
		rows := [4]uint8{avg3(A, B, C), avg3(B, C, D), avg3(C, D, E), avg3(D, E, E)}
		for y := 0; y < 4; y++ {
			for x := 0; x < 4; x++ {
				set(x, y, rows[y])
			}
		}
	case 4: // RD
		I, J, K, L, X := left(0), left(1), left(2), left(3), top(-1)
		A, B, C, D := top(0), top(1), top(2), top(3)
		set(0, 3, avg3(J, K, L))
		v := avg3(I, J, K)
		set(1, 3, v)
		set(0, 2, v)
		v = avg3(X, I, J)
		set(2, 3, v)
		set(1, 2, v)
		set(0, 1, v)
		v = avg3(A, X, I)
		set(3, 3, v)
		set(2, 2, v)
		set(1, 1, v)
		set(0, 0, v)
		v = avg3(B, A, X)
		set(3, 2, v)
		set(2, 1, v)
		set(1, 0, v)
		v = avg3(C, B, A)
		set(3, 1, v)
		set(2, 0, v)
		set(3, 0, avg3(D, C, B))
	case 5: // VR
		I, J, K, X := left(0), left(1), left(2), top(-1)
		A, B, C, D := top(0), top(1), top(2), top(3)
		v := avg2(X, A)
		set(0, 0, v)
		set(1, 2, v)
		v = avg2(A, B)
		set(1, 0, v)
		set(2, 2, v)
		v = avg2(B, C)
		set(2, 0, v)
		set(3, 2, v)
		set(3, 0, avg2(C, D))
		set(0, 3, avg3(K, J, I))
		set(0, 2, avg3(J, I, X))
		v = avg3(I, X, A)
		set(0, 1, v)
		set(1, 3, v)
		v = avg3(X, A, B)
		set(1, 1, v)
		set(2, 3, v)
		v = avg3(A, B, C)
		set(2, 1, v)
		set(3, 3, v)
		set(3, 1, avg3(B, C, D))
	case 6: // LD
		A, B, C, D, E, F, G, H := top(0), top(1), top(2), top(3), top(4), top(5), top(6), top(7)
		set(0, 0, avg3(A, B, C))
		v := avg3(B, C, D)
		set(1, 0, v)
		set(0, 1, v)
		v = avg3(C, D, E)
		set(2, 0, v)
		set(1, 1, v)
		set(0, 2, v)
		v = avg3(D, E, F)
		set(3, 0, v)
		set(2, 1, v)
		set(1, 2, v)
		set(0, 3, v)
		v = avg3(E, F, G)
		set(3, 1, v)
		set(2, 2, v)
		set(1, 3, v)
		v = avg3(F, G, H)
		set(3, 2, v)
		set(2, 3, v)
		set(3, 3, avg3(G, H, H))
	case 7: // VL
		A, B, C, D, E, F, G, H := top(0), top(1), top(2), top(3), top(4), top(5), top(6), top(7)
		set(0, 0, avg2(A, B))
		v := avg2(B, C)
		set(1, 0, v)
		set(0, 2, v)
		v = avg2(C, D)
		set(2, 0, v)
		set(1, 2, v)
		v = avg2(D, E)
		set(3, 0, v)
		set(2, 2, v)
		set(0, 1, avg3(A, B, C))
		v = avg3(B, C, D)
		set(1, 1, v)
		set(0, 3, v)
		v = avg3(C, D, E)
		set(2, 1, v)
		set(1, 3, v)
		v = avg3(D, E, F)
		set(3, 1, v)
		set(2, 3, v)
		set(3, 2, avg3(E, F, G))
		set(3, 3, avg3(F, G, H))
	case 8: // HD
		I, J, K, L, X := left(0), left(1), left(2), left(3), top(-1)
		A, B, C := top(0), top(1), top(2)
		v := avg2(I, X)
		set(0, 0, v)
		set(2, 1, v)
		v = avg2(J, I)
		set(0, 1, v)
		set(2, 2, v)
		v = avg2(K, J)
		set(0, 2, v)
		set(2, 3, v)
		set(0, 3, avg2(L, K))
		set(3, 0, avg3(A, B, C))
		set(2, 0, avg3(X, A, B))
		v = avg3(I, X, A)
		set(1, 0, v)
		set(3, 1, v)
		v = avg3(J, I, X)
		set(1, 1, v)
		set(3, 2, v)
		v = avg3(K, J, I)
		set(1, 2, v)
		set(3, 3, v)
		set(1, 3, avg3(L, K, J))
	case 9: // HU
		I, J, K, L := left(0), left(1), left(2), left(3)
		set(0, 0, avg2(I, J))
		v := avg2(J, K)
		set(2, 0, v)
		set(0, 1, v)
		v = avg2(K, L)
		set(2, 1, v)
		set(0, 2, v)
		set(1, 0, avg3(I, J, K))
		v = avg3(J, K, L)
		set(3, 0, v)
		set(1, 1, v)
		v = avg3(K, L, L)
		set(3, 1, v)
		set(1, 2, v)
		for _, xy := range [][2]int{{3, 2}, {2, 2}, {0, 3}, {1, 3}, {2, 3}, {3, 3}} {
			set(xy[0], xy[1], L)
		}
	}
}

// predBlock writes a size x size (16 luma or 8 chroma) prediction: mode 0 DC (with the
// edge variants of libwebp's CheckMode), 1 TM, 2 V, 3 H.
func predBlock(m, size int, buf []uint8, o int, mbx, mby int) {
	switch m {
	case 0:
		shift := 4
		if size == 8 {
			shift = 3
		}
		var dc int
		switch {
		case mbx > 0 && mby > 0:
			for i := 0; i < size; i++ {
				dc += int(buf[o-vbps+i]) + int(buf[o-1+i*vbps])
			}
			dc = (dc + size) >> uint(shift+1)
		case mby > 0: // no left
			for i := 0; i < size; i++ {
				dc += int(buf[o-vbps+i])
			}
			dc = (dc + size/2) >> uint(shift)
		case mbx > 0: // no top
			for i := 0; i < size; i++ {
				dc += int(buf[o-1+i*vbps])
			}
			dc = (dc + size/2) >> uint(shift)
		default:
			dc = 0x80
		}
		for y := 0; y < size; y++ {
			for x := 0; x < size; x++ {
				buf[o+y*vbps+x] = uint8(dc)
			}
		}
	case 1:
		tl := int(buf[o-vbps-1])
		for y := 0; y < size; y++ {
			l := int(buf[o-1+y*vbps])
			for x := 0; x < size; x++ {
				buf[o+y*vbps+x] = clip8b(l + int(buf[o-vbps+x]) - tl)
			}
		}
	case 2:
		for y := 0; y < size; y++ {
			copy(buf[o+y*vbps:o+y*vbps+size], buf[o-vbps:o-vbps+size])
		}
	case 3:
		for y := 0; y < size; y++ {
			l := buf[o-1+y*vbps]
			for x := 0; x < size; x++ {
				buf[o+y*vbps+x] = l
			}
		}
	}
}

// reconstruct predicts and adds the residuals of one macroblock in libwebp's work buffers
// (ReconstructRow), stashes its unfiltered bottom row and copies it into the frame.
func (d *vp8Decoder) reconstruct(mb *vp8MB, mbx, mby int, yb, ub, vb []uint8) {
	const yo = vbps + 8 // origin of the luma block in yb (row -1 is at yo - vbps)
	const co = vbps + 8
	if mbx == 0 {
		for j := 0; j < 16; j++ {
			yb[yo-1+j*vbps] = 129
		}
		for j := 0; j < 8; j++ {
			ub[co-1+j*vbps] = 129
			vb[co-1+j*vbps] = 129
		}
		if mby > 0 {
			yb[yo-1-vbps], ub[co-1-vbps], vb[co-1-vbps] = 129, 129, 129
		} else {
			for i := -1; i < 20; i++ {
				yb[yo-vbps+i] = 127
			}
			for i := -1; i < 8; i++ {
				ub[co-vbps+i] = 127
				vb[co-vbps+i] = 127
			}
		}
	} else {
		for j := -1; j < 16; j++ {
			copy(yb[yo+j*vbps-4:yo+j*vbps], yb[yo+j*vbps+12:yo+j*vbps+16])
		}
		for j := -1; j < 8; j++ {
			copy(ub[co+j*vbps-4:co+j*vbps], ub[co+j*vbps+4:co+j*vbps+8])
			copy(vb[co+j*vbps-4:co+j*vbps], vb[co+j*vbps+4:co+j*vbps+8])
		}
	}
	if mby > 0 {
		copy(yb[yo-vbps:yo-vbps+16], d.topY[mbx*16:mbx*16+16])
		copy(ub[co-vbps:co-vbps+8], d.topU[mbx*8:mbx*8+8])
		copy(vb[co-vbps:co-vbps+8], d.tV[mbx*8:mbx*8+8])
	}
	if mb.i4x4 {
		tr := yo - vbps + 16
		if mby > 0 {
			if mbx >= d.mbw-1 {
				v := d.topY[mbx*16+15]
				yb[tr], yb[tr+1], yb[tr+2], yb[tr+3] = v, v, v, v
			} else {
				copy(yb[tr:tr+4], d.topY[(mbx+1)*16:(mbx+1)*16+4])
			}
		}
		for _, r := range []int{4, 8, 12} {
			copy(yb[tr+r*vbps:tr+r*vbps+4], yb[tr:tr+4])
		}
		for n := 0; n < 16; n++ {
			o := yo + (n&3)*4 + (n>>2)*4*vbps
			predLuma4(mb.imodes[n], yb, o)
			if mb.nzY[n] {
				idct4(mb.coeffs[n*16:n*16+16], yb[o:], vbps)
			}
		}
	} else {
		predBlock(mb.ymode, 16, yb, yo, mbx, mby)
		for n := 0; n < 16; n++ {
			if mb.nzY[n] {
				o := yo + (n&3)*4 + (n>>2)*4*vbps
				idct4(mb.coeffs[n*16:n*16+16], yb[o:], vbps)
			}
		}
	}
	predBlock(mb.uvmode, 8, ub, co, mbx, mby)
	predBlock(mb.uvmode, 8, vb, co, mbx, mby)
	for k := 0; k < 4; k++ {
		o := co + (k&1)*4 + (k>>1)*4*vbps
		if mb.nzUV[k] {
			idct4(mb.coeffs[(16+k)*16:(16+k)*16+16], ub[o:], vbps)
		}
		if mb.nzUV[4+k] {
			idct4(mb.coeffs[(20+k)*16:(20+k)*16+16], vb[o:], vbps)
		}
	}
	if mby < d.mbh-1 {
		copy(d.topY[mbx*16:mbx*16+16], yb[yo+15*vbps:yo+15*vbps+16])
		copy(d.topU[mbx*8:mbx*8+8], ub[co+7*vbps:co+7*vbps+8])
		copy(d.tV[mbx*8:mbx*8+8], vb[co+7*vbps:co+7*vbps+8])
	}
	for j := 0; j < 16; j++ {
		copy(d.y[(mby*16+j)*d.ys+mbx*16:], yb[yo+j*vbps:yo+j*vbps+16])
	}
	for j := 0; j < 8; j++ {
		copy(d.u[(mby*8+j)*d.uvs+mbx*8:], ub[co+j*vbps:co+j*vbps+8])
		copy(d.v[(mby*8+j)*d.uvs+mbx*8:], vb[co+j*vbps:co+j*vbps+8])
	}
}

// ---- loop filter (libwebp dsp/dec.c) ----

func sclip1(v int) int { return clampInt(v, -128, 127) } // VP8ksclip1
func sclip2(v int) int { return clampInt(v, -16, 15) }   // VP8ksclip2
func uclip1(v int) uint8 {
	return uint8(clampInt(v, 0, 255))
}

func doFilter2(p []uint8, i, step int) {
	p1, p0, q0, q1 := int(p[i-2*step]), int(p[i-step]), int(p[i]), int(p[i+step])
	a := 3*(q0-p0) + sclip1(p1-q1)
	a1 := sclip2((a + 4) >> 3)
	a2 := sclip2((a + 3) >> 3)
	p[i-step] = uclip1(p0 + a2)
	p[i] = uclip1(q0 - a1)
}

func doFilter4(p []uint8, i, step int) {
	p1, p0, q0, q1 := int(p[i-2*step]), int(p[i-step]), int(p[i]), int(p[i+step])
	a := 3 * (q0 - p0)
	a1 := sclip2((a + 4) >> 3)
	a2 := sclip2((a + 3) >> 3)
	a3 := (a1 + 1) >> 1
	p[i-2*step] = uclip1(p1 + a3)
	p[i-step] = uclip1(p0 + a2)
	p[i] = uclip1(q0 - a1)
	p[i+step] = uclip1(q1 - a3)
}

func doFilter6(p []uint8, i, step int) {
	p2, p1, p0 := int(p[i-3*step]), int(p[i-2*step]), int(p[i-step])
	q0, q1, q2 := int(p[i]), int(p[i+step]), int(p[i+2*step])
	a := sclip1(3*(q0-p0) + sclip1(p1-q1))
	a1 := (27*a + 63) >> 7
	a2 := (18*a + 63) >> 7
	a3 := (9*a + 63) >> 7
	p[i-3*step] = uclip1(p2 + a3)
	p[i-2*step] = uclip1(p1 + a2)
	p[i-step] = uclip1(p0 + a1)
	p[i] = uclip1(q0 - a1)
	p[i+step] = uclip1(q1 - a2)
	p[i+2*step] = uclip1(q2 - a3)
}

func hev(p []uint8, i, step, t int) bool {
	p1, p0, q0, q1 := int(p[i-2*step]), int(p[i-step]), int(p[i]), int(p[i+step])
	return absInt(p1-p0) > t || absInt(q1-q0) > t
}

func needsFilter(p []uint8, i, step, t int) bool {
	p1, p0, q0, q1 := int(p[i-2*step]), int(p[i-step]), int(p[i]), int(p[i+step])
	return 4*absInt(p0-q0)+absInt(p1-q1) <= t
}

func needsFilter2(p []uint8, i, step, t, it int) bool {
	p3, p2, p1, p0 := int(p[i-4*step]), int(p[i-3*step]), int(p[i-2*step]), int(p[i-step])
	q0, q1, q2, q3 := int(p[i]), int(p[i+step]), int(p[i+2*step]), int(p[i+3*step])
	if 4*absInt(p0-q0)+absInt(p1-q1) > t {
		return false
	}
	return absInt(p3-p2) <= it && absInt(p2-p1) <= it && absInt(p1-p0) <= it &&
		absInt(q3-q2) <= it && absInt(q2-q1) <= it && absInt(q1-q0) <= it
}

// simpleFilter filters n positions across an edge: i is the first q0 sample, step crosses the
// edge, along moves along it.
func simpleFilter(p []uint8, i, step, along, n, thresh int) {
	t2 := 2*thresh + 1
	for k := 0; k < n; k++ {
		if needsFilter(p, i+k*along, step, t2) {
			doFilter2(p, i+k*along, step)
		}
	}
}

func filterLoop(p []uint8, i, step, along, n, thresh, ithresh, hevT int, mbEdge bool) {
	t2 := 2*thresh + 1
	for k := 0; k < n; k++ {
		j := i + k*along
		if needsFilter2(p, j, step, t2, ithresh) {
			if hev(p, j, step, hevT) {
				doFilter2(p, j, step)
			} else if mbEdge {
				doFilter6(p, j, step)
			} else {
				doFilter4(p, j, step)
			}
		}
	}
}

func (d *vp8Decoder) filterMB(mbx, mby int) {
	f := d.finfo[mbx]
	if f.limit == 0 {
		return
	}
	ys, uvs := d.ys, d.uvs
	yi := mby*16*ys + mbx*16
	ci := mby*8*uvs + mbx*8
	limit, il, ht := f.limit, f.ilevel, f.hev
	if d.filterType == 1 {
		if mbx > 0 {
			simpleFilter(d.y, yi, 1, ys, 16, limit+4)
		}
		if f.inner {
			for k := 4; k < 16; k += 4 {
				simpleFilter(d.y, yi+k, 1, ys, 16, limit)
			}
		}
		if mby > 0 {
			simpleFilter(d.y, yi, ys, 1, 16, limit+4)
		}
		if f.inner {
			for k := 4; k < 16; k += 4 {
				simpleFilter(d.y, yi+k*ys, ys, 1, 16, limit)
			}
		}
		return
	}
	if mbx > 0 {
		filterLoop(d.y, yi, 1, ys, 16, limit+4, il, ht, true)
		filterLoop(d.u, ci, 1, uvs, 8, limit+4, il, ht, true)
		filterLoop(d.v, ci, 1, uvs, 8, limit+4, il, ht, true)
	}
	if f.inner {
		for k := 4; k < 16; k += 4 {
			filterLoop(d.y, yi+k, 1, ys, 16, limit, il, ht, false)
		}
		filterLoop(d.u, ci+4, 1, uvs, 8, limit, il, ht, false)
		filterLoop(d.v, ci+4, 1, uvs, 8, limit, il, ht, false)
	}
	if mby > 0 {
		filterLoop(d.y, yi, ys, 1, 16, limit+4, il, ht, true)
		filterLoop(d.u, ci, uvs, 1, 8, limit+4, il, ht, true)
		filterLoop(d.v, ci, uvs, 1, 8, limit+4, il, ht, true)
	}
	if f.inner {
		for k := 4; k < 16; k += 4 {
			filterLoop(d.y, yi+k*ys, ys, 1, 16, limit, il, ht, false)
		}
		filterLoop(d.u, ci+4*uvs, uvs, 1, 8, limit, il, ht, false)
		filterLoop(d.v, ci+4*uvs, uvs, 1, 8, limit, il, ht, false)
	}
}

// ---- YUV 4:2:0 -> RGB (libwebp yuv.h and the fancy upsampler of upsampling.c) ----

func yuvClip8(v int) uint8 {
	const mask = (256 << 6) - 1
	if v&^mask == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}

func multHi(v, c int) int { return (v * c) >> 8 }

func yuvToRGB(y, u, v int, dst []uint8) {
	dst[0] = yuvClip8(multHi(y, 19077) + multHi(v, 26149) - 14234)
	dst[1] = yuvClip8(multHi(y, 19077) - multHi(u, 6419) - multHi(v, 13320) + 8708)
	dst[2] = yuvClip8(multHi(y, 19077) + multHi(u, 33050) - 17685)
}

// upsampleLinePair is libwebp's UPSAMPLE_FUNC for RGB output, with u and v computed in separate
// variables (the packed 16-bit lanes of the C code never interact).
func upsampleLinePair(topY, botY, topU, topV, curU, curV []uint8, topDst, botDst []uint8, n int) {
	last := (n - 1) >> 1
	tlU, tlV := int(topU[0]), int(topV[0])
	lU, lV := int(curU[0]), int(curV[0])
	yuvToRGB(int(topY[0]), (3*tlU+lU+2)>>2, (3*tlV+lV+2)>>2, topDst[0:])
	if botY != nil {
		yuvToRGB(int(botY[0]), (3*lU+tlU+2)>>2, (3*lV+tlV+2)>>2, botDst[0:])
	}
	for x := 1; x <= last; x++ {
		tU, tV := int(topU[x]), int(topV[x])
		cU, cV := int(curU[x]), int(curV[x])
		avgU := tlU + tU + lU + cU + 8
		avgV := tlV + tV + lV + cV + 8
		d12U := (avgU + 2*(tU+lU)) >> 3
		d12V := (avgV + 2*(tV+lV)) >> 3
		d03U := (avgU + 2*(tlU+cU)) >> 3
		d03V := (avgV + 2*(tlV+cV)) >> 3
		yuvToRGB(int(topY[2*x-1]), (d12U+tlU)>>1, (d12V+tlV)>>1, topDst[3*(2*x-1):])
		yuvToRGB(int(topY[2*x]), (d03U+tU)>>1, (d03V+tV)>>1, topDst[3*(2*x):])
		if botY != nil {
			yuvToRGB(int(botY[2*x-1]), (d03U+lU)>>1, (d03V+lV)>>1, botDst[3*(2*x-1):])
			yuvToRGB(int(botY[2*x]), (d12U+cU)>>1, (d12V+cV)>>1, botDst[3*(2*x):])
		}
		tlU, tlV = tU, tV
		lU, lV = cU, cV
	}
	if n&1 == 0 {
		yuvToRGB(int(topY[n-1]), (3*tlU+lU+2)>>2, (3*tlV+lV+2)>>2, topDst[3*(n-1):])
		if botY != nil {
			yuvToRGB(int(botY[n-1]), (3*lU+tlU+2)>>2, (3*lV+tlV+2)>>2, botDst[3*(n-1):])
		}
	}
}

// toRGB runs libwebp's EmitFancyRGB over the whole picture.
func (d *vp8Decoder) toRGB() *Image {
	w, h := d.w, d.h
	img := &Image{Width: w, Height: h, Pix: make([]uint8, w*h*3), Mode: "RGB"}
	row := func(p []uint8, stride, y int) []uint8 { return p[y*stride:] }
	dst := func(y int) []uint8 { return img.Pix[y*w*3:] }
	// first line: u/v mirrored
	upsampleLinePair(row(d.y, d.ys, 0), nil, row(d.u, d.uvs, 0), row(d.v, d.uvs, 0), row(d.u, d.uvs, 0), row(d.v, d.uvs, 0), dst(0), nil, w)
	y := 0
	for ; y+2 < h; y += 2 {
		k := y/2 + 1
		upsampleLinePair(row(d.y, d.ys, y+1), row(d.y, d.ys, y+2), row(d.u, d.uvs, k-1), row(d.v, d.uvs, k-1),
			row(d.u, d.uvs, k), row(d.v, d.uvs, k), dst(y+1), dst(y+2), w)
	}
	if h%2 == 0 {
		k := (h - 1) / 2
		upsampleLinePair(row(d.y, d.ys, h-1), nil, row(d.u, d.uvs, k), row(d.v, d.uvs, k), row(d.u, d.uvs, k), row(d.v, d.uvs, k), dst(h-1), nil, w)
	}
	return img
}
