package tensor

import (
	"runtime"
	"sync"
	"unsafe"
)

// Blocking of the packed GEMM (BLIS loop order): an A block of mcBlk x kcBlk stays in L2, a B
// micro-panel of kcBlk x 16 in L1, a B block of kcBlk x ncBlk in L3.
const (
	mr     = 6
	nr     = 16
	nrw    = 2 * nr // columns per macro-kernel call (two B panels: the AVX-512 kernels' width)
	kcBlk  = 256
	mcBlk  = 144
	mcOne  = 320 // up to this many rows, A is packed as one block (it stays in L2: 320 KiB at kcBlk)
	ncBlk  = 2048
	gemvMx = 8 // Linear with at most this many rows streams the weight (GEMV path)
)

// matB is the B operand of a GEMM: [K, N] row-major, or [N, K] row-major when trans (the layout of
// Linear weights and of MatMulT's second operand); float32 or raw half bits.
type matB struct {
	dt    DType
	f32   []float32
	half  []uint16
	ld    int // row stride in elements
	trans bool
}

// sub returns the view of columns [n0, ...) of B.
func (b matB) sub(n0 int) matB {
	off := n0
	if b.trans {
		off = n0 * b.ld
	}
	if b.dt == F32 {
		b.f32 = b.f32[off:]
	} else {
		b.half = b.half[off:]
	}
	return b
}

// gemmBufs are one worker's packing buffers.
type gemmBufs struct {
	a, b, tmp []float32
}

// bufPool recycles packing buffers between calls (a free list; it holds no state that affects
// results).
var bufPool = sync.Pool{New: func() any {
	return &gemmBufs{
		a:   make([]float32, max(mcBlk, mcOne)*kcBlk),
		b:   make([]float32, kcBlk*ncBlk),
		tmp: make([]float32, nr*kcBlk),
	}
}}

// aPool recycles the shared packed-A buffers of gemmSharedA (a free list, like bufPool).
var aPool = sync.Pool{New: func() any { return new([]float32) }}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// panelRows returns the first row and the row count of A panel t among mc rows. Panels hold 6 rows,
// except that a last panel of 1 or 2 rows is avoided (its kernel would be latency bound): the last
// two panels then get 4 and 3 or 4 and 4 rows.
func panelRows(mc, t int) (start, rows int) {
	p := (mc + mr - 1) / mr
	r := mc - mr*(p-1)
	if p >= 2 && r <= 2 {
		switch t {
		case p - 2:
			return mr * t, 4
		case p - 1:
			return mr*(p-2) + 4, r + 2
		}
	}
	return mr * t, min(mr, mc-mr*t)
}

// packA packs rows [0, mc) x cols [pc, pc+kc) of A (stride lda) into panels of mr rows (see
// panelRows), k-major, zero-padded to mr rows each.
func packA(dst, a []float32, lda, mc, pc, kc int) {
	for t := 0; t*mr < mc; t++ {
		p := dst[t*mr*kc : (t+1)*mr*kc]
		i0, rows := panelRows(mc, t)
		if rows < mr {
			clear(p)
		}
		done := 0
		if rows == mr {
			done = packA6(p, a[i0*lda+pc:], lda, kc)
		}
		for i := range rows {
			src := a[(i0+i)*lda+pc+done : (i0+i)*lda+pc+kc]
			for q, v := range src {
				p[(q+done)*mr+i] = v
			}
		}
	}
}

