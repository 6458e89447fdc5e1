package tensor

import "fmt"

// Linear computes x @ w^T + b (torch.nn.functional.linear): x [..., in], w [out, in] in checkpoint
// layout (F32, F16 or BF16, widened inside the kernel), b [out] or nil -> [..., out].
func Linear(x *Tensor, w *Weight, b *Weight) *Tensor {
	shape, m, n, k := linearShape("Linear", x, w, b)
	out := New(shape...)
	linear(out.Data, x.Data, w, b, m, n, k)
	return out
}

// LinearInto is Linear writing its output into dst, which must have the output's shape ([..., n])
// and must not overlap x; every element of dst is written.
func LinearInto(dst, x *Tensor, w *Weight, b *Weight) {
	shape, m, n, k := linearShape("LinearInto", x, w, b)
	checkDst("LinearInto", dst, shape)
	checkNoOverlap("LinearInto", dst, x)
	linear(dst.Data, x.Data, w, b, m, n, k)
}

// linearShape checks x, w and b as op (Linear, LinearInto, LinearGroup) takes them, panicking on a
// mismatch (a bug in the calling model, never caused by user input), and returns the output shape
// [..., n] and the product's sizes: m rows of depth k.
func linearShape(op string, x *Tensor, w *Weight, b *Weight) (shape []int, m, n, k int) {
	if len(w.Shape) != 2 || len(x.Shape) == 0 || x.Shape[len(x.Shape)-1] != w.Shape[1] {
		panic(fmt.Sprintf("tensor.%s: input %v, weight %v", op, x.Shape, w.Shape))
	}
	if w.ShapeOnly() {
		panic(fmt.Sprintf("tensor.%s: weight %v has no data (shape-only)", op, w.Shape))
	}
	checkWeightData(op, w)
	n, k = w.Shape[0], w.Shape[1]
	if b != nil && b.Numel() != n {
		panic(fmt.Sprintf("tensor.%s: bias %v for weight %v", op, b.Shape, w.Shape))
	}
	shape = append([]int(nil), x.Shape...)
	shape[len(shape)-1] = n
	m = len(x.Data) / max(k, 1)
	if k == 0 {
		m = Numel(x.Shape[:len(x.Shape)-1])
	}
	if b != nil {
		checkWeightData(op, b)
	}
	return shape, m, n, k
}

// matmulBatch resolves the batch layout of a [..., M, K] with b [..., K, N] (or b [..., N, K] if
// transB): batch dims equal, or b 2-D (broadcast).
func matmulBatch(op string, a, b *Tensor, transB bool) (batch, m, k, n int, bBatched bool, shape []int) {
	ra, rb := len(a.Shape), len(b.Shape)
	if ra < 2 || rb < 2 {
		panic(fmt.Sprintf("tensor.%s: shapes %v and %v", op, a.Shape, b.Shape))
	}
	m, k = a.Shape[ra-2], a.Shape[ra-1]
	kb, n := b.Shape[rb-2], b.Shape[rb-1]
	if transB {
		kb, n = n, kb
	}
	if kb != k {
		panic(fmt.Sprintf("tensor.%s: shapes %v and %v", op, a.Shape, b.Shape))
	}
	batch = Numel(a.Shape[:ra-2])
	if rb > 2 {
		if rb != ra {
			panic(fmt.Sprintf("tensor.%s: batch dims of %v and %v differ", op, a.Shape, b.Shape))
		}
		for i := range ra - 2 {
			if a.Shape[i] != b.Shape[i] {
				panic(fmt.Sprintf("tensor.%s: batch dims of %v and %v differ", op, a.Shape, b.Shape))
			}
		}
		bBatched = true
	}
	shape = append(append([]int(nil), a.Shape[:ra-2]...), m, n)
	return
}

// MatMul computes a @ b (torch.matmul): a [..., M, K], b [..., K, N] with equal batch dims, or b
// 2-D (broadcast over a's batch) -> [..., M, N].
func MatMul(a, b *Tensor) *Tensor {
	batch, m, k, n, bb, shape := matmulBatch("MatMul", a, b, false)
	out := New(shape...)
	batchedGemm(out.Data, a.Data, b.Data, batch, m, n, k, bb, false)
	return out
}

