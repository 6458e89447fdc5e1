package t5

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

var fixtureDir = filepath.Join("..", "..", "parity", "testdata", "flan-t5")

type fixture struct {
	m                 *T5ForConditionalGeneration
	exp               *weights.Safetensors
	ids, mask, labels [][]int
}

func loadFixture(t *testing.T) *fixture {
	t.Helper()
	m, err := FromPretrained(context.Background(), fixtureDir)
	require.NoError(t, err)
	exp, err := weights.OpenSafetensors(filepath.Join(fixtureDir, "cases", "expected.safetensors"))
	require.NoError(t, err)
	t.Cleanup(func() { exp.Close() })
	return &fixture{m: m, exp: exp,
		ids:    intRows(t, exp, "forward/batch/in/input_ids"),
		mask:   intRows(t, exp, "forward/batch/in/attention_mask"),
		labels: intRows(t, exp, "forward/batch/in/labels"),
	}
}

func intRows(t *testing.T, st *weights.Safetensors, name string) [][]int {
	t.Helper()
	d, shape, err := st.Int64(name)
	require.NoError(t, err)
	require.Len(t, shape, 2)
	out := make([][]int, shape[0])
	for i := range out {
		for j := 0; j < shape[1]; j++ {
			out[i] = append(out[i], int(d[i*shape[1]+j]))
		}
	}
	return out
}

func assertClose(t *testing.T, name string, want, got []float32, atol float64) {
	t.Helper()
	require.Equal(t, len(want), len(got), name)
	d := 0.0
	for i := range want {
		d = math.Max(d, math.Abs(float64(want[i])-float64(got[i])))
	}
	require.LessOrEqualf(t, d, atol, "%s: max |diff| %.3g > %.3g", name, d, atol)
}

// compareExpected compares got with an expected tensor at FORMAT.md's tolerance
// 1e-4*max(1, max|expected|).
func compareExpected(t *testing.T, f *fixture, name string, got *tensor.Tensor) {
	t.Helper()
	want, err := f.exp.Float32("forward/batch/" + name)
	require.NoError(t, err)
	require.Equal(t, want.Shape, got.Shape, name)
	mx := 1.0
	for _, v := range want.Data {
		mx = math.Max(mx, math.Abs(float64(v)))
	}
	assertClose(t, name, want.Data, got.Data, 1e-4*mx)
}

// TestForwardMatchesTransformers: T5ForConditionalGeneration.forward(input_ids, attention_mask,
// labels, output_hidden_states=True) on a right-padded batch against transformers' tensors.
func TestForwardMatchesTransformers(t *testing.T) {
	f := loadFixture(t)
	out, err := f.m.Forward(context.Background(), &Input{InputIDs: f.ids, AttentionMask: f.mask, Labels: f.labels, OutputHiddenStates: true})
	require.NoError(t, err)
	compareExpected(t, f, "logits", out.Logits)
	compareExpected(t, f, "loss", out.Loss)
	compareExpected(t, f, "encoder_last_hidden_state", out.EncoderLastHiddenState)
	require.Len(t, out.DecoderHiddenStates, f.m.Config.NumDecoderLayers+1)
	for i, h := range out.DecoderHiddenStates {
		compareExpected(t, f, fmt.Sprintf("decoder_hidden_states.%d", i), h)
	}
	require.Len(t, out.EncoderHiddenStates, f.m.Config.NumLayers+1)
	require.Equal(t, out.EncoderLastHiddenState, out.EncoderHiddenStates[f.m.Config.NumLayers])
}

// TestPytorchBinMatchesSafetensors: the pytorch_model.bin of the fixture folder gives the same model.
func TestPytorchBinMatchesSafetensors(t *testing.T) {
	f := loadFixture(t)
	sd, err := weights.OpenFile(filepath.Join(fixtureDir, "pytorch_model.bin"))
	require.NoError(t, err)
	defer sd.Close()
	b := weights.NewBinder(sd)
	m, err := NewT5ForConditionalGeneration(f.m.Config, b)
	require.NoError(t, err)
	require.NoError(t, b.Finish())
	ctx := context.Background()
	a, err := f.m.Forward(ctx, &Input{InputIDs: f.ids, AttentionMask: f.mask, Labels: f.labels})
	require.NoError(t, err)
	c, err := m.Forward(ctx, &Input{InputIDs: f.ids, AttentionMask: f.mask, Labels: f.labels})
	require.NoError(t, err)
	require.Equal(t, a.Logits.Data, c.Logits.Data)
}

