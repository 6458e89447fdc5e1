package image

import (
	"fmt"
)

// JPEG decoding that reproduces libjpeg-turbo 2.1.5 as Pillow 9.4 drives it: Huffman baseline
// and progressive decoding into a coefficient buffer, the accurate integer IDCT (jidctint.c),
// fancy upsampling (jdsample.c) and the YCbCr/YCCK tables of jdcolor.c.

// zigzag maps zig-zag position k to the natural (row-major) index; entries past 63 absorb
// corrupt run lengths as libjpeg's jpeg_natural_order does.
var zigzag = [80]int{
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
	63, 63, 63, 63, 63, 63, 63, 63,
	63, 63, 63, 63, 63, 63, 63, 63,
}

var errJPEGShort = fmt.Errorf("%w: unexpected end of JPEG data", ErrCorrupt)

type huffTable struct {
	present bool
	lookup  [1 << 9]uint16 // (length << 8) | value for codes of up to 9 bits; 0 = longer
	maxcode [18]int32      // largest code of each length, -1 if none
	valptr  [17]int32      // index in vals of the first code of each length
	mincode [17]int32
	vals    []byte
}

func (t *huffTable) build(counts [17]int, vals []byte) error {
	t.present = true
	t.vals = append(t.vals[:0], vals...)
	for i := range t.lookup {
		t.lookup[i] = 0
	}
	code := int32(0)
	k := int32(0)
	for l := 1; l <= 16; l++ {
		t.valptr[l] = k
		t.mincode[l] = code
		if counts[l] > 0 {
			for i := 0; i < counts[l]; i++ {
				if l <= 9 {
					shift := uint(9 - l)
					base := int(code+int32(i)) << shift
					for j := 0; j < 1<<shift; j++ {
						if base+j < len(t.lookup) {
							t.lookup[base+j] = uint16(l<<8) | uint16(vals[int(k)+i])
						}
					}
				}
			}
			code += int32(counts[l])
			k += int32(counts[l])
			t.maxcode[l] = code - 1
		} else {
			t.maxcode[l] = -1
		}
		if code > 1<<uint(l) {
			return fmt.Errorf("%w: bad Huffman table", errCorrupt)
		}
		code <<= 1
	}
	t.maxcode[17] = 0x7fffffff
	return nil
}

type jpegComp struct {
	id, h, v, tq int
	dcTbl, acTbl int
	bw, bh       int // allocated blocks (MCU-padded)
	dw, dh       int // downsampled_width / height
	wb, hb       int // blocks that hold real data: ceil(dw/8), ceil(dh/8)
	coef         []int16
	quant        [64]int32 // latched at the component's first scan (natural order)
	latched      bool
	pred         int
	dcCtx        int     // arithmetic coding DC context
	coefBits     [64]int // libjpeg's coef_bits: Al of the last scan that coded each coefficient, -1 if none
	plane        []uint8 // bw*8 x bh*8 samples after the IDCT
}

type jpegDecoder struct {
	arith       bool        // arithmetic coding (SOF9/SOF10)
	ar          *arithState // arithmetic decoder state
	data        []byte
	pos         int
	width       int
	height      int
	progressive bool
	comps       []jpegComp
	hmax, vmax  int
	mcusX       int
	mcusY       int
	quant       [4][64]int32
	quantSet    [4]bool
	dc, ac      [4]huffTable
	restart     int
	jfif        bool
	adobe       bool
	transform   int
	eobrun      int
	frameSeen   bool
	scans       int
	// bit reader
	bits   uint64
	nbits  uint
	marker bool // a marker was reached inside entropy data
	eofPad uint // zero bytes fed because the data ended (truncated file)
}

func decodeJPEG(data []byte, opts *Options) (*Image, error) {
	d := &jpegDecoder{data: data, pos: 2, transform: -1, ar: newArithState()}
	if err := d.parse(opts); err != nil {
		return nil, err
	}
	return d.output()
}

