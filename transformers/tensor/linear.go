package tensor

import (
	"sync"
	"unsafe"
)

// linear computes out[m, n] = x[m, k] · w[n, k]^T + bias[n] (bias nil, or a weight of n elements
// in any dtype, widened as it is added: no per-call float32 copy).
func linear(out, x []float32, w *Weight, bias *Weight, m, n, k int) {
	if m <= gemvMx {
		gemvLinear(out, x, w, bias, m, n, k)
		return
	}
	if ntLinear(out, x, w, bias, m, n, k) {
		return
	}
	gemmBias(out, n, x, k, weightB(w, k), m, n, k, false, bias)
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
		if kv, g, kern := gemv1Cols(w, k); kv > 0 {
			gemvOneRow(out, x, w, bias, n, k, kv, g, kern)
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
	gemvRows(out, x, xs, w, bias, m, n, k, kv, ldx, 16)
}

// gemvRows is gemvLinear for 2..8 rows (or no assembly): gemv4asm takes 4 weight rows x 2 input
// rows per call, the 4 weight rows step apart inside blocks of 4*step rows (step <= maxStep, less
// for small n so that there are at least 8 blocks), so that each of the 4 memory streams walks step
// consecutive rows over the block, as in gemvOneRow. A last partial block goes 4 consecutive rows
// per call, then row by row.
func gemvRows(out, x, xs []float32, w *Weight, bias *Weight, m, n, k, kv, ldx, maxStep int) {
	step := maxStep
	for step > 1 && n < 32*step {
		step /= 2
	}
	if kv == 0 {
		step = 1 // no kernel: the row-by-row loop below does every row
	}
	blk := 4 * step
	full := n / blk
	items := (n + blk - 1) / blk
	minB := max(1, (1<<16)/max(1, blk*k*w.DType.Size())) // at least ~64 KiB of weight per chunk
	parallelFor(items, minB, func(lo, hi int) {
		var res [8]float32
		// group computes the 4 weight rows j0 + t*st (t < 4) for every input row
		group := func(j0, st int) {
			for i := 0; i < m; i += 2 {
				nx := min(2, m-i)
				i1 := min(i+1, m-1)
				if kv > 0 {
					gemv4asm(kv, xs[i*ldx:], xs[i1*ldx:], w, j0, st, nx, &res)
				} else {
					clear(res[:])
				}
				if kv < k {
					gemv4Tail(k, kv, x[i*k:], x[i1*k:], w, j0, st, nx, &res)
				}
				for r := range nx {
					o := out[(i+r)*n:]
					for t := range 4 {
						o[j0+t*st] = res[r*4+t]
					}
				}
			}
		}
		for it := lo; it < hi; it++ {
			j0 := it * blk
			rows := min(blk, n-j0)
			if it < full {
				for p := range step {
					group(j0+p, step)
				}
			} else {
				j := 0
				for ; j+4 <= rows; j += 4 {
					group(j0+j, 1)
				}
				for ; j < rows; j++ {
					for i := range m {
						out[i*n+j0+j] = dotWeight(x[i*k:(i+1)*k], w, (j0+j)*k)
					}
				}
			}
			for i := range m {
				addBias(out[i*n+j0:i*n+j0+rows], bias, j0)
			}
		}
	})
}

// gemvOneRow is gemvLinear for a single input row with the assembly kernels (gemv8asm: 8 weight
// rows per call, step rows apart; kv, g, kern as given by gemv1Cols). The weight goes in blocks of
// 8*step rows, each as step calls: call p covers rows p, p+step, ..., p+7*step, so each of the 8
// memory streams of a kernel call walks step consecutive rows, contiguous in memory, over the step
// calls: long streams that the hardware prefetcher follows across rows (and the software prefetch
// past a row's end lands on the row the stream reads next). step = 16 measured 10-15% more
// bandwidth than step = 2 for bf16 (rows of 5 KiB), a few % for float32. A last partial block goes
// 8 consecutive rows per call, then row by row.
func gemvOneRow(out, x []float32, w *Weight, bias *Weight, n, k, kv, g int, kern gemvKernel) {
	j := newGemv1(out, x, w, bias, n, k, kv, g, kern)
	defer j.release()
	parallelForN(j.items, gemv1MinItems(n, k, w.DType), gemvChunksPerWorker, func(lo, hi int) {
		for it := lo; it < hi; it++ {
			j.item(it)
		}
	})
}

// gemvChunksPerWorker: the single-row GEMV cuts its blocks into up to this many chunks per worker
// (one block each at real sizes: a block is 128 weight rows, 0.3-1.3 MB), so that the last chunk,
// which one worker runs while the other has none left, is short.
const gemvChunksPerWorker = 16

// gemv1 is one single-row product as gemvOneRow runs it: blocks of blk = 8*step weight rows
// (items), each computed by item.
type gemv1 struct {
	out, x, xs, xr  []float32
	w, bias         *Weight
	n, k, kv        int
	step, blk, full int
	items           int
	kern            gemvKernel
	scratch         []*[]float32
}

// newGemv1 prepares out = x·w^T + bias for one input row x (kv, g, kern from gemv1Cols): the input
// as the kernel reads it (pooled scratch; give it back with release).
func newGemv1(out, x []float32, w *Weight, bias *Weight, n, k, kv, g int, kern gemvKernel) *gemv1 {
	j := &gemv1{out: out, x: x, xs: x, xr: x[:kv], w: w, bias: bias, n: n, k: k, kv: kv, kern: kern}
	switch {
	case kern == gemvDot:
		// the row rounded to bf16, two values per float32 slot (little-endian: even column low)
		buf := getScratch(kv / 2)
		j.scratch = append(j.scratch, buf)
		j.xs = *buf
		xb := unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(j.xs))), kv)
		for i, v := range x[:kv] {
			xb[i] = F32ToBF16(v)
		}
	case w.DType == BF16:
		buf := getScratch(kv)
		j.scratch = append(j.scratch, buf)
		j.xs = *buf
		deinterleave(j.xs, x[:kv], g)
	}
	// j.xr: the input of the leftover rows (n % 8) that go row by row
	if kern == gemvDot && n%8 != 0 {
		buf := getScratch(kv) // rounded like the kernel's input, so all rows agree
		j.scratch = append(j.scratch, buf)
		j.xr = *buf
		for i, v := range x[:kv] {
			j.xr[i] = BF16ToF32(F32ToBF16(v))
		}
	}
	j.step = gemv1Step(n)
	j.blk = 8 * j.step
	j.full = n / j.blk
	j.items = (n + j.blk - 1) / j.blk
	return j
}

