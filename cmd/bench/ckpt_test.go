package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/models/opt"
	"github.com/gotransformers/gotransformers/transformers"
	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

const testdataRoot = "../../parity/testdata"

func TestInitKind(t *testing.T) {
	require.Equal(t, "one", initKind("vision_model.encoder.layers.0.layer_norm1.weight", []int{1408}))
	require.Equal(t, "one", initKind("qformer.encoder.layer.0.attention.output.LayerNorm.weight", []int{768}))
	require.Equal(t, "one", initKind("language_model.encoder.block.0.layer.0.layer_norm.weight", []int{2048}))
	require.Equal(t, "zero", initKind("language_model.model.decoder.layers.0.fc1.bias", []int{10240}))
	require.Equal(t, "zero", initKind("vision_model.post_layernorm.bias", []int{1408}))
	require.Equal(t, "normal", initKind("language_model.encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", []int{32, 32}))
	require.Equal(t, "normal", initKind("query_tokens", []int{1, 32, 768}))
}

// TestWriteShard writes a small shard in both dtypes and reads it back through the safetensors
// reader: shapes, ones, zeros and finite normal(0, 0.02) values, deterministic per name.
func TestWriteShard(t *testing.T) {
	specs := []tensorSpec{
		{"a.layer_norm.weight", []int{5000}},
		{"a.fc.bias", []int{7}},
		{"a.fc.weight", []int{300, 50}},
		{"b.fc.weight", []int{300, 50}},
	}
	for _, dt := range []tensor.DType{tensor.F32, tensor.BF16} {
		dir := t.TempDir()
		path := filepath.Join(dir, "model.safetensors")
		pool := newValuePool(dt)
		require.NoError(t, writeFileAtomic(path, func(w io.Writer) error { return writeShard(w, specs, dt, pool) }))
		ents, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Len(t, ents, 1, "no temporary file left")
		f, err := weights.OpenSafetensors(path)
		require.NoError(t, err)
		get := func(name string) *tensor.Tensor {
			w, err := f.Float32(name)
			require.NoError(t, err)
			return w
		}
		for _, v := range get("a.layer_norm.weight").Data {
			require.Equal(t, float32(1), v)
		}
		for _, v := range get("a.fc.bias").Data {
			require.Equal(t, float32(0), v)
		}
		a, b := get("a.fc.weight"), get("b.fc.weight")
		require.Equal(t, []int{300, 50}, a.Shape)
		var sum, sq float64
		for _, v := range a.Data {
			require.False(t, math.IsNaN(float64(v)) || math.IsInf(float64(v), 0))
			sum += float64(v)
			sq += float64(v) * float64(v)
		}
		n := float64(len(a.Data))
		require.InDelta(t, 0, sum/n, 0.005)
		require.InDelta(t, 0.02, math.Sqrt(sq/n), 0.005)
		require.NotEqual(t, a.Data, b.Data, "each name gets its own values")
		require.NoError(t, f.Close())
	}
}

// TestHubShardLayoutReproducesFixtures: the computed layout (used for derived configs) gives the
// hub's own model.safetensors.index.json for both real checkpoints, key for key and in order.
func TestHubShardLayoutReproducesFixtures(t *testing.T) {
	for _, name := range []string{"opt-2.7b", "flan-t5-xl"} {
		t.Run(name, func(t *testing.T) {
			l, err := buildLayout(context.Background(), testdataRoot, name)
			require.NoError(t, err)
			require.False(t, l.derived)
			m, err := blip2.NewShapeOnly(l.cfg)
			require.NoError(t, err)
			require.Equal(t, l.shards, hubShardLayout(m.StateDictKeys(), hubMaxShardBytes))
		})
	}
}

