// Package tensor is the compute core of gotransformers: contiguous row-major float32 tensors for
// activations, compact weight storage (float32, float16, bfloat16 widened inside the kernels) and the
// kernels the BLIP-2 family needs. It imports nothing of this module.
package tensor

import (
	"fmt"
	"math"
)

// DType is the storage type of a Weight. Activations are always float32.
type DType uint8

const (
	// F32 is IEEE float32.
	F32 DType = iota
	// F16 is IEEE half precision.
	F16
	// BF16 is bfloat16 (the upper 16 bits of a float32).
	BF16
)

// String returns the safetensors spelling of the dtype.
func (d DType) String() string {
	switch d {
	case F32:
		return "F32"
	case F16:
		return "F16"
	case BF16:
		return "BF16"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Size is the number of bytes one element takes.
func (d DType) Size() int {
	if d == F32 {
		return 4
	}
	return 2
}

// Tensor is a contiguous row-major float32 tensor. Shape [] is a scalar with one element.
type Tensor struct {
	Shape []int
	Data  []float32
}

// Numel returns the number of elements a shape holds.
func Numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// New returns a zeroed tensor of the given shape.
func New(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, Numel(shape))}
}

// From wraps data (not copied) in a tensor of the given shape. It panics when the length does not
// match the shape: that is a programming error inside the module, never caused by user input.
func From(data []float32, shape ...int) *Tensor {
	if len(data) != Numel(shape) {
		panic(fmt.Sprintf("tensor.From: %d elements for shape %v", len(data), shape))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}
}

// Numel returns the number of elements.
func (t *Tensor) Numel() int { return len(t.Data) }

// Dim returns the size of axis i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.Shape)
	}
	return t.Shape[i]
}

// Reshape returns a view with another shape over the same data; one axis may be -1.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	s := append([]int(nil), shape...)
	neg, n := -1, 1
	for i, v := range s {
		if v == -1 {
			neg = i
		} else {
			n *= v
		}
	}
	if neg >= 0 && n > 0 {
		s[neg] = len(t.Data) / n
	}
	if Numel(s) != len(t.Data) {
		panic(fmt.Sprintf("tensor.Reshape: %v to %v", t.Shape, shape))
	}
	return &Tensor{Shape: s, Data: t.Data}
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// Row returns row i of the tensor seen as [-1, lastDim] (a slice of Data, not a copy).
func (t *Tensor) Row(i int) []float32 {
	d := t.Shape[len(t.Shape)-1]
	return t.Data[i*d : (i+1)*d]
}

// Weight is a parameter as stored in a checkpoint: row-major, in its storage dtype. Exactly one of
// F32 (DType F32) or Half (DType F16 or BF16, raw bits) is set; either may alias a memory-mapped file
// and must never be written. Half-precision weights are widened inside the kernels, never as a whole.
// A Weight with both slices nil is shape-only (built without weight memory, for inspection).
type Weight struct {
	Shape []int
	DType DType
	F32   []float32
	Half  []uint16
	// ApproxBF16Dot opts this weight into the approximate bf16 GEMV; off (false) by default. When
	// set on a BF16 weight and the CPU has AVX512_BF16 (BF16DotAvailable), Linear with a single
	// input row and in-features a multiple of 32 rounds the input row to bf16 (to nearest even)
	// once per call and multiplies it with VDPBF16PS: the products of the bf16 values are exact and
	// summed in float32 (denormals flushed to zero), but every input element loses its low 16
	// mantissa bits, a relative error of up to 2^-9 per element (about 1e-3 relative on a dot
	// product, against about 1e-6 for the exact path, which widens the weight and keeps the input
	// in float32). Outputs then no longer match a float32 reference to float32 rounding. It takes
	// half the arithmetic per weight byte of the exact path and measured 3-16% more bytes per
	// second on Zen 4 (see KERNELS.md). Ignored for other dtypes, other CPUs and builds, and
	// Linear with several input rows. Loaders set it with transformers.WithApproxBF16Dot; set it
	// before the weight is shared between goroutines (it is read, never written, by the kernels).
	ApproxBF16Dot bool
}

// WeightFrom wraps a float32 tensor as a weight (shared, not copied).
func WeightFrom(t *Tensor) *Weight {
	return &Weight{Shape: append([]int(nil), t.Shape...), DType: F32, F32: t.Data}
}

// Numel returns the number of elements of the weight's shape.
func (w *Weight) Numel() int { return Numel(w.Shape) }

// ShapeOnly reports whether the weight has no data.
func (w *Weight) ShapeOnly() bool { return w.F32 == nil && w.Half == nil }

// Bytes returns the storage size in bytes.
func (w *Weight) Bytes() int64 { return int64(w.Numel()) * int64(w.DType.Size()) }

// At returns element i widened to float32.
func (w *Weight) At(i int) float32 {
	switch w.DType {
	case F16:
		return F16ToF32(w.Half[i])
	case BF16:
		return BF16ToF32(w.Half[i])
	}
	return w.F32[i]
}

// WidenTo widens elements [off, off+len(dst)) into dst.
func (w *Weight) WidenTo(dst []float32, off int) {
	switch w.DType {
	case F16:
		for i, h := range w.Half[off : off+len(dst)] {
			dst[i] = F16ToF32(h)
		}
	case BF16:
		for i, h := range w.Half[off : off+len(dst)] {
			dst[i] = BF16ToF32(h)
		}
	default:
		copy(dst, w.F32[off:off+len(dst)])
	}
}

// Float32 returns the weight as a float32 tensor: the same memory for F32 weights (read only!), a
// widened copy otherwise. Use it for small parameters (biases, norms), never for large matrices.
func (w *Weight) Float32() *Tensor {
	if w.DType == F32 {
		return &Tensor{Shape: append([]int(nil), w.Shape...), Data: w.F32}
	}
	t := New(w.Shape...)
	w.WidenTo(t.Data, 0)
	return t
}

// BF16ToF32 widens a bfloat16 bit pattern.
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16 narrows with round-to-nearest-even, as torch does.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN: keep it a quiet NaN
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// F16ToF32 widens an IEEE half bit pattern.
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
	case man == 0:
		return math.Float32frombits(sign)
	}
	// subnormal half: value = man * 2^-24
	f := float32(man) * (1.0 / (1 << 24))
	if sign != 0 {
		return -f
	}
	return f
}

// F32ToF16 narrows with round-to-nearest-even.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff {
		if man != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		man |= 0x800000
		shift := uint32(14 - e)
		half := man >> shift
		rem := man & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	half := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && half&1 == 1) {
		half++
	}
	return sign | uint16(half)
}
