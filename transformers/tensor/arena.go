package tensor

import (
	"fmt"
	"slices"
	"unsafe"
)

// Arena lends float32 tensors to one computation and takes them back when the computation is done
// with them, so that a loop of same-shaped steps (the layers of a model) reuses a few buffers
// instead of allocating new ones every step, which the Go runtime zeroes and the operating system
// faults in page by page: on a ViT-g forward, 3-4% of the CPU time, spent by one goroutine while
// the other cores wait.
//
// A tensor from Take has unspecified contents: write all of it (the ...Into operations do) before
// reading it. Give a tensor back with Release only once nothing reads it any more. An Arena is not
// safe for concurrent use; its zero value is ready to use, and a nil *Arena allocates every tensor
// afresh (Take is then New) and ignores Release.
type Arena struct {
	free [][]float32 // buffers given back, each from its first element to its capacity
}

// Take returns a tensor of the given shape whose data is the smallest buffer given back that is
// large enough (its contents unspecified), or a new one.
func (a *Arena) Take(shape ...int) *Tensor {
	n := Numel(shape)
	if a == nil {
		return New(shape...)
	}
	best := -1
	for i, b := range a.free {
		if cap(b) >= n && (best < 0 || cap(b) < cap(a.free[best])) {
			best = i
		}
	}
	if best < 0 {
		return New(shape...)
	}
	buf := a.free[best]
	a.free = slices.Delete(a.free, best, best+1)
	return &Tensor{Shape: append([]int(nil), shape...), Data: buf[:n]}
}

// Release gives the data of each tensor back for a later Take (nil tensors and empty data are
// skipped). Releasing a buffer that is already given back is a bug in the caller, and panics.
func (a *Arena) Release(ts ...*Tensor) {
	if a == nil {
		return
	}
	for _, t := range ts {
		if t == nil || cap(t.Data) == 0 {
			continue
		}
		buf := t.Data[:cap(t.Data)]
		p := unsafe.SliceData(buf)
		for _, f := range a.free {
			if unsafe.SliceData(f) == p {
				panic(fmt.Sprintf("tensor.Arena: a buffer of %d floats released twice", cap(buf)))
			}
		}
		a.free = append(a.free, buf)
	}
}

// checkDst panics unless dst has the given shape: the output shape of op.
func checkDst(op string, dst *Tensor, shape []int) {
	if dst == nil || !slices.Equal(dst.Shape, shape) || len(dst.Data) != Numel(shape) {
		var got any = "nil"
		if dst != nil {
			got = fmt.Sprintf("%v (%d values)", dst.Shape, len(dst.Data))
		}
		panic(fmt.Sprintf("tensor.%s: destination %v, want shape %v", op, got, shape))
	}
}

// overlaps reports whether a and b share memory.
func overlaps(a, b []float32) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	a0, b0 := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0]))
	return a0 < b0+uintptr(4*len(b)) && b0 < a0+uintptr(4*len(a))
}

// checkNoOverlap panics if dst shares memory with any of the inputs of op (nil inputs skipped).
func checkNoOverlap(op string, dst *Tensor, inputs ...*Tensor) {
	for _, in := range inputs {
		if in != nil && overlaps(dst.Data, in.Data) {
			panic(fmt.Sprintf("tensor.%s: destination %v overlaps an input %v", op, dst.Shape, in.Shape))
		}
	}
}