// packB packs cols [0, nc) x rows [pc, pc+kc) of B into panels of nr columns, k-major, zero-padded
// to a multiple of nr columns. tmp holds nr*kc floats.
func packB(dst []float32, b matB, pc, kc, nc int, tmp []float32) {
	head := b.alignShift() // the assembly starts each row on an aligned column
	for j0 := 0; j0 < nc; j0 += nr {
		p := dst[j0*kc : (j0+nr)*kc]
		cols := min(nr, nc-j0)
		if cols < nr {
			clear(p)
		}
		if !b.trans {
			for q := range kc {
				row := (pc + q) * b.ld
				d := p[q*nr : q*nr+cols]
				if b.dt == F32 && cols == nr {
					*(*[nr]float32)(d) = *(*[nr]float32)(b.f32[row+j0 : row+j0+nr])
				} else if b.dt == F32 {
					copy(d, b.f32[row+j0:row+j0+cols])
				} else {
					widenHalf(d, b.half[row+j0:row+j0+cols], b.dt)
				}
			}
			continue
		}
		lo, hi := 0, 0 // columns packed by the assembly kernels
		if cols == nr {
			lo, hi = packNT16(p, b, j0, pc, kc, (head-pc%8+8)%8)
		}
		for j := range cols {
			for _, r := range [2][2]int{{0, lo}, {hi, kc}} {
				if r[0] >= r[1] {
					continue
				}
				off := (j0+j)*b.ld + pc + r[0]
				var src []float32
				if b.dt == F32 {
					src = b.f32[off : off+r[1]-r[0]]
				} else {
					src = tmp[:r[1]-r[0]]
					widenHalf(src, b.half[off:off+r[1]-r[0]], b.dt)
				}
				for q, v := range src {
					p[(q+r[0])*nr+j] = v
				}
			}
		}
	}
}