func trimRight(ids, mask []int) []int {
	n := 0
	for _, m := range mask {
		n += m
	}
	return ids[:n]
}

// TestRightPaddingMatchesUnpadded: every row of the right-padded batch gives the encoder states
// and decoder logits of the row run alone.
func TestRightPaddingMatchesUnpadded(t *testing.T) {
	f := loadFixture(t)
	ctx := context.Background()
	dec, err := f.m.ShiftRight(f.labels)
	require.NoError(t, err)
	out, err := f.m.Forward(ctx, &Input{InputIDs: f.ids, AttentionMask: f.mask, DecoderInputIDs: dec})
	require.NoError(t, err)
	S, T, D, V := len(f.ids[0]), len(dec[0]), f.m.Config.DModel, f.m.Config.VocabSize
	for b := range f.ids {
		row := trimRight(f.ids[b], f.mask[b])
		one, err := f.m.Forward(ctx, &Input{InputIDs: [][]int{row}, DecoderInputIDs: [][]int{dec[b]}})
		require.NoError(t, err)
		assertClose(t, "encoder row", one.EncoderLastHiddenState.Data, out.EncoderLastHiddenState.Data[b*S*D:(b*S+len(row))*D], 1e-5)
		assertClose(t, "logits row", one.Logits.Data, out.Logits.Data[b*T*V:(b+1)*T*V], 2e-4)
	}
}

// TestCacheMatchesFullForward: encode once, prefill with decoder_start_token_id, then one token per
// step with the cache: the logits equal one full forward at every position.
func TestCacheMatchesFullForward(t *testing.T) {
	f := loadFixture(t)
	ctx := context.Background()
	dec, err := f.m.ShiftRight(f.labels)
	require.NoError(t, err)
	full, err := f.m.Forward(ctx, &Input{InputIDs: f.ids, AttentionMask: f.mask, DecoderInputIDs: dec})
	require.NoError(t, err)
	enc, err := f.m.Encode(ctx, &Input{InputIDs: f.ids, AttentionMask: f.mask})
	require.NoError(t, err)
	c := NewCache()
	T, V := len(dec[0]), f.m.Config.VocabSize
	for p := 0; p < T; p++ {
		step := [][]int{dec[0][p : p+1], dec[1][p : p+1]}
		in := &Input{DecoderInputIDs: step, Cache: c, LogitsToKeep: 1}
		if p == 0 {
			in.EncoderOutputs, in.AttentionMask = enc, f.mask
		}
		out, err := f.m.Forward(ctx, in)
		require.NoError(t, err)
		require.Equal(t, p+1, c.Len())
		for b := 0; b < 2; b++ {
			// GEMMs of 1 row and of T rows round differently and this random model amplifies that
			// (hidden states reach 24): 2e-4 is 1/4 of the fixture tolerance, far below a real bug.
			assertClose(t, "step", full.Logits.Data[(b*T+p)*V:(b*T+p+1)*V], out.Logits.Data[b*V:(b+1)*V], 2e-4)
		}
	}
}

