package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

func randWeight(r *rand.Rand, dt tensor.DType, shape ...int) *tensor.Weight {
	n := tensor.Numel(shape)
	w := &tensor.Weight{Shape: shape, DType: dt}
	if dt == tensor.F32 {
		w.F32 = make([]float32, n)
		for i := range w.F32 {
			w.F32[i] = float32(r.NormFloat64())
		}
	} else {
		w.Half = make([]uint16, n)
		for i := range w.Half {
			if dt == tensor.BF16 {
				w.Half[i] = tensor.F32ToBF16(float32(r.NormFloat64()))
			} else {
				w.Half[i] = tensor.F32ToF16(float32(r.NormFloat64()))
			}
		}
	}
	return w
}

func randTensor(r *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(r.NormFloat64())
	}
	return t
}

func TestLinearMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, dt := range []tensor.DType{tensor.F32, tensor.BF16, tensor.F16} {
		const in, out = 37, 19
		sd := weights.NewStateDict(map[string]*tensor.Weight{
			"proj.weight": randWeight(r, dt, out, in),
			"proj.bias":   randWeight(r, dt, out),
		})
		b := weights.NewBinder(sd)
		l := NewLinear(b, "proj", in, out, true)
		require.NoError(t, b.Finish())
		require.Equal(t, in, l.In())
		require.Equal(t, out, l.Out())
		x := randTensor(r, 2, 3, in)
		y := l.Forward(x)
		require.Equal(t, []int{2, 3, out}, y.Shape)
		for row := 0; row < 6; row++ {
			for o := 0; o < out; o++ {
				s := float64(l.Bias.At(o))
				for i := 0; i < in; i++ {
					s += float64(x.Data[row*in+i]) * float64(l.Weight.At(o*in+i))
				}
				require.InDelta(t, s, y.Data[row*out+o], 1e-4*(1+math.Abs(s)), "%v row %d out %d", dt, row, o)
			}
		}
	}
}

func TestLinearNoBiasAndMissing(t *testing.T) {
	b := weights.NewBinder(weights.NewStateDict(map[string]*tensor.Weight{}))
	l := NewLinear(b.Pp("a"), "", 4, 2, false)
	require.Nil(t, l.Bias)
	require.True(t, l.Weight.ShapeOnly())
	err := b.Finish()
	require.ErrorContains(t, err, "missing: a.weight")
}

func TestLayerNormMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const d = 33
	sd := weights.NewStateDict(map[string]*tensor.Weight{
		"ln.weight": randWeight(r, tensor.F32, d),
		"ln.bias":   randWeight(r, tensor.F32, d),
	})
	b := weights.NewBinder(sd)
	ln := NewLayerNorm(b, "ln", d, 1e-5)
	require.NoError(t, b.Finish())
	x := randTensor(r, 4, d)
	y := ln.Forward(x)
	for row := 0; row < 4; row++ {
		xs := x.Data[row*d : (row+1)*d]
		var mean, v float64
		for _, e := range xs {
			mean += float64(e)
		}
		mean /= d
		for _, e := range xs {
			v += (float64(e) - mean) * (float64(e) - mean)
		}
		v /= d
		for i, e := range xs {
			want := (float64(e)-mean)/math.Sqrt(v+1e-5)*float64(ln.Weight.F32[i]) + float64(ln.Bias.F32[i])
			require.InDelta(t, want, y.Data[row*d+i], 1e-5*(1+math.Abs(want)))
		}
	}
}

func TestEmbedding(t *testing.T) {
	w := &tensor.Weight{Shape: []int{3, 2}, DType: tensor.BF16, Half: []uint16{0x3f80, 0x4000, 0x4040, 0x4080, 0x40a0, 0x40c0}}
	b := weights.NewBinder(weights.NewStateDict(map[string]*tensor.Weight{"emb.weight": w}))
	e := NewEmbedding(b, "emb", 3, 2)
	require.NoError(t, b.Finish())
	y := e.Forward([]int{2, 0, 2})
	require.Equal(t, []int{3, 2}, y.Shape)
	require.Equal(t, []float32{5, 6, 1, 2, 5, 6}, y.Data)
	require.Error(t, e.CheckIDs([]int{0, 3}))
	require.Error(t, e.CheckIDs([]int{-1}))
	require.NoError(t, e.CheckIDs([]int{0, 1, 2}))
	require.Panics(t, func() { e.Forward([]int{3}) })
}

// Shape-only trees build without weight memory.
func TestShapeOnlyLayers(t *testing.T) {
	b := weights.NewShapeBinder()
	l := NewLinear(b, "big", 50000, 50000, true)
	require.True(t, l.Weight.ShapeOnly())
	require.Equal(t, int64(50000*50000*4), l.Weight.Bytes())
	require.Len(t, b.Keys(), 2)
}
