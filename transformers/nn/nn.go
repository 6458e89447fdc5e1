// Package nn holds the small layers every model of this module is built from (Linear, LayerNorm,
// Embedding), each bound to its checkpoint keys through a weights.Binder and running the kernels of
// transformers/tensor. It mirrors torch.nn's modules of the same names. It imports only
// transformers/tensor and transformers/weights.
package nn

import (
	"fmt"

	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// Linear is torch.nn.Linear: y = x W^T + b with W stored [out, in] as in the checkpoint.
type Linear struct {
	Weight *tensor.Weight // [out, in]
	Bias   *tensor.Weight // [out], or nil
}

// NewLinear binds name.weight [out, in] and, when bias is set, name.bias [out]. An empty name binds
// "weight"/"bias" directly under b's prefix.
func NewLinear(b *weights.Binder, name string, in, out int, bias bool) *Linear {
	p := b
	if name != "" {
		p = b.Pp(name)
	}
	l := &Linear{Weight: p.Weight("weight", out, in)}
	if bias {
		l.Bias = p.Weight("bias", out)
	}
	return l
}

// In returns the input width.
func (l *Linear) In() int { return l.Weight.Shape[1] }

// Out returns the output width.
func (l *Linear) Out() int { return l.Weight.Shape[0] }

// Forward applies the layer. x: [..., in] -> [..., out]. It panics when x's last axis is not `in`
// (a bug in the calling model, never caused by user input).
func (l *Linear) Forward(x *tensor.Tensor) *tensor.Tensor {
	if len(x.Shape) == 0 || x.Shape[len(x.Shape)-1] != l.In() {
		panic(fmt.Sprintf("nn.Linear: input %v, want last axis %d", x.Shape, l.In()))
	}
	return tensor.Linear(x, l.Weight, l.Bias)
}

// ForwardInto is Forward writing into dst ([..., out], not overlapping x; see tensor.LinearInto).
func (l *Linear) ForwardInto(dst, x *tensor.Tensor) {
	if len(x.Shape) == 0 || x.Shape[len(x.Shape)-1] != l.In() {
		panic(fmt.Sprintf("nn.Linear: input %v, want last axis %d", x.Shape, l.In()))
	}
	tensor.LinearInto(dst, x, l.Weight, l.Bias)
}

// LinearGroup applies every layer of ls to the same x and returns their outputs in order: the
// same values as calling Forward on each, computed together where that is faster (a single row:
// one parallel region for all, see tensor.LinearGroup).
func LinearGroup(x *tensor.Tensor, ls ...*Linear) []*tensor.Tensor {
	ws := make([]*tensor.Weight, len(ls))
	var bs []*tensor.Weight
	for i, l := range ls {
		if len(x.Shape) == 0 || x.Shape[len(x.Shape)-1] != l.In() {
			panic(fmt.Sprintf("nn.Linear: input %v, want last axis %d", x.Shape, l.In()))
		}
		ws[i] = l.Weight
		if l.Bias != nil {
			if bs == nil {
				bs = make([]*tensor.Weight, len(ls))
			}
			bs[i] = l.Bias
		}
	}
	return tensor.LinearGroup(x, ws, bs)
}

// LayerNorm is torch.nn.LayerNorm over the last axis.
type LayerNorm struct {
	Weight *tensor.Weight // [dim], or nil (elementwise_affine=False)
	Bias   *tensor.Weight // [dim], or nil
	Eps    float32
}

// NewLayerNorm binds name.weight [dim] and name.bias [dim].
func NewLayerNorm(b *weights.Binder, name string, dim int, eps float32) *LayerNorm {
	p := b
	if name != "" {
		p = b.Pp(name)
	}
	return &LayerNorm{Weight: p.Weight("weight", dim), Bias: p.Weight("bias", dim), Eps: eps}
}

// Forward normalises x: [..., dim] -> [..., dim].
func (n *LayerNorm) Forward(x *tensor.Tensor) *tensor.Tensor {
	if n.Weight != nil && (len(x.Shape) == 0 || x.Shape[len(x.Shape)-1] != n.Weight.Shape[0]) {
		panic(fmt.Sprintf("nn.LayerNorm: input %v, want last axis %d", x.Shape, n.Weight.Shape[0]))
	}
	return tensor.LayerNorm(x, n.Weight, n.Bias, n.Eps)
}

// ForwardInto is Forward writing into dst (x's shape; it may be x itself, see
// tensor.LayerNormInto).
func (n *LayerNorm) ForwardInto(dst, x *tensor.Tensor) {
	if n.Weight != nil && (len(x.Shape) == 0 || x.Shape[len(x.Shape)-1] != n.Weight.Shape[0]) {
		panic(fmt.Sprintf("nn.LayerNorm: input %v, want last axis %d", x.Shape, n.Weight.Shape[0]))
	}
	tensor.LayerNormInto(dst, x, n.Weight, n.Bias, n.Eps)
}

// Embedding is torch.nn.Embedding: a lookup table [num, dim].
type Embedding struct {
	Weight *tensor.Weight // [num, dim]
}

// NewEmbedding binds name.weight [num, dim].
func NewEmbedding(b *weights.Binder, name string, num, dim int) *Embedding {
	p := b
	if name != "" {
		p = b.Pp(name)
	}
	return &Embedding{Weight: p.Weight("weight", num, dim)}
}

// Num returns the number of rows (vocabulary size).
func (e *Embedding) Num() int { return e.Weight.Shape[0] }

// Dim returns the embedding width.
func (e *Embedding) Dim() int { return e.Weight.Shape[1] }

// CheckIDs returns an error naming the first id outside [0, num); callers holding user input check
// with it before Forward.
func (e *Embedding) CheckIDs(ids []int) error {
	for i, id := range ids {
		if id < 0 || id >= e.Num() {
			return fmt.Errorf("nn.Embedding: id %d at position %d is outside the vocabulary of %d", id, i, e.Num())
		}
	}
	return nil
}

// Forward gathers rows: ids [n] -> [n, dim]. It panics on an id outside [0, num) (check user input
// with CheckIDs first).
func (e *Embedding) Forward(ids []int) *tensor.Tensor {
	if err := e.CheckIDs(ids); err != nil {
		panic(err.Error())
	}
	return tensor.Embedding(e.Weight, ids)
}