func (d *jpegDecoder) u16(p int) int { return int(d.data[p])<<8 | int(d.data[p+1]) }

func (d *jpegDecoder) parse(opts *Options) error {
	for {
		// find the next marker
		if d.pos >= len(d.data) {
			if d.frameSeen && d.scans > 0 && !d.progressive {
				return nil // missing EOI after a complete baseline scan: libjpeg warns only
			}
			return errJPEGShort
		}
		if d.data[d.pos] != 0xFF {
			d.pos++ // skip junk as libjpeg's next_marker does
			continue
		}
		for d.pos < len(d.data) && d.data[d.pos] == 0xFF {
			d.pos++
		}
		if d.pos >= len(d.data) {
			return errJPEGShort
		}
		m := d.data[d.pos]
		d.pos++
		switch {
		case m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01:
			continue // no length
		case m == 0xD9: // EOI
			if !d.frameSeen || d.scans == 0 {
				return fmt.Errorf("%w: JPEG without image data", errCorrupt)
			}
			return nil
		}
		if d.pos+2 > len(d.data) {
			return errJPEGShort
		}
		n := d.u16(d.pos)
		if n < 2 || d.pos+n > len(d.data) {
			return fmt.Errorf("%w: JPEG marker 0x%02X segment length %d", errCorrupt, m, n)
		}
		seg := d.data[d.pos+2 : d.pos+n]
		d.pos += n
		var err error
		switch {
		case m == 0xC0 || m == 0xC1 || m == 0xC2:
			err = d.parseSOF(seg, m == 0xC2, opts)
		case m == 0xC9 || m == 0xCA:
			d.arith = true
			err = d.parseSOF(seg, m == 0xCA, opts)
		case m == 0xCC:
			d.parseDAC(seg)
		case m == 0xC3 || (m >= 0xC5 && m <= 0xC7) || m == 0xCB || (m >= 0xCD && m <= 0xCF):
			return fmt.Errorf("%w: JPEG SOF marker 0x%02X (lossless or hierarchical coding)", ErrUnsupported, m)
		case m == 0xC4:
			err = d.parseDHT(seg)
		case m == 0xDB:
			err = d.parseDQT(seg)
		case m == 0xDD:
			if len(seg) < 2 {
				return fmt.Errorf("%w: DRI segment", errCorrupt)
			}
			d.restart = int(seg[0])<<8 | int(seg[1])
		case m == 0xE0:
			if len(seg) >= 14 && string(seg[:5]) == "JFIF\x00" {
				d.jfif = true
			}
		case m == 0xEE:
			if len(seg) >= 12 && string(seg[:5]) == "Adobe" {
				d.adobe = true
				d.transform = int(seg[11])
			}
		case m == 0xDA:
			err = d.parseSOS(seg)
		}
		if err != nil {
			return err
		}
	}
}

