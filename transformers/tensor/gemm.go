package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Blocking of the packed GEMM (BLIS loop order): an A block of mcBlk x kcBlk stays in L2, a B
// micro-panel of kcBlk x 16 in L1, a B block of kcBlk x ncBlk in L3.
const (
	mr     = 6
	nr     = 16
	nrw    = 2 * nr // columns per macro-kernel call (two B panels: the AVX-512 kernels' width)
	kcBlk  = 256
	mcBlk  = 144
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
		a:   make([]float32, mcBlk*kcBlk),
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
		done := 0
		if cols == nr {
			done = packNT16(p, b, j0, pc, kc)
		}
		if done == kc {
			continue
		}
		for j := range cols {
			off := (j0+j)*b.ld + pc + done
			var src []float32
			if b.dt == F32 {
				src = b.f32[off : off+kc-done]
			} else {
				src = tmp[:kc-done]
				widenHalf(src, b.half[off:off+kc-done], b.dt)
			}
			for q, v := range src {
				p[(q+done)*nr+j] = v
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
		for pc := 0; pc < k; pc += kcBlk {
			kc := min(kcBlk, k-pc)
			acc := accumulate || pc > 0
			if m <= mcBlk {
				// one A block: pack it, then pack each B panel right before its use so that the
				// weight streaming overlaps the arithmetic.
				packA(bufs.a, a, lda, m, pc, kc)
				for jr := 0; jr < nc; jr += nrw {
					packB(bufs.b[jr*kc:], bj.sub(jr), pc, kc, min(nrw, nc-jr), bufs.tmp)
					macroKernel(c[jc+jr:], ldc, bufs.a, bufs.b[jr*kc:], m, min(nrw, nc-jr), kc, acc)
				}
				continue
			}
			packB(bufs.b, bj, pc, kc, nc, bufs.tmp)
			for ic := 0; ic < m; ic += mcBlk {
				mc := min(mcBlk, m-ic)
				packA(bufs.a, a[ic*lda:], lda, mc, pc, kc)
				for jr := 0; jr < nc; jr += nrw {
					macroKernel(c[ic*ldc+jc+jr:], ldc, bufs.a, bufs.b[jr*kc:], mc, min(nrw, nc-jr), kc, acc)
				}
			}
		}
	}
}

// gemmSharedA is the parallel GEMM for wide products: A is packed once (in parallel) and shared;
// the columns are cut into chunks that the workers take in turn (so that a worker slowed down by
// other load on the machine does not hold the others up), each packing its own B panels.
func gemmSharedA(c []float32, ldc int, a []float32, lda int, b matB, m, n, k int, accumulate bool, workers int) {
	nIC := (m + mcBlk - 1) / mcBlk
	lastMC := m - (nIC-1)*mcBlk
	mPad := (nIC-1)*mcBlk + (lastMC+mr-1)/mr*mr // rows of the packed A, padded per panel
	nPC := (k + kcBlk - 1) / kcBlk
	apBuf := aPool.Get().(*[]float32)
	defer aPool.Put(apBuf)
	if cap(*apBuf) < mPad*k {
		*apBuf = make([]float32, mPad*k)
	}
	ap := (*apBuf)[:mPad*k] // every element is written by packA (panels are zero-padded there)
	// packed block (pc, ic) starts at pc*kcBlk*mPad + ic*mcBlk*kc
	blockA := func(pcIdx, icIdx int) (pc, kc, ic, mc int, p []float32) {
		pc, ic = pcIdx*kcBlk, icIdx*mcBlk
		kc, mc = min(kcBlk, k-pc), min(mcBlk, m-ic)
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
	// column chunks: fine-grained when A is one block (cheap to share), coarser when every chunk
	// streams several A blocks through the cache again
	perWorker := 16
	if nIC > 1 {
		perWorker = 4
	}
	chunk := min(ncBlk, max(4*nr, (n/(perWorker*workers)+nrw-1)/nrw*nrw))
	nChunks := (n + chunk - 1) / chunk
	var next atomic.Int64
	var wg sync.WaitGroup
	work := func() {
		bufs := bufPool.Get().(*gemmBufs)
		defer bufPool.Put(bufs)
		for {
			idx := int(next.Add(1)) - 1
			if idx >= nChunks {
				return
			}
			j0 := idx * chunk
			nc := min(chunk, n-j0)
			bj := b.sub(j0)
			for pcIdx := range nPC {
				pc, kc := pcIdx*kcBlk, min(kcBlk, k-pcIdx*kcBlk)
				acc := accumulate || pc > 0
				if nIC == 1 {
					_, _, _, mc, p := blockA(pcIdx, 0)
					for jr := 0; jr < nc; jr += nrw {
						packB(bufs.b[jr*kc:], bj.sub(jr), pc, kc, min(nrw, nc-jr), bufs.tmp)
						macroKernel(c[j0+jr:], ldc, p, bufs.b[jr*kc:], mc, min(nrw, nc-jr), kc, acc)
					}
					continue
				}
				packB(bufs.b, bj, pc, kc, nc, bufs.tmp)
				for icIdx := range nIC {
					_, _, ic, mc, p := blockA(pcIdx, icIdx)
					for jr := 0; jr < nc; jr += nrw {
						macroKernel(c[ic*ldc+j0+jr:], ldc, p, bufs.b[jr*kc:], mc, min(nrw, nc-jr), kc, acc)
					}
				}
			}
		}
	}
	for range min(workers, nChunks) - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work() // the caller is a worker too (no wake-up to wait for)
	wg.Wait()
}

// macroKernel runs the micro-kernels down up to two adjacent packed B panels (kc x 16 each, cols <=
// 32 valid columns) for mc packed A rows, into c (stride ldc).
func macroKernel(c []float32, ldc int, ap, bp []float32, mc, cols, kc int, acc bool) {
	if cols == nrw && hasAVX512 {
		for t := 0; t*mr < mc; t++ {
			ir, rows := panelRows(mc, t)
			kernRows32(rows, kc, ap[t*mr*kc:(t+1)*mr*kc], bp, c[ir*ldc:], ldc, acc)
		}
		return
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
	workers := runtime.GOMAXPROCS(0)
	if flops := m * n * k; flops < 1<<18 {
		workers = 1
	}
	nb, mb := (n+nr-1)/nr, (m+mr-1)/mr
	if workers > 1 && nb < 2 && mb < 2 {
		workers = 1
	}
	if workers <= 1 {
		bufs := bufPool.Get().(*gemmBufs)
		gemmSerial(c, ldc, a, lda, b, m, n, k, accumulate, bufs)
		bufPool.Put(bufs)
		return
	}
	if nb >= 4*workers {
		gemmSharedA(c, ldc, a, lda, b, m, n, k, accumulate, workers)
		return
	}
	var wg sync.WaitGroup
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
	for w := 1; w < parts; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			part(w)
		}()
	}
	part(0) // the caller takes the first part
	wg.Wait()
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
