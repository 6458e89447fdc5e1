package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

func randT(r *rand.Rand, shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(r.NormFloat64())
	}
	return t
}

func assertClose(t *testing.T, name string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", name, len(got), len(want))
	}
	worst := 0.0
	for i := range got {
		d := math.Abs(float64(got[i]) - want[i])
		if !(d <= tol*(1+math.Abs(want[i]))) {
			t.Fatalf("%s: element %d = %g, want %g (diff %g)", name, i, got[i], want[i], d)
		}
		worst = max(worst, d)
	}
}

func weightAs(w *Tensor, dt DType) *Weight {
	switch dt {
	case F16:
		h := make([]uint16, len(w.Data))
		for i, v := range w.Data {
			h[i] = F32ToF16(v)
			w.Data[i] = F16ToF32(h[i])
		}
		return &Weight{Shape: w.Shape, DType: F16, Half: h}
	case BF16:
		h := make([]uint16, len(w.Data))
		for i, v := range w.Data {
			h[i] = F32ToBF16(v)
			w.Data[i] = BF16ToF32(h[i])
		}
		return &Weight{Shape: w.Shape, DType: BF16, Half: h}
	}
	return WeightFrom(w)
}

func naiveMatMul(a, b []float32, batch, m, n, k int, bBatched, transB bool) []float64 {
	out := make([]float64, batch*m*n)
	for bi := range batch {
		bo := 0
		if bBatched {
			bo = bi * k * n
		}
		for i := range m {
			for j := range n {
				var s float64
				for p := range k {
					var bv float32
					if transB {
						bv = b[bo+j*k+p]
					} else {
						bv = b[bo+p*n+j]
					}
					s += float64(a[(bi*m+i)*k+p]) * float64(bv)
				}
				out[(bi*m+i)*n+j] = s
			}
		}
	}
	return out
}

func TestLinear(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	shapes := [][3]int{{1, 1, 1}, {1, 37, 53}, {2, 19, 7}, {3, 67, 130}, {4, 300, 17}, {5, 33, 260}, {17, 129, 65}, {65, 257, 31}, {130, 70, 300}, {7, 1, 5}, {3, 0, 4}, {13, 40, 37}, {151, 20, 33}, {20, 9, 16}, {6, 70, 9}, {8, 33, 21}, {7, 16, 3}, {3, 8, 2}}
	for _, dt := range []DType{F32, F16, BF16} {
		for _, s := range shapes {
			m, k, n := s[0], s[1], s[2]
			x := randT(r, m, k)
			wt := randT(r, n, k)
			w := weightAs(wt, dt)
			b := randT(r, n)
			for _, withBias := range []bool{false, true} {
				var bw *Weight
				if withBias {
					bw = WeightFrom(b)
				}
				got := Linear(x, w, bw)
				want := naiveMatMul(x.Data, wt.Data, 1, m, n, k, false, true)
				if withBias {
					for i := range want {
						want[i] += float64(b.Data[i%n])
					}
				}
				if got.Shape[0] != m || got.Shape[1] != n {
					t.Fatalf("shape %v", got.Shape)
				}
				assertClose(t, "Linear "+dt.String(), got.Data, want, 1e-4*math.Sqrt(float64(k+1)))
			}
		}
	}
	// extra leading dims
	x := randT(r, 2, 3, 11)
	wt := randT(r, 5, 11)
	got := Linear(x, WeightFrom(wt), nil)
	if len(got.Shape) != 3 || got.Shape[2] != 5 {
		t.Fatalf("Linear shape %v", got.Shape)
	}
	assertClose(t, "Linear 3d", got.Data, naiveMatMul(x.Data, wt.Data, 1, 6, 5, 11, false, true), 1e-4)
}

func TestMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cases := []struct{ batch, m, k, n int }{{1, 1, 1, 1}, {1, 5, 7, 3}, {3, 17, 64, 17}, {2, 33, 9, 65}, {6, 1, 64, 40}, {2, 130, 70, 129}, {4, 32, 64, 32}}
	for _, c := range cases {
		for _, bb := range []bool{true, false} {
			for _, tr := range []bool{false, true} {
				a := randT(r, c.batch, c.m, c.k)
				var b *Tensor
				bs := []int{c.k, c.n}
				if tr {
					bs = []int{c.n, c.k}
				}
				if bb {
					b = randT(r, append([]int{c.batch}, bs...)...)
				} else {
					b = randT(r, bs...)
				}
				var got *Tensor
				if tr {
					got = MatMulT(a, b)
				} else {
					got = MatMul(a, b)
				}
				want := naiveMatMul(a.Data, b.Data, c.batch, c.m, c.n, c.k, bb, tr)
				assertClose(t, "MatMul", got.Data, want, 1e-4*math.Sqrt(float64(c.k)))
				if got.Shape[0] != c.batch || got.Shape[1] != c.m || got.Shape[2] != c.n {
					t.Fatalf("shape %v", got.Shape)
				}
			}
		}
	}
	// 4-D batch
	a := randT(r, 2, 3, 5, 8)
	b := randT(r, 2, 3, 7, 8)
	got := MatMulT(a, b)
	assertClose(t, "MatMulT 4d", got.Data, naiveMatMul(a.Data, b.Data, 6, 5, 7, 8, true, true), 1e-4)
}

func TestBroadcast(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	pairs := [][2][]int{
		{{3, 4, 5}, {3, 4, 5}}, {{3, 4, 5}, {5}}, {{3, 4, 5}, {4, 1}}, {{3, 1, 5}, {1, 4, 1}},
		{{2, 3, 4, 5}, {1}}, {{1}, {2, 3}}, {{2, 1, 1, 7}, {2, 1, 3, 7}}, {{4, 1}, {1, 1}}, {{2, 3}, {2, 1}},
	}
	for _, p := range pairs {
		a, b := randT(r, p[0]...), randT(r, p[1]...)
		out := broadcastShape("t", p[0], p[1])
		n := Numel(out)
		sa, sb := bstrides(p[0], out), bstrides(p[1], out)
		wantAdd := make([]float64, n)
		wantMul := make([]float64, n)
		for i := range n {
			rem, ia, ib := i, 0, 0
			for ax := len(out) - 1; ax >= 0; ax-- {
				k := rem % out[ax]
				rem /= out[ax]
				ia += k * sa[ax]
				ib += k * sb[ax]
			}
			wantAdd[i] = float64(a.Data[ia]) + float64(b.Data[ib])
			wantMul[i] = float64(a.Data[ia]) * float64(b.Data[ib])
		}
		assertClose(t, "Add", Add(a, b).Data, wantAdd, 1e-6)
		assertClose(t, "Mul", Mul(a, b).Data, wantMul, 1e-6)
		if Numel(p[0]) == n && len(out) == len(p[0]) {
			c := a.Clone()
			AddInPlace(c, b)
			assertClose(t, "AddInPlace", c.Data, wantAdd, 1e-6)
			c = a.Clone()
			MulInPlace(c, b)
			assertClose(t, "MulInPlace", c.Data, wantMul, 1e-6)
		}
	}
	a := randT(r, 3, 7)
	c := a.Clone()
	ScaleInPlace(c, 0.5)
	for i := range a.Data {
		if c.Data[i] != a.Data[i]*0.5 {
			t.Fatal("ScaleInPlace")
		}
	}
}

func TestActivations(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	x := randT(r, 3, 1001)
	for i := range x.Data {
		x.Data[i] *= 4
	}
	x.Data[0], x.Data[1], x.Data[2] = 0, -30, 30
	type fn struct {
		name string
		f    func(*Tensor)
		ref  func(float64) float64
	}
	fns := []fn{
		{"GELU", GELUInPlace, func(v float64) float64 { return v * 0.5 * (1 + math.Erf(v/math.Sqrt2)) }},
		{"GELUTanh", GELUTanhInPlace, func(v float64) float64 {
			return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
		}},
		{"ReLU", ReLUInPlace, func(v float64) float64 { return max(v, 0) }},
		{"SiLU", SiLUInPlace, func(v float64) float64 { return v / (1 + math.Exp(-v)) }},
		{"Tanh", TanhInPlace, math.Tanh},
	}
	for _, f := range fns {
		c := x.Clone()
		f.f(c)
		want := make([]float64, len(x.Data))
		for i, v := range x.Data {
			want[i] = f.ref(float64(v))
		}
		assertClose(t, f.name, c.Data, want, 2e-6)
	}
}