// gemv1Step is the row step inside a block of 8*step weight rows for n rows: 16, less for small n
// so that there are at least 8 blocks to share between the goroutines.
func gemv1Step(n int) int {
	step := 16
	for step > 1 && n < 64*step {
		step /= 2
	}
	return step
}

// gemv1MinItems is the smallest chunk of blocks of an [n, k] dt product worth handing to another
// goroutine (~64 KiB of weight).
func gemv1MinItems(n, k int, dt DType) int {
	return max(1, (1<<16)/max(1, 8*gemv1Step(n)*k*dt.Size()))
}

// release gives the scratch buffers back.
func (j *gemv1) release() {
	for _, b := range j.scratch {
		scratchPool.Put(b)
	}
	j.scratch = nil
}

// item computes the output rows of block it.
func (j *gemv1) item(it int) {
	var res [8]float32
	n, k, kv, step := j.n, j.k, j.kv, j.step
	j0 := it * j.blk
	rows := min(j.blk, n-j0)
	o := j.out[j0 : j0+rows]
	if it < j.full {
		for p := range step {
			gemv8asm(kv, j.xs, j.w, j0+p, step, &res, j.kern)
			for t, v := range res {
				o[p+step*t] = v
			}
		}
	} else {
		r := 0
		for ; r+8 <= rows; r += 8 {
			gemv8asm(kv, j.xs, j.w, j0+r, 1, &res, j.kern)
			copy(o[r:r+8], res[:])
		}
		for ; r < rows; r++ {
			o[r] = dotWeight(j.xr, j.w, (j0+r)*k)
		}
	}
	if kv < k {
		for r := range o {
			o[r] += dotWeight(j.x[kv:k], j.w, (j0+r)*k+kv)
		}
	}
	addBias(o, j.bias, j0)
}

// gemvKernel selects the single-row GEMV kernel family.
type gemvKernel uint8

const (
	gemvAVX2   gemvKernel = iota // gemv8x1<dt>
	gemvAVX512                   // gemv8x1F32AVX512
	gemvDot                      // gemv8x1BF16Dot (opt-in, Weight.ApproxBF16Dot)
)

// BF16DotAvailable reports whether Weight.ApproxBF16Dot takes effect on this CPU and build
// (AVX512_BF16, not -tags noavx512 or purego).
func BF16DotAvailable() bool { return hasAVX512BF16 }

// gemv1Cols returns how many leading columns (kv) the single-row assembly kernels handle for a
// weight dtype, the bf16 de-interleave group g and the kernel: for float32 the AVX-512 one
// where the CPU has it and k is a multiple of 16 (other k keep to AVX2, which leaves fewer columns
// to the scalar tail); for bf16 gemvDot when the weight has ApproxBF16Dot set and the CPU has
// AVX512_BF16 (k a multiple of 32), else the exact AVX-512 kernel (g = 32; the last k % 32 columns
// in Go) or, without AVX-512, the AVX2 one (g = 16); f16 AVX2.
func gemv1Cols(w *Weight, k int) (kv, g int, kern gemvKernel) {
	dt := w.DType
	switch {
	case !hasAVX2:
		return 0, 0, gemvAVX2
	case hasAVX512BF16 && dt == BF16 && k%32 == 0 && w.ApproxBF16Dot:
		return k, 0, gemvDot
	case hasAVX512 && dt == F32 && k%16 == 0:
		return k, 0, gemvAVX512
	case hasAVX512 && dt == BF16 && k >= 32:
		return k &^ 31, 32, gemvAVX512
	case dt == BF16:
		return k &^ 15, 16, gemvAVX2
	}
	return k &^ 7, 0, gemvAVX2
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

// gemv4Tail adds the columns [kv, k) to res[r*4+j] += x_r · w[j0+j*step] for 4 weight rows.
func gemv4Tail(k, kv int, x0, x1 []float32, w *Weight, j0, step, nx int, res *[8]float32) {
	var buf [16]float32
	for j := range 4 {
		off := (j0+j*step)*k + kv
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

// Dot returns the float32 dot product of a and b[:len(a)], summed in four interleaved partial sums
// (the same order everywhere it is used, so results do not depend on the caller).
func Dot(a, b []float32) float32 { return dot(a, b) }

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
