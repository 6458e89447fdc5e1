package image

// Arithmetic-coded JPEG (SOF9 sequential, SOF10 progressive) as libjpeg-turbo's jdarith.c
// decodes it (ITU-T T.81 annex D and F.1.4.4, F.2.4).

// qeTable is Table D.2 of T.81, packed as libjpeg's jpeg_aritab:
// Qe << 16 | next MPS index << 8 | switch MPS << 7 | next LPS index.
var qeTable = func() [114]uint32 {
	rows := [114][4]uint32{
		{0x5a1d, 1, 1, 1}, {0x2586, 14, 2, 0}, {0x1114, 16, 3, 0}, {0x080b, 18, 4, 0},
		{0x03d8, 20, 5, 0}, {0x01da, 23, 6, 0}, {0x00e5, 25, 7, 0}, {0x006f, 28, 8, 0},
		{0x0036, 30, 9, 0}, {0x001a, 33, 10, 0}, {0x000d, 35, 11, 0}, {0x0006, 9, 12, 0},
		{0x0003, 10, 13, 0}, {0x0001, 12, 13, 0}, {0x5a7f, 15, 15, 1}, {0x3f25, 36, 16, 0},
		{0x2cf2, 38, 17, 0}, {0x207c, 39, 18, 0}, {0x17b9, 40, 19, 0}, {0x1182, 42, 20, 0},
		{0x0cef, 43, 21, 0}, {0x09a1, 45, 22, 0}, {0x072f, 46, 23, 0}, {0x055c, 48, 24, 0},
		{0x0406, 49, 25, 0}, {0x0303, 51, 26, 0}, {0x0240, 52, 27, 0}, {0x01b1, 54, 28, 0},
		{0x0144, 56, 29, 0}, {0x00f5, 57, 30, 0}, {0x00b7, 59, 31, 0}, {0x008a, 60, 32, 0},
		{0x0068, 62, 33, 0}, {0x004e, 63, 34, 0}, {0x003b, 32, 35, 0}, {0x002c, 33, 9, 0},
		{0x5ae1, 37, 37, 1}, {0x484c, 64, 38, 0}, {0x3a0d, 65, 39, 0}, {0x2ef1, 67, 40, 0},
		{0x261f, 68, 41, 0}, {0x1f33, 69, 42, 0}, {0x19a8, 70, 43, 0}, {0x1518, 72, 44, 0},
		{0x1177, 73, 45, 0}, {0x0e74, 74, 46, 0}, {0x0bfb, 75, 47, 0}, {0x09f8, 77, 48, 0},
		{0x0861, 78, 49, 0}, {0x0706, 79, 50, 0}, {0x05cd, 48, 51, 0}, {0x04de, 50, 52, 0},
		{0x040f, 50, 53, 0}, {0x0363, 51, 54, 0}, {0x02d4, 52, 55, 0}, {0x025c, 53, 56, 0},
		{0x01f8, 54, 57, 0}, {0x01a4, 55, 58, 0}, {0x0160, 56, 59, 0}, {0x0125, 57, 60, 0},
		{0x00f6, 58, 61, 0}, {0x00cb, 59, 62, 0}, {0x00ab, 61, 63, 0}, {0x008f, 61, 32, 0},
		{0x5b12, 65, 65, 1}, {0x4d04, 80, 66, 0}, {0x412c, 81, 67, 0}, {0x37d8, 82, 68, 0},
		{0x2fe8, 83, 69, 0}, {0x293c, 84, 70, 0}, {0x2379, 86, 71, 0}, {0x1edf, 87, 72, 0},
		{0x1aa9, 87, 73, 0}, {0x174e, 72, 74, 0}, {0x1424, 72, 75, 0}, {0x119c, 74, 76, 0},
		{0x0f6b, 74, 77, 0}, {0x0d51, 75, 78, 0}, {0x0bb6, 77, 79, 0}, {0x0a40, 77, 48, 0},
		{0x5832, 80, 81, 1}, {0x4d1c, 88, 82, 0}, {0x438e, 89, 83, 0}, {0x3bdd, 90, 84, 0},
		{0x34ee, 91, 85, 0}, {0x2eae, 92, 86, 0}, {0x299a, 93, 87, 0}, {0x2516, 86, 71, 0},
		{0x5570, 88, 89, 1}, {0x4ca9, 95, 90, 0}, {0x44d9, 96, 91, 0}, {0x3e22, 97, 92, 0},
		{0x3824, 99, 93, 0}, {0x32b4, 99, 94, 0}, {0x2e17, 93, 86, 0}, {0x56a8, 95, 96, 1},
		{0x4f46, 101, 97, 0}, {0x47e5, 102, 98, 0}, {0x41cf, 103, 99, 0}, {0x3c3d, 104, 100, 0},
		{0x375e, 99, 93, 0}, {0x5231, 105, 102, 0}, {0x4c0f, 106, 103, 0}, {0x4639, 107, 104, 0},
		{0x415e, 103, 99, 0}, {0x5627, 105, 106, 1}, {0x50e7, 108, 107, 0}, {0x4b85, 109, 103, 0},
		{0x5597, 110, 109, 0}, {0x504f, 111, 107, 0}, {0x5a10, 110, 111, 1}, {0x5522, 112, 109, 0},
		{0x59eb, 112, 111, 1},
		// entry 113: fixed probability 0.5 (T.851 table 5)
		{0x5a1d, 113, 113, 0},
	}
	var t [114]uint32
	for i, r := range rows {
		t[i] = r[0]<<16 | r[2]<<8 | r[3]<<7 | r[1]
	}
	return t
}()