// gemmSerial computes C[m, n] (stride ldc) = A[m, k] (stride lda) · B (+ C when accumulate) on the
// calling goroutine.
func gemmSerial(c []float32, ldc int, a []float32, lda int, b matB, m, n, k int, accumulate bool, bufs *gemmBufs) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if !accumulate {
			for i := range m {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	for jc := 0; jc < n; jc += ncBlk {
		nc := min(ncBlk, n-jc)
		bj := b.sub(jc)
		ks := newKSplit(b, k)
		for i := range ks.count() {
			pc, kc := ks.block(i)
			acc := accumulate || pc > 0
			if m <= mcOne {
				// one A block: pack it, then pack each B panel pair right before its use, its raw
				// data prefetched into L2 while the micro-kernels run on the pair before.
				packA(bufs.a, a, lda, m, pc, kc)
				streamB(c[jc:], ldc, bufs.a, bufs.b, bj, m, nc, pc, kc, k, acc, bufs.tmp)
				continue
			}
			packB(bufs.b, bj, pc, kc, nc, bufs.tmp)
			for ic := 0; ic < m; ic += mcBlk {
				mc := min(mcBlk, m-ic)
				packA(bufs.a, a[ic*lda:], lda, mc, pc, kc)
				for jr := 0; jr < nc; jr += nrw {
					macroKernel(c[ic*ldc+jc+jr:], ldc, bufs.a, bufs.b[jr*kc:], mc, min(nrw, nc-jr), kc, acc, nil)
				}
			}
		}
	}
}

// gemmSharedA is the parallel GEMM for wide products: A is packed once (in parallel) and shared;
// the columns are cut into chunks that the workers take in turn (so that a worker slowed down by
// other load on the machine does not hold the others up), each packing its own B panels.
// bias (nil, or n values of any dtype) is written into each row of C by the worker that computes
// its columns, right before them (accumulate must then be false).
func gemmSharedA(c []float32, ldc int, a []float32, lda int, b matB, m, n, k int, accumulate bool, bias *Weight, workers int) {
	gemmSharedAGroup(a, lda, m, k, []gemmTarget{{c: c, ldc: ldc, b: b, n: n, accumulate: accumulate, bias: bias}}, workers)
}

// gemmTarget is one product C[m, n] (stride ldc) = A·B (+ C when accumulate, + bias in every row
// when bias is not nil) of a group that shares A.
type gemmTarget struct {
	c          []float32
	ldc        int
	b          matB
	n          int
	accumulate bool
	bias       *Weight
}

// fillBias writes bias[j0 : j0+nc] (any dtype) into rows [0, m) of c (stride ldc), columns [0, nc).
func fillBias(c []float32, ldc int, bias *Weight, j0, m, nc int) {
	bias.WidenTo(c[:nc], j0)
	for i := 1; i < m; i++ {
		copy(c[i*ldc:i*ldc+nc], c[:nc])
	}
}

// chunkCols returns the width of the next column chunk of a shared-A GEMM when rest columns (over
// all targets) are left. With one A block the chunks are even and fine (fixed: the columns split
// into 16 chunks per worker); with several A blocks every chunk streams all of
// A through the cache once per K block, so the chunks are coarse at first and shrink as the
// columns run out (guided scheduling: each takes a 2*workers-th of what is left), so that the
// last ones, which decide how long a worker waits for the other at the end, are short.
func chunkCols(fixed, rest, workers int, guided bool) int {
	if !guided {
		return fixed
	}
	return min(ncBlk, max(4*nr, (rest/(2*workers)+nrw-1)/nrw*nrw))
}

// gemmSharedAGroup computes every target's product with the same A, packed once: one parallel
// region over the column chunks of all targets (their B must split K the same way: newKSplit).
func gemmSharedAGroup(a []float32, lda, m, k int, targets []gemmTarget, workers int) {
	mcb := mcBlk
	if m <= mcOne {
		mcb = m
	}
	nIC := (m + mcb - 1) / mcb
	lastMC := m - (nIC-1)*mcb
	mPad := (nIC-1)*mcb + (lastMC+mr-1)/mr*mr // rows of the packed A, padded per panel
	ks := newKSplit(targets[0].b, k)
	nPC := ks.count()
	apBuf := aPool.Get().(*[]float32)
	defer aPool.Put(apBuf)
	if cap(*apBuf) < mPad*k {
		*apBuf = make([]float32, mPad*k)
	}
	ap := (*apBuf)[:mPad*k] // every element is written by packA (panels are zero-padded there)
	// packed block (pc, ic) starts at pc*mPad + ic*kc
	blockA := func(pcIdx, icIdx int) (pc, kc, ic, mc int, p []float32) {
		pc, kc = ks.block(pcIdx)
		ic, mc = icIdx*mcb, min(mcb, m-icIdx*mcb)
		off := pc*mPad + ic*kc
		return pc, kc, ic, mc, ap[off : off+(mc+mr-1)/mr*mr*kc]
	}
	// pack A (in parallel when it is large enough to be worth a fork)
	minBlocks := nPC * nIC
	if m*k >= 1<<17 {
		minBlocks = 1
	}
	parallelFor(nPC*nIC, minBlocks, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			pc, kc, ic, mc, p := blockA(t/nIC, t%nIC)
			packA(p, a[ic*lda:], lda, mc, pc, kc)
		}
	})
	// column chunks (see chunkCols), handed out in order
	nAll := 0
	for _, t := range targets {
		nAll += t.n
	}
	fixed := min(ncBlk, max(4*nr, (nAll/(16*workers)+nrw-1)/nrw*nrw))
	type piece struct{ t, j0, nc int } // chunk: target t's columns [j0, j0+nc)
	var pieces []piece
	rest := nAll
	for ti, t := range targets {
		for j0 := 0; j0 < t.n; {
			nc := min(chunkCols(fixed, rest, workers, nIC > 1), t.n-j0)
			pieces = append(pieces, piece{ti, j0, nc})
			j0 += nc
			rest -= nc
		}
	}
	fanOut(len(pieces), workers-1, func(idx int) {
		bufs := bufPool.Get().(*gemmBufs)
		defer bufPool.Put(bufs)
		t, j0, nc := &targets[pieces[idx].t], pieces[idx].j0, pieces[idx].nc
		c, ldc := t.c, t.ldc
		bj := t.b.sub(j0)
		if t.bias != nil {
			fillBias(c[j0:], ldc, t.bias, j0, m, nc)
		}
		for pcIdx := range nPC {
			pc, kc := ks.block(pcIdx)
			acc := t.accumulate || t.bias != nil || pc > 0
			if nIC == 1 {
				_, _, _, mc, p := blockA(pcIdx, 0)
				streamB(c[j0:], ldc, p, bufs.b, bj, mc, nc, pc, kc, k, acc, bufs.tmp)
				continue
			}
			packB(bufs.b, bj, pc, kc, nc, bufs.tmp)
			for icIdx := range nIC {
				_, _, ic, mc, p := blockA(pcIdx, icIdx)
				for jr := 0; jr < nc; jr += nrw {
					macroKernel(c[ic*ldc+j0+jr:], ldc, p, bufs.b[jr*kc:], mc, min(nrw, nc-jr), kc, acc, nil)
				}
			}
		}
	}) // the caller is a worker too
}

