package blip2

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

const parityFixtures = "../../parity/testdata"

// tinyVisionConfig is the vision_config of parity/testdata/blip2-opt (config.json diff over defaults).
func tinyVisionConfig() *Blip2VisionConfig {
	c := NewBlip2VisionConfig()
	c.HiddenSize, c.ImageSize, c.IntermediateSize, c.NumAttentionHeads, c.NumHiddenLayers = 32, 56, 64, 2, 2
	return c
}

// openExpected opens a fixture folder's expected.safetensors.
func openExpected(t *testing.T, dir string) *weights.Safetensors {
	t.Helper()
	st, err := weights.OpenSafetensors(filepath.Join(parityFixtures, dir, "cases", "expected.safetensors"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

func expected(t *testing.T, st *weights.Safetensors, name string) *tensor.Tensor {
	t.Helper()
	x, err := st.Float32(name)
	require.NoError(t, err, name)
	return x
}

// requireClose asserts |got - want| <= 1e-4 * max(1, max|want|) element-wise (FORMAT.md's atol).
func requireClose(t *testing.T, name string, want, got *tensor.Tensor) {
	t.Helper()
	require.Equal(t, want.Shape, got.Shape, name)
	maxAbs := 1.0
	for _, v := range want.Data {
		maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
	}
	atol := 1e-4 * maxAbs
	worst := 0.0
	for i := range want.Data {
		worst = math.Max(worst, math.Abs(float64(want.Data[i]-got.Data[i])))
	}
	require.LessOrEqual(t, worst, atol, "%s: max |diff| %g > atol %g", name, worst, atol)
}

func TestVisionModelMatchesFixture(t *testing.T) {
	sd, err := weights.LoadStateDict(filepath.Join(parityFixtures, "blip2-opt"))
	require.NoError(t, err)
	defer sd.Close()
	b := weights.NewBinder(sd)
	m, err := NewBlip2VisionModel(tinyVisionConfig(), b.Pp("vision_model"))
	require.NoError(t, err)
	st := openExpected(t, "blip2-opt")
	ctx := context.Background()

	out, err := m.Forward(ctx, expected(t, st, "vision_model/batch2/in/pixel_values"), VisionOptions{OutputHiddenStates: true})
	require.NoError(t, err)
	requireClose(t, "last_hidden_state", expected(t, st, "vision_model/batch2/last_hidden_state"), out.LastHiddenState)
	requireClose(t, "pooler_output", expected(t, st, "vision_model/batch2/pooler_output"), out.PoolerOutput)
	require.Len(t, out.HiddenStates, 3)
	for i, h := range out.HiddenStates {
		requireClose(t, "hidden_states", expected(t, st, "vision_model/batch2/hidden_states."+string(rune('0'+i))), h)
	}
	// without hidden states each layer's input buffer is reused by the layers after it: the same
	// values, to the bit
	plain, err := m.Forward(ctx, expected(t, st, "vision_model/batch2/in/pixel_values"), VisionOptions{})
	require.NoError(t, err)
	require.Nil(t, plain.HiddenStates)
	require.Equal(t, out.LastHiddenState.Data, plain.LastHiddenState.Data)
	require.Equal(t, out.PoolerOutput.Data, plain.PoolerOutput.Data)

	out, err = m.Forward(ctx, expected(t, st, "vision_model/interpolate_pos_encoding/in/pixel_values"), VisionOptions{InterpolatePosEncoding: true})
	require.NoError(t, err)
	requireClose(t, "interp last_hidden_state", expected(t, st, "vision_model/interpolate_pos_encoding/last_hidden_state"), out.LastHiddenState)
	requireClose(t, "interp pooler_output", expected(t, st, "vision_model/interpolate_pos_encoding/pooler_output"), out.PoolerOutput)

	// Without interpolation an 84x105 image has more patches than positions: an error, no panic.
	_, err = m.Forward(ctx, expected(t, st, "vision_model/interpolate_pos_encoding/in/pixel_values"), VisionOptions{})
	require.ErrorContains(t, err, "position embedding")
	_, err = m.Forward(ctx, tensor.New(1, 3, 8, 8), VisionOptions{})
	require.ErrorContains(t, err, "smaller than one")
	_, err = m.Forward(ctx, tensor.New(1, 4, 56, 56), VisionOptions{})
	require.ErrorContains(t, err, "channels")
}
