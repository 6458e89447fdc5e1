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
