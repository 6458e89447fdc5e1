package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// misaligned returns a copy of w whose storage starts off elements past an aligned allocation
// (as a tensor viewed in a safetensors file may).
func misaligned(w *Weight, off int) *Weight {
	c := &Weight{Shape: w.Shape, DType: w.DType}
	if w.DType == F32 {
		c.F32 = make([]float32, len(w.F32)+16)[off:][:len(w.F32)]
		copy(c.F32, w.F32)
		return c
	}
	c.Half = make([]uint16, len(w.Half)+16)[off:][:len(w.Half)]
	copy(c.Half, w.Half)
	return c
}

// TestGEMMUnalignedWeights runs Linear over weights at every misalignment (the K blocks then start
// shifted, and the packing packs the columns before the first aligned one itself), with K across
// several blocks, M in one A block and in several, N with an edge panel, K with odd tails.
func TestGEMMUnalignedWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, s := range [][3]int{{257, 600, 100}, {400, 520, 70}, {20, 264, 48}, {30, 13, 40}, {12, 8, 33}} {
		m, k, n := s[0], s[1], s[2]
		x := randT(r, m, k)
		for _, dt := range []DType{F32, BF16, F16} {
			wt := randT(r, n, k)
			w := weightAs(wt, dt)
			want := naiveMatMul(x.Data, wt.Data, 1, m, n, k, false, true)
			for off := range 9 {
				got := Linear(x, misaligned(w, off), nil)
				assertClose(t, "Linear unaligned "+dt.String(), got.Data, want, 1e-4*math.Sqrt(float64(k)))
			}
		}
	}
	// the cut of K: blocks cover [0, k) in order, the first shortened to an aligned end
	for _, k := range []int{1, 7, 248, 249, 256, 257, 600, 6144} {
		for sh := range 8 {
			first := kcBlk
			if sh > 0 {
				first = kcBlk - 8 + sh
			}
			ks, pc := kSplit{first, k}, 0
			for i := range ks.count() {
				p, kc := ks.block(i)
				if p != pc || kc <= 0 || kc > kcBlk || (i > 0 && (p-sh)%8 != 0) {
					t.Fatalf("k %d shift %d: block %d = [%d, +%d), want start %d", k, sh, i, p, kc, pc)
				}
				pc += kc
			}
			if pc != k {
				t.Fatalf("k %d shift %d: blocks end at %d", k, sh, pc)
			}
		}
	}
}
