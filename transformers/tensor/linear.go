package tensor

import "sync"

// linear computes out[m, n] = x[m, k] · w[n, k]^T + bias[n] (bias nil, or a weight of n elements
// in any dtype, widened as it is added: no per-call float32 copy).
func linear(out, x []float32, w *Weight, bias *Weight, m, n, k int) {
	if m <= gemvMx {
		gemvLinear(out, x, w, bias, m, n, k)
		return
	}
	acc := false
	if bias != nil {
		for i := range m {
			bias.WidenTo(out[i*n:(i+1)*n], 0)
		}
		acc = true
	}
	gemm(out, n, x, k, weightB(w, k), m, n, k, acc)
}

func weightB(w *Weight, k int) matB {
	return matB{dt: w.DType, f32: w.F32, half: w.Half, ld: k, trans: true}
}

// scratchPool holds the de-interleaved input rows of the bf16 GEMV (no allocation per call).
var scratchPool = sync.Pool{New: func() any { return new([]float32) }}

// getScratch returns a pooled buffer of n floats (contents undefined); give it back with
// scratchPool.Put.
func getScratch(n int) *[]float32 {
	p := scratchPool.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

// deinterleave copies src into dst (same length, a multiple of g) in groups of g columns, each
// group as its g/2 even then its g/2 odd columns: the layout the bf16 kernels read the input in
// (see genBF16 and gen8z in internal/asmgen).
func deinterleave(dst, src []float32, g int) {
	h := g / 2
	for q := 0; q+g <= len(src); q += g {
		s, d := src[q:q+g], dst[q:q+g]
		for t := range h {
			d[t] = s[2*t]
			d[h+t] = s[2*t+1]
		}
	}
}

// addBias adds bias[j0 : j0+len(o)] to o (nothing when bias is nil).
func addBias(o []float32, bias *Weight, j0 int) {
	switch {
	case bias == nil:
	case bias.DType == F32:
		b := bias.F32[j0 : j0+len(o)]
		for j := range o {
			o[j] += b[j]
		}
	default:
		for j := range o {
			o[j] += bias.At(j0 + j)
		}
	}
}

// gemvLinear handles few rows (m <= gemvMx): the weight is streamed once, 4 weight rows x 2 input
// rows per kernel call (8 weight rows for a single input row, see gemvOneRow), widened in
// registers.
func gemvLinear(out, x []float32, w *Weight, bias *Weight, m, n, k int) {
	if m == 1 {
		if kv, g, z := gemv1Cols(w.DType, k); kv > 0 {
			gemvOneRow(out, x, w, bias, n, k, kv, g, z)
			return
		}
	}
	kv := gemvCols(w.DType, k)
	xs := x // the inputs as the kernel reads them
	ldx := k
	if w.DType == BF16 && kv > 0 {
		// de-interleave every 16 columns: 8 even then 8 odd (see genBF16 in internal/asmgen)
		buf := getScratch(m * kv)
		defer scratchPool.Put(buf)
		xs, ldx = *buf, kv
		for i := range m {
			deinterleave(xs[i*kv:(i+1)*kv], x[i*k:i*k+kv], 16)
		}
	}
	// chunks of 4 weight rows; at least ~64 KiB of weight per goroutine
	groups := (n + 3) / 4
	minG := max(1, (1<<16)/max(1, 4*k*w.DType.Size()))
	parallelFor(groups, minG, func(lo, hi int) {
		var res [8]float32
		for g := lo; g < hi; g++ {
			j0 := g * 4
			rows := min(4, n-j0)
			for i := 0; i < m; i += 2 {
				nx := min(2, m-i)
				i1 := min(i+1, m-1)
				if rows == 4 {
					if kv > 0 {
						gemv4asm(kv, xs[i*ldx:], xs[i1*ldx:], w, j0, nx, &res)
					} else {
						clear(res[:])
					}
					if kv < k {
						gemv4Tail(k, kv, x[i*k:], x[i1*k:], w, j0, nx, &res)
					}
				} else {
					for r := range nx {
						for j := range rows {
							res[r*4+j] = dotWeight(x[(i+r)*k:(i+r+1)*k], w, (j0+j)*k)
						}
					}
				}
				for r := range nx {
					o := out[(i+r)*n+j0 : (i+r)*n+j0+rows]
					copy(o, res[r*4:r*4+rows])
					addBias(o, bias, j0)
				}
			}
		}
	})
}

// gemvOneRow is gemvLinear for a single input row with the assembly kernels (gemv8asm: 8 weight
// rows per call, step rows apart; kv, g, z as given by gemv1Cols). The weight goes in blocks of
// 8*step rows, each as step calls: call p covers rows p, p+step, ..., p+7*step, so each of the 8
// memory streams of a kernel call walks step consecutive rows, contiguous in memory, over the step
// calls: long streams that the hardware prefetcher follows across rows (and the software prefetch
// past a row's end lands on the row the stream reads next). step = 16 measured 10-15% more
// bandwidth than step = 2 for bf16 (rows of 5 KiB), a few % for float32. A last partial block goes
// 8 consecutive rows per call, then row by row.
func gemvOneRow(out, x []float32, w *Weight, bias *Weight, n, k, kv, g int, z bool) {
	xs := x
	if w.DType == BF16 {
		buf := getScratch(kv)
		defer scratchPool.Put(buf)
		xs = *buf
		deinterleave(xs, x[:kv], g)
	}
	step := 16
	for step > 1 && n < 64*step { // at least 8 blocks to share between the goroutines
		step /= 2
	}
	blk := 8 * step
	full := n / blk
	items := (n + blk - 1) / blk
	minB := max(1, (1<<16)/max(1, blk*k*w.DType.Size()))
	parallelFor(items, minB, func(lo, hi int) {
		var res [8]float32
		for it := lo; it < hi; it++ {
			j0 := it * blk
			rows := min(blk, n-j0)
			o := out[j0 : j0+rows]
			if it < full {
				for p := range step {
					gemv8asm(kv, xs, w, j0+p, step, &res, z)
					for t, v := range res {
						o[p+step*t] = v
					}
				}
			} else {
				j := 0
				for ; j+8 <= rows; j += 8 {
					gemv8asm(kv, xs, w, j0+j, 1, &res, z)
					copy(o[j:j+8], res[:])
				}
				for ; j < rows; j++ {
					o[j] = dotWeight(x[:kv], w, (j0+j)*k)
				}
			}
			if kv < k {
				for j := range o {
					o[j] += dotWeight(x[kv:k], w, (j0+j)*k+kv)
				}
			}
			addBias(o, bias, j0)
		}
	})
}

// gemv1Cols returns how many leading columns (kv) the single-row assembly kernels handle for a
// weight dtype, the bf16 de-interleave group g (16 for AVX2, 32 for AVX-512) and whether the
// AVX-512 kernel runs (z: where the CPU has it and k is a multiple of its step, 16 float32 or 32
// bf16 columns; other k keep to AVX2, which leaves fewer columns to the scalar tail).
func gemv1Cols(dt DType, k int) (kv, g int, z bool) {
	switch {
	case !hasAVX2:
		return 0, 0, false
	case hasAVX512 && dt == BF16 && k%32 == 0:
		return k, 32, true
	case hasAVX512 && dt == F32 && k%16 == 0:
		return k, 0, true
	case dt == BF16:
		return k &^ 15, 16, false
	}
	return k &^ 7, 0, false
}

// gemvCols returns how many leading columns the assembly GEMV kernel handles for a weight dtype.
func gemvCols(dt DType, k int) int {
	switch {
	case !hasAVX2:
		return 0
	case dt == BF16:
		return k &^ 15
	}
	return k &^ 7
}

// gemv4Tail adds the columns [kv, k) to res[r*4+j] += x_r · w[j0+j] for 4 weight rows.
func gemv4Tail(k, kv int, x0, x1 []float32, w *Weight, j0, nx int, res *[8]float32) {
	var buf [16]float32
	for j := range 4 {
		off := (j0+j)*k + kv
		for q := kv; q < k; q += len(buf) {
			cnt := min(len(buf), k-q)
			wr := buf[:cnt]
			w.WidenTo(wr, off+q-kv)
			for r := range nx {
				xr := x0
				if r == 1 {
					xr = x1
				}
				var s float32
				for t, v := range wr {
					s += xr[q+t] * v
				}
				res[r*4+j] += s
			}
		}
	}
}

// dotWeight returns x · w[off : off+len(x)].
func dotWeight(x []float32, w *Weight, off int) float32 {
	if w.DType == F32 {
		return dot(x, w.F32[off:off+len(x)])
	}
	var buf [256]float32
	var s float32
	for q := 0; q < len(x); q += len(buf) {
		cnt := min(len(buf), len(x)-q)
		w.WidenTo(buf[:cnt], off+q)
		s += dot(x[q:q+cnt], buf[:cnt])
	}
	return s
}

func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// batchedGemm computes out[i] = a[i] · B_i for batch items (B_i = b[i] if bBatched else b), B [k, n]
// or [n, k] when transB.
func batchedGemm(out, a, b []float32, batch, m, n, k int, bBatched, transB bool) {
	ld := n
	if transB {
		ld = k
	}
	item := func(i int, parallel bool) {
		bm := b
		if bBatched {
			bm = b[i*k*n : (i+1)*k*n]
		}
		bb := matB{dt: F32, f32: bm, ld: ld, trans: transB}
		o, ai := out[i*m*n:(i+1)*m*n], a[i*m*k:(i+1)*m*k]
		if parallel {
			gemm(o, n, ai, k, bb, m, n, k, false)
			return
		}
		bufs := bufPool.Get().(*gemmBufs)
		gemmSerial(o, n, ai, k, bb, m, n, k, false, bufs)
		bufPool.Put(bufs)
	}
	if batch == 1 {
		item(0, true)
		return
	}
	if !bBatched {
		// one shared B: a single GEMM over all batch rows
		gemm(out, n, a, k, matB{dt: F32, f32: b, ld: ld, trans: transB}, batch*m, n, k, false)
		return
	}
	parallelFor(batch, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			item(i, false)
		}
	})
}
