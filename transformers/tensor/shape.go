package tensor

import "fmt"

// normAxis turns a possibly negative axis into an index in [0, rank) or panics.
func normAxis(op string, axis, rank int) int {
	if axis < 0 {
		axis += rank
	}
	if axis < 0 || axis >= rank {
		panic(fmt.Sprintf("tensor.%s: axis %d out of range for rank %d", op, axis, rank))
	}
	return axis
}

// outerInner returns the product of the dims before axis and after axis.
func outerInner(shape []int, axis int) (outer, inner int) {
	outer, inner = 1, 1
	for i, s := range shape {
		if i < axis {
			outer *= s
		} else if i > axis {
			inner *= s
		}
	}
	return outer, inner
}

// Embedding gathers rows of w [V, D] for ids -> [len(ids), D] (torch.nn.functional.embedding). The
// caller checks 0 <= id < V.
func Embedding(w *Weight, ids []int) *Tensor {
	if len(w.Shape) != 2 {
		panic(fmt.Sprintf("tensor.Embedding: weight shape %v, want [V, D]", w.Shape))
	}
	checkWeightData("Embedding", w)
	d := w.Shape[1]
	out := New(len(ids), d)
	for i, id := range ids {
		w.WidenTo(out.Data[i*d:(i+1)*d], id*d)
	}
	return out
}

// Concat joins tensors along axis (torch.cat). All other dims must match.
func Concat(axis int, ts ...*Tensor) *Tensor {
	if len(ts) == 0 {
		panic("tensor.Concat: no tensors")
	}
	rank := len(ts[0].Shape)
	axis = normAxis("Concat", axis, rank)
	shape := append([]int(nil), ts[0].Shape...)
	shape[axis] = 0
	for _, t := range ts {
		if len(t.Shape) != rank {
			panic(fmt.Sprintf("tensor.Concat: shapes %v and %v", ts[0].Shape, t.Shape))
		}
		for i := range rank {
			if i != axis && t.Shape[i] != ts[0].Shape[i] {
				panic(fmt.Sprintf("tensor.Concat: shapes %v and %v along axis %d", ts[0].Shape, t.Shape, axis))
			}
		}
		shape[axis] += t.Shape[axis]
	}
	out := New(shape...)
	outer, inner := outerInner(shape, axis)
	rowOut := shape[axis] * inner
	off := 0
	for _, t := range ts {
		n := t.Shape[axis] * inner
		for o := range outer {
			copy(out.Data[o*rowOut+off:o*rowOut+off+n], t.Data[o*n:(o+1)*n])
		}
		off += n
	}
	return out
}

// Slice returns a copy of t[..., start:end, ...] along axis (torch narrow + contiguous).
func Slice(t *Tensor, axis, start, end int) *Tensor {
	axis = normAxis("Slice", axis, len(t.Shape))
	if start < 0 || end > t.Shape[axis] || start > end {
		panic(fmt.Sprintf("tensor.Slice: [%d, %d) out of range for axis %d of %v", start, end, axis, t.Shape))
	}
	shape := append([]int(nil), t.Shape...)
	shape[axis] = end - start
	out := New(shape...)
	outer, inner := outerInner(t.Shape, axis)
	rowIn := t.Shape[axis] * inner
	n := (end - start) * inner
	for o := range outer {
		copy(out.Data[o*n:(o+1)*n], t.Data[o*rowIn+start*inner:o*rowIn+start*inner+n])
	}
	return out
}

// IndexSelect picks entries idx along axis (torch.index_select), e.g. to reorder beams.
func IndexSelect(t *Tensor, axis int, idx []int) *Tensor {
	axis = normAxis("IndexSelect", axis, len(t.Shape))
	shape := append([]int(nil), t.Shape...)
	shape[axis] = len(idx)
	out := New(shape...)
	outer, inner := outerInner(t.Shape, axis)
	rowIn := t.Shape[axis] * inner
	rowOut := len(idx) * inner
	for _, j := range idx {
		if j < 0 || j >= t.Shape[axis] {
			panic(fmt.Sprintf("tensor.IndexSelect: index %d out of range for axis %d of %v", j, axis, t.Shape))
		}
	}
	for o := range outer {
		for i, j := range idx {
			copy(out.Data[o*rowOut+i*inner:o*rowOut+(i+1)*inner], t.Data[o*rowIn+j*inner:o*rowIn+(j+1)*inner])
		}
	}
	return out
}

// Permute returns a contiguous copy with the axes reordered (torch permute + contiguous).
func Permute(t *Tensor, perm ...int) *Tensor {
	perm, shape := permuteShape("Permute", t, perm)
	out := New(shape...)
	permute(out, t, perm)
	return out
}

// PermuteInto is Permute writing into dst, which must have the permuted shape and must not overlap
// t.
func PermuteInto(dst, t *Tensor, perm ...int) {
	perm, shape := permuteShape("PermuteInto", t, perm)
	checkDst("PermuteInto", dst, shape)
	checkNoOverlap("PermuteInto", dst, t)
	permute(dst, t, perm)
}

// permuteShape checks perm against t's rank and returns it with its axes normalised, and the
// permuted shape.
func permuteShape(op string, t *Tensor, perm []int) ([]int, []int) {
	rank := len(t.Shape)
	perm = append([]int(nil), perm...)
	if len(perm) != rank {
		panic(fmt.Sprintf("tensor.%s: perm %v for shape %v", op, perm, t.Shape))
	}
	seen := make([]bool, rank)
	shape := make([]int, rank)
	for i, p := range perm {
		p = normAxis(op, p, rank)
		if seen[p] {
			panic(fmt.Sprintf("tensor.%s: perm %v repeats an axis", op, perm))
		}
		seen[p] = true
		perm[i] = p
		shape[i] = t.Shape[p]
	}
	return perm, shape
}

// permute writes t with its axes reordered by perm (checked) into out.
func permute(out, t *Tensor, perm []int) {
	rank, shape := len(t.Shape), out.Shape
	if len(t.Data) == 0 {
		return
	}
	inStrides := stridesOf(t.Shape)
	// strides of the input, in output axis order
	st := make([]int, rank)
	for i, p := range perm {
		st[i] = inStrides[p]
	}
	// merge nothing fancy: iterate the output with the last axis as inner loop.
	if rank == 0 {
		out.Data[0] = t.Data[0]
		return
	}
	last := shape[rank-1]
	lastSt := st[rank-1]
	rows := len(out.Data) / max(last, 1)
	parallelFor(rows, max(1, 4096/max(last, 1)), func(lo, hi int) {
		idx := make([]int, rank)
		for r := lo; r < hi; r++ {
			// decompose r into output indices of axes [0, rank-1)
			rem, src := r, 0
			for a := rank - 2; a >= 0; a-- {
				idx[a] = rem % shape[a]
				rem /= shape[a]
				src += idx[a] * st[a]
			}
			dst := out.Data[r*last : (r+1)*last]
			if lastSt == 1 {
				copy(dst, t.Data[src:src+last])
				continue
			}
			for j := range dst {
				dst[j] = t.Data[src]
				src += lastSt
			}
		}
	})
}

// Transpose returns a contiguous copy with axes a and b swapped (torch transpose + contiguous).
func Transpose(t *Tensor, a, b int) *Tensor {
	rank := len(t.Shape)
	a = normAxis("Transpose", a, rank)
	b = normAxis("Transpose", b, rank)
	perm := make([]int, rank)
	for i := range perm {
		perm[i] = i
	}
	perm[a], perm[b] = b, a
	return Permute(t, perm...)
}

func stridesOf(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}