// arithState is the arithmetic decoder's registers and statistics bins.
type arithState struct {
	c, a     int64
	ct       int
	dcStats  [4][64]uint8
	acStats  [4][256]uint8
	fixed    [1]uint8
	dcL, dcU [4]int
	acK      [4]int
	failed   bool
}

func newArithState() *arithState {
	s := &arithState{}
	s.fixed[0] = 113
	for i := range s.dcU {
		s.dcL[i], s.dcU[i], s.acK[i] = 0, 1, 5
	}
	return s
}

// arithByte returns the next entropy-coded byte, or 0 once a marker has been reached.
func (d *jpegDecoder) arithByte() int64 {
	if d.marker {
		return 0
	}
	if d.pos >= len(d.data) {
		d.eofPad++
		return 0
	}
	b := d.data[d.pos]
	d.pos++
	if b != 0xFF {
		return int64(b)
	}
	for d.pos < len(d.data) && d.data[d.pos] == 0xFF {
		d.pos++
	}
	if d.pos < len(d.data) && d.data[d.pos] == 0 {
		d.pos++
		return 0xFF
	}
	// a marker: leave it for the marker parser, feed zeros from now on
	d.marker = true
	d.pos--
	return 0
}

func (d *jpegDecoder) arithDecode(st *uint8) int {
	e := d.ar
	for e.a < 0x8000 {
		e.ct--
		if e.ct < 0 {
			e.c = e.c<<8 | d.arithByte()
			e.ct += 8
			if e.ct < 0 {
				e.ct++
				if e.ct == 0 {
					e.a = 0x8000
				}
			}
		}
		e.a <<= 1
	}
	sv := int(*st)
	qe := int64(qeTable[sv&0x7F])
	nl := uint8(qe & 0xFF)
	qe >>= 8
	nm := uint8(qe & 0xFF)
	qe >>= 8
	temp := e.a - qe
	e.a = temp
	temp <<= uint(e.ct)
	if e.c >= temp {
		e.c -= temp
		if e.a < qe {
			e.a = qe
			*st = uint8(sv&0x80) ^ nm
		} else {
			e.a = qe
			*st = uint8(sv&0x80) ^ nl
			sv ^= 0x80
		}
	} else if e.a < 0x8000 {
		if e.a < qe {
			*st = uint8(sv&0x80) ^ nl
			sv ^= 0x80
		} else {
			*st = uint8(sv&0x80) ^ nm
		}
	}
	return sv >> 7
}

// arithStartScan resets the statistics and registers (start_pass / process_restart).
func (d *jpegDecoder) arithReset(scomp []int, ss, ah int) {
	e := d.ar
	for _, ci := range scomp {
		c := &d.comps[ci]
		if !d.progressive || (ss == 0 && ah == 0) {
			e.dcStats[c.dcTbl] = [64]uint8{}
			c.pred = 0
			c.dcCtx = 0
		}
		if !d.progressive || ss != 0 {
			e.acStats[c.acTbl] = [256]uint8{}
		}
	}
	e.c, e.a, e.ct = 0, 0, -16
}