// TestOPT67BLayout checks the derived blip2-opt-6.7b config and layout, shape only (no weights
// written): facebook/opt-6.7b's sizes in the language model, everything else as blip2-opt-2.7b,
// 7,752,869,376 parameters (the hub's "7.75B"), four float32 shards of at most 10 GB.
func TestOPT67BLayout(t *testing.T) {
	ctx := context.Background()
	l, err := buildLayout(ctx, testdataRoot, "opt-6.7b")
	require.NoError(t, err)
	require.True(t, l.derived)
	base, err := buildLayout(ctx, testdataRoot, "opt-2.7b")
	require.NoError(t, err)

	// the derived config.json reads back through the path FromPretrained takes
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, transformers.ConfigName), l.configJSON, 0o644))
	cfg, err := blip2.Blip2ConfigFromPretrained(ctx, dir)
	require.NoError(t, err)
	require.Equal(t, l.cfg.ToDict(), cfg.ToDict())
	require.Contains(t, string(l.configJSON), `"activation_dropout": 0.0`, "values kept as written")
	require.Contains(t, string(l.configJSON), `"prefix": "</s>"`)

	tc, ok := cfg.TextConfig.(*opt.OPTConfig)
	require.True(t, ok)
	require.Equal(t, 4096, tc.HiddenSize)
	require.Equal(t, 16384, tc.FFNDim)
	require.Equal(t, 32, tc.NumHiddenLayers)
	require.Equal(t, 32, tc.NumAttentionHeads)
	require.Equal(t, 4096, tc.WordEmbedProjDim)
	require.Equal(t, 2048, tc.MaxPositionEmbeddings)
	require.Equal(t, 50304, tc.VocabSize)
	require.True(t, tc.DoLayerNormBefore)
	require.Equal(t, "relu", tc.ActivationFunction)
	btc := base.cfg.TextConfig.(*opt.OPTConfig)
	require.Equal(t, btc.EOSTokenID, tc.EOSTokenID)
	require.Equal(t, btc.BOSTokenID, tc.BOSTokenID)
	require.Equal(t, btc.PadTokenID, tc.PadTokenID)
	require.Equal(t, base.cfg.ImageTokenIndex, cfg.ImageTokenIndex)
	require.Equal(t, base.cfg.NumQueryTokens, cfg.NumQueryTokens)
	require.Equal(t, base.cfg.VisionConfig.ToDict(), cfg.VisionConfig.ToDict())
	require.Equal(t, base.cfg.QFormerConfig.ToDict(), cfg.QFormerConfig.ToDict())

	// parameters: the language model counted by hand, vision and Q-Former as opt-2.7b
	const d, ffn, layers, vocab, pos = 4096, 16384, 32, 50304, 2048 + 2
	perLayer := int64(4*(d*d+d) + (d*ffn + ffn) + (ffn*d + d) + 2*2*d)
	lm := int64(vocab*d+pos*d) + layers*perLayer + 2*d
	require.Equal(t, lm, l.params.LanguageModel)
	require.Equal(t, int64(768*d+d), l.params.Projection)
	require.Equal(t, base.params.Vision, l.params.Vision)
	require.Equal(t, base.params.QFormer, l.params.QFormer)
	require.Equal(t, int64(7_752_869_376), l.params.Total)
	require.InDelta(t, 7.75, float64(l.params.Total)/1e9, 0.005)

	// shards: four, hub style, each at most 10 GB in float32, every parameter once, no lm_head
	require.Len(t, l.shards, 4)
	var n int64
	seen := map[string]bool{}
	for i := 1; i <= 4; i++ {
		specs := l.shards[fmt.Sprintf("model-%05d-of-00004.safetensors", i)]
		require.NotEmpty(t, specs)
		var b int64
		for _, sp := range specs {
			require.False(t, seen[sp.name], sp.name)
			require.False(t, strings.HasSuffix(sp.name, "lm_head.weight"), "the tied lm_head is left out")
			seen[sp.name] = true
			b += int64(tensor.Numel(sp.shape)) * 4
		}
		require.LessOrEqual(t, b, int64(hubMaxShardBytes))
		n += b / 4
	}
	require.Equal(t, l.params.Total, n)
}