func TestSoftmax(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	x := randT(r, 4, 3, 37)
	for i := range x.Data {
		x.Data[i] *= 10
	}
	ninf := float32(math.Inf(-1))
	for j := range 37 {
		x.Data[j] = ninf // first row all -Inf
	}
	x.Data[40] = ninf
	want := make([]float64, len(x.Data))
	wantLog := make([]float64, len(x.Data))
	for row := range 12 {
		v := x.Data[row*37 : (row+1)*37]
		m := math.Inf(-1)
		for _, e := range v {
			m = max(m, float64(e))
		}
		var s float64
		for _, e := range v {
			s += math.Exp(float64(e) - m)
		}
		for j, e := range v {
			if math.IsInf(m, -1) {
				want[row*37+j] = 0
				continue
			}
			want[row*37+j] = math.Exp(float64(e)-m) / s
			wantLog[row*37+j] = float64(e) - m - math.Log(s)
		}
	}
	c := x.Clone()
	SoftmaxInPlace(c)
	assertClose(t, "Softmax", c.Data, want, 1e-6)
	c = x.Clone()
	LogSoftmaxInPlace(c)
	for i := range c.Data[37:] {
		i += 37
		if math.IsInf(wantLog[i], 0) || math.IsInf(float64(x.Data[i]), -1) {
			if !math.IsInf(float64(c.Data[i]), -1) {
				t.Fatalf("LogSoftmax %d = %g, want -Inf", i, c.Data[i])
			}
			continue
		}
		if d := math.Abs(float64(c.Data[i]) - wantLog[i]); d > 1e-5*(1+math.Abs(wantLog[i])) {
			t.Fatalf("LogSoftmax %d = %g, want %g", i, c.Data[i], wantLog[i])
		}
	}
	if ArgMax([]float32{1, 3, 3, 2}) != 1 || ArgMax(nil) != -1 {
		t.Fatal("ArgMax")
	}
	if l := LogSumExp([]float32{0, 0}); math.Abs(float64(l)-math.Ln2) > 1e-6 {
		t.Fatalf("LogSumExp %g", l)
	}
}

func TestNorms(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	x := randT(r, 5, 77)
	for i := range x.Data {
		x.Data[i] = x.Data[i]*3 + 2
	}
	w, b := randT(r, 77), randT(r, 77)
	const eps = 1e-5
	want := make([]float64, len(x.Data))
	wantNoAff := make([]float64, len(x.Data))
	wantRMS := make([]float64, len(x.Data))
	for row := range 5 {
		v := x.Data[row*77 : (row+1)*77]
		var s, q, q2 float64
		for _, e := range v {
			s += float64(e)
			q2 += float64(e) * float64(e)
		}
		mean := s / 77
		for _, e := range v {
			q += (float64(e) - mean) * (float64(e) - mean)
		}
		rstd := 1 / math.Sqrt(q/77+eps)
		rms := 1 / math.Sqrt(q2/77+eps)
		for j, e := range v {
			n := (float64(e) - mean) * rstd
			wantNoAff[row*77+j] = n
			want[row*77+j] = n*float64(w.Data[j]) + float64(b.Data[j])
			wantRMS[row*77+j] = float64(e) * rms * float64(w.Data[j])
		}
	}
	assertClose(t, "LayerNorm", LayerNorm(x, WeightFrom(w), WeightFrom(b), eps).Data, want, 1e-5)
	assertClose(t, "LayerNorm nil", LayerNorm(x, nil, nil, eps).Data, wantNoAff, 1e-5)
	bw := weightAs(w.Clone(), BF16)
	got := RMSNorm(x, bw, eps)
	for row := range 5 {
		for j := range 77 {
			wantRMS[row*77+j] *= float64(bw.At(j)) / float64(w.Data[j])
		}
	}
	assertClose(t, "RMSNorm", got.Data, wantRMS, 1e-5)
}