// gemmGroupFits reports whether the products of m rows of depth k with every weight of ws take
// the shared-A GEMM with the same K split, so that gemmGroup can run them as one region.
func gemmGroupFits(ws []*Weight, m, k int) bool {
	workers := runtime.GOMAXPROCS(0)
	if workers < 2 || len(ws) < 2 {
		return false
	}
	for _, w := range ws {
		n := w.Shape[0]
		if m <= gemvMx || ntTakes(m, n, k, w.DType) || m*n*k < 1<<18 || (n+nr-1)/nr < 4*workers {
			return false // another path of linear (GEMV, NT, serial or split GEMM)
		}
		if newKSplit(weightB(w, k), k) != newKSplit(weightB(ws[0], k), k) {
			return false
		}
	}
	return true
}

// gemmGroup computes outs[i] = a·ws[i]^T (+ bs[i]) for weights where gemmGroupFits, as one region:
// the values linear gives for each.
func gemmGroup(outs [][]float32, a []float32, ws, bs []*Weight, m, k int) {
	targets := make([]gemmTarget, len(ws))
	for i, w := range ws {
		n := w.Shape[0]
		targets[i] = gemmTarget{c: outs[i], ldc: n, b: weightB(w, k), n: n}
		if bs != nil {
			targets[i].bias = bs[i]
		}
	}
	gemmSharedAGroup(a, k, m, k, targets, runtime.GOMAXPROCS(0))
}

// bAhead is the raw data of a B panel that a macro-kernel prefetches into L2 while it runs (rows
// rows of lines cache lines from address p, ld bytes apart), a share per A row panel.
type bAhead struct {
	p               uintptr
	ld, rows, lines int
}

// ahead returns the raw data of columns [j0, j0+cols) x rows [pc, pc+kc) of b (all in range).
func (b matB) ahead(j0, cols, pc, kc int) *bAhead {
	esz := 4
	var base uintptr
	if b.dt == F32 {
		base = uintptr(unsafe.Pointer(unsafe.SliceData(b.f32)))
	} else {
		esz = 2
		base = uintptr(unsafe.Pointer(unsafe.SliceData(b.half)))
	}
	r, off, n := kc, pc*b.ld+j0, cols*esz // rows, first element, bytes per row
	if b.trans {
		r, off, n = cols, j0*b.ld+pc, kc*esz
	}
	p := base + uintptr(off*esz)
	lines := (n + 63) / 64
	if p%64 != 0 || n%64 != 0 || (b.ld*esz)%64 != 0 {
		lines++
	}
	return &bAhead{p: p, ld: b.ld * esz, rows: r, lines: lines}
}

// alignShift returns the number of leading columns of a transposed B's rows before the first
// column whose address suits the packing kernels' loads (8 elements: 32 bytes for float32, 16 for
// half), when every row has the same alignment (else 0, and the loads are left unaligned). Tensors
// viewed in a safetensors file are aligned to their element size only: unaligned float32 loads
// split cache lines, which cost ~8% of a ViT-g layer's GEMM time.
func (b matB) alignShift() int {
	var addr uintptr
	esz := 4
	switch {
	case !b.trans:
		return 0
	case b.dt == F32 && len(b.f32) > 0:
		addr = uintptr(unsafe.Pointer(&b.f32[0]))
	case b.dt != F32 && len(b.half) > 0:
		addr, esz = uintptr(unsafe.Pointer(&b.half[0])), 2
	default:
		return 0
	}
	al := uintptr(8 * esz)
	if (b.ld*esz)%int(al) != 0 || addr%uintptr(esz) != 0 {
		return 0
	}
	return int((al-addr%al)%al) / esz
}

// kSplit is the cut of K into blocks: kcBlk columns each, except the first, which is shortened
// (by 8-shift columns) so that the others start on a column that alignShift calls aligned.
type kSplit struct{ first, k int }

func newKSplit(b matB, k int) kSplit {
	first := kcBlk
	if sh := b.alignShift(); sh > 0 {
		first = kcBlk - 8 + sh
	}
	return kSplit{first, k}
}

