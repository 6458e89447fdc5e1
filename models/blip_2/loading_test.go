package blip2

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/transformers"
	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

func TestFromPretrainedFloat16LegacyKeepsDTypeAndMatches(t *testing.T) {
	ctx := context.Background()
	m, err := FromPretrained(ctx, filepath.Join(parityFixtures, "blip2-opt-legacy-fp16"))
	require.NoError(t, err)
	defer m.Close()
	require.False(t, m.Expanded())
	require.Equal(t, tensor.F16, m.VisionModel.Encoder.Layers[0].SelfAttn.QKV.Weight.DType, "f16 weights stay compact")
	st := openExpected(t, "blip2-opt-legacy-fp16")
	p := "cond_gen/forward_batch_labels/"
	in := &Blip2Input{PixelValues: expected(t, st, p+"in/pixel_values"),
		TextInput: TextInput{InputIDs: ids(t, st, p+"in/input_ids"), AttentionMask: ids(t, st, p+"in/attention_mask"), Labels: ids(t, st, p+"in/labels")}}
	out, err := m.Forward(ctx, in)
	require.NoError(t, err)
	requireLogits(t, st, p, out.Logits)
	requireClose(t, "loss", expected(t, st, p+"loss"), out.Loss)

	// Legacy mode: the query outputs come first, the mask is extended with ones.
	merged, err := m.PrepareInputsEmbeds(ctx, &ImageInput{PixelValues: in.PixelValues}, in.InputIDs, in.AttentionMask)
	require.NoError(t, err)
	require.True(t, merged.Legacy)
	nq := m.Config.NumQueryTokens
	require.Equal(t, []int{2, nq + len(in.InputIDs[0]), 16}, merged.InputsEmbeds.Shape)
	require.Equal(t, append(onesMask(1, nq)[0], in.AttentionMask[1]...), merged.AttentionMask[1])
	requireClose(t, "query part", merged.Features.LanguageModelInputs, tensor.Slice(merged.InputsEmbeds, 1, 0, nq))

	// WithDType widens at load; results stay the same.
	m32, err := FromPretrained(ctx, filepath.Join(parityFixtures, "blip2-opt-legacy-fp16"), transformers.WithDType(tensor.F32))
	require.NoError(t, err)
	defer m32.Close()
	require.Equal(t, tensor.F32, m32.VisionModel.Encoder.Layers[0].SelfAttn.QKV.Weight.DType)
	out32, err := m32.Forward(ctx, in)
	require.NoError(t, err)
	requireClose(t, "f32 logits", out.Logits, out32.Logits)
}

func TestFromPretrainedT5ShardedBF16Matches(t *testing.T) {
	ctx := context.Background()
	m, err := FromPretrained(ctx, filepath.Join(parityFixtures, "blip2-flan-t5"))
	require.NoError(t, err)
	defer m.Close()
	require.True(t, m.Expanded())
	require.True(t, m.LanguageModel.IsEncoderDecoder())
	require.Equal(t, tensor.BF16, m.QueryTokens.DType)
	st := openExpected(t, "blip2-flan-t5")
	p := "cond_gen/forward_batch_labels/"
	out, err := m.Forward(ctx, &Blip2Input{PixelValues: expected(t, st, p+"in/pixel_values"),
		TextInput: TextInput{InputIDs: ids(t, st, p+"in/input_ids"), AttentionMask: ids(t, st, p+"in/attention_mask"), Labels: ids(t, st, p+"in/labels")}})
	require.NoError(t, err)
	requireClose(t, "logits", expected(t, st, p+"logits"), out.Logits)
	requireClose(t, "loss", expected(t, st, p+"loss"), out.Loss)

	bm, err := Blip2ModelFromPretrained(ctx, filepath.Join(parityFixtures, "blip2-flan-t5"))
	require.NoError(t, err)
	defer bm.Close()
	p = "blip2model/get_text_features/"
	lo, err := bm.GetTextFeatures(ctx, &TextInput{InputIDs: ids(t, st, p+"in/input_ids"), AttentionMask: ids(t, st, p+"in/attention_mask"),
		DecoderInputIDs: ids(t, st, p+"in/decoder_input_ids"), DecoderAttentionMask: ids(t, st, p+"in/decoder_attention_mask")})
	require.NoError(t, err)
	requireClose(t, "text logits", expected(t, st, p+"logits"), lo.Logits)
}

