package blip2

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// Masking image tokens out of the cross-attention (encoder_attention_mask) must give the same query
// outputs as leaving those tokens out: the additive finfo.min mask zeroes their softmax weight.
func TestQFormerEncoderMaskEqualsDroppingTokens(t *testing.T) {
	m := loadTinyOPT(t)
	ctx := context.Background()
	st := openExpected(t, "blip2-opt")
	vis, err := m.VisionModel.Forward(ctx, expected(t, st, "vision_model/batch2/in/pixel_values"), VisionOptions{})
	require.NoError(t, err)
	img := vis.LastHiddenState // [2, 17, 32]
	query := m.QueryTokens.Float32()
	q2 := tensor.Concat(0, query, query)

	keep := 11
	mask := onesMask(2, 17)
	for i := range mask {
		for j := keep; j < 17; j++ {
			mask[i][j] = 0
		}
	}
	masked, err := m.Qformer.Forward(ctx, &QFormerInput{QueryEmbeds: q2, EncoderHiddenStates: img, EncoderAttentionMask: mask})
	require.NoError(t, err)
	dropped, err := m.Qformer.Forward(ctx, &QFormerInput{QueryEmbeds: q2, EncoderHiddenStates: tensor.Slice(img, 1, 0, keep)})
	require.NoError(t, err)
	requireClose(t, "masked vs dropped", dropped.LastHiddenState, masked.LastHiddenState)

	// an all-ones self-attention mask changes nothing
	ones, err := m.Qformer.Forward(ctx, &QFormerInput{QueryEmbeds: q2, EncoderHiddenStates: img, AttentionMask: onesMask(2, 6)})
	require.NoError(t, err)
	plain, err := m.Qformer.Forward(ctx, &QFormerInput{QueryEmbeds: q2, EncoderHiddenStates: img})
	require.NoError(t, err)
	require.Equal(t, plain.LastHiddenState.Data, ones.LastHiddenState.Data)

	// shape errors, not panics
	_, err = m.Qformer.Forward(ctx, &QFormerInput{QueryEmbeds: q2, EncoderHiddenStates: tensor.New(2, 17, 31)})
	require.Error(t, err)
	_, err = m.Qformer.Forward(ctx, &QFormerInput{QueryEmbeds: q2, EncoderHiddenStates: img, AttentionMask: onesMask(2, 5)})
	require.Error(t, err)
	_, err = m.Qformer.Forward(ctx, &QFormerInput{QueryEmbeds: q2})
	require.ErrorContains(t, err, "encoder_hidden_states")
}

// Each image of a batch gives the same features as alone.
func TestVisionBatchRowsIndependent(t *testing.T) {
	m := loadTinyOPT(t)
	ctx := context.Background()
	st := openExpected(t, "blip2-opt")
	pix := expected(t, st, "vision_model/batch2/in/pixel_values")
	both, err := m.VisionModel.Forward(ctx, pix, VisionOptions{})
	require.NoError(t, err)
	for i := range 2 {
		one, err := m.VisionModel.Forward(ctx, tensor.Slice(pix, 0, i, i+1), VisionOptions{})
		require.NoError(t, err)
		requireClose(t, "row", tensor.Slice(both.LastHiddenState, 0, i, i+1), one.LastHiddenState)
	}
}

// At the real size the Q-Former computes the cross-attention keys/values of all its layers as one
// group (tensor.LinearGroup: one shared-A GEMM region). The result must be exactly what running
// the layers one by one gives, where each layer projects its own pair.
func TestQFormerSharedKVEqualsPerLayer(t *testing.T) {
	if testing.Short() {
		t.Skip("real-size Q-Former")
	}
	m := randomQFormer(t, NewBlip2QFormerConfig(), 0x9e3779b97f4a7c15)
	q, img := ramp(13, 1, 32, 768), ramp(97, 1, 257, 1408)
	out, err := m.Forward(context.Background(), &QFormerInput{QueryEmbeds: q, EncoderHiddenStates: img})
	require.NoError(t, err)
	h := m.Layernorm.Forward(q)
	states := []*tensor.Tensor{h}
	for _, l := range m.Encoder.Layer {
		h, err = l.Forward(h, nil, img, nil)
		require.NoError(t, err)
		states = append(states, h)
	}
	require.Equal(t, h.Data, out.LastHiddenState.Data)
	// with hidden states no layer output is reused for later layers' buffers: each is still the
	// value the layer-by-layer run gave
	all, err := m.Forward(context.Background(), &QFormerInput{QueryEmbeds: q, EncoderHiddenStates: img, OutputHiddenStates: true})
	require.NoError(t, err)
	require.Len(t, all.HiddenStates, len(states))
	for i := range states {
		require.Equal(t, states[i].Data, all.HiddenStates[i].Data, "hidden state %d", i)
	}
}