// TestCacheReorder: Reorder([1 0 1]) moves the self- and cross-attention keys and the encoder mask.
func TestCacheReorder(t *testing.T) {
	f := loadFixture(t)
	ctx := context.Background()
	enc, err := f.m.Encode(ctx, &Input{InputIDs: f.ids, AttentionMask: f.mask})
	require.NoError(t, err)
	c := NewCache()
	_, err = f.m.Forward(ctx, &Input{EncoderOutputs: enc, AttentionMask: f.mask, DecoderInputIDs: [][]int{{0, 7}, {0, 9}}, Cache: c})
	require.NoError(t, err)
	rows := []int{1, 0, 1}
	require.NoError(t, c.Reorder(rows))
	next := []int{11, 12, 13}
	out, err := f.m.Forward(ctx, &Input{DecoderInputIDs: [][]int{{11}, {12}, {13}}, Cache: c})
	require.NoError(t, err)
	first := [][]int{{0, 7}, {0, 9}}
	V := f.m.Config.VocabSize
	for i, r := range rows {
		one, err := f.m.Forward(ctx, &Input{InputIDs: [][]int{trimRight(f.ids[r], f.mask[r])}, DecoderInputIDs: [][]int{append(append([]int(nil), first[r]...), next[i])}, LogitsToKeep: 1})
		require.NoError(t, err)
		assertClose(t, "reordered step", one.Logits.Data, out.Logits.Data[i*V:(i+1)*V], 2e-4)
	}
	require.Error(t, c.Reorder([]int{5}))
}

// TestInputsEmbeds: the inputs_embeds path (BLIP-2) equals the ids path.
func TestInputsEmbeds(t *testing.T) {
	f := loadFixture(t)
	ctx := context.Background()
	a, err := f.m.Forward(ctx, &Input{InputIDs: f.ids, AttentionMask: f.mask, Labels: f.labels})
	require.NoError(t, err)
	b, err := f.m.Forward(ctx, &Input{InputsEmbeds: f.m.EmbedTokens(f.ids), AttentionMask: f.mask, Labels: f.labels})
	require.NoError(t, err)
	require.Equal(t, a.Logits.Data, b.Logits.Data)
}

// TestRelativePositionBucket pins buckets of T5's default (32 buckets, distance 128) at the exact
// logarithm boundaries (16, 32, 64 bidirectional) and around them.
func TestRelativePositionBucket(t *testing.T) {
	for _, tc := range []struct {
		rel   int
		bidir bool
		want  int
	}{
		{0, true, 0}, {-1, true, 1}, {1, true, 17}, {-7, true, 7}, {-8, true, 8}, {-15, true, 9},
		{-16, true, 10}, {-31, true, 11}, {-32, true, 12}, {-64, true, 14}, {-127, true, 15}, {-500, true, 15},
		{16, true, 26}, {500, true, 31},
		{0, false, 0}, {5, false, 0}, {-5, false, 5}, {-15, false, 15}, {-16, false, 16}, {-32, false, 21},
		{-64, false, 26}, {-127, false, 31}, {-1000, false, 31},
	} {
		require.Equal(t, tc.want, relativePositionBucket(tc.rel, tc.bidir, 32, 128), "rel %d bidirectional %v", tc.rel, tc.bidir)
	}
}

// TestBadInputsReturnErrors: bad ids, shapes and masks give errors, never panics.
func TestBadInputsReturnErrors(t *testing.T) {
	f := loadFixture(t)
	ctx := context.Background()
	V := f.m.Config.VocabSize
	for name, in := range map[string]*Input{
		"no encoder":     {DecoderInputIDs: [][]int{{0}}},
		"no decoder":     {InputIDs: [][]int{{5}}},
		"id too large":   {InputIDs: [][]int{{V}}, DecoderInputIDs: [][]int{{0}}},
		"ragged":         {InputIDs: [][]int{{5, 6}, {7}}, DecoderInputIDs: [][]int{{0}, {0}}},
		"batch mismatch": {InputIDs: [][]int{{5, 6}}, DecoderInputIDs: [][]int{{0}, {0}}},
		"mask length":    {InputIDs: [][]int{{5, 6}}, AttentionMask: [][]int{{1}}, DecoderInputIDs: [][]int{{0}}},
		"dec mask":       {InputIDs: [][]int{{5, 6}}, DecoderInputIDs: [][]int{{0}}, DecoderAttentionMask: [][]int{{1, 1}}},
		"labels value":   {InputIDs: [][]int{{5, 6}}, Labels: [][]int{{V}}},
		"labels shape":   {InputIDs: [][]int{{5, 6}}, DecoderInputIDs: [][]int{{0, 1}}, Labels: [][]int{{1}}},
		"embeds shape":   {InputsEmbeds: tensor.New(1, 2, 3), DecoderInputIDs: [][]int{{0}}},
		"both":           {InputIDs: [][]int{{5}}, InputsEmbeds: tensor.New(1, 1, 32), DecoderInputIDs: [][]int{{0}}},
	} {
		_, err := f.m.Forward(ctx, in)
		require.Error(t, err, name)
	}
	_, err := f.m.Forward(ctx, nil)
	require.Error(t, err)
	_, err = f.m.Encode(ctx, &Input{})
	require.Error(t, err)
}