func TestVisionModelFromPretrainedOfFullCheckpoint(t *testing.T) {
	ctx := context.Background()
	vm, err := VisionModelFromPretrained(ctx, filepath.Join(parityFixtures, "blip2-opt"))
	require.NoError(t, err)
	defer vm.Close()
	st := openExpected(t, "blip2-opt")
	out, err := vm.Forward(ctx, expected(t, st, "vision_model/batch2/in/pixel_values"), VisionOptions{})
	require.NoError(t, err)
	requireClose(t, "last_hidden_state", expected(t, st, "vision_model/batch2/last_hidden_state"), out.LastHiddenState)
}

func TestFromPretrainedIsStrict(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(parityFixtures, "blip2-opt")
	sd, err := weights.LoadStateDict(src)
	require.NoError(t, err)
	defer sd.Close()
	dir := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(src, "config.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644))
	tensors := map[string]*tensor.Weight{}
	for _, k := range sd.Keys() {
		w, _ := sd.Get(k)
		tensors[k] = w
	}
	delete(tensors, "qformer.encoder.layer.1.output_query.dense.bias")
	tensors["qformer.encoder.layer.0.intermediate.dense.weight"] = tensor.WeightFrom(tensor.New(64, 32))
	require.NoError(t, weights.SaveSafetensors(filepath.Join(dir, "model.safetensors"), tensors, nil))
	_, err = FromPretrained(ctx, dir)
	require.ErrorIs(t, err, weights.ErrKeys)
	require.ErrorContains(t, err, "qformer.encoder.layer.1.output_query.dense.bias")
	require.ErrorContains(t, err, "qformer.encoder.layer.0.intermediate.dense.weight")

	_, err = FromPretrained(ctx, filepath.Join(dir, "no-such-folder"))
	require.Error(t, err)
}

func TestShapeOnlyRealConfigs(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		dir                              string
		vision, qformer, proj, lm, total int64
	}{
		// per part: sums over the fixtures' weight_keys/state_dict lists (tied names counted once);
		// totals: their num_parameters
		{"real-blip2-opt-2.7b", 985952256, 105162240, 1968640, 2651678720, 3744761856},
		{"real-blip2-flan-t5-xl", 985952256, 105162240, 1574912, 2849757184, 3942446592},
	} {
		cfg, err := Blip2ConfigFromPretrained(ctx, filepath.Join(parityFixtures, tc.dir))
		require.NoError(t, err)
		m, err := NewShapeOnly(cfg)
		require.NoError(t, err)
		c := m.ParameterCounts()
		require.Equal(t, tc.total, c.Total, tc.dir)
		require.Equal(t, c.Vision+c.QFormer+c.Projection+c.LanguageModel, c.Total)
		require.Equal(t, ParameterCounts{tc.vision, tc.qformer, tc.proj, tc.lm, tc.total}, c, tc.dir)
		_, err = m.Forward(ctx, &Blip2Input{PixelValues: tensor.New(1, 3, 224, 224)})
		require.ErrorIs(t, err, ErrShapeOnly)
		_, err = m.VisionModel.Forward(ctx, tensor.New(1, 3, 224, 224), VisionOptions{})
		require.ErrorIs(t, err, ErrShapeOnly)
	}
}

