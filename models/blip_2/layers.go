package blip2

import (
	"errors"
	"fmt"
	"math"
	"runtime/debug"

	"github.com/gotransformers/gotransformers/transformers/nn"
	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// ErrShapeOnly is returned by a forward of a model built from a config alone (NewShape* constructors):
// such a model has parameter shapes but no weight memory.
var ErrShapeOnly = errors.New("blip2: model was built shape-only (no weights); load it with FromPretrained")

// activation returns the in-place activation for a config's hidden_act (transformers' ACT2FN).
func activation(name string) (func(*tensor.Tensor), error) {
	switch name {
	case "gelu":
		return tensor.GELUInPlace, nil
	case "gelu_new", "gelu_pytorch_tanh", "gelu_fast":
		return tensor.GELUTanhInPlace, nil
	case "relu":
		return tensor.ReLUInPlace, nil
	case "silu", "swish":
		return tensor.SiLUInPlace, nil
	case "tanh":
		return tensor.TanhInPlace, nil
	}
	return nil, fmt.Errorf("unsupported hidden_act %q (want gelu, gelu_new, gelu_pytorch_tanh, relu, silu or tanh)", name)
}

// linearTake is l.Forward(x) into a tensor taken from ar.
func linearTake(ar *tensor.Arena, l *nn.Linear, x *tensor.Tensor) *tensor.Tensor {
	shape := append([]int(nil), x.Shape...)
	shape[len(shape)-1] = l.Out()
	y := ar.Take(shape...)
	l.ForwardInto(y, x)
	return y
}

// headsTake splits x [B, T, H*hd] into heads [B, H, T, hd] (a copy taken from ar).
func headsTake(ar *tensor.Arena, x *tensor.Tensor, heads int) *tensor.Tensor {
	b, t, d := x.Shape[0], x.Shape[1], x.Shape[2]
	y := ar.Take(b, heads, t, d/heads)
	tensor.PermuteInto(y, x.Reshape(b, t, heads, d/heads), 0, 2, 1, 3)
	return y
}

// mergeTakeRelease merges the heads of x [B, H, T, hd] back into [B, T, H*hd] (a copy taken from
// ar) and gives x back to ar.
func mergeTakeRelease(ar *tensor.Arena, x *tensor.Tensor) *tensor.Tensor {
	b, h, t, hd := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	y := ar.Take(b, t, h, hd)
	tensor.PermuteInto(y, x, 0, 2, 1, 3)
	ar.Release(x)
	return y.Reshape(b, t, h*hd)
}

// extendedMask turns a [B, T] 0/1 mask into the additive [B, 1, 1, T] mask transformers builds
// (get_extended_attention_mask / invert_attention_mask): (1 - m) * finfo(float32).min.
func extendedMask(mask [][]int) *tensor.Tensor {
	b := len(mask)
	t := 0
	if b > 0 {
		t = len(mask[0])
	}
	out := tensor.New(b, 1, 1, t)
	for i, row := range mask {
		for j, m := range row {
			out.Data[i*t+j] = float32(1-m) * -math.MaxFloat32
		}
	}
	return out
}

// recoverErr turns a panic from a kernel (a shape the checks did not catch) into an error, so that no
// panic crosses the public API.
func recoverErr(where string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("blip2: %s: internal error: %v\n%s", where, r, debug.Stack())
	}
}

// checkShape returns an error unless t has the given rank and, where want[i] >= 0, that size.
func checkShape(what string, t *tensor.Tensor, want ...int) error {
	if t == nil {
		return fmt.Errorf("%s: missing tensor", what)
	}
	if len(t.Shape) != len(want) {
		return fmt.Errorf("%s: shape %v, want rank %d %v", what, t.Shape, len(want), want)
	}
	for i, w := range want {
		if w >= 0 && t.Shape[i] != w {
			return fmt.Errorf("%s: shape %v, want %v (-1 = any)", what, t.Shape, want)
		}
	}
	if len(t.Data) != tensor.Numel(t.Shape) {
		return fmt.Errorf("%s: %d elements for shape %v", what, len(t.Data), t.Shape)
	}
	return nil
}