func TestShapeOps(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	x := randT(r, 2, 3, 4, 5)
	at := func(t *Tensor, idx ...int) float32 {
		o := 0
		for i, v := range idx {
			o = o*t.Shape[i] + v
		}
		return t.Data[o]
	}
	p := Permute(x, 2, 0, 3, 1)
	if p.Shape[0] != 4 || p.Shape[1] != 2 || p.Shape[2] != 5 || p.Shape[3] != 3 {
		t.Fatalf("Permute shape %v", p.Shape)
	}
	tr := Transpose(x, 1, -1)
	for a := range 2 {
		for b := range 3 {
			for c := range 4 {
				for d := range 5 {
					v := at(x, a, b, c, d)
					if at(p, c, a, d, b) != v || at(tr, a, d, c, b) != v {
						t.Fatal("Permute/Transpose value")
					}
				}
			}
		}
	}
	s := Slice(x, 2, 1, 3)
	is := IndexSelect(x, 1, []int{2, 0, 2})
	y := randT(r, 2, 3, 2, 5)
	cc := Concat(2, x, y)
	for a := range 2 {
		for b := range 3 {
			for d := range 5 {
				for c := range 2 {
					if at(s, a, b, c, d) != at(x, a, b, c+1, d) {
						t.Fatal("Slice")
					}
					if at(cc, a, b, c+4, d) != at(y, a, b, c, d) {
						t.Fatal("Concat")
					}
				}
				for c := range 4 {
					if at(cc, a, b, c, d) != at(x, a, b, c, d) {
						t.Fatal("Concat")
					}
				}
			}
		}
		for c := range 4 {
			for d := range 5 {
				if at(is, a, 0, c, d) != at(x, a, 2, c, d) || at(is, a, 1, c, d) != at(x, a, 0, c, d) || at(is, a, 2, c, d) != at(x, a, 2, c, d) {
					t.Fatal("IndexSelect")
				}
			}
		}
	}
	w := randT(r, 10, 6)
	bw := weightAs(w, BF16)
	e := Embedding(bw, []int{3, 0, 9, 3})
	for i, id := range []int{3, 0, 9, 3} {
		for j := range 6 {
			if e.Data[i*6+j] != w.Data[id*6+j] {
				t.Fatal("Embedding")
			}
		}
	}
}

func TestConv2DPatch(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	n, c, h, wd, p, d := 2, 3, 12, 8, 4, 5
	x := randT(r, n, c, h, wd)
	w := randT(r, d, c, p, p)
	b := randT(r, d)
	got := Conv2DPatch(x, WeightFrom(w), WeightFrom(b), p)
	hp, wp := h/p, wd/p
	want := make([]float64, n*d*hp*wp)
	for img := range n {
		for o := range d {
			for py := range hp {
				for px := range wp {
					s := float64(b.Data[o])
					for ch := range c {
						for ky := range p {
							for kx := range p {
								s += float64(x.Data[((img*c+ch)*h+py*p+ky)*wd+px*p+kx]) * float64(w.Data[((o*c+ch)*p+ky)*p+kx])
							}
						}
					}
					want[((img*d+o)*hp+py)*wp+px] = s
				}
			}
		}
	}
	assertClose(t, "Conv2DPatch", got.Data, want, 1e-5)
}