func TestBadInputsReturnErrors(t *testing.T) {
	m := loadTinyOPT(t)
	ctx := context.Background()
	pix := tensor.New(1, 3, 56, 56)
	good := make([]int, 8)
	for i := range 6 {
		good[i] = 50260
	}
	good[6], good[7] = 2, 100
	for name, in := range map[string]*Blip2Input{
		"rank-3 pixels":   {PixelValues: tensor.New(3, 56, 56), TextInput: TextInput{InputIDs: [][]int{good}}},
		"nil pixels":      {TextInput: TextInput{InputIDs: [][]int{good}}},
		"id out of vocab": {PixelValues: pix, TextInput: TextInput{InputIDs: [][]int{append(append([]int{}, good[:7]...), 60000)}}},
		"ragged ids":      {PixelValues: tensor.New(2, 3, 56, 56), TextInput: TextInput{InputIDs: [][]int{good, good[:7]}}},
		"mask length":     {PixelValues: pix, TextInput: TextInput{InputIDs: [][]int{good}, AttentionMask: [][]int{{1, 1}}}},
		"rows vs images":  {PixelValues: tensor.New(2, 3, 56, 56), TextInput: TextInput{InputIDs: [][]int{good}}},
		"labels too long": {PixelValues: pix, TextInput: TextInput{InputIDs: [][]int{good}, Labels: [][]int{make([]int, 9)}}},
		"empty labels":    {PixelValues: pix, TextInput: TextInput{InputIDs: [][]int{good}, Labels: [][]int{}}},
		"bad label":       {PixelValues: pix, TextInput: TextInput{InputIDs: [][]int{good}, Labels: [][]int{{1, 2, 3, 4, 5, 6, 7, 99999}}}},
		"decoder ids":     {PixelValues: pix, TextInput: TextInput{InputIDs: [][]int{good}, DecoderInputIDs: [][]int{{0}}}},
		"data mismatch":   {PixelValues: &tensor.Tensor{Shape: []int{1, 3, 56, 56}, Data: make([]float32, 5)}, TextInput: TextInput{InputIDs: [][]int{good}}},
	} {
		_, err := m.Forward(ctx, in)
		require.Error(t, err, name)
	}
	out, err := m.Forward(ctx, &Blip2Input{PixelValues: pix, TextInput: TextInput{InputIDs: [][]int{good}}})
	require.NoError(t, err)
	require.Equal(t, []int{1, 8, 50272}, out.Logits.Shape)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = m.Forward(cancelled, &Blip2Input{PixelValues: pix, TextInput: TextInput{InputIDs: [][]int{good}}})
	require.ErrorIs(t, err, context.Canceled)
}

// Checkpoints of older transformers versions store q_bias and v_bias instead of the fused qkv.bias;
// they must reproduce the fixture.
func TestVisionAcceptsSeparateQVBias(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(parityFixtures, "blip2-opt")
	sd, err := weights.LoadStateDict(src)
	require.NoError(t, err)
	defer sd.Close()
	dir := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(src, "config.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644))
	tensors := map[string]*tensor.Weight{}
	for _, k := range sd.Keys() {
		w, _ := sd.Get(k)
		if strings.HasSuffix(k, "self_attn.qkv.bias") {
			full := w.Float32()
			d := full.Shape[0] / 3
			// The fixture's k part is not zero, but a bias added to every key shifts each query's
			// scores by a constant, which softmax ignores: dropping it leaves the outputs unchanged.
			pre := strings.TrimSuffix(k, "qkv.bias")
			tensors[pre+"q_bias"] = tensor.WeightFrom(tensor.Slice(full, 0, 0, d))
			tensors[pre+"v_bias"] = tensor.WeightFrom(tensor.Slice(full, 0, 2*d, 3*d))
			continue
		}
		tensors[k] = w
	}
	require.NoError(t, weights.SaveSafetensors(filepath.Join(dir, "model.safetensors"), tensors, nil))
	m, err := FromPretrained(ctx, dir)
	require.NoError(t, err)
	defer m.Close()
	st := openExpected(t, "blip2-opt")
	out, err := m.VisionModel.Forward(ctx, expected(t, st, "vision_model/batch2/in/pixel_values"), VisionOptions{})
	require.NoError(t, err)
	requireClose(t, "last_hidden_state", expected(t, st, "vision_model/batch2/last_hidden_state"), out.LastHiddenState)
}
