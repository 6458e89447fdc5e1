package tensor

import (
	"fmt"
	"math"
)

// cubicCoeffs returns torch's 4 bicubic weights (A = -0.75) for fractional offset t, in float32
// arithmetic as upsample_bicubic2d does for float inputs.
func cubicCoeffs(t float32) [4]float32 {
	const a = float32(-0.75)
	conv1 := func(x float32) float32 { // |x| <= 1
		return float32(float32(float32(float32(a+2)*x)-(a+3))*x)*x + 1
	}
	conv2 := func(x float32) float32 { // 1 < |x| < 2
		return float32(float32(float32(float32(a*x)-5*a)*x)+8*a)*x - 4*a
	}
	t2 := 1 - t
	return [4]float32{conv2(t + 1), conv1(t), conv1(t2), conv2(t2 + 1)}
}

// bicubicTaps computes, for each output index, the 4 clamped source indices and weights.
func bicubicTaps(in, out int, scale float64) ([]int, []float32) {
	var s float32
	if scale > 0 {
		s = float32(1.0 / scale)
	} else {
		s = float32(in) / float32(out)
	}
	idx := make([]int, 4*out)
	wts := make([]float32, 4*out)
	for o := range out {
		src := float32(s*(float32(o)+0.5)) - 0.5
		fl := int(math.Floor(float64(src)))
		i0 := min(fl, in-1)
		t := min(max(src-float32(i0), 0), 1)
		c := cubicCoeffs(t)
		for j := range 4 {
			idx[4*o+j] = min(max(i0-1+j, 0), in-1)
			wts[4*o+j] = c[j]
		}
	}
	return idx, wts
}

// InterpolateBicubic resizes x [N, C, H, W] to [N, C, outH, outW] like
// torch.nn.functional.interpolate(mode="bicubic", align_corners=False). scaleH/scaleW > 0 are the
// scale_factor given to torch (source coordinate (dst+0.5)/scale-0.5); otherwise in/out sizes are used.
func InterpolateBicubic(x *Tensor, outH, outW int, scaleH, scaleW float64) *Tensor {
	if len(x.Shape) != 4 || outH <= 0 || outW <= 0 {
		panic(fmt.Sprintf("tensor.InterpolateBicubic: input %v to %dx%d", x.Shape, outH, outW))
	}
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	out := New(n, c, outH, outW)
	if h == 0 || w == 0 {
		return out
	}
	iy, wy := bicubicTaps(h, outH, scaleH)
	ix, wx := bicubicTaps(w, outW, scaleW)
	parallelFor(n*c, 1, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			src := x.Data[p*h*w : (p+1)*h*w]
			dst := out.Data[p*outH*outW : (p+1)*outH*outW]
			for oy := range outH {
				for ox := range outW {
					var acc float32
					for jy := range 4 {
						row := src[iy[4*oy+jy]*w:]
						var t float32
						for jx := range 4 {
							t += float32(row[ix[4*ox+jx]] * wx[4*ox+jx])
						}
						acc += float32(t * wy[4*oy+jy])
					}
					dst[oy*outW+ox] = acc
				}
			}
		}
	})
	return out
}

// Conv2DPatch is a stride = kernel = patch, unpadded convolution (torch nn.Conv2d as a ViT patch
// embedding): x [N, C, H, W], w [D, C, p, p], b [D] or nil -> [N, D, H/p, W/p], computed as a GEMM.
func Conv2DPatch(x *Tensor, w *Weight, b *Weight, patch int) *Tensor {
	if len(x.Shape) != 4 || len(w.Shape) != 4 || patch <= 0 || w.Shape[1] != x.Shape[1] ||
		w.Shape[2] != patch || w.Shape[3] != patch {
		panic(fmt.Sprintf("tensor.Conv2DPatch: input %v, weight %v, patch %d", x.Shape, w.Shape, patch))
	}
	n, c, h, wd := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	d := w.Shape[0]
	hp, wp := h/patch, wd/patch
	k := c * patch * patch
	// im2col: [N*hp*wp, C*p*p] in the weight's (c, ky, kx) order
	cols := New(n*hp*wp, k)
	parallelFor(n*hp, 1, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			img, py := r/hp, r%hp
			for px := range wp {
				dst := cols.Data[((img*hp+py)*wp+px)*k:]
				for ch := range c {
					for ky := range patch {
						srcOff := ((img*c+ch)*h+py*patch+ky)*wd + px*patch
						copy(dst[(ch*patch+ky)*patch:(ch*patch+ky+1)*patch], x.Data[srcOff:srcOff+patch])
					}
				}
			}
		}
	})
	w2 := &Weight{Shape: []int{d, k}, DType: w.DType, F32: w.F32, Half: w.Half}
	y := Linear(cols, w2, b) // [N*hp*wp, D]
	return Permute(y.Reshape(n, hp*wp, d), 0, 2, 1).Reshape(n, d, hp, wp)
}