func (s kSplit) count() int {
	if s.k <= s.first {
		return 1
	}
	return 1 + (s.k-s.first+kcBlk-1)/kcBlk
}

// block returns the first column and the width of block i.
func (s kSplit) block(i int) (pc, kc int) {
	if i == 0 {
		return 0, min(s.first, s.k)
	}
	pc = s.first + (i-1)*kcBlk
	return pc, min(kcBlk, s.k-pc)
}

// streamB computes c[:m, :nc] (+)= A·B[pc:pc+kc, :nc] from one packed A block (m rows), packing
// the B panels (two at a time, into bp) right before their use; while the micro-kernels run on
// one pair the raw data of the next is prefetched (after the last pair: the first of the next K
// block, rows up to k).
func streamB(c []float32, ldc int, ap, bp []float32, b matB, m, nc, pc, kc, k int, acc bool, tmp []float32) {
	for jr := 0; jr < nc; jr += nrw {
		cols := min(nrw, nc-jr)
		var pf *bAhead
		if jr+nrw < nc {
			pf = b.ahead(jr+nrw, min(nrw, nc-jr-nrw), pc, kc)
		} else if pc+kc < k {
			pf = b.ahead(0, min(nrw, nc), pc+kc, min(kcBlk, k-pc-kc))
		}
		packB(bp[jr*kc:], b.sub(jr), pc, kc, cols, tmp)
		macroKernel(c[jr:], ldc, ap, bp[jr*kc:], m, cols, kc, acc, pf)
	}
}

// macroKernel runs the micro-kernels down up to two adjacent packed B panels (kc x 16 each, cols <=
// 32 valid columns) for mc packed A rows, into c (stride ldc), prefetching pf (if not nil) into L2
// a share per row panel.
func macroKernel(c []float32, ldc int, ap, bp []float32, mc, cols, kc int, acc bool, pf *bAhead) {
	np := (mc + mr - 1) / mr
	if cols == nrw && hasAVX512 {
		for t := range np {
			if pf != nil {
				r0, r1 := pf.rows*t/np, pf.rows*(t+1)/np
				prefetchRowsT1(pf.p+uintptr(r0*pf.ld), pf.ld, r1-r0, pf.lines)
			}
			ir, rows := panelRows(mc, t)
			kernRows32(rows, kc, ap[t*mr*kc:(t+1)*mr*kc], bp, c[ir*ldc:], ldc, acc)
		}
		return
	}
	if pf != nil {
		prefetchRowsT1(pf.p, pf.ld, pf.rows, pf.lines)
	}
	macroKernel16(c, ldc, ap, bp, mc, min(cols, nr), kc, acc)
	if cols > nr {
		macroKernel16(c[nr:], ldc, ap, bp[nr*kc:], mc, cols-nr, kc, acc)
	}
}

// macroKernel16 runs the micro-kernels down one packed B panel (kc x 16, cols valid) for mc packed
// A rows, into c (stride ldc).
func macroKernel16(c []float32, ldc int, ap, bp []float32, mc, cols, kc int, acc bool) {
	var edge [mr * nr]float32
	for t := 0; t*mr < mc; t++ {
		a := ap[t*mr*kc : (t+1)*mr*kc]
		ir, rows := panelRows(mc, t)
		co := ir * ldc
		if cols == nr && kernRows(rows, kc, a, bp, c[co:], ldc, acc) {
			continue
		}
		if !kernRows(mr, kc, a, bp, edge[:], nr, false) {
			kern6x16Go(kc, a, bp, edge[:], nr, false)
		}
		for i := range rows {
			dst := c[co+i*ldc : co+i*ldc+cols]
			src := edge[i*nr : i*nr+cols]
			if acc {
				for j, v := range src {
					dst[j] += v
				}
			} else {
				copy(dst, src)
			}
		}
	}
}

// gemm computes C = A·B (+ C when accumulate), splitting the larger of M and N between up to
// GOMAXPROCS goroutines when the product is large enough.
func gemm(c []float32, ldc int, a []float32, lda int, b matB, m, n, k int, accumulate bool) {
	gemmBias(c, ldc, a, lda, b, m, n, k, accumulate, nil)
}