// MatMulT computes a @ b^T (torch.matmul(a, b.transpose(-1, -2))): a [..., M, K], b [..., N, K]
// with equal batch dims, or b 2-D -> [..., M, N].
func MatMulT(a, b *Tensor) *Tensor {
	batch, m, k, n, bb, shape := matmulBatch("MatMulT", a, b, true)
	out := New(shape...)
	batchedGemm(out.Data, a.Data, b.Data, batch, m, n, k, bb, true)
	return out
}

// checkWeightData panics when a weight's storage does not hold its shape's element count.
func checkWeightData(op string, w *Weight) {
	n := w.Numel()
	switch {
	case w.DType == F32 && len(w.F32) == n:
	case (w.DType == F16 || w.DType == BF16) && len(w.Half) == n:
	default:
		panic(fmt.Sprintf("tensor.%s: %s weight %v: storage holds %d/%d elements, want %d", op, w.DType, w.Shape, len(w.F32), len(w.Half), n))
	}
}

// LinearGroup returns Linear(x, ws[i], bs[i]) for every i (bs may be nil: no biases), the same
// values as those calls. Where x is a single row (a decode step), the products run as one parallel
// region over all their weight rows: the workers meet once at the end instead of once per product;
// on more rows, as one shared-A GEMM (A packed once) where every product takes that path.
func LinearGroup(x *Tensor, ws, bs []*Weight) []*Tensor {
	if bs != nil && len(bs) != len(ws) {
		panic(fmt.Sprintf("tensor.LinearGroup: %d weights, %d biases", len(ws), len(bs)))
	}
	bias := func(i int) *Weight {
		if bs == nil {
			return nil
		}
		return bs[i]
	}
	outs := make([]*Tensor, len(ws))
	var m, k int
	for i, w := range ws {
		var shape []int
		shape, m, _, k = linearShape("LinearGroup", x, w, bias(i))
		outs[i] = New(shape...)
	}
	switch {
	case len(ws) >= 2 && m == 1 && gemv1Group(outs, x.Data, ws, bias):
	case len(ws) >= 2 && gemmGroupFits(ws, m, k):
		data := make([][]float32, len(ws))
		for i, t := range outs {
			data[i] = t.Data
		}
		gemmGroup(data, x.Data, ws, bs, m, k)
	default:
		for i, w := range ws {
			linear(outs[i].Data, x.Data, w, bias(i), m, w.Shape[0], k)
		}
	}
	return outs
}

// gemv1Group computes outs[i] = x·ws[i]^T + bias(i) for one input row x as one parallel region
// over the blocks of all the products, where every product runs on the single-row assembly
// kernels in blocks worth a goroutine each; false (nothing written) otherwise.
func gemv1Group(outs []*Tensor, x []float32, ws []*Weight, bias func(int) *Weight) bool {
	k := len(x)
	for _, w := range ws {
		kv, _, _ := gemv1Cols(w, k)
		if kv == 0 || gemv1MinItems(w.Shape[0], k, w.DType) > 1 {
			return false // no kernel, or small products: one region each is as good
		}
	}
	jobs := make([]*gemv1, len(ws))
	start := make([]int, len(ws)+1) // blocks of job i: [start[i], start[i+1])
	for i, w := range ws {
		kv, g, kern := gemv1Cols(w, k)
		jobs[i] = newGemv1(outs[i].Data, x, w, bias(i), w.Shape[0], k, kv, g, kern)
		defer jobs[i].release()
		start[i+1] = start[i] + jobs[i].items
	}
	parallelForN(start[len(jobs)], 1, gemvChunksPerWorker, func(lo, hi int) {
		for it := lo; it < hi; it++ {
			i := 0
			for start[i+1] <= it {
				i++
			}
			jobs[i].item(it - start[i])
		}
	})
	return true
}
