package main

import (
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

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
