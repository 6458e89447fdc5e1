package tensor

import (
	"fmt"
	"math"
)

// broadcastShape returns the numpy broadcast of two shapes or panics.
func broadcastShape(op string, a, b []int) []int {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := range n {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			panic(fmt.Sprintf("tensor.%s: shapes %v and %v do not broadcast", op, a, b))
		}
	}
	return out
}

// bstrides returns strides of shape seen as broadcast to out (0 on broadcast axes).
func bstrides(shape, out []int) []int {
	st := make([]int, len(out))
	s := 1
	for i := len(out) - 1; i >= 0; i-- {
		j := len(shape) - len(out) + i
		if j >= 0 && shape[j] != 1 {
			st[i] = s
		}
		if j >= 0 {
			s *= shape[j]
		}
	}
	return st
}

// binary applies f elementwise with numpy broadcasting into dst (shape out).
func binary(dst []float32, out []int, a *Tensor, b *Tensor, f func(d, x, y []float32), fs func(d, x []float32, y float32), fsx func(d []float32, x float32, y []float32)) {
	n := len(dst)
	if n == 0 {
		return
	}
	if len(a.Data) == n && len(b.Data) == n {
		parallelFor(n, 1<<15, func(lo, hi int) { f(dst[lo:hi], a.Data[lo:hi], b.Data[lo:hi]) })
		return
	}
	if len(a.Data) == n && len(b.Data) == 1 {
		parallelFor(n, 1<<15, func(lo, hi int) { fs(dst[lo:hi], a.Data[lo:hi], b.Data[0]) })
		return
	}
	rank := len(out)
	sa, sb := bstrides(a.Shape, out), bstrides(b.Shape, out)
	last := out[rank-1]
	rows := n / last
	la, lb := sa[rank-1], sb[rank-1]
	parallelFor(rows, max(1, 8192/last), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			rem, ia, ib := r, 0, 0
			for ax := rank - 2; ax >= 0; ax-- {
				k := rem % out[ax]
				rem /= out[ax]
				ia += k * sa[ax]
				ib += k * sb[ax]
			}
			d := dst[r*last : (r+1)*last]
			switch {
			case la == 1 && lb == 1:
				f(d, a.Data[ia:ia+last], b.Data[ib:ib+last])
			case la == 1 && lb == 0:
				fs(d, a.Data[ia:ia+last], b.Data[ib])
			case la == 0 && lb == 1:
				fsx(d, a.Data[ia], b.Data[ib:ib+last])
			default:
				// both broadcast along the last axis
				var v [1]float32
				f(v[:], a.Data[ia:ia+1], b.Data[ib:ib+1])
				for j := range d {
					d[j] = v[0]
				}
			}
		}
	})
}

func addVV(d, x, y []float32) {
	y = y[:len(d)]
	x = x[:len(d)]
	for i := range d {
		d[i] = x[i] + y[i]
	}
}
func addVS(d, x []float32, y float32) {
	x = x[:len(d)]
	for i := range d {
		d[i] = x[i] + y
	}
}
func addSV(d []float32, x float32, y []float32) {
	y = y[:len(d)]
	for i := range d {
		d[i] = x + y[i]
	}
}
func mulVV(d, x, y []float32) {
	y = y[:len(d)]
	x = x[:len(d)]
	for i := range d {
		d[i] = x[i] * y[i]
	}
}
func mulVS(d, x []float32, y float32) {
	x = x[:len(d)]
	for i := range d {
		d[i] = x[i] * y
	}
}
func mulSV(d []float32, x float32, y []float32) {
	y = y[:len(d)]
	for i := range d {
		d[i] = x * y[i]
	}
}

// Add returns a + b with numpy broadcasting (torch.add).
func Add(a, b *Tensor) *Tensor {
	out := New(broadcastShape("Add", a.Shape, b.Shape)...)
	binary(out.Data, out.Shape, a, b, addVV, addVS, addSV)
	return out
}

// Mul returns a * b with numpy broadcasting (torch.mul).
func Mul(a, b *Tensor) *Tensor {
	out := New(broadcastShape("Mul", a.Shape, b.Shape)...)
	binary(out.Data, out.Shape, a, b, mulVV, mulVS, mulSV)
	return out
}