func TestInterpolateBicubic(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	x := randT(r, 1, 2, 5, 6)
	// identity size keeps values
	same := InterpolateBicubic(x, 5, 6, 0, 0)
	assertClose(t, "bicubic identity", same.Data, f64(x.Data), 1e-6)
	// naive float64 reference of torch's algorithm
	outH, outW := 9, 4
	got := InterpolateBicubic(x, outH, outW, 0, 0)
	cub := func(tt float64) [4]float64 {
		a := -0.75
		c1 := func(v float64) float64 { return ((a+2)*v-(a+3))*v*v + 1 }
		c2 := func(v float64) float64 { return ((a*v-5*a)*v+8*a)*v - 4*a }
		return [4]float64{c2(tt + 1), c1(tt), c1(1 - tt), c2(2 - tt)}
	}
	want := make([]float64, 2*outH*outW)
	for ch := range 2 {
		for oy := range outH {
			sy := 5.0/float64(outH)*(float64(oy)+0.5) - 0.5
			fy := math.Floor(sy)
			cy := cub(sy - fy)
			for ox := range outW {
				sx := 6.0/float64(outW)*(float64(ox)+0.5) - 0.5
				fx := math.Floor(sx)
				cx := cub(sx - fx)
				var s float64
				for jy := range 4 {
					yy := min(max(int(fy)-1+jy, 0), 4)
					for jx := range 4 {
						xx := min(max(int(fx)-1+jx, 0), 5)
						s += cy[jy] * cx[jx] * float64(x.Data[(ch*5+yy)*6+xx])
					}
				}
				want[(ch*outH+oy)*outW+ox] = s
			}
		}
	}
	assertClose(t, "bicubic", got.Data, want, 1e-5)
}

func f64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// TestGEMMBlocking crosses every blocking boundary (K > kcBlk, N > ncBlk, M > mcBlk) and both
// parallel split directions.
func TestGEMMBlocking(t *testing.T) {
	// at least two workers, so that the parallel paths (shared A, with the bias written inside the
	// region; guided column chunks when A has several blocks) run on any machine
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0))))
	r := rand.New(rand.NewPCG(19, 20))
	for _, s := range [][3]int{{150, 600, 2100}, {700, 300, 20}, {9, 2600, 40}, {700, 300, 2100}, {333, 70, 4100}} {
		m, k, n := s[0], s[1], s[2]
		x := randT(r, m, k)
		wt := randT(r, n, k)
		bias := randT(r, n)
		for _, dt := range []DType{F32, BF16} {
			w := weightAs(wt, dt)
			want := naiveMatMul(x.Data, wt.Data, 1, m, n, k, false, true)
			got := Linear(x, w, nil)
			assertClose(t, "Linear big", got.Data, want, 1e-4*math.Sqrt(float64(k)))
			bw := weightAs(bias, dt) // a bias in the weight's dtype, widened as it is written
			for i := range want {
				want[i] += float64(bw.At(i % n))
			}
			got = Linear(x, w, bw)
			assertClose(t, fmt.Sprintf("Linear big %s + bias m=%d k=%d n=%d", dt, m, k, n), got.Data, want, 1e-4*math.Sqrt(float64(k)))
		}
		b := randT(r, k, n)
		got := MatMul(x, b)
		assertClose(t, "MatMul big", got.Data, naiveMatMul(x.Data, b.Data, 1, m, n, k, false, false), 1e-4*math.Sqrt(float64(k)))
	}
	t.Logf("AVX2 kernels: %v, AVX-512 GEMM kernels: %v", hasAVX2, hasAVX512)
}

func TestAttention(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, c := range []struct {
		b, h, tq, tk, dh int
		mask             []int
	}{
		{1, 1, 1, 1, 8, nil}, {2, 3, 5, 7, 16, []int{2, 1, 1, 7}}, {1, 2, 70, 33, 64, []int{70, 33}},
		{2, 2, 130, 130, 24, []int{2, 2, 130, 130}}, {1, 1, 3, 4, 5, []int{1}},
	} {
		q, k, v := randT(r, c.b, c.h, c.tq, c.dh), randT(r, c.b, c.h, c.tk, c.dh), randT(r, c.b, c.h, c.tk, c.dh)
		var mask *Tensor
		if c.mask != nil {
			mask = randT(r, c.mask...)
			mask.Data[0] = float32(math.Inf(-1))
		}
		const scale = 0.125
		// reference through the separate kernels, in float64 for the products
		full := []int{c.b, c.h, c.tq, c.tk}
		sc := naiveMatMul(q.Data, k.Data, c.b*c.h, c.tq, c.tk, c.dh, true, true)
		st := New(full...)
		for i := range sc {
			st.Data[i] = float32(sc[i] * scale)
		}
		if mask != nil {
			AddInPlace(st, mask)
		}
		SoftmaxInPlace(st)
		want := naiveMatMul(st.Data, v.Data, c.b*c.h, c.tq, c.dh, c.tk, true, false)
		got := Attention(q, k, v, mask, scale)
		assertClose(t, "Attention", got.Data, want, 1e-5)
	}
}

