package blip2

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/models/opt"
	"github.com/gotransformers/gotransformers/transformers"
	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// tinyOPTBlip2Config is parity/testdata/blip2-opt/config.json spelled out.
func tinyOPTBlip2Config() *Blip2Config {
	c := NewBlip2Config()
	c.VisionConfig = tinyVisionConfig()
	q := c.QFormerConfig
	q.EncoderHiddenSize, q.HiddenSize, q.IntermediateSize, q.MaxPositionEmbeddings, q.NumAttentionHeads, q.NumHiddenLayers = 32, 32, 64, 64, 4, 2
	tc := opt.NewOPTConfig()
	tc.EOSTokenID = transformers.SingleTokenID(202)
	tc.FFNDim, tc.HiddenSize, tc.MaxPositionEmbeddings, tc.NumAttentionHeads, tc.NumHiddenLayers, tc.WordEmbedProjDim = 48, 16, 128, 2, 2, 16
	c.TextConfig = tc
	c.NumQueryTokens = 6
	c.ImageTokenIndex = transformers.IntPtr(50260)
	c.UseDecoderOnlyLanguageModel = true
	return c
}

func loadTinyOPT(t *testing.T) *Blip2ForConditionalGeneration {
	t.Helper()
	sd, err := weights.LoadStateDict(filepath.Join(parityFixtures, "blip2-opt"))
	require.NoError(t, err)
	t.Cleanup(func() { sd.Close() })
	b := weights.NewBinder(sd)
	m, err := NewBlip2ForConditionalGeneration(tinyOPTBlip2Config(), b)
	require.NoError(t, err)
	require.NoError(t, b.Finish())
	return m
}

func ids(t *testing.T, st *weights.Safetensors, name string) [][]int {
	t.Helper()
	d, shape, err := st.Int64(name)
	require.NoError(t, err, name)
	require.Len(t, shape, 2)
	rows := make([][]int, shape[0])
	for i := range rows {
		rows[i] = make([]int, shape[1])
		for j := range rows[i] {
			rows[i][j] = int(d[i*shape[1]+j])
		}
	}
	return rows
}

// requireLogits compares full logits [B, T, V] with the fixture's @gather / @logsumexp reductions.
func requireLogits(t *testing.T, st *weights.Safetensors, prefix string, got *tensor.Tensor) {
	t.Helper()
	idx, _, err := st.Int64("vocab_gather_index")
	require.NoError(t, err)
	v := got.Shape[2]
	rows := got.Numel() / v
	gath := tensor.New(got.Shape[0], got.Shape[1], len(idx))
	lse := tensor.New(got.Shape[0], got.Shape[1])
	for r := range rows {
		row := got.Data[r*v : (r+1)*v]
		for j, k := range idx {
			gath.Data[r*len(idx)+j] = row[k]
		}
		lse.Data[r] = tensor.LogSumExp(row)
	}
	requireClose(t, prefix+"logits@gather", expected(t, st, prefix+"logits@gather"), gath)
	requireClose(t, prefix+"logits@logsumexp", expected(t, st, prefix+"logits@logsumexp"), lse)
}

func TestBlip2OPTMatchesFixture(t *testing.T) {
	m := loadTinyOPT(t)
	st := openExpected(t, "blip2-opt")
	ctx := context.Background()
	bm := &Blip2Model{m.Blip2Parts}
	pix := expected(t, st, "vision_model/batch2/in/pixel_values")

	qf, err := bm.GetQFormerFeatures(ctx, &ImageInput{PixelValues: pix, OutputHiddenStates: true})
	require.NoError(t, err)
	requireClose(t, "qformer last", expected(t, st, "blip2model/get_qformer_features/last_hidden_state"), qf.LastHiddenState)
	requireClose(t, "qformer pooler", expected(t, st, "blip2model/get_qformer_features/pooler_output"), qf.PoolerOutput)
	require.Len(t, qf.HiddenStates, 3)
	for i, h := range qf.HiddenStates {
		requireClose(t, "qformer hidden", expected(t, st, fmt.Sprintf("blip2model/get_qformer_features/hidden_states.%d", i)), h)
	}
	qf, err = bm.GetQFormerFeatures(ctx, &ImageInput{PixelValues: expected(t, st, "vision_model/interpolate_pos_encoding/in/pixel_values"), InterpolatePosEncoding: true})
	require.NoError(t, err)
	requireClose(t, "qformer interp", expected(t, st, "blip2model/get_qformer_features_interpolate/last_hidden_state"), qf.LastHiddenState)

	f, err := m.ImageFeatures(ctx, &ImageInput{PixelValues: pix})
	require.NoError(t, err)
	requireClose(t, "projection", expected(t, st, "blip2model/language_projection/language_model_inputs"), f.LanguageModelInputs)

	text := &TextInput{InputIDs: ids(t, st, "blip2model/get_text_features/in/input_ids"), AttentionMask: ids(t, st, "blip2model/get_text_features/in/attention_mask")}
	lo, err := bm.GetTextFeatures(ctx, text)
	require.NoError(t, err)
	requireLogits(t, st, "blip2model/get_text_features/", lo.Logits)

	out, err := bm.Forward(ctx, &Blip2Input{PixelValues: pix, TextInput: *text})
	require.NoError(t, err)
	requireLogits(t, st, "blip2model/forward/", out.Logits)

	p := "cond_gen/forward_single/"
	out, err = m.Forward(ctx, &Blip2Input{PixelValues: expected(t, st, p+"in/pixel_values"),
		TextInput: TextInput{InputIDs: ids(t, st, p+"in/input_ids"), AttentionMask: ids(t, st, p+"in/attention_mask")}})
	require.NoError(t, err)
	requireLogits(t, st, p, out.Logits)

	p = "cond_gen/forward_batch_labels/"
	out, err = m.Forward(ctx, &Blip2Input{PixelValues: expected(t, st, p+"in/pixel_values"),
		TextInput: TextInput{InputIDs: ids(t, st, p+"in/input_ids"), AttentionMask: ids(t, st, p+"in/attention_mask"), Labels: ids(t, st, p+"in/labels")}})
	require.NoError(t, err)
	requireLogits(t, st, p, out.Logits)
	requireClose(t, "loss", expected(t, st, p+"loss"), out.Loss)

	// Expanded mode needs num_query_tokens <image> tokens per row: a prompt without them is an error.
	_, err = m.Forward(ctx, &Blip2Input{PixelValues: pix, TextInput: *text})
	require.ErrorContains(t, err, "<image> tokens")
}
