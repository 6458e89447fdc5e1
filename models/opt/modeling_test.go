package opt

import (
	"context"
	"math"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

var fixtureDir = filepath.Join("..", "..", "parity", "testdata", "opt")

type fixture struct {
	m        *OPTForCausalLM
	exp      *weights.Safetensors
	ids      [][]int
	mask     [][]int
	gatherIx []int64
}

func loadFixture(t *testing.T) *fixture {
	t.Helper()
	m, err := FromPretrained(context.Background(), fixtureDir)
	require.NoError(t, err)
	exp, err := weights.OpenSafetensors(filepath.Join(fixtureDir, "cases", "expected.safetensors"))
	require.NoError(t, err)
	t.Cleanup(func() { exp.Close() })
	f := &fixture{m: m, exp: exp}
	f.ids = intRows(t, exp, "forward/batch/in/input_ids")
	f.mask = intRows(t, exp, "forward/batch/in/attention_mask")
	f.gatherIx, _, err = exp.Int64("vocab_gather_index")
	require.NoError(t, err)
	return f
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

func maxDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

// stepTol bounds cached decode steps against a full recompute: the full pass attends through
// tensor.Attention, a step through the scalar loop, so the sums run in another order (a few float32
// ulps of logits up to ~10).
const stepTol = 3e-5

func assertClose(t *testing.T, name string, want, got []float32, atol float64) {
	t.Helper()
	require.Equal(t, len(want), len(got), name)
	d := maxDiff(want, got)
	require.LessOrEqualf(t, d, atol, "%s: max |diff| %.3g > %.3g", name, d, atol)
}

// TestForwardMatchesTransformers compares OPTForCausalLM.forward(output_hidden_states=True) on a
// left-padded batch with transformers' tensors (logits reduced as FORMAT.md says).
func TestForwardMatchesTransformers(t *testing.T) {
	f := loadFixture(t)
	out, err := f.m.Forward(context.Background(), &Input{InputIDs: f.ids, AttentionMask: f.mask, OutputHiddenStates: true})
	require.NoError(t, err)
	v := f.m.Config.VocabSize
	require.Equal(t, []int{2, 8, v}, out.Logits.Shape)
	rows := 2 * 8
	gather := make([]float32, 0, rows*len(f.gatherIx))
	lse := make([]float32, 0, rows)
	for r := 0; r < rows; r++ {
		row := out.Logits.Data[r*v : (r+1)*v]
		for _, k := range f.gatherIx {
			gather = append(gather, row[k])
		}
		lse = append(lse, tensor.LogSumExp(row))
	}
	for name, got := range map[string][]float32{"logits@gather": gather, "logits@logsumexp": lse} {
		want, err := f.exp.Float32("forward/batch/" + name)
		require.NoError(t, err)
		assertClose(t, name, want.Data, got, 1e-4)
	}
	require.Len(t, out.HiddenStates, f.m.Config.NumHiddenLayers+1)
	for i, h := range out.HiddenStates {
		want, err := f.exp.Float32("forward/batch/hidden_states." + string(rune('0'+i)))
		require.NoError(t, err)
		require.Equal(t, want.Shape, h.Shape)
		assertClose(t, "hidden_states", want.Data, h.Data, 1e-4)
	}
	// the last hidden state is the output after the final layer norm
	require.Equal(t, out.HiddenStates[len(out.HiddenStates)-1], out.LastHiddenState)
}

// unpad drops the left padding of a row.
func unpad(ids, mask []int) []int {
	for j, m := range mask {
		if m == 1 {
			return ids[j:]
		}
	}
	return nil
}

// TestLeftPaddingMatchesUnpadded: every row of a left-padded batch gives, at its real positions,
// the logits of the row run alone.
func TestLeftPaddingMatchesUnpadded(t *testing.T) {
	f := loadFixture(t)
	ctx := context.Background()
	out, err := f.m.Forward(ctx, &Input{InputIDs: f.ids, AttentionMask: f.mask})
	require.NoError(t, err)
	v := f.m.Config.VocabSize
	T := len(f.ids[0])
	for b := range f.ids {
		row := unpad(f.ids[b], f.mask[b])
		one, err := f.m.Forward(ctx, &Input{InputIDs: [][]int{row}})
		require.NoError(t, err)
		pad := T - len(row)
		assertClose(t, "row logits", one.Logits.Data, out.Logits.Data[(b*T+pad)*v:(b+1)*T*v], 1e-5)
	}
}

// TestCacheMatchesFullForward: prefill + one-token steps with the cache give the logits of one
// full forward, position by position, on a left-padded batch.
func TestCacheMatchesFullForward(t *testing.T) {
	f := loadFixture(t)
	ctx := context.Background()
	full, err := f.m.Forward(ctx, &Input{InputIDs: f.ids, AttentionMask: f.mask})
	require.NoError(t, err)
	v := f.m.Config.VocabSize
	T := len(f.ids[0])
	const prefill = 5
	c := NewCache()
	cut := func(rows [][]int, lo, hi int) [][]int {
		out := make([][]int, len(rows))
		for i, r := range rows {
			out[i] = r[lo:hi]
		}
		return out
	}
	out, err := f.m.Forward(ctx, &Input{InputIDs: cut(f.ids, 0, prefill), AttentionMask: cut(f.mask, 0, prefill), Cache: c, LogitsToKeep: 1})
	require.NoError(t, err)
	require.Equal(t, []int{2, 1, v}, out.Logits.Shape)
	require.Equal(t, prefill, c.Len())
	for p := prefill - 1; p < T; p++ {
		if p >= prefill {
			out, err = f.m.Forward(ctx, &Input{InputIDs: cut(f.ids, p, p+1), AttentionMask: cut(f.mask, 0, p+1), Cache: c})
			require.NoError(t, err)
			require.Equal(t, p+1, c.Len())
		}
		for b := 0; b < 2; b++ {
			assertClose(t, "step logits", full.Logits.Data[(b*T+p)*v:(b*T+p+1)*v], out.Logits.Data[b*v:(b+1)*v], stepTol)
		}
	}
}

// TestCacheReorder: after Reorder([1 0 1]) a step continues each row as if run alone.
func TestCacheReorder(t *testing.T) {
	f := loadFixture(t)
	ctx := context.Background()
	c := NewCache()
	_, err := f.m.Forward(ctx, &Input{InputIDs: f.ids, AttentionMask: f.mask, Cache: c})
	require.NoError(t, err)
	rows := []int{1, 0, 1}
	require.NoError(t, c.Reorder(rows))
	require.Equal(t, 3, c.Batch())
	next := []int{100, 200, 300}
	var ids, mask [][]int
	for i, r := range rows {
		ids = append(ids, []int{next[i]})
		mask = append(mask, append(append([]int(nil), f.mask[r]...), 1))
	}
	out, err := f.m.Forward(ctx, &Input{InputIDs: ids, AttentionMask: mask, Cache: c})
	require.NoError(t, err)
	v := f.m.Config.VocabSize
	for i, r := range rows {
		row := append(append([]int(nil), unpad(f.ids[r], f.mask[r])...), next[i])
		one, err := f.m.Forward(ctx, &Input{InputIDs: [][]int{row}, LogitsToKeep: 1})
		require.NoError(t, err)
		assertClose(t, "reordered step", one.Logits.Data, out.Logits.Data[i*v:(i+1)*v], stepTol)
	}
	// a second reorder at the same batch size goes through the spare buffers
	rows2 := []int{2, 2, 0}
	require.NoError(t, c.Reorder(rows2))
	var ids2, mask2 [][]int
	for _, r := range rows2 {
		ids2 = append(ids2, []int{400})
		mask2 = append(mask2, append(append([]int(nil), mask[r]...), 1))
	}
	out, err = f.m.Forward(ctx, &Input{InputIDs: ids2, AttentionMask: mask2, Cache: c})
	require.NoError(t, err)
	for i, r2 := range rows2 {
		r := rows[r2]
		row := append(append([]int(nil), unpad(f.ids[r], f.mask[r])...), next[r2], 400)
		one, err := f.m.Forward(ctx, &Input{InputIDs: [][]int{row}, LogitsToKeep: 1})
		require.NoError(t, err)
		assertClose(t, "second reorder", one.Logits.Data, out.Logits.Data[i*v:(i+1)*v], stepTol)
	}
	require.Error(t, c.Reorder([]int{3}))
}

// TestInputsEmbedsMatchesIDs: the inputs_embeds path (used by BLIP-2) equals the ids path.
func TestInputsEmbedsMatchesIDs(t *testing.T) {
	f := loadFixture(t)
	ctx := context.Background()
	a, err := f.m.Forward(ctx, &Input{InputIDs: f.ids, AttentionMask: f.mask})
	require.NoError(t, err)
	e := f.m.EmbedTokens(f.ids)
	require.Equal(t, []int{2, 8, f.m.Config.WordEmbedProjDim}, e.Shape)
	b, err := f.m.Forward(ctx, &Input{InputsEmbeds: e, AttentionMask: f.mask})
	require.NoError(t, err)
	require.Equal(t, a.Logits.Data, b.Logits.Data)
}

// TestLoss: the loss is the mean cross entropy of the labels shifted left, -100 ignored
// (checked against a float64 log-softmax of the logits).
func TestLoss(t *testing.T) {
	f := loadFixture(t)
	labels := make([][]int, len(f.ids))
	for b := range f.ids {
		for j, id := range f.ids[b] {
			if f.mask[b][j] == 0 {
				id = -100
			}
			labels[b] = append(labels[b], id)
		}
	}
	out, err := f.m.Forward(context.Background(), &Input{InputIDs: f.ids, AttentionMask: f.mask, Labels: labels})
	require.NoError(t, err)
	require.NotNil(t, out.Loss)
	v := f.m.Config.VocabSize
	T := len(f.ids[0])
	var sum float64
	n := 0
	for b := range labels {
		for j := 0; j+1 < T; j++ {
			l := labels[b][j+1]
			if l == -100 {
				continue
			}
			row := out.Logits.Data[(b*T+j)*v : (b*T+j+1)*v]
			mx := math.Inf(-1)
			for _, x := range row {
				mx = math.Max(mx, float64(x))
			}
			s := 0.0
			for _, x := range row {
				s += math.Exp(float64(x) - mx)
			}
			sum += mx + math.Log(s) - float64(row[l])
			n++
		}
	}
	require.InDelta(t, sum/float64(n), float64(out.Loss.Data[0]), 1e-4)
}

// TestBadInputsReturnErrors: bad ids, shapes and masks give errors, never panics.
func TestBadInputsReturnErrors(t *testing.T) {
	f := loadFixture(t)
	ctx := context.Background()
	v := f.m.Config.VocabSize
	for name, in := range map[string]*Input{
		"nil ids":      {},
		"empty":        {InputIDs: [][]int{{}}},
		"ragged":       {InputIDs: [][]int{{1, 2}, {3}}},
		"id too large": {InputIDs: [][]int{{1, v}}},
		"negative id":  {InputIDs: [][]int{{-1}}},
		"mask length":  {InputIDs: [][]int{{5, 6}}, AttentionMask: [][]int{{1}}},
		"mask rows":    {InputIDs: [][]int{{5, 6}}, AttentionMask: [][]int{{1, 1}, {1, 1}}},
		"mask value":   {InputIDs: [][]int{{5, 6}}, AttentionMask: [][]int{{1, 2}}},
		"labels shape": {InputIDs: [][]int{{5, 6}}, Labels: [][]int{{5}}},
		"labels value": {InputIDs: [][]int{{5, 6}}, Labels: [][]int{{5, v}}},
		"both inputs":  {InputIDs: [][]int{{5}}, InputsEmbeds: tensor.New(1, 1, 16)},
		"embeds shape": {InputsEmbeds: tensor.New(1, 1, 3)},
		"too long":     {InputIDs: [][]int{make([]int, f.m.Config.MaxPositionEmbeddings+1)}},
	} {
		_, err := f.m.Forward(ctx, in)
		require.Error(t, err, name)
	}
	_, err := f.m.Forward(ctx, nil)
	require.Error(t, err)
	c := NewCache()
	_, err = f.m.Forward(ctx, &Input{InputIDs: [][]int{{5, 6}, {7, 8}}, Cache: c})
	require.NoError(t, err)
	_, err = f.m.Forward(ctx, &Input{InputIDs: [][]int{{5}}, Cache: c})
	require.Error(t, err, "batch differs from the cache")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = f.m.Forward(cctx, &Input{InputIDs: [][]int{{5}}})
	require.ErrorIs(t, err, context.Canceled)
}

// randomStateDict builds random weights for every key a shape binder asks for.
func randomStateDict(t *testing.T, build func(b *weights.Binder) error, skip func(string) bool) *weights.StateDict {
	t.Helper()
	sb := weights.NewShapeBinder()
	require.NoError(t, build(sb))
	rng := rand.New(rand.NewSource(1))
	m := map[string]*tensor.Weight{}
	for _, k := range sb.Keys() {
		if k.TiedTo != "" || skip(k.Name) {
			continue
		}
		x := tensor.New(k.Shape...)
		for i := range x.Data {
			x.Data[i] = float32(rng.NormFloat64() * 0.2)
		}
		m[k.Name] = tensor.WeightFrom(x)
	}
	return weights.NewStateDict(m)
}

// TestVariants builds the configurations the fixture does not cover (project_in/out, post-LN,
// _remove_final_layer_norm, no affine layer norms, no biases, gelu) from random weights: the key
// set is the one transformers' module tree has, and the cache still matches a full forward.
func TestVariants(t *testing.T) {
	base := func() *OPTConfig {
		c := NewOPTConfig()
		c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.FFNDim, c.MaxPositionEmbeddings = 50, 16, 2, 24, 32
		c.NumAttentionHeads, c.WordEmbedProjDim = 2, 16
		return c
	}
	cases := map[string]struct {
		edit     func(c *OPTConfig)
		has, not []string
	}{
		"project": {func(c *OPTConfig) { c.WordEmbedProjDim = 8 },
			[]string{"model.decoder.project_in.weight", "model.decoder.project_out.weight"}, []string{"model.decoder.project_in.bias"}},
		"post-ln": {func(c *OPTConfig) { c.DoLayerNormBefore = false },
			nil, []string{"model.decoder.final_layer_norm.weight"}},
		"remove final ln": {func(c *OPTConfig) { c.RemoveFinalLayerNorm = true },
			nil, []string{"model.decoder.final_layer_norm.weight"}},
		"no affine": {func(c *OPTConfig) { c.LayerNormElementwiseAffine = false },
			nil, []string{"model.decoder.layers.0.self_attn_layer_norm.weight", "model.decoder.final_layer_norm.bias"}},
		"no bias": {func(c *OPTConfig) { c.EnableBias = false; c.ActivationFunction = "gelu" },
			[]string{"model.decoder.layers.1.fc2.weight"}, []string{"model.decoder.layers.0.q_proj.bias", "model.decoder.layers.1.fc1.bias"}},
	}
	ctx := context.Background()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := base()
			tc.edit(cfg)
			sd := randomStateDict(t, func(b *weights.Binder) error { _, err := NewOPTForCausalLM(cfg, b); return err }, func(string) bool { return false })
			b := weights.NewBinder(sd)
			m, err := NewOPTForCausalLM(cfg, b)
			require.NoError(t, err)
			require.NoError(t, b.Finish())
			keys := map[string]bool{}
			for _, k := range b.Keys() {
				keys[k.Name] = true
			}
			for _, k := range tc.has {
				require.True(t, keys[k], k)
			}
			for _, k := range tc.not {
				require.False(t, keys[k], k)
			}
			require.True(t, keys["lm_head.weight"])
			require.Same(t, m.Model.Decoder.EmbedTokens.Weight, m.LMHead, "lm_head tied to embed_tokens")
			ids := [][]int{{3, 4, 5, 6, 7}, {0, 0, 9, 10, 11}}
			mask := [][]int{{1, 1, 1, 1, 1}, {0, 0, 1, 1, 1}}
			full, err := m.Forward(ctx, &Input{InputIDs: ids, AttentionMask: mask, OutputHiddenStates: true})
			require.NoError(t, err)
			require.Len(t, full.HiddenStates, cfg.NumHiddenLayers+1)
			require.Equal(t, cfg.WordEmbedProjDim, full.LastHiddenState.Shape[2])
			c := NewCache()
			v := cfg.VocabSize
			for p := 0; p < 5; p++ {
				var step, sm [][]int
				for b := range ids {
					step = append(step, ids[b][p:p+1])
					sm = append(sm, mask[b][:p+1])
				}
				out, err := m.Forward(ctx, &Input{InputIDs: step, AttentionMask: sm, Cache: c})
				require.NoError(t, err)
				for b := range ids {
					if mask[b][p] == 0 {
						continue // padded query rows attend uniformly over what exists: not comparable
					}
					assertClose(t, "step", full.Logits.Data[(b*5+p)*v:(b*5+p+1)*v], out.Logits.Data[b*v:(b+1)*v], stepTol)
				}
			}
		})
	}
}

