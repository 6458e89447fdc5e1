package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestLinearSmallM covers the row counts of the no-pack NT path (gemvMx < m <= ntMaxRows, k >=
// ntMinK on AVX-512, up to ntMaxRowsF32 rows for float32 weights and up to ntMaxRowsHalf rows for
// half weights with k <= ntMaxKHalf; the
// packed GEMM elsewhere) at odd sizes: m not a multiple of the 4-row tile, n not a multiple of the
// 4 weight rows, k not a multiple of 16/32 and long enough to be cut into K chunks.
func TestLinearSmallM(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	shapes := [][3]int{ // m, k, n
		{9, 300, 5}, {10, 256, 4}, {11, 271, 13}, {12, 31, 6}, {13, 47, 9}, {15, 257, 3}, {16, 511, 3},
		{17, 129, 65}, {31, 1100, 7}, {32, 768, 40}, {33, 2061, 11}, {44, 4113, 6}, {63, 255, 18},
		{64, 400, 1}, {65, 300, 5}, {95, 161, 10}, {96, 3000, 9}, {97, 64, 8}, {100, 50, 7},
		// the half-weight limits: 96 rows, k 2560; float32: 96 rows, any k
		{76, 2048, 9}, {96, 2560, 5}, {96, 2561, 5}, {97, 2560, 5}, {65, 2575, 3}, {93, 1000, 7},
		{76, 5120, 6}, {97, 5121, 4},
	}
	for _, dt := range []DType{F32, BF16, F16} {
		for _, s := range shapes {
			m, k, n := s[0], s[1], s[2]
			x := randT(r, m, k)
			wt := randT(r, n, k)
			w := weightAs(wt, dt)
			b := randT(r, n)
			want := naiveMatMul(x.Data, wt.Data, 1, m, n, k, false, true)
			for _, withBias := range []bool{false, true} {
				var bw *Weight
				wb := want
				if withBias {
					bw = WeightFrom(b)
					wb = make([]float64, len(want))
					for i := range want {
						wb[i] = want[i] + float64(b.Data[i%n])
					}
				}
				name := fmt.Sprintf("Linear %s %dx%dx%d bias=%v", dt, m, k, n, withBias)
				assertClose(t, name, Linear(x, w, bw).Data, wb, 1e-4*math.Sqrt(float64(k+1)))
				// the NT path itself, where it applies
				out := make([]float32, m*n)
				used := ntLinear(out, x.Data, w, bw, m, n, k)
				fits := m <= ntMaxRows || dt == F32 && m <= ntMaxRowsF32 || dt != F32 && m <= ntMaxRowsHalf && k <= ntMaxKHalf
				if want := hasAVX512 && m > gemvMx && fits && k >= ntMinK; used != want {
					t.Fatalf("%s: ntLinear used = %v, want %v", name, used, want)
				}
				if used {
					assertClose(t, name+" (NT)", out, wb, 1e-4*math.Sqrt(float64(k+1)))
				}
			}
		}
	}
}

// TestLinearSmallMNaN checks that the NT path does not read past the columns it owns: a NaN or
// Inf in another weight row or column must not leak into an output.
func TestLinearSmallMNaN(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	m, k, n := 20, 300, 9
	x := randT(r, m, k)
	wt := randT(r, n, k)
	wt.Data[(n-1)*k+k-1] = float32(math.Inf(1))
	for _, dt := range []DType{F32, BF16, F16} {
		w := weightAs(wt.Clone(), dt)
		got := Linear(x, w, nil)
		for i := range m {
			for j := range n - 1 {
				if v := got.Data[i*n+j]; math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("%s: out[%d,%d] = %g", dt, i, j, v)
				}
			}
		}
	}
}
