package image

// Inter-block smoothing of progressive JPEGs whose scans leave low-frequency coefficients
// incomplete (libjpeg-turbo 2.1's jdcoefct.c decompress_smooth_data, T.81 section K.8): the
// first nine AC coefficients (and, when none of them was coded, the DC) are estimated from the
// DC values of the 5x5 neighbouring blocks. libjpeg-turbo applies it by default
// (do_block_smoothing) when decoding such files, so Pillow's pixels include it.

// natural-order positions of the smoothed coefficients (Q01, Q10, Q20, Q11, Q02, Q03, Q12,
// Q21, Q30)
var smoothPos = [10]int{0, 1, 8, 16, 9, 2, 3, 10, 17, 24}

// smoothingOK is libjpeg's smoothing_ok on the final coefficient states.
func (d *jpegDecoder) smoothingOK() bool {
	if !d.progressive {
		return false
	}
	useful := false
	for i := range d.comps {
		c := &d.comps[i]
		for _, p := range smoothPos {
			if c.quant[p] == 0 {
				return false
			}
		}
		if c.coefBits[0] < 0 {
			return false
		}
		for k := 1; k <= 9; k++ {
			if c.coefBits[k] != 0 {
				useful = true
			}
		}
	}
	return useful
}

// smoothPred is one coefficient estimate: ((Q<<7) + num) / (Q<<8), limited to the bits that are
// still unknown (Al > 0), with the sign of num.
func smoothPred(num, q int64, al int) int16 {
	neg := num < 0
	if neg {
		num = -num
	}
	pred := ((q << 7) + num) / (q << 8)
	if al > 0 && pred >= 1<<uint(al) {
		pred = 1<<uint(al) - 1
	}
	if neg {
		pred = -pred
	}
	return int16(pred)
}