// TestStrictBinding: a missing key and a mis-shaped key are both reported, by name.
func TestStrictBinding(t *testing.T) {
	cfg := NewOPTConfig()
	cfg.VocabSize, cfg.HiddenSize, cfg.NumHiddenLayers, cfg.FFNDim, cfg.MaxPositionEmbeddings = 50, 16, 1, 24, 32
	cfg.NumAttentionHeads, cfg.WordEmbedProjDim = 2, 16
	sd := randomStateDict(t, func(b *weights.Binder) error { _, err := NewOPTForCausalLM(cfg, b); return err },
		func(k string) bool { return k == "model.decoder.layers.0.fc1.bias" })
	cfg2 := *cfg
	cfg2.FFNDim = 20
	b := weights.NewBinder(sd)
	_, err := NewOPTForCausalLM(&cfg2, b)
	require.NoError(t, err)
	err = b.Finish()
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "model.decoder.layers.0.fc1.bias"), err.Error())
	require.True(t, strings.Contains(err.Error(), "model.decoder.layers.0.fc1.weight"), err.Error())
}

func TestBadConfig(t *testing.T) {
	cfg := NewOPTConfig()
	cfg.NumAttentionHeads = 5
	_, err := NewOPTForCausalLM(cfg, weights.NewShapeBinder())
	require.Error(t, err)
	cfg = NewOPTConfig()
	cfg.ActivationFunction = "nope"
	_, err = NewOPTForCausalLM(cfg, weights.NewShapeBinder())
	require.Error(t, err)
	_, err = FromPretrained(context.Background(), t.TempDir())
	require.Error(t, err)
}

// TestConcurrentForward: one model serves several goroutines, each with its own cache.
func TestConcurrentForward(t *testing.T) {
	f := loadFixture(t)
	ctx := context.Background()
	want, err := f.m.Forward(ctx, &Input{InputIDs: f.ids, AttentionMask: f.mask})
	require.NoError(t, err)
	errs := make(chan error, 4)
	got := make([]*Output, 4)
	for g := 0; g < 4; g++ {
		go func(g int) {
			var err error
			got[g], err = f.m.Forward(ctx, &Input{InputIDs: f.ids, AttentionMask: f.mask, Cache: NewCache()})
			errs <- err
		}(g)
	}
	for g := 0; g < 4; g++ {
		require.NoError(t, <-errs)
	}
	for g := 0; g < 4; g++ {
		require.Equal(t, want.Logits.Data, got[g].Logits.Data)
	}
}