// gemmBias is gemm plus bias (nil, or n values of any dtype) in every row of C; accumulate must be
// false when bias is given. The shared-A path writes the bias inside its parallel region, each
// worker into the columns it computes; the others write it first.
func gemmBias(c []float32, ldc int, a []float32, lda int, b matB, m, n, k int, accumulate bool, bias *Weight) {
	workers := runtime.GOMAXPROCS(0)
	if flops := m * n * k; flops < 1<<18 {
		workers = 1
	}
	nb, mb := (n+nr-1)/nr, (m+mr-1)/mr
	if workers > 1 && nb < 2 && mb < 2 {
		workers = 1
	}
	if bias != nil && (workers <= 1 || nb < 4*workers) {
		if m > 0 {
			fillBias(c, ldc, bias, 0, m, n)
		}
		bias, accumulate = nil, true
	}
	if workers <= 1 {
		bufs := bufPool.Get().(*gemmBufs)
		gemmSerial(c, ldc, a, lda, b, m, n, k, accumulate, bufs)
		bufPool.Put(bufs)
		return
	}
	if nb >= 4*workers {
		gemmSharedA(c, ldc, a, lda, b, m, n, k, accumulate, bias, workers)
		return
	}
	splitN := nb >= mb || nb >= 2*workers
	parts, unit, units := workers, nr, nb
	if !splitN {
		unit, units = mr, mb
	}
	parts = min(parts, units)
	part := func(w int) {
		u0, u1 := units*w/parts, units*(w+1)/parts
		lo, hi := u0*unit, u1*unit
		bufs := bufPool.Get().(*gemmBufs)
		defer bufPool.Put(bufs)
		if splitN {
			hi = min(hi, n)
			gemmSerial(c[lo:], ldc, a, lda, b.sub(lo), m, hi-lo, k, accumulate, bufs)
		} else {
			hi = min(hi, m)
			gemmSerial(c[lo*ldc:], ldc, a[lo*lda:], lda, b, hi-lo, n, k, accumulate, bufs)
		}
	}
	fanOut(parts, parts-1, part)
}

// kern6x16Go is the portable micro-kernel (same contract as the assembly one): 2x4 register
// sub-tiles of scalar accumulators, which the Go compiler keeps in registers.
func kern6x16Go(k int, a, b, c []float32, ldc int, acc bool) {
	var t [mr * nr]float32
	a = a[:k*mr]
	b = b[:k*nr]
	for i0 := 0; i0 < mr; i0 += 2 {
		for j0 := 0; j0 < nr; j0 += 4 {
			var c00, c01, c02, c03, c10, c11, c12, c13 float32
			for p := range k {
				ap := a[p*mr+i0 : p*mr+i0+2 : p*mr+i0+2]
				bp := b[p*nr+j0 : p*nr+j0+4 : p*nr+j0+4]
				a0, a1 := ap[0], ap[1]
				b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
				c00 += a0 * b0
				c01 += a0 * b1
				c02 += a0 * b2
				c03 += a0 * b3
				c10 += a1 * b0
				c11 += a1 * b1
				c12 += a1 * b2
				c13 += a1 * b3
			}
			r0 := t[i0*nr+j0 : i0*nr+j0+4 : i0*nr+j0+4]
			r0[0], r0[1], r0[2], r0[3] = c00, c01, c02, c03
			r1 := t[(i0+1)*nr+j0 : (i0+1)*nr+j0+4 : (i0+1)*nr+j0+4]
			r1[0], r1[1], r1[2], r1[3] = c10, c11, c12, c13
		}
	}
	for i := range mr {
		dst := c[i*ldc : i*ldc+nr]
		src := t[i*nr : i*nr+nr]
		if acc {
			for j, v := range src {
				dst[j] += v
			}
		} else {
			copy(dst, src)
		}
	}
}

// widenHalfGo widens F16 or BF16 bits in pure Go.
func widenHalfGo(dst []float32, src []uint16, dt DType) {
	src = src[:len(dst)]
	if dt == BF16 {
		for i, h := range src {
			dst[i] = BF16ToF32(h)
		}
		return
	}
	for i, h := range src {
		dst[i] = F16ToF32(h)
	}
}