// smoothIDCT runs the IDCT of component c with block smoothing.
func (d *jpegDecoder) smoothIDCT(c *jpegComp) {
	stride := c.bw * 8
	cb := &c.coefBits
	changeDC := true
	for k := 1; k <= 9; k++ {
		if cb[k] != -1 {
			changeDC = false
		}
	}
	q := func(p int) int64 { return int64(c.quant[p]) }
	Q00, Q01, Q10, Q20, Q11, Q02 := q(0), q(1), q(8), q(16), q(9), q(2)
	Q03, Q12, Q21, Q30 := q(3), q(10), q(17), q(24)
	lastIMCU := d.mcusY - 1
	dc := func(row, col int) int64 { return int64(c.coef[(row*c.bw+col)*64]) }
	var ws [64]int16
	for imcu := 0; imcu <= lastIMCU; imcu++ {
		blockRows := c.v
		if imcu == lastIMCU {
			blockRows = c.hb % c.v
			if blockRows == 0 {
				blockRows = c.v
			}
		}
		for br := 0; br < blockRows; br++ {
			row := imcu*c.v + br
			if row >= c.hb {
				break
			}
			prev, prev2, next, next2 := row, row, row, row
			if br > 0 || imcu > 0 {
				prev = row - 1
			}
			prev2 = prev
			if br > 1 || imcu > 1 {
				prev2 = row - 2
			}
			if br < blockRows-1 || imcu < lastIMCU {
				next = row + 1
			}
			next2 = next
			if br < blockRows-2 || imcu+1 < lastIMCU {
				next2 = row + 2
			}
			rows := [5]int{prev2, prev, row, next, next2}
			var DC [26]int64 // DC[1..25] as in the C code, row-major 5x5
			for r := 0; r < 5; r++ {
				v := dc(rows[r], 0)
				for k := 1; k <= 5; k++ {
					DC[r*5+k] = v
				}
			}
			last := c.wb - 1
			for bn := 0; bn <= last; bn++ {
				off := (row*c.bw + bn) * 64
				copy(ws[:], c.coef[off:off+64])
				if bn == 0 && bn < last {
					// libjpeg-turbo 2.1 loads only the second column here (3.0 fills the
					// third too, changing two-block-wide images)
					for r := 0; r < 5; r++ {
						DC[r*5+4] = dc(rows[r], 1)
					}
				}
				if bn+1 < last {
					for r := 0; r < 5; r++ {
						DC[r*5+5] = dc(rows[r], bn+2)
					}
				}
				D := &DC
				if al := cb[1]; al != 0 && ws[1] == 0 {
					var num int64
					if changeDC {
						num = -D[1] - D[2] + D[4] + D[5] - 3*D[6] + 13*D[7] - 13*D[9] + 3*D[10] - 3*D[11] + 38*D[12] - 38*D[14] +
							3*D[15] - 3*D[16] + 13*D[17] - 13*D[19] + 3*D[20] - D[21] - D[22] + D[24] + D[25]
					} else {
						num = -7*D[11] + 50*D[12] - 50*D[14] + 7*D[15]
					}
					ws[1] = smoothPred(Q00*num, Q01, al)
				}
				if al := cb[2]; al != 0 && ws[8] == 0 {
					var num int64
					if changeDC {
						num = -D[1] - 3*D[2] - 3*D[3] - 3*D[4] - D[5] - D[6] + 13*D[7] + 38*D[8] + 13*D[9] - D[10] + D[16] -
							13*D[17] - 38*D[18] - 13*D[19] + D[20] + D[21] + 3*D[22] + 3*D[23] + 3*D[24] + D[25]
					} else {
						num = -7*D[3] + 50*D[8] - 50*D[18] + 7*D[23]
					}
					ws[8] = smoothPred(Q00*num, Q10, al)
				}
				if al := cb[3]; al != 0 && ws[16] == 0 {
					var num int64
					if changeDC {
						num = D[3] + 2*D[7] + 7*D[8] + 2*D[9] - 5*D[12] - 14*D[13] - 5*D[14] + 2*D[17] + 7*D[18] + 2*D[19] + D[23]
					} else {
						num = -D[3] + 13*D[8] - 24*D[13] + 13*D[18] - D[23]
					}
					ws[16] = smoothPred(Q00*num, Q20, al)
				}
				if al := cb[4]; al != 0 && ws[9] == 0 {
					var num int64
					if changeDC {
						num = -D[1] + D[5] + 9*D[7] - 9*D[9] - 9*D[17] + 9*D[19] + D[21] - D[25]
					} else {
						num = D[10] + D[16] - 10*D[17] + 10*D[19] - D[2] - D[20] + D[22] - D[24] + D[4] - D[6] + 10*D[7] - 10*D[9]
					}
					ws[9] = smoothPred(Q00*num, Q11, al)
				}
				if al := cb[5]; al != 0 && ws[2] == 0 {
					var num int64
					if changeDC {
						num = 2*D[7] - 5*D[8] + 2*D[9] + D[11] + 7*D[12] - 14*D[13] + 7*D[14] + D[15] + 2*D[17] - 5*D[18] + 2*D[19]
					} else {
						num = -D[11] + 13*D[12] - 24*D[13] + 13*D[14] - D[15]
					}
					ws[2] = smoothPred(Q00*num, Q02, al)
				}
				if changeDC {
					if al := cb[6]; al != 0 && ws[3] == 0 {
						ws[3] = smoothPred(Q00*(D[7]-D[9]+2*D[12]-2*D[14]+D[17]-D[19]), Q03, al)
					}
					if al := cb[7]; al != 0 && ws[10] == 0 {
						ws[10] = smoothPred(Q00*(D[7]-3*D[8]+D[9]-D[17]+3*D[18]-D[19]), Q12, al)
					}
					if al := cb[8]; al != 0 && ws[17] == 0 {
						ws[17] = smoothPred(Q00*(D[7]-D[9]-3*D[12]+3*D[14]+D[17]-D[19]), Q21, al)
					}
					if al := cb[9]; al != 0 && ws[24] == 0 {
						ws[24] = smoothPred(Q00*(D[7]+2*D[8]+D[9]-D[17]-2*D[18]-D[19]), Q30, al)
					}
					num := Q00 * (-2*D[1] - 6*D[2] - 8*D[3] - 6*D[4] - 2*D[5] - 6*D[6] + 6*D[7] + 42*D[8] + 6*D[9] - 6*D[10] -
						8*D[11] + 42*D[12] + 152*D[13] + 42*D[14] - 8*D[15] - 6*D[16] + 6*D[17] + 42*D[18] + 6*D[19] - 6*D[20] -
						2*D[21] - 6*D[22] - 8*D[23] - 6*D[24] - 2*D[25])
					ws[0] = smoothPred(num, Q00, 0)
				}
				idctIslow(ws[:], &c.quant, c.plane[row*8*stride+bn*8:], stride)
				for r := 0; r < 5; r++ {
					b := r * 5
					DC[b+1], DC[b+2], DC[b+3], DC[b+4] = DC[b+2], DC[b+3], DC[b+4], DC[b+5]
				}
			}
		}
	}
}