func TestExpErf32(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	worst := 0.0
	for i := range 200000 {
		x := float32(r.Float64()*200 - 100)
		if i < 1000 {
			x = float32(r.NormFloat64())
		}
		want := math.Exp(float64(x))
		got := float64(exp32(x))
		if want > math.MaxFloat32 {
			if !math.IsInf(got, 1) {
				t.Fatalf("exp32(%g) = %g, want +Inf", x, got)
			}
			continue
		}
		if want < 1e-37 { // float32 subnormal range: absolute check
			if math.Abs(got-want) > 1e-44 {
				t.Fatalf("exp32(%g) = %g, want %g", x, got, want)
			}
			continue
		}
		rel := math.Abs(got-want) / want
		worst = max(worst, rel)
		if rel > 1.2e-7 {
			t.Fatalf("exp32(%g) = %g, want %g (rel %g)", x, got, want, rel)
		}
	}
	if exp32(float32(math.Inf(-1))) != 0 || !math.IsInf(float64(exp32(100)), 1) || exp32(0) != 1 {
		t.Fatal("exp32 specials")
	}
	for range 100000 {
		x := float32(r.NormFloat64() * 3)
		if d := math.Abs(float64(erf32(x)) - math.Erf(float64(x))); d > 6e-7 { // the formula (1.5e-7) plus float32 rounding near 1
			t.Fatalf("erf32(%g) = %g, want %g", x, erf32(x), math.Erf(float64(x)))
		}
	}
}

func TestExpSubSumGELUVector(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	x := make([]float32, 1003)
	for i := range x {
		x[i] = float32(r.Float64()*170 - 85)
	}
	x[5] = float32(math.Inf(-1))
	nan := append([]float32(nil), x[:16]...)
	nan[3] = float32(math.NaN())
	expSubSum(nan, 0)
	if !math.IsNaN(float64(nan[3])) || math.IsNaN(float64(nan[2])) {
		t.Fatalf("expSubSum NaN handling: %v", nan)
	}
	orig := append([]float32(nil), x...)
	const m = 1.5
	s := expSubSum(x, m)
	var want float64
	for i, v := range orig {
		e := math.Exp(float64(v - m)) // the subtraction in float32, as the kernel (and torch) does
		want += float64(float32(e))
		if d := math.Abs(float64(x[i]) - e); d > 2.5e-7*e+1e-38 {
			t.Fatalf("expSubSum[%d] (x=%g) = %g, want %g", i, v, x[i], e)
		}
	}
	if math.Abs(s-want) > 1e-6*want {
		t.Fatalf("expSubSum sum %g, want %g", s, want)
	}
	for i := range x {
		x[i] = float32(r.NormFloat64() * 5)
	}
	orig = append(orig[:0], x...)
	geluSlice(x)
	for i, v := range orig {
		f := float64(v)
		want := 0.5 * f * (1 + math.Erf(f/math.Sqrt2))
		if d := math.Abs(float64(x[i]) - want); d > 5e-7*(1+math.Abs(want)) {
			t.Fatalf("gelu(%g) = %g, want %g", v, x[i], want)
		}
	}
}

// TestAttentionMaskedRow: a query row whose mask is all -Inf attends to nothing (zeros), in both
// the GEMM path and the decode (GEMV) path.
func TestAttentionMaskedRow(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	for _, tq := range []int{1, 20} {
		q, k, v := randT(r, 1, 2, tq, 16), randT(r, 1, 2, 9, 16), randT(r, 1, 2, 9, 16)
		mask := New(1, 1, tq, 9)
		for j := range 9 {
			mask.Data[j] = float32(math.Inf(-1)) // query row 0 sees nothing
		}
		got := Attention(q, k, v, mask, 0.25)
		for h := range 2 {
			for d := range 16 {
				if v := got.Data[(h*tq)*16+d]; v != 0 {
					t.Fatalf("tq=%d head %d: masked row gives %g, want 0", tq, h, v)
				}
			}
		}
		if tq > 1 && got.Data[16] == 0 && got.Data[17] == 0 {
			t.Fatalf("tq=%d: unmasked row is zero", tq)
		}
	}
}