// arithDC decodes one DC difference (figures F.19-F.24) into c.pred.
func (d *jpegDecoder) arithDC(c *jpegComp) bool {
	e := d.ar
	tbl := c.dcTbl
	st := &e.dcStats[tbl]
	idx := c.dcCtx
	if d.arithDecode(&st[idx]) == 0 {
		c.dcCtx = 0
		return true
	}
	sign := d.arithDecode(&st[idx+1])
	idx += 2 + sign
	m := d.arithDecode(&st[idx])
	if m != 0 {
		idx = 20
		for d.arithDecode(&st[idx]) != 0 {
			m <<= 1
			if m == 0x8000 {
				e.failed = true
				return false
			}
			idx++
		}
	}
	switch {
	case m < (1<<uint(e.dcL[tbl]))>>1:
		c.dcCtx = 0
	case m > (1<<uint(e.dcU[tbl]))>>1:
		c.dcCtx = 12 + sign*4
	default:
		c.dcCtx = 4 + sign*4
	}
	v := m
	idx += 14
	for m >>= 1; m != 0; m >>= 1 {
		if d.arithDecode(&st[idx]) != 0 {
			v |= m
		}
	}
	v++
	if sign != 0 {
		v = -v
	}
	c.pred += v
	return true
}

// arithACValue decodes the sign, magnitude category and bits of a non-zero AC value at k.
func (d *jpegDecoder) arithACValue(tbl, k, idx int) (int, bool) {
	e := d.ar
	st := &e.acStats[tbl]
	sign := d.arithDecode(&e.fixed[0])
	idx += 2
	m := d.arithDecode(&st[idx])
	if m != 0 {
		if d.arithDecode(&st[idx]) != 0 {
			m <<= 1
			if k <= e.acK[tbl] {
				idx = 189
			} else {
				idx = 217
			}
			for d.arithDecode(&st[idx]) != 0 {
				m <<= 1
				if m == 0x8000 {
					e.failed = true
					return 0, false
				}
				idx++
			}
		}
	}
	v := m
	idx += 14
	for m >>= 1; m != 0; m >>= 1 {
		if d.arithDecode(&st[idx]) != 0 {
			v |= m
		}
	}
	v++
	if sign != 0 {
		v = -v
	}
	return v, true
}

// arithBlock decodes one block's data of the current scan (decode_mcu and the progressive
// decode_mcu_* routines of jdarith.c).
func (d *jpegDecoder) arithBlock(c *jpegComp, blk []int16, ss, se, ah, al int) {
	e := d.ar
	if e.failed {
		return
	}
	if !d.progressive || (ss == 0 && ah == 0) {
		if !d.arithDC(c) {
			return
		}
		if d.progressive {
			blk[0] = int16(c.pred << uint(al))
			return
		}
		blk[0] = int16(c.pred)
		ss, se = 1, 63
	} else if ss == 0 { // DC refinement
		if d.arithDecode(&e.fixed[0]) != 0 {
			blk[0] |= int16(1 << uint(al))
		}
		return
	}
	tbl := c.acTbl
	st := &e.acStats[tbl]
	if ah == 0 || !d.progressive { // sequential AC or first AC scan
		for k := ss; k <= se; k++ {
			idx := 3 * (k - 1)
			if d.arithDecode(&st[idx]) != 0 {
				break // EOB
			}
			for d.arithDecode(&st[idx+1]) == 0 {
				idx += 3
				k++
				if k > se {
					e.failed = true
					return
				}
			}
			v, ok := d.arithACValue(tbl, k, idx)
			if !ok {
				return
			}
			if d.progressive {
				v <<= uint(al)
			}
			blk[zigzag[k]] = int16(v)
		}
		return
	}
	// AC refinement
	p1 := int16(1 << uint(al))
	m1 := int16(-1 << uint(al))
	kex := se
	for ; kex > 0; kex-- {
		if blk[zigzag[kex]] != 0 {
			break
		}
	}
	for k := ss; k <= se; k++ {
		idx := 3 * (k - 1)
		if k > kex {
			if d.arithDecode(&st[idx]) != 0 {
				break
			}
		}
		for {
			p := &blk[zigzag[k]]
			if *p != 0 {
				if d.arithDecode(&st[idx+2]) != 0 {
					if *p < 0 {
						*p += m1
					} else {
						*p += p1
					}
				}
				break
			}
			if d.arithDecode(&st[idx+1]) != 0 {
				if d.arithDecode(&e.fixed[0]) != 0 {
					*p = m1
				} else {
					*p = p1
				}
				break
			}
			idx += 3
			k++
			if k > se {
				e.failed = true
				return
			}
		}
	}
}

// parseDAC reads a DAC segment (arithmetic conditioning tables).
func (d *jpegDecoder) parseDAC(s []byte) {
	for ; len(s) >= 2; s = s[2:] {
		tc, tb, v := s[0]>>4, int(s[0]&15), int(s[1])
		if tb > 3 {
			continue
		}
		if tc != 0 {
			d.ar.acK[tb] = v
		} else {
			d.ar.dcL[tb] = v & 15
			d.ar.dcU[tb] = v >> 4
		}
	}
}
