package nn

import (
	"math"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// This file holds the cached multi-head attention shared by the decoder-style language models (OPT,
// T5): a growing key/value buffer per layer and attention of new queries over it. Scores are not
// scaled here: callers scale q first where the model does (OPT), or not at all (T5).

// KVBuffer holds the keys and values of one attention layer: k, v are [B, H, capacity, dh] with
// positions [0, n) filled. Appending amortizes growth by doubling the capacity, so a decode step
// copies only the new keys.
type KVBuffer struct {
	k, v     []float32
	b, h, dh int
	capacity int
	n        int

	spareK, spareV []float32 // the buffers of the previous reorder, reused by the next
}

// NewKVBuffer returns an empty buffer for b rows, h heads of dh dims, with room for capacity
// positions before it grows.
func NewKVBuffer(b, h, dh, capacity int) *KVBuffer {
	capacity = max(capacity, 1)
	return &KVBuffer{
		k: make([]float32, b*h*capacity*dh), v: make([]float32, b*h*capacity*dh),
		b: b, h: h, dh: dh, capacity: capacity,
	}
}

// Len is the number of positions filled.
func (c *KVBuffer) Len() int { return c.n }

// Heads is the number of attention heads.
func (c *KVBuffer) Heads() int { return c.h }

// HeadDim is the size of one head.
func (c *KVBuffer) HeadDim() int { return c.dh }

// grow reallocates to hold at least need positions.
func (c *KVBuffer) grow(need int) {
	if need <= c.capacity {
		return
	}
	nc := max(2*c.capacity, need, 16)
	nk := make([]float32, c.b*c.h*nc*c.dh)
	nv := make([]float32, c.b*c.h*nc*c.dh)
	for r := 0; r < c.b*c.h; r++ {
		copy(nk[r*nc*c.dh:r*nc*c.dh+c.n*c.dh], c.k[r*c.capacity*c.dh:r*c.capacity*c.dh+c.n*c.dh])
		copy(nv[r*nc*c.dh:r*nc*c.dh+c.n*c.dh], c.v[r*c.capacity*c.dh:r*c.capacity*c.dh+c.n*c.dh])
	}
	c.k, c.v, c.capacity = nk, nv, nc
	c.spareK, c.spareV = nil, nil
}

// Append stores new keys and values given in projection layout ([B, T, H*dh]) at positions
// [n, n+T).
func (c *KVBuffer) Append(k, v *tensor.Tensor) {
	// k, v: [B, T, H*dh]
	t := k.Shape[1]
	c.grow(c.n + t)
	hd := c.h * c.dh
	for b := 0; b < c.b; b++ {
		for h := 0; h < c.h; h++ {
			base := ((b*c.h+h)*c.capacity + c.n) * c.dh
			for i := 0; i < t; i++ {
				src := (b*t+i)*hd + h*c.dh
				copy(c.k[base+i*c.dh:base+(i+1)*c.dh], k.Data[src:src+c.dh])
				copy(c.v[base+i*c.dh:base+(i+1)*c.dh], v.Data[src:src+c.dh])
			}
		}
	}
	c.n += t
}

// Reorder makes row i of c row rows[i] of the old c (rows in range, checked by the caller). Only
// the filled positions are copied; with an unchanged batch size the copy goes into a spare buffer
// kept for the next reorder, so beam search does not allocate a cache per step.
func (c *KVBuffer) Reorder(rows []int) {
	nk, nv := c.spareK, c.spareV
	size := len(rows) * c.h * c.capacity * c.dh
	if len(nk) != size {
		nk, nv = make([]float32, size), make([]float32, size)
	}
	per := c.capacity * c.dh
	for i, r := range rows {
		for h := 0; h < c.h; h++ {
			dst := (i*c.h + h) * per
			src := (r*c.h + h) * per
			copy(nk[dst:dst+c.n*c.dh], c.k[src:src+c.n*c.dh])
			copy(nv[dst:dst+c.n*c.dh], c.v[src:src+c.n*c.dh])
		}
	}
	if len(rows) == c.b {
		c.spareK, c.spareV = c.k, c.v
	} else {
		c.spareK, c.spareV = nil, nil
	}
	c.k, c.v, c.b = nk, nv, len(rows)
}

// CachedAttention computes, for every row b, head h and query i,
//
//	out[b, i, h*dh:(h+1)*dh] = Σ_j softmax_j(q[b, i, h]·k[b, h, j] (+ bias[h, i, j])) v[b, h, j]
//
// over the kv.n keys, where keys with masked[(b*Tq+i)*Tk+j] get weight 0. A query whose keys are
// all masked attends uniformly to every key: that is what transformers' eager attention does, where
// the additive mask (finfo.min) absorbs the scores so that the row is constant.
// q: [B, Tq, H*dh]; masked: [B, Tq, Tk] or nil; bias: [H, Tq, Tk] or nil. Returns [B, Tq, H*dh].
func CachedAttention(q *tensor.Tensor, kv *KVBuffer, masked []bool, bias []float32) *tensor.Tensor {
	bsz, tq := q.Shape[0], q.Shape[1]
	if tq >= fusedMinRows {
		return attentionFused(q, kv, masked, bias)
	}
	H, dh, tk := kv.h, kv.dh, kv.n
	hd := H * dh
	out := tensor.New(bsz, tq, hd)
	parallelFor(bsz*H, func(lo, hi int) {
		scores := make([]float32, tk)
		acc := make([]float32, dh)
		for bh := lo; bh < hi; bh++ {
			b, h := bh/H, bh%H
			kb := kv.k[bh*kv.capacity*dh:]
			vb := kv.v[bh*kv.capacity*dh:]
			for i := 0; i < tq; i++ {
				qv := q.Data[(b*tq+i)*hd+h*dh : (b*tq+i)*hd+(h+1)*dh]
				var mrow []bool
				if masked != nil {
					mrow = masked[(b*tq+i)*tk : (b*tq+i+1)*tk]
				}
				var brow []float32
				if bias != nil {
					brow = bias[(h*tq+i)*tk : (h*tq+i+1)*tk]
				}
				mx := float32(math.Inf(-1))
				live := 0
				for j := 0; j < tk; j++ {
					if mrow != nil && mrow[j] {
						continue
					}
					s := tensor.Dot(qv, kb[j*dh:(j+1)*dh])
					if brow != nil {
						s += brow[j]
					}
					scores[j] = s
					if s > mx {
						mx = s
					}
					live++
				}
				for d := range acc {
					acc[d] = 0
				}
				if live == 0 {
					w := 1 / float32(tk)
					for j := 0; j < tk; j++ {
						axpy(acc, w, vb[j*dh:(j+1)*dh])
					}
				} else {
					var sum float32
					for j := 0; j < tk; j++ {
						if mrow != nil && mrow[j] {
							scores[j] = 0
							continue
						}
						e := float32(math.Exp(float64(scores[j] - mx)))
						scores[j] = e
						sum += e
					}
					inv := 1 / sum
					for j := 0; j < tk; j++ {
						if scores[j] != 0 {
							axpy(acc, scores[j]*inv, vb[j*dh:(j+1)*dh])
						}
					}
				}
				copy(out.Data[(b*tq+i)*hd+h*dh:], acc)
			}
		}
	})
	return out
}

// fusedMinRows is the query count from which attention runs through tensor.Attention (the
// prompt / encoder pass). A profile of the BLIP-2 caption showed the scalar loop below taking ~15 %
// of the language model's prefill CPU time (44 queries x 44 keys x 32 heads per layer); decode
// steps (one query) keep the scalar loop, which streams the cache once.
const fusedMinRows = 2

// attentionFused is attention through the fused tensor.Attention kernel: the mask becomes the
// additive finfo(float32).min mask transformers uses (plus the bias), so a row whose keys are all
// masked attends uniformly to every key, exactly as in the scalar loop and in transformers' eager
// attention.
func attentionFused(q *tensor.Tensor, kv *KVBuffer, masked []bool, bias []float32) *tensor.Tensor {
	bsz, tq := q.Shape[0], q.Shape[1]
	H, dh, tk := kv.h, kv.dh, kv.n
	q4 := tensor.Permute(q.Reshape(bsz, tq, H, dh), 0, 2, 1, 3) // [B, H, Tq, dh]
	var k4, v4 *tensor.Tensor                                   // [B, H, Tk, dh]
	if kv.capacity == tk {
		k4 = tensor.From(kv.k[:bsz*H*tk*dh], bsz, H, tk, dh)
		v4 = tensor.From(kv.v[:bsz*H*tk*dh], bsz, H, tk, dh)
	} else {
		k4, v4 = tensor.New(bsz, H, tk, dh), tensor.New(bsz, H, tk, dh)
		for r := 0; r < bsz*H; r++ {
			copy(k4.Data[r*tk*dh:(r+1)*tk*dh], kv.k[r*kv.capacity*dh:r*kv.capacity*dh+tk*dh])
			copy(v4.Data[r*tk*dh:(r+1)*tk*dh], kv.v[r*kv.capacity*dh:r*kv.capacity*dh+tk*dh])
		}
	}
	var mask *tensor.Tensor
	switch {
	case bias != nil: // [B, H, Tq, Tk]
		mask = tensor.New(bsz, H, tq, tk)
		for b := 0; b < bsz; b++ {
			for h := 0; h < H; h++ {
				dst := mask.Data[(b*H+h)*tq*tk : (b*H+h+1)*tq*tk]
				copy(dst, bias[h*tq*tk:(h+1)*tq*tk])
				if masked != nil {
					for i, m := range masked[b*tq*tk : (b+1)*tq*tk] {
						if m {
							dst[i] += -math.MaxFloat32
						}
					}
				}
			}
		}
	case masked != nil: // [B, 1, Tq, Tk]
		mask = tensor.New(bsz, 1, tq, tk)
		for i, m := range masked[:bsz*tq*tk] {
			if m {
				mask.Data[i] = -math.MaxFloat32
			}
		}
	}
	o := tensor.Attention(q4, k4, v4, mask, 1)                  // [B, H, Tq, dh]
	return tensor.Permute(o, 0, 2, 1, 3).Reshape(bsz, tq, H*dh) // [B, Tq, H*dh]
}

func axpy(dst []float32, a float32, x []float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += a * x[i]
	}
}

// parallelFor runs f over [0, n) on the tensor package's helpers, one item per chunk at least.
func parallelFor(n int, f func(lo, hi int)) { tensor.ParallelFor(n, 1, f) }

// CrossEntropy is torch.nn.CrossEntropyLoss(ignore_index=-100) with mean reduction over the rows
// of logits [N, V] whose label is not -100 (NaN when every label is ignored, as in torch).
func CrossEntropy(logits []float32, v int, labels []int) float32 {
	var total float64
	n := 0
	for r, l := range labels {
		if l == -100 {
			continue
		}
		row := logits[r*v : (r+1)*v]
		total += float64(tensor.LogSumExp(row)) - float64(row[l])
		n++
	}
	return float32(total / float64(n))
}
