package tensor

import (
	"fmt"
	"runtime"
)

// attnRowBlock is how many query rows one task of Attention handles (its score block stays in L2).
const attnRowBlock = 64

// Attention computes softmax(q·kᵀ·scale + mask)·v per batch and head (the eager attention of
// transformers' BLIP-2 vision, Q-Former, OPT and T5 layers, fused):
// q [B, H, Tq, dh], k and v [B, H, Tk, dh], mask additive and broadcastable to [B, H, Tq, Tk] (or
// nil) -> [B, H, Tq, dh]. The scores are scaled after the product (BLIP-2 vision, Q-Former); for
// models that scale the query first (OPT) scale q and pass 1; T5 passes 1. Softmax is max-subtracted
// and a row whose entries are all -Inf gives zeros.
func Attention(q, k, v *Tensor, mask *Tensor, scale float32) *Tensor {
	out := New(attentionShape("Attention", q, k, v)...)
	attention("Attention", out, q, k, v, mask, scale)
	return out
}

// AttentionInto is Attention writing into dst, which must have the output's shape [B, H, Tq, dv]
// and must not overlap q, k, v or mask.
func AttentionInto(dst, q, k, v *Tensor, mask *Tensor, scale float32) {
	checkDst("AttentionInto", dst, attentionShape("AttentionInto", q, k, v))
	checkNoOverlap("AttentionInto", dst, q, k, v, mask)
	attention("AttentionInto", dst, q, k, v, mask, scale)
}

// attentionShape checks that q, k and v are 4-D and agree, and returns the output shape.
func attentionShape(op string, q, k, v *Tensor) []int {
	if len(q.Shape) != 4 || len(k.Shape) != 4 || len(v.Shape) != 4 {
		panic(fmt.Sprintf("tensor.%s: q %v, k %v, v %v: want 4-D", op, q.Shape, k.Shape, v.Shape))
	}
	b, h, dh := q.Shape[0], q.Shape[1], q.Shape[3]
	tk := k.Shape[2]
	if k.Shape[0] != b || k.Shape[1] != h || k.Shape[3] != dh || v.Shape[0] != b || v.Shape[1] != h || v.Shape[2] != tk {
		panic(fmt.Sprintf("tensor.%s: q %v, k %v, v %v", op, q.Shape, k.Shape, v.Shape))
	}
	return []int{b, h, q.Shape[2], v.Shape[3]}
}

// attention is Attention into out (of attentionShape's shape).
func attention(op string, out, q, k, v *Tensor, mask *Tensor, scale float32) {
	b, h, tq, dh := q.Shape[0], q.Shape[1], q.Shape[2], q.Shape[3]
	tk, dv := k.Shape[2], v.Shape[3]
	full := []int{b, h, tq, tk}
	var ms []int
	if mask != nil {
		if len(mask.Shape) > 4 {
			panic(fmt.Sprintf("tensor.%s: mask %v for scores %v", op, mask.Shape, full))
		}
		bs := broadcastShape(op, full, mask.Shape)
		for i := range bs {
			if bs[i] != full[i] {
				panic(fmt.Sprintf("tensor.%s: mask %v does not broadcast to %v", op, mask.Shape, full))
			}
		}
		ms = bstrides(mask.Shape, full)
	}
	if tq == 0 || dv == 0 {
		return
	}
	// query rows per task: all of them when there are enough heads to keep every core busy and the
	// scores fit in L2 (k is then packed once per head), else blocks of attnRowBlock.
	rowBlk := attnRowBlock
	if b*h >= 2*runtime.GOMAXPROCS(0) && tq*tk <= 1<<17 {
		rowBlk = max(tq, 1)
	}
	blocks := (tq + rowBlk - 1) / rowBlk
	parallelFor(b*h*blocks, 1, func(lo, hi int) {
		bufs := bufPool.Get().(*gemmBufs)
		defer bufPool.Put(bufs)
		sbuf := getScratch(min(tq, rowBlk) * tk) // every score is written before it is read
		defer scratchPool.Put(sbuf)
		scores := *sbuf
		for task := lo; task < hi; task++ {
			bh, blk := task/blocks, task%blocks
			bi, hd := bh/h, bh%h
			r0 := blk * rowBlk
			rows := min(rowBlk, tq-r0)
			qm := q.Data[(bh*tq+r0)*dh:]
			km := k.Data[bh*tk*dh : (bh+1)*tk*dh]
			vm := v.Data[bh*tk*dv : (bh+1)*tk*dv]
			s := scores[:rows*tk]
			// s: [rows, Tk] = q_blk · kᵀ
			few := rows <= gemvMx // decoding: no packing, stream k and v once
			if few {
				kw := Weight{Shape: []int{tk, dh}, DType: F32, F32: km}
				gemvLinear(s, qm[:rows*dh], &kw, nil, rows, tk, dh)
			} else {
				gemmSerial(s, tk, qm, dh, matB{dt: F32, f32: km, ld: dh, trans: true}, rows, tk, dh, false, bufs)
			}
			for i := range rows {
				row := s[i*tk : (i+1)*tk]
				if scale != 1 {
					scaleSlice(row, scale)
				}
				if ms != nil {
					off := bi*ms[0] + hd*ms[1] + (r0+i)*ms[2]
					if ms[3] == 0 {
						addVS(row, row, mask.Data[off])
					} else {
						addVV(row, row, mask.Data[off:off+tk])
					}
				}
				softmaxRow(row)
			}
			// out block: [rows, dv] = s · v
			o := out.Data[(bh*tq+r0)*dv:]
			if few {
				for i := range rows {
					or := o[i*dv : (i+1)*dv]
					clear(or) // out may hold anything (AttentionInto)
					for j, p := range s[i*tk : (i+1)*tk] {
						axpy(or, vm[j*dv:(j+1)*dv], p)
					}
				}
				continue
			}
			gemmSerial(o, dv, s, tk, matB{dt: F32, f32: vm, ld: dv}, rows, dv, tk, false, bufs)
		}
	})
}
