package tensor

import "fmt"

// Linear computes x @ w^T + b (torch.nn.functional.linear): x [..., in], w [out, in] in checkpoint
// layout (F32, F16 or BF16, widened inside the kernel), b [out] or nil -> [..., out].
func Linear(x *Tensor, w *Weight, b *Weight) *Tensor {
	if len(w.Shape) != 2 || len(x.Shape) == 0 || x.Shape[len(x.Shape)-1] != w.Shape[1] {
		panic(fmt.Sprintf("tensor.Linear: input %v, weight %v", x.Shape, w.Shape))
	}
	if w.ShapeOnly() {
		panic(fmt.Sprintf("tensor.Linear: weight %v has no data (shape-only)", w.Shape))
	}
	checkWeightData("Linear", w)
	n, k := w.Shape[0], w.Shape[1]
	if b != nil && b.Numel() != n {
		panic(fmt.Sprintf("tensor.Linear: bias %v for weight %v", b.Shape, w.Shape))
	}
	shape := append([]int(nil), x.Shape...)
	shape[len(shape)-1] = n
	out := New(shape...)
	m := len(x.Data) / max(k, 1)
	if k == 0 {
		m = Numel(x.Shape[:len(x.Shape)-1])
	}
	if b != nil {
		checkWeightData("Linear", b)
	}
	linear(out.Data, x.Data, w, b, m, n, k)
	return out
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
// region over all their weight rows: the workers meet once at the end instead of once per product.
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
	var jobs []*gemv1
	if len(x.Shape) > 0 && x.Shape[len(x.Shape)-1] == len(x.Data) {
		for i, w := range ws {
			if len(w.Shape) != 2 || w.Shape[1] != len(x.Data) || w.ShapeOnly() {
				jobs = nil
				break // Linear reports it
			}
			kv, g, kern := gemv1Cols(w, len(x.Data))
			if kv == 0 {
				jobs = nil
				break
			}
			checkWeightData("LinearGroup", w)
			b := bias(i)
			n := w.Shape[0]
			if b != nil {
				if b.Numel() != n {
					panic(fmt.Sprintf("tensor.LinearGroup: bias %v for weight %v", b.Shape, w.Shape))
				}
				checkWeightData("LinearGroup", b)
			}
			shape := append([]int(nil), x.Shape...)
			shape[len(shape)-1] = n
			outs[i] = New(shape...)
			j := newGemv1(outs[i].Data, x.Data, w, b, n, len(x.Data), kv, g, kern)
			if j.minItems() > 1 {
				j.release()
				jobs = nil
				break // small products: one region each is as good
			}
			jobs = append(jobs, j)
		}
	}
	if len(jobs) != len(ws) || len(ws) < 2 {
		for _, j := range jobs {
			j.release()
		}
		if len(ws) >= 2 && linearGroupGEMM(x, ws, bs, outs) {
			return outs
		}
		for i, w := range ws {
			outs[i] = Linear(x, w, bias(i))
		}
		return outs
	}
	start := make([]int, len(jobs)+1) // items of job i: [start[i], start[i+1])
	for i, j := range jobs {
		start[i+1] = start[i] + j.items
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
	for _, j := range jobs {
		j.release()
	}
	return outs
}

// linearGroupGEMM runs LinearGroup's products on several rows as one shared-A GEMM (A packed once,
// one parallel region) where they all take that GEMM path; false (outs untouched) otherwise.
func linearGroupGEMM(x *Tensor, ws, bs []*Weight, outs []*Tensor) bool {
	if len(x.Shape) == 0 {
		return false
	}
	k := x.Shape[len(x.Shape)-1]
	if k == 0 {
		return false
	}
	m := len(x.Data) / k
	for i, w := range ws {
		if len(w.Shape) != 2 || w.Shape[1] != k || w.ShapeOnly() {
			return false // Linear reports it
		}
		if bs != nil && bs[i] != nil && (bs[i].Numel() != w.Shape[0] || bs[i].ShapeOnly()) {
			return false
		}
		checkWeightData("LinearGroup", w)
		if bs != nil && bs[i] != nil {
			checkWeightData("LinearGroup", bs[i])
		}
	}
	if !gemmGroupFits(ws, m, k) {
		return false
	}
	data := make([][]float32, len(ws))
	ts := make([]*Tensor, len(ws))
	for i, w := range ws {
		shape := append([]int(nil), x.Shape...)
		shape[len(shape)-1] = w.Shape[0]
		ts[i] = New(shape...)
		data[i] = ts[i].Data
	}
	gemmGroup(data, x.Data, ws, bs, m, k)
	copy(outs, ts)
	return true
}
