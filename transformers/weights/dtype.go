package weights

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// dtypeSizes lists every dtype the safetensors format defines, with its element size in bytes.
// Files may hold any of them; only F32/F16/BF16 (weights) and I64 (ids) can be read as values.
var dtypeSizes = map[string]uint64{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

// weightDType maps a safetensors dtype to a weight storage dtype.
func weightDType(s string) (tensor.DType, bool) {
	switch s {
	case "F32":
		return tensor.F32, true
	case "F16":
		return tensor.F16, true
	case "BF16":
		return tensor.BF16, true
	}
	return 0, false
}

// littleEndian reports whether the machine stores numbers little-endian (the byte order of both
// checkpoint formats); on big-endian machines every view becomes a byte-swapping copy.
func littleEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}

// viewWeight returns a Weight over raw little-endian bytes: zero-copy when the bytes are aligned for
// the dtype and the machine is little-endian, a copy otherwise. numel must equal len(raw)/size.
func viewWeight(raw []byte, dt tensor.DType, shape []int) *tensor.Weight {
	w := &tensor.Weight{Shape: append([]int{}, shape...), DType: dt}
	switch dt {
	case tensor.F32:
		n := len(raw) / 4
		if n == 0 {
			w.F32 = []float32{}
		} else if littleEndian() && uintptr(unsafe.Pointer(&raw[0]))%4 == 0 {
			w.F32 = unsafe.Slice((*float32)(unsafe.Pointer(&raw[0])), n)
		} else {
			w.F32 = make([]float32, n)
			for i := range w.F32 {
				w.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		}
	default:
		n := len(raw) / 2
		if n == 0 {
			w.Half = []uint16{}
		} else if littleEndian() && uintptr(unsafe.Pointer(&raw[0]))%2 == 0 {
			w.Half = unsafe.Slice((*uint16)(unsafe.Pointer(&raw[0])), n)
		} else {
			w.Half = make([]uint16, n)
			for i := range w.Half {
				w.Half[i] = binary.LittleEndian.Uint16(raw[2*i:])
			}
		}
	}
	return w
}

// viewInt64 returns int64 values over raw little-endian bytes (a view when aligned, else a copy).
func viewInt64(raw []byte) []int64 {
	n := len(raw) / 8
	if n == 0 {
		return []int64{}
	}
	if littleEndian() && uintptr(unsafe.Pointer(&raw[0]))%8 == 0 {
		return unsafe.Slice((*int64)(unsafe.Pointer(&raw[0])), n)
	}
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
	}
	return out
}

// widen returns a fresh float32 copy of a floating weight.
func widen(w *tensor.Weight) *tensor.Tensor {
	t := tensor.New(w.Shape...)
	w.WidenTo(t.Data, 0)
	return t
}

// convertWeight converts a weight to another storage dtype (a new allocation; same dtype returns w).
// Large weights are converted by several goroutines.
func convertWeight(w *tensor.Weight, to tensor.DType) *tensor.Weight {
	if w.DType == to {
		return w
	}
	if w.ShapeOnly() {
		return &tensor.Weight{Shape: w.Shape, DType: to}
	}
	out := &tensor.Weight{Shape: append([]int{}, w.Shape...), DType: to}
	n := w.Numel()
	if to == tensor.F32 {
		out.F32 = make([]float32, n)
	} else {
		out.Half = make([]uint16, n)
	}
	chunk := func(lo, hi int) {
		switch to {
		case tensor.F32:
			w.WidenTo(out.F32[lo:hi], lo)
		case tensor.F16:
			for i := lo; i < hi; i++ {
				out.Half[i] = tensor.F32ToF16(w.At(i))
			}
		case tensor.BF16:
			for i := lo; i < hi; i++ {
				out.Half[i] = tensor.F32ToBF16(w.At(i))
			}
		}
	}
	const grain = 1 << 16
	workers := min(runtime.GOMAXPROCS(0), (n+grain-1)/grain)
	if workers <= 1 {
		chunk(0, n)
		return out
	}
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += per {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			chunk(lo, hi)
		}(lo, min(lo+per, n))
	}
	wg.Wait()
	return out
}

func errUnsupportedDType(path, name, dtype, want string) error {
	return fmt.Errorf("weights: %s: tensor %q: dtype %s cannot be read as %s: %w", path, name, dtype, want, ErrUnsupportedDType)
}