// TestClassicT5Tied builds a classic T5 (relu DenseReluDense, tied lm_head without its own key)
// from random weights: the key set is transformers' and the logits are shared·(h·d_model^-0.5).
func TestClassicT5Tied(t *testing.T) {
	cfg := NewT5Config()
	cfg.VocabSize, cfg.DModel, cfg.DKV, cfg.DFF, cfg.NumLayers, cfg.NumDecoderLayers, cfg.NumHeads = 40, 16, 6, 24, 2, 1, 2
	cfg.RelativeAttentionNumBuckets, cfg.RelativeAttentionMaxDistance = 8, 20
	cfg.DecoderStartTokenID = new(int)
	sb := weights.NewShapeBinder()
	_, err := NewT5ForConditionalGeneration(cfg, sb)
	require.NoError(t, err)
	rng := rand.New(rand.NewSource(1))
	w := map[string]*tensor.Weight{}
	names := map[string]bool{}
	for _, k := range sb.Keys() {
		names[k.Name] = true
		if k.TiedTo != "" {
			continue
		}
		x := tensor.New(k.Shape...)
		for i := range x.Data {
			x.Data[i] = float32(rng.NormFloat64() * 0.3)
		}
		w[k.Name] = tensor.WeightFrom(x)
	}
	for _, k := range []string{"shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight",
		"encoder.block.0.layer.1.DenseReluDense.wi.weight", "decoder.block.0.layer.2.DenseReluDense.wo.weight",
		"decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", "decoder.final_layer_norm.weight"} {
		require.True(t, names[k], k)
	}
	require.False(t, names["encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight"])
	_, has := w["lm_head.weight"]
	require.False(t, has, "lm_head is tied")
	b := weights.NewBinder(weights.NewStateDict(w))
	m, err := NewT5ForConditionalGeneration(cfg, b)
	require.NoError(t, err)
	require.NoError(t, b.Finish())
	out, err := m.Forward(context.Background(), &Input{InputIDs: [][]int{{3, 4, 5}}, DecoderInputIDs: [][]int{{0, 7}}})
	require.NoError(t, err)
	h := out.DecoderLastHiddenState
	for p := 0; p < 2; p++ {
		for v := 0; v < cfg.VocabSize; v++ {
			s := 0.0
			for d := 0; d < cfg.DModel; d++ {
				s += float64(h.Data[p*cfg.DModel+d]) * math.Pow(float64(cfg.DModel), -0.5) * float64(m.Shared.Weight.At(v*cfg.DModel+d))
			}
			require.InDelta(t, s, float64(out.Logits.Data[p*cfg.VocabSize+v]), 1e-5)
		}
	}
}

// TestStrictBinding: missing and unexpected keys are reported by name.
func TestStrictBinding(t *testing.T) {
	f := loadFixture(t)
	sd, err := weights.LoadStateDict(fixtureDir)
	require.NoError(t, err)
	defer sd.Close()
	cfg := *f.m.Config
	cfg.IsGatedAct = false // asks for wi instead of wi_0 / wi_1
	b := weights.NewBinder(sd)
	_, err = NewT5ForConditionalGeneration(&cfg, b)
	require.NoError(t, err)
	err = b.Finish()
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "encoder.block.0.layer.1.DenseReluDense.wi.weight"), err.Error())
	require.True(t, strings.Contains(err.Error(), "decoder.block.1.layer.2.DenseReluDense.wi_1.weight"), err.Error())
}