func checkInPlace(op string, dst, src *Tensor) {
	s := broadcastShape(op, dst.Shape, src.Shape)
	if len(s) != len(dst.Shape) {
		panic(fmt.Sprintf("tensor.%s: %v does not broadcast to %v", op, src.Shape, dst.Shape))
	}
	for i := range s {
		if s[i] != dst.Shape[i] {
			panic(fmt.Sprintf("tensor.%s: %v does not broadcast to %v", op, src.Shape, dst.Shape))
		}
	}
}

// AddInPlace does dst += src with src broadcast to dst's shape (torch Tensor.add_).
func AddInPlace(dst, src *Tensor) {
	checkInPlace("AddInPlace", dst, src)
	binary(dst.Data, dst.Shape, dst, src, addVV, addVS, addSV)
}

// MulInPlace does dst *= src with src broadcast to dst's shape (torch Tensor.mul_).
func MulInPlace(dst, src *Tensor) {
	checkInPlace("MulInPlace", dst, src)
	binary(dst.Data, dst.Shape, dst, src, mulVV, mulVS, mulSV)
}

// ScaleInPlace multiplies every element by s (torch Tensor.mul_(s)).
func ScaleInPlace(t *Tensor, s float32) {
	parallelFor(len(t.Data), 1<<15, func(lo, hi int) { scaleSlice(t.Data[lo:hi], s) })
}

// unaryInPlace applies f to every element in parallel.
func unaryInPlace(t *Tensor, f func(x []float32)) {
	parallelFor(len(t.Data), 1<<13, func(lo, hi int) { f(t.Data[lo:hi]) })
}

// GELUInPlace applies the exact GELU x/2*(1+erf(x/sqrt 2)) (torch nn.GELU(), ACT2FN["gelu"]) with
// torch's own float32 erf formula (the one its vectorized CPU kernel uses).
func GELUInPlace(t *Tensor) {
	unaryInPlace(t, geluSlice)
}

// GELUTanhInPlace applies the tanh approximation of GELU (ACT2FN["gelu_new"], "gelu_pytorch_tanh").
func GELUTanhInPlace(t *Tensor) {
	unaryInPlace(t, func(x []float32) { sigmoidMul(x, true) })
}

// ReLUInPlace applies max(x, 0) (torch relu_).
func ReLUInPlace(t *Tensor) {
	unaryInPlace(t, func(x []float32) {
		for i, v := range x {
			if !(v > 0) && v == v {
				x[i] = 0
			}
		}
	})
}

// SiLUInPlace applies x*sigmoid(x) (torch silu_).
func SiLUInPlace(t *Tensor) {
	unaryInPlace(t, func(x []float32) { sigmoidMul(x, false) })
}

// TanhInPlace applies tanh (torch tanh_).
func TanhInPlace(t *Tensor) {
	unaryInPlace(t, func(x []float32) {
		for i, v := range x {
			x[i] = float32(math.Tanh(float64(v)))
		}
	})
}

// lastDimRows returns the size of the last axis and the number of rows.
func lastDimRows(t *Tensor) (d, rows int) {
	if len(t.Shape) == 0 {
		return 1, len(t.Data)
	}
	d = t.Shape[len(t.Shape)-1]
	if d == 0 {
		return 0, 0
	}
	return d, len(t.Data) / d
}

// SoftmaxInPlace applies softmax over the last axis, max-subtracted (torch softmax(dim=-1)). A row
// whose entries are all -Inf becomes all zeros (as the attention masks need) instead of NaN.
func SoftmaxInPlace(t *Tensor) {
	d, rows := lastDimRows(t)
	parallelFor(rows, max(1, 4096/max(d, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			softmaxRow(t.Data[r*d : (r+1)*d])
		}
	})
}

func softmaxRow(x []float32) {
	m := rowMax(x)
	if math.IsInf(float64(m), -1) {
		for i := range x {
			x[i] = 0
		}
		return
	}
	s := expSubSum(x, m)
	scaleSlice(x, float32(1/s))
}

// LogSoftmaxInPlace applies log_softmax over the last axis (torch log_softmax(dim=-1)).
func LogSoftmaxInPlace(t *Tensor) {
	d, rows := lastDimRows(t)
	parallelFor(rows, max(1, 4096/max(d, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			x := t.Data[r*d : (r+1)*d]
			l := LogSumExp(x)
			for i := range x {
				x[i] -= l
			}
		}
	})
}

