package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/stretchr/testify/require"
)

func randT(r *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(r.NormFloat64())
	}
	return t
}

// naiveAttention is softmax(q·kᵀ + bias, masked keys dropped)·v in float64; q, k, v in projection
// layout [B, T, H*dh].
func naiveAttention(q, k, v *tensor.Tensor, h int, masked []bool, bias []float32) []float64 {
	b, tq, hd := q.Shape[0], q.Shape[1], q.Shape[2]
	tk, dh := k.Shape[1], hd/h
	out := make([]float64, b*tq*hd)
	for bi := 0; bi < b; bi++ {
		for hi := 0; hi < h; hi++ {
			for i := 0; i < tq; i++ {
				s := make([]float64, tk)
				mx, live := math.Inf(-1), 0
				for j := 0; j < tk; j++ {
					if masked != nil && masked[(bi*tq+i)*tk+j] {
						s[j] = math.Inf(-1)
						continue
					}
					for d := 0; d < dh; d++ {
						s[j] += float64(q.Data[(bi*tq+i)*hd+hi*dh+d]) * float64(k.Data[(bi*tk+j)*hd+hi*dh+d])
					}
					if bias != nil {
						s[j] += float64(bias[(hi*tq+i)*tk+j])
					}
					mx = math.Max(mx, s[j])
					live++
				}
				sum := 0.0
				for j := range s {
					if live == 0 {
						s[j] = 1
					} else {
						s[j] = math.Exp(s[j] - mx)
					}
					sum += s[j]
				}
				for j := 0; j < tk; j++ {
					for d := 0; d < dh; d++ {
						out[(bi*tq+i)*hd+hi*dh+d] += s[j] / sum * float64(v.Data[(bi*tk+j)*hd+hi*dh+d])
					}
				}
			}
		}
	}
	return out
}

func TestCachedAttentionMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const b, h, dh, tk = 2, 3, 5, 7
	k, v := randT(r, b, tk, h*dh), randT(r, b, tk, h*dh)
	for _, tq := range []int{1, 4} { // the one-query loop and the fused kernel
		q := randT(r, b, tq, h*dh)
		masked := make([]bool, b*tq*tk)
		for i := range masked {
			masked[i] = r.IntN(4) == 0
		}
		for j := 0; j < tk; j++ { // one query with every key masked: uniform weights
			masked[j] = true
		}
		bias := make([]float32, h*tq*tk)
		for i := range bias {
			bias[i] = float32(r.NormFloat64())
		}
		// Keys appended in two parts, after a buffer smaller than needed (growth).
		kv := NewKVBuffer(b, h, dh, 2)
		kv.Append(tensor.Slice(k, 1, 0, 3), tensor.Slice(v, 1, 0, 3))
		kv.Append(tensor.Slice(k, 1, 3, tk), tensor.Slice(v, 1, 3, tk))
		require.Equal(t, tk, kv.Len())
		for _, bb := range [][]float32{nil, bias} {
			got := CachedAttention(q, kv, masked, bb)
			want := naiveAttention(q, k, v, h, masked, bb)
			require.Equal(t, []int{b, tq, h * dh}, got.Shape)
			for i := range want {
				require.InDelta(t, want[i], got.Data[i], 1e-5, "tq=%d i=%d", tq, i)
			}
		}
	}
}

func TestKVBufferReorder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const h, dh, tk = 2, 3, 4
	k, v := randT(r, 2, tk, h*dh), randT(r, 2, tk, h*dh)
	kv := NewKVBuffer(2, h, dh, tk)
	kv.Append(k, v)
	kv.Reorder([]int{1, 1, 0})
	q := randT(r, 3, 1, h*dh)
	got := CachedAttention(q, kv, nil, nil)
	rows := []int{1, 1, 0}
	k3, v3 := tensor.IndexSelect(k, 0, rows), tensor.IndexSelect(v, 0, rows)
	want := naiveAttention(q, k3, v3, h, nil, nil)
	for i := range want {
		require.InDelta(t, want[i], got.Data[i], 1e-5)
	}
}

func TestCrossEntropyIgnoresMinus100(t *testing.T) {
	logits := []float32{0, 0, 0, 1, 2, 3}
	// Row 0: uniform over 3 -> log 3; row 1 label 2: logsumexp(1,2,3) - 3.
	want := (math.Log(3) + (math.Log(math.Exp(1)+math.Exp(2)+math.Exp(3)) - 3)) / 2
	require.InDelta(t, want, float64(CrossEntropy(logits, 3, []int{0, 2})), 1e-6)
	require.InDelta(t, math.Log(3), float64(CrossEntropy(logits, 3, []int{1, -100})), 1e-6)
	require.True(t, math.IsNaN(float64(CrossEntropy(logits, 3, []int{-100, -100}))))
}