// TestGEMV covers the GEMV path (1..8 rows) at sizes around the kernels' steps (k not a multiple
// of 8/16/32, n not a multiple of 8 or of a single-row block of 8*step rows, n large enough for
// step 16), f32/f16/bf16 weights, no bias, a float32 bias and a bf16 bias, against float64.
func TestGEMV(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	ks := []int{1, 7, 16, 33, 40, 64, 96, 200}
	ns := []int{1, 7, 9, 130, 515, 1031, 2053}
	for _, dt := range []DType{F32, F16, BF16} {
		for _, k := range ks {
			for _, n := range ns {
				if n > 600 && k > 64 && k != 96 {
					continue
				}
				wt := randT(r, n, k)
				w := weightAs(wt, dt)
				bt := randT(r, n)
				bbf := weightAs(bt.Clone(), BF16)
				for _, m := range []int{1, 2, 3, 5, 8} {
					if n > 600 && m > 2 && m != 5 {
						continue
					}
					x := randT(r, m, k)
					want := naiveMatMul(x.Data, wt.Data, 1, m, n, k, false, true)
					for bi, b := range []*Weight{nil, WeightFrom(bt), bbf} {
						got := Linear(x, w, b)
						wb := slices.Clone(want)
						if b != nil {
							for i := range wb {
								wb[i] += float64(b.At(i % n))
							}
						}
						name := fmt.Sprintf("GEMV %s m=%d n=%d k=%d bias=%d", dt, m, n, k, bi)
						assertClose(t, name, got.Data, wb, 1e-5*math.Sqrt(float64(k+1)))
					}
				}
			}
		}
	}
}

// TestBF16Dot checks the opt-in VDPBF16PS path (Weight.ApproxBF16Dot): one row, bf16 weights,
// against a float64 reference computed with the input rounded to bf16; k not a multiple of 32 keeps
// the exact path.
func TestBF16Dot(t *testing.T) {
	if !BF16DotAvailable() {
		t.Skip("no AVX512_BF16 in this CPU or build")
	}
	r := rand.New(rand.NewPCG(13, 14))
	for _, k := range []int{32, 64, 96, 40, 2560} {
		for _, n := range []int{1, 7, 130, 1031} {
			x := randT(r, 1, k)
			wt := randT(r, n, k)
			w := weightAs(wt, BF16)
			w.ApproxBF16Dot = true
			xr := x.Clone()
			if k%32 == 0 {
				for i, v := range xr.Data {
					xr.Data[i] = BF16ToF32(F32ToBF16(v))
				}
			}
			bt := randT(r, n)
			for bi, b := range []*Weight{nil, weightAs(bt.Clone(), BF16)} {
				got := Linear(x, w, b)
				want := naiveMatMul(xr.Data, wt.Data, 1, 1, n, k, false, true)
				if b != nil {
					for j := range want {
						want[j] += float64(b.At(j))
					}
				}
				assertClose(t, fmt.Sprintf("BF16Dot n=%d k=%d bias=%d", n, k, bi), got.Data, want, 1e-5*math.Sqrt(float64(k+1)))
			}
		}
	}
	// on means the rounded input: the result differs from the exact path's, which a copy of the
	// same weight without the flag still takes
	x := randT(r, 1, 64)
	wt := randT(r, 16, 64)
	w := weightAs(wt, BF16) // rounds wt to the stored values
	exact := *w
	w.ApproxBF16Dot = true
	on := Linear(x, w, nil)
	off := Linear(x, &exact, nil)
	if slices.Equal(on.Data, off.Data) {
		t.Fatalf("ApproxBF16Dot gave the exact path's results")
	}
	// the flag is per weight: the exact copy matches the exact kernel's reference
	want := naiveMatMul(x.Data, wt.Data, 1, 1, 16, 64, false, true)
	assertClose(t, "exact copy", off.Data, want, 1e-6*math.Sqrt(65))
}