func (d *jpegDecoder) parseSOF(s []byte, progressive bool, opts *Options) error {
	if d.frameSeen {
		return fmt.Errorf("%w: JPEG with two SOF markers", errCorrupt)
	}
	if len(s) < 6 {
		return fmt.Errorf("%w: SOF segment too short", errCorrupt)
	}
	if s[0] != 8 {
		return fmt.Errorf("%w: JPEG sample precision %d", ErrUnsupported, s[0])
	}
	d.height = int(s[1])<<8 | int(s[2])
	d.width = int(s[3])<<8 | int(s[4])
	nc := int(s[5])
	if d.height == 0 {
		return fmt.Errorf("%w: JPEG with DNL-defined height", ErrUnsupported)
	}
	if err := checkSize(d.width, d.height, opts); err != nil {
		return err
	}
	if nc != 1 && nc != 3 && nc != 4 {
		return fmt.Errorf("%w: JPEG with %d components", ErrUnsupported, nc)
	}
	if len(s) < 6+3*nc {
		return fmt.Errorf("%w: SOF segment too short", errCorrupt)
	}
	d.progressive = progressive
	d.frameSeen = true
	d.comps = make([]jpegComp, nc)
	d.hmax, d.vmax = 1, 1
	for i := range d.comps {
		c := &d.comps[i]
		c.id = int(s[6+3*i])
		c.h = int(s[7+3*i] >> 4)
		c.v = int(s[7+3*i] & 15)
		c.tq = int(s[8+3*i])
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 || c.tq > 3 {
			return fmt.Errorf("%w: JPEG component %d sampling %dx%d table %d", errCorrupt, i, c.h, c.v, c.tq)
		}
		d.hmax = max(d.hmax, c.h)
		d.vmax = max(d.vmax, c.v)
	}
	d.mcusX = ceilDiv(d.width, 8*d.hmax)
	d.mcusY = ceilDiv(d.height, 8*d.vmax)
	blocks := 0
	for i := range d.comps {
		c := &d.comps[i]
		blocks += ceilDiv(ceilDiv(d.width*c.h, d.hmax), 8) * ceilDiv(ceilDiv(d.height*c.v, d.vmax), 8)
	}
	if !d.arith && int64(len(d.data))*8 < int64(blocks) {
		// every block costs at least one Huffman-coded bit: the file cannot hold this image
		return fmt.Errorf("%w: JPEG data (%d bytes) too short for %dx%d pixels", errJPEGShort, len(d.data), d.width, d.height)
	}
	for i := range d.comps {
		c := &d.comps[i]
		if d.hmax%c.h != 0 || d.vmax%c.v != 0 {
			return fmt.Errorf("%w: JPEG fractional sampling factors", ErrUnsupported)
		}
		c.dw = ceilDiv(d.width*c.h, d.hmax)
		c.dh = ceilDiv(d.height*c.v, d.vmax)
		c.wb = ceilDiv(c.dw, 8)
		c.hb = ceilDiv(c.dh, 8)
		c.bw = d.mcusX * c.h
		c.bh = d.mcusY * c.v
		c.coef = make([]int16, c.bw*c.bh*64)
		for k := range c.coefBits {
			c.coefBits[k] = -1
		}
	}
	return nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func (d *jpegDecoder) parseDHT(s []byte) error {
	for len(s) > 0 {
		if len(s) < 17 {
			return fmt.Errorf("%w: DHT segment too short", errCorrupt)
		}
		tc, th := s[0]>>4, s[0]&15
		if tc > 1 || th > 3 {
			return fmt.Errorf("%w: DHT table class %d id %d", errCorrupt, tc, th)
		}
		var counts [17]int
		total := 0
		for i := 1; i <= 16; i++ {
			counts[i] = int(s[i])
			total += counts[i]
		}
		if total > 256 || len(s) < 17+total {
			return fmt.Errorf("%w: DHT segment", errCorrupt)
		}
		t := &d.dc[th]
		if tc == 1 {
			t = &d.ac[th]
		}
		if err := t.build(counts, s[17:17+total]); err != nil {
			return err
		}
		s = s[17+total:]
	}
	return nil
}

func (d *jpegDecoder) parseDQT(s []byte) error {
	for len(s) > 0 {
		pq, tq := s[0]>>4, s[0]&15
		if pq > 1 || tq > 3 {
			return fmt.Errorf("%w: DQT precision %d id %d", errCorrupt, pq, tq)
		}
		n := 65
		if pq == 1 {
			n = 129
		}
		if len(s) < n {
			return fmt.Errorf("%w: DQT segment too short", errCorrupt)
		}
		for k := 0; k < 64; k++ {
			var v int32
			if pq == 0 {
				v = int32(s[1+k])
			} else {
				v = int32(s[1+2*k])<<8 | int32(s[2+2*k])
			}
			// libjpeg stores quantizers as 16-bit JQUANT_TBL entries and multiplies as ISLOW_MULT_TYPE (short)
			d.quant[tq][zigzag[k]] = int32(int16(v))
		}
		d.quantSet[tq] = true
		s = s[n:]
	}
	return nil
}

func (d *jpegDecoder) parseSOS(s []byte) error {
	if !d.frameSeen {
		return fmt.Errorf("%w: SOS before SOF", errCorrupt)
	}
	if len(s) < 1 {
		return fmt.Errorf("%w: SOS segment too short", errCorrupt)
	}
	ns := int(s[0])
	if ns < 1 || ns > 4 || len(s) < 1+2*ns+3 {
		return fmt.Errorf("%w: SOS segment", errCorrupt)
	}
	scomp := make([]int, ns)
	for i := 0; i < ns; i++ {
		cid := int(s[1+2*i])
		ci := -1
		for j := range d.comps {
			if d.comps[j].id == cid {
				ci = j
			}
		}
		if ci < 0 {
			return fmt.Errorf("%w: SOS names unknown component %d", errCorrupt, cid)
		}
		for j := 0; j < i; j++ {
			if scomp[j] == ci {
				return fmt.Errorf("%w: SOS names component %d twice", errCorrupt, cid)
			}
		}
		scomp[i] = ci
		d.comps[ci].dcTbl = int(s[2+2*i] >> 4)
		d.comps[ci].acTbl = int(s[2+2*i] & 15)
		if d.comps[ci].dcTbl > 3 || d.comps[ci].acTbl > 3 {
			return fmt.Errorf("%w: SOS table ids", errCorrupt)
		}
	}
	ss := int(s[1+2*ns])
	se := int(s[2+2*ns])
	ah := int(s[3+2*ns] >> 4)
	al := int(s[3+2*ns] & 15)
	if d.progressive {
		if ss > se || se > 63 || (ss == 0 && se != 0) || (ss > 0 && ns != 1) || ah > 13 || al > 13 {
			return fmt.Errorf("%w: progressive scan parameters Ss=%d Se=%d Ah=%d Al=%d", errCorrupt, ss, se, ah, al)
		}
	} else {
		ss, se, ah, al = 0, 63, 0, 0
	}
	// latch quantization tables and check the Huffman tables this scan needs
	for _, ci := range scomp {
		c := &d.comps[ci]
		if !c.latched {
			if !d.quantSet[c.tq] {
				return fmt.Errorf("%w: JPEG quantization table %d not defined", errCorrupt, c.tq)
			}
			c.quant = d.quant[c.tq]
			c.latched = true
		}
		if !d.arith && ss == 0 && ah == 0 {
			t := &d.dc[c.dcTbl]
			if !t.present {
				return fmt.Errorf("%w: JPEG DC Huffman table %d not defined", errCorrupt, c.dcTbl)
			}
			for _, v := range t.vals {
				if v > 15 { // jpeg_make_d_derived_tbl: JERR_BAD_HUFF_TABLE
					return fmt.Errorf("%w: JPEG DC Huffman table %d has symbol %d", errCorrupt, c.dcTbl, v)
				}
			}
		}
		if !d.arith && se > 0 && ss <= se && (!d.progressive || ss > 0) && !d.ac[c.acTbl].present {
			return fmt.Errorf("%w: JPEG AC Huffman table %d not defined", errCorrupt, c.acTbl)
		}
	}
	if d.progressive {
		for _, ci := range scomp {
			for k := ss; k <= se; k++ {
				d.comps[ci].coefBits[k] = al
			}
		}
	}
	d.scans++
	return d.decodeScan(scomp, ss, se, ah, al)
}

// ---- entropy-coded data ----

func (d *jpegDecoder) resetBits() {
	d.bits, d.nbits, d.marker, d.eofPad = 0, 0, false, 0
}

// fill loads bytes into the bit buffer; at a marker it feeds zeros as libjpeg does.
func (d *jpegDecoder) fill() {
	for d.nbits <= 56 {
		var b byte
		if d.marker || d.pos >= len(d.data) {
			b = 0
			if d.pos >= len(d.data) {
				d.eofPad++
			}
			d.marker = true
		} else {
			b = d.data[d.pos]
			if b == 0xFF {
				// skip fill bytes
				p := d.pos + 1
				for p < len(d.data) && d.data[p] == 0xFF {
					p++
				}
				if p < len(d.data) && d.data[p] == 0 {
					d.pos = p + 1
				} else {
					d.marker = true
					d.pos = p - 1 // leave the position at the marker's 0xFF
					b = 0
				}
			} else {
				d.pos++
			}
		}
		d.bits |= uint64(b) << (56 - d.nbits)
		d.nbits += 8
	}
}

func (d *jpegDecoder) getBits(n int) int {
	if n == 0 {
		return 0
	}
	if d.nbits < uint(n) {
		d.fill()
	}
	v := int(d.bits >> (64 - uint(n)))
	d.bits <<= uint(n)
	d.nbits -= uint(n)
	return v
}

func (d *jpegDecoder) decodeHuff(t *huffTable) int {
	if d.nbits < 16 {
		d.fill()
	}
	if e := t.lookup[d.bits>>(64-9)]; e != 0 {
		l := uint(e >> 8)
		d.bits <<= l
		d.nbits -= l
		return int(e & 0xFF)
	}
	code := int32(0)
	for l := 1; l <= 16; l++ {
		code = code<<1 | int32(d.bits>>63)
		d.bits <<= 1
		d.nbits--
		if code <= t.maxcode[l] && t.maxcode[l] >= 0 {
			idx := t.valptr[l] + code - t.mincode[l]
			if idx >= 0 && int(idx) < len(t.vals) {
				return int(t.vals[idx])
			}
			return 0
		}
	}
	// corrupt data: libjpeg reads a 17th bit, warns and returns 0
	d.getBits(1)
	return 0
}

func extend(v, s int) int {
	if s == 0 {
		return 0
	}
	if v < 1<<uint(s-1) {
		return v - (1 << uint(s)) + 1
	}
	return v
}

// processRestart consumes an RSTn marker between restart intervals.
func (d *jpegDecoder) processRestart() {
	// discard buffered bits; find the marker
	d.resetBits()
	for d.pos < len(d.data) && d.data[d.pos] != 0xFF {
		d.pos++
	}
	for d.pos+1 < len(d.data) && d.data[d.pos] == 0xFF && d.data[d.pos+1] == 0xFF {
		d.pos++
	}
	if d.pos+1 < len(d.data) && d.data[d.pos+1] >= 0xD0 && d.data[d.pos+1] <= 0xD7 {
		d.pos += 2
	}
	for i := range d.comps {
		d.comps[i].pred = 0
	}
	d.eobrun = 0
}

func (d *jpegDecoder) decodeScan(scomp []int, ss, se, ah, al int) error {
	d.resetBits()
	d.eobrun = 0
	for _, ci := range scomp {
		d.comps[ci].pred = 0
	}
	if d.arith {
		d.ar.failed = false
		d.arithReset(scomp, ss, ah)
	}
	decode := d.decodeBlock
	if d.arith {
		decode = d.arithBlock
	}
	var blocksX, blocksY int
	single := len(scomp) == 1
	if single {
		c := &d.comps[scomp[0]]
		blocksX, blocksY = c.wb, c.hb
	} else {
		blocksX, blocksY = d.mcusX, d.mcusY
	}
	total := blocksX * blocksY
	for mcu := 0; mcu < total; mcu++ {
		if d.restart > 0 && mcu > 0 && mcu%d.restart == 0 {
			d.processRestart()
			if d.arith {
				d.arithReset(scomp, ss, ah)
			}
		}
		mx, my := mcu%blocksX, mcu/blocksX
		if single {
			c := &d.comps[scomp[0]]
			blk := c.coef[(my*c.bw+mx)*64 : (my*c.bw+mx)*64+64]
			decode(c, blk, ss, se, ah, al)
		} else {
			for _, ci := range scomp {
				c := &d.comps[ci]
				for by := 0; by < c.v; by++ {
					for bx := 0; bx < c.h; bx++ {
						x := mx*c.h + bx
						y := my*c.v + by
						off := (y*c.bw + x) * 64
						decode(c, c.coef[off:off+64], ss, se, ah, al)
					}
				}
			}
		}
		if d.eofPad*8 > d.nbits {
			return errJPEGShort // bits past the end of the file were used
		}
	}
	// move past the entropy-coded data to the next marker
	for {
		for d.pos < len(d.data) && d.data[d.pos] != 0xFF {
			d.pos++
		}
		if d.pos+1 >= len(d.data) {
			d.pos = len(d.data)
			break
		}
		nx := d.data[d.pos+1]
		if nx == 0 || nx == 0xFF || (nx >= 0xD0 && nx <= 0xD7) {
			d.pos++
			continue
		}
		break
	}
	return nil
}

func (d *jpegDecoder) decodeBlock(c *jpegComp, blk []int16, ss, se, ah, al int) {
	if !d.progressive {
		s := d.decodeHuff(&d.dc[c.dcTbl])
		diff := 0
		if s != 0 {
			diff = extend(d.getBits(s), s)
		}
		c.pred += diff
		blk[0] = int16(c.pred)
		t := &d.ac[c.acTbl]
		for k := 1; k < 64; k++ {
			rs := d.decodeHuff(t)
			r, s := rs>>4, rs&15
			if s != 0 {
				k += r
				v := extend(d.getBits(s), s)
				blk[zigzag[min(k, 79)]] = int16(v)
			} else {
				if r != 15 {
					break
				}
				k += 15
			}
		}
		return
	}
	if ss == 0 {
		if ah == 0 {
			s := d.decodeHuff(&d.dc[c.dcTbl])
			diff := 0
			if s != 0 {
				diff = extend(d.getBits(s), s)
			}
			c.pred += diff
			blk[0] = int16(c.pred << uint(al))
		} else if d.getBits(1) != 0 {
			blk[0] |= int16(1 << uint(al))
		}
		return
	}
	t := &d.ac[c.acTbl]
	if ah == 0 {
		if d.eobrun > 0 {
			d.eobrun--
			return
		}
		for k := ss; k <= se; k++ {
			rs := d.decodeHuff(t)
			r, s := rs>>4, rs&15
			if s != 0 {
				k += r
				v := extend(d.getBits(s), s)
				blk[zigzag[min(k, 79)]] = int16(v << uint(al))
			} else {
				if r == 15 {
					k += 15
				} else {
					d.eobrun = 1 << uint(r)
					if r != 0 {
						d.eobrun += d.getBits(r)
					}
					d.eobrun--
					break
				}
			}
		}
		return
	}
	// AC refinement (jdphuff.c decode_mcu_AC_refine)
	p1 := int16(1 << uint(al))
	m1 := int16(-1 << uint(al))
	k := ss
	if d.eobrun == 0 {
		for ; k <= se; k++ {
			rs := d.decodeHuff(t)
			r, s := rs>>4, rs&15
			var sv int16
			if s != 0 {
				if d.getBits(1) != 0 {
					sv = p1
				} else {
					sv = m1
				}
			} else if r != 15 {
				d.eobrun = 1 << uint(r)
				if r != 0 {
					d.eobrun += d.getBits(r)
				}
				break
			}
			for k <= se {
				p := &blk[zigzag[k]]
				if *p != 0 {
					if d.getBits(1) != 0 && *p&p1 == 0 {
						if *p >= 0 {
							*p += p1
						} else {
							*p += m1
						}
					}
				} else {
					r--
					if r < 0 {
						break
					}
				}
				k++
			}
			if sv != 0 {
				blk[zigzag[min(k, 79)]] = sv
			}
		}
	}
	if d.eobrun > 0 {
		for ; k <= se; k++ {
			p := &blk[zigzag[k]]
			if *p != 0 {
				if d.getBits(1) != 0 && *p&p1 == 0 {
					if *p >= 0 {
						*p += p1
					} else {
						*p += m1
					}
				}
			}
		}
		d.eobrun--
	}
}
