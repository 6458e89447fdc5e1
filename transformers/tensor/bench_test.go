package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func benchWeight(r *rand.Rand, dt DType, n, k int) *Weight {
	return weightAs(randT(r, n, k), dt)
}

// BenchmarkLinear covers the GEMM shapes of the BLIP-2 models (rows x in -> out).
func BenchmarkLinear(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range [][3]int{{257, 1408, 6144}, {32, 768, 3072}, {1024, 1024, 1024}, {5, 2560, 2560}, {16, 2560, 2560}} {
		for _, dt := range []DType{F32, BF16} {
			m, k, n := s[0], s[1], s[2]
			x := randT(r, m, k)
			w := benchWeight(r, dt, n, k)
			b.Run(fmt.Sprintf("%dx%dx%d-%s", m, k, n, dt), func(b *testing.B) {
				b.SetBytes(int64(2 * m * n * k)) // "MB/s" reads as MFLOP/s
				for b.Loop() {
					Linear(x, w, nil)
				}
			})
		}
	}
}

// BenchmarkGEMV streams a [10240, 2560] weight for one row (MB/s = weight bytes per second).
func BenchmarkGEMV(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	x := randT(r, 1, 2560)
	for _, dt := range []DType{F32, BF16, F16} {
		w := benchWeight(r, dt, 10240, 2560)
		b.Run(dt.String(), func(b *testing.B) {
			b.SetBytes(w.Bytes())
			for b.Loop() {
				Linear(x, w, nil)
			}
		})
	}
}

// BenchmarkAttentionMatMul is the batched attention products of ViT-g (16 heads of [257, 88]) and of
// the Q-Former (12 heads of [32, 64]).
func BenchmarkAttentionMatMul(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, s := range [][4]int{{16, 257, 88, 257}, {12, 32, 64, 32}, {12, 32, 64, 257}} {
		h, t, d, tk := s[0], s[1], s[2], s[3]
		q := randT(r, h, t, d)
		k := randT(r, h, tk, d)
		p := randT(r, h, t, tk)
		b.Run(fmt.Sprintf("QKt-%dx%dx%dx%d", h, t, d, tk), func(b *testing.B) {
			b.SetBytes(int64(2 * h * t * d * tk))
			for b.Loop() {
				MatMulT(q, k)
			}
		})
		b.Run(fmt.Sprintf("PV-%dx%dx%dx%d", h, t, tk, d), func(b *testing.B) {
			b.SetBytes(int64(2 * h * t * d * tk))
			for b.Loop() {
				MatMul(p, k)
			}
		})
	}
}

func BenchmarkSoftmax(b *testing.B) {
	x := randT(rand.New(rand.NewPCG(4, 4)), 16, 257, 257)
	b.SetBytes(int64(4 * len(x.Data)))
	for b.Loop() {
		SoftmaxInPlace(x)
	}
}

func BenchmarkLayerNorm(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 5))
	x := randT(r, 257, 1408)
	w, bb := WeightFrom(randT(r, 1408)), WeightFrom(randT(r, 1408))
	b.SetBytes(int64(4 * len(x.Data)))
	for b.Loop() {
		LayerNorm(x, w, bb, 1e-6)
	}
}

func BenchmarkGELU(b *testing.B) {
	x := randT(rand.New(rand.NewPCG(6, 6)), 257, 6144)
	b.SetBytes(int64(4 * len(x.Data)))
	for b.Loop() {
		GELUInPlace(x)
	}
}

// BenchmarkAttention is the fused attention of ViT-g (16 heads, 257 tokens, head size 88), the
// Q-Former cross-attention (12 heads, 32 queries over 257 image tokens) and one decode step (32
// heads over a 64-token cache, 5 beams).
func BenchmarkAttention(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, s := range [][5]int{{1, 16, 257, 257, 88}, {1, 12, 32, 257, 64}, {5, 32, 1, 64, 80}} {
		bs, h, tq, tk, dh := s[0], s[1], s[2], s[3], s[4]
		q, k, v := randT(r, bs, h, tq, dh), randT(r, bs, h, tk, dh), randT(r, bs, h, tk, dh)
		b.Run(fmt.Sprintf("%dx%dx%dx%dx%d", bs, h, tq, tk, dh), func(b *testing.B) {
			b.SetBytes(int64(4 * bs * h * tq * tk * dh)) // "MB/s" reads as MFLOP/s
			for b.Loop() {
				Attention(q, k, v, nil, 0.1)
			}
		})
	}
}