// LogSumExp returns log(sum(exp(row))) computed stably (torch.logsumexp). An empty row or a row of
// all -Inf gives -Inf.
func LogSumExp(row []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range row {
		if v > m {
			m = v
		}
	}
	if math.IsInf(float64(m), 0) {
		return m
	}
	var s float64
	for _, v := range row {
		s += math.Exp(float64(v - m))
	}
	return m + float32(math.Log(s))
}

// ArgMax returns the index of the largest entry, the first one on ties (torch.argmax); NaN counts as
// the largest, as in torch. It returns -1 for an empty row.
func ArgMax(row []float32) int {
	if len(row) == 0 {
		return -1
	}
	best := 0
	for i, v := range row {
		if v != v {
			return i
		}
		if v > row[best] {
			best = i
		}
	}
	return best
}

// LayerNorm normalizes over the last axis: (x-mean)/sqrt(var+eps)*w+b with the biased variance
// (torch.nn.functional.layer_norm). w and b may be nil.
func LayerNorm(x *Tensor, w, b *Weight, eps float32) *Tensor {
	out := New(x.Shape...)
	layerNorm("LayerNorm", out, x, w, b, eps)
	return out
}

// LayerNormInto is LayerNorm writing its output into dst, which must have x's shape (dst may be x
// itself: each row is read before it is written).
func LayerNormInto(dst, x *Tensor, w, b *Weight, eps float32) {
	checkDst("LayerNormInto", dst, x.Shape)
	if len(dst.Data) > 0 && len(x.Data) > 0 && &dst.Data[0] != &x.Data[0] {
		checkNoOverlap("LayerNormInto", dst, x) // x itself is fine, part of it is not
	}
	layerNorm("LayerNormInto", dst, x, w, b, eps)
}

func layerNorm(op string, out, x *Tensor, w, b *Weight, eps float32) {
	d, rows := lastDimRows(x)
	var wf, bf []float32
	if w != nil {
		if w.Numel() != d {
			panic(fmt.Sprintf("tensor.%s: weight shape %v for input %v", op, w.Shape, x.Shape))
		}
		wf = w.Float32().Data
	}
	if b != nil {
		if b.Numel() != d {
			panic(fmt.Sprintf("tensor.%s: bias shape %v for input %v", op, b.Shape, x.Shape))
		}
		bf = b.Float32().Data
	}
	parallelFor(rows, max(1, 4096/max(d, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			src := x.Data[r*d : (r+1)*d]
			dst := out.Data[r*d : (r+1)*d]
			mean := sum64(src) / float64(d)
			rstd := 1 / math.Sqrt(sqDev64(src, mean)/float64(d)+float64(eps))
			for i, v := range src {
				y := float32((float64(v) - mean) * rstd)
				if wf != nil {
					y *= wf[i]
				}
				if bf != nil {
					y += bf[i]
				}
				dst[i] = y
			}
		}
	})
}

// RMSNorm is T5LayerNorm: x * rsqrt(mean(x^2)+eps) * w, without mean subtraction or bias.
func RMSNorm(x *Tensor, w *Weight, eps float32) *Tensor {
	d, rows := lastDimRows(x)
	var wf []float32
	if w != nil {
		if w.Numel() != d {
			panic(fmt.Sprintf("tensor.RMSNorm: weight shape %v for input %v", w.Shape, x.Shape))
		}
		wf = w.Float32().Data
	}
	out := New(x.Shape...)
	parallelFor(rows, max(1, 4096/max(d, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			src := x.Data[r*d : (r+1)*d]
			dst := out.Data[r*d : (r+1)*d]
			rs := float32(1 / math.Sqrt(sqDev64(src, 0)/float64(d)+float64(eps)))
			for i, v := range src {
				y := v * rs
				if wf != nil {
					y = wf[i] * y
				}
				dst[i] = y
			}
		}
	})
	return out
}

// sum64 returns the sum of x in float64 (four independent partial sums).
func sum64(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i])
		s1 += float64(x[i+1])
		s2 += float64(x[i+2])
		s3 += float64(x[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// sqDev64 returns sum((x-mean)^2) in float64 (four independent partial sums).
func sqDev64(x []float32, mean float64) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		e0, e1 := float64(x[i])-mean, float64(x[i+1])-mean
		e2, e3 := float64(x[i+2])-mean, float64(x[i+3])-mean
		s0 += e0 * e0
		s1 += e1 * e1
		s2 += e2 * e2
		s3 += e3 * e3
	}
	for ; i < len(x); i++ {
		e := float64(x[i]) - mean
		s0 += e * e
	}
	return (s0 + s1) + (s2 + s3)
}
