package weights

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

func TestParseIndexRealSnapshots(t *testing.T) {
	for _, c := range []struct {
		dir, file string
		total     int64
	}{
		{"real-blip2-opt-2.7b", SafetensorsIndexName, 14979047424},
		{"real-blip2-opt-2.7b", PytorchIndexName, -2},
		{"real-blip2-flan-t5-xl", SafetensorsIndexName, -2},
		{"real-blip2-flan-t5-xl", PytorchIndexName, -2},
		{"opt", SafetensorsIndexName, -2},
		{"blip2-flan-t5", SafetensorsIndexName, -2},
	} {
		idx, err := ReadIndex(filepath.Join(fixtures, c.dir, c.file))
		require.NoError(t, err, c.dir+"/"+c.file)
		require.NotEmpty(t, idx.WeightMap)
		require.Greater(t, idx.TotalSize, int64(0))
		if c.total > 0 {
			require.Equal(t, c.total, idx.TotalSize)
		}
		require.GreaterOrEqual(t, len(idx.Shards()), 2)
	}
}

func TestParseIndexBad(t *testing.T) {
	for _, c := range []struct{ name, json, want string }{
		{"dotdot", `{"weight_map":{"a":".."}}`, "unsafe"},
		{"parent", `{"weight_map":{"a":"../model.safetensors"}}`, "unsafe"},
		{"absolute", `{"weight_map":{"a":"/etc/passwd"}}`, "unsafe"},
		{"backslash", `{"weight_map":{"a":"..\\x.safetensors"}}`, "unsafe"},
		{"subdir", `{"weight_map":{"a":"sub/x.safetensors"}}`, "unsafe"},
		{"drive", `{"weight_map":{"a":"C:x.safetensors"}}`, "unsafe"},
		{"nul", `{"weight_map":{"a":"x\u0000.safetensors"}}`, "unsafe"},
		{"empty name", `{"weight_map":{"a":""}}`, "unsafe"},
		{"no map", `{"metadata":{}}`, "no weight_map"},
		{"not string", `{"weight_map":{"a":3}}`, "not a string"},
		{"bad json", `{"weight_map":{"a":`, "not a JSON object"},
		{"array", `[]`, "not a JSON object"},
		{"trailing", `{"weight_map":{}} {}`, "trailing"},
		{"negative total", `{"metadata":{"total_size":-5},"weight_map":{}}`, "negative"},
		{"string total", `{"metadata":{"total_size":"5"},"weight_map":{}}`, "not a number"},
		{"fraction total", `{"metadata":{"total_size":5.5},"weight_map":{}}`, "not a byte count"},
	} {
		_, err := ParseIndex("dir/model.safetensors.index.json", []byte(c.json))
		require.Error(t, err, c.name)
		require.ErrorContains(t, err, "dir/model.safetensors.index.json", c.name)
		require.ErrorContains(t, err, c.want, c.name)
	}
	idx, err := ParseIndex("i", []byte(`{"metadata":{"total_size":1.2e3},"weight_map":{"a":"s1","b":"s2","c":"s1"}}`))
	require.NoError(t, err)
	require.Equal(t, int64(1200), idx.TotalSize)
	require.Equal(t, []string{"s1", "s2"}, idx.Shards())
	require.Equal(t, []string{"a", "b", "c"}, idx.Keys())
}

// shardedDir writes two shards and an index mapping a, b -> s1 and c -> s2.
func shardedDir(t *testing.T, index string) string {
	t.Helper()
	dir := t.TempDir()
	w := func(v ...float32) *tensor.Weight { return &tensor.Weight{Shape: []int{len(v)}, F32: v} }
	require.NoError(t, SaveSafetensors(filepath.Join(dir, "s1.safetensors"), map[string]*tensor.Weight{"a": w(1, 2), "b": w(3)}, nil))
	require.NoError(t, SaveSafetensors(filepath.Join(dir, "s2.safetensors"), map[string]*tensor.Weight{"c": w(4, 5, 6)}, nil))
	require.NoError(t, os.WriteFile(filepath.Join(dir, SafetensorsIndexName), []byte(index), 0o644))
	return dir
}

func TestLoadSharded(t *testing.T) {
	dir := shardedDir(t, `{"metadata":{"total_size":24},"weight_map":{"a":"s1.safetensors","b":"s1.safetensors","c":"s2.safetensors"}}`)
	sd, err := LoadStateDict(dir)
	require.NoError(t, err)
	defer sd.Close()
	require.Equal(t, []string{"a", "b", "c"}, sd.Keys())
	c, ok := sd.Get("c")
	require.True(t, ok)
	require.Equal(t, []float32{4, 5, 6}, c.F32)
	require.Equal(t, filepath.Join(dir, "s2.safetensors"), sd.Source("c"))
	require.Equal(t, int64(24), sd.Index().TotalSize)

	for _, c := range []struct{ name, index, want string }{
		{"missing shard", `{"weight_map":{"a":"s1.safetensors","z":"s3.safetensors"}}`, "s3.safetensors, which does not exist"},
		{"key not in shard", `{"weight_map":{"a":"s1.safetensors","z":"s2.safetensors"}}`, `maps "z" to s2.safetensors`},
		{"key in other shard", `{"weight_map":{"a":"s2.safetensors","c":"s2.safetensors"}}`, `maps "a" to s2.safetensors`},
		{"dotdot shard", `{"weight_map":{"a":"../s1.safetensors"}}`, "unsafe"},
	} {
		dir := shardedDir(t, c.index)
		_, err := LoadStateDict(dir)
		require.Error(t, err, c.name)
		require.ErrorContains(t, err, c.want, c.name)
		require.ErrorContains(t, err, SafetensorsIndexName, c.name)
	}
	_, err = LoadStateDict(t.TempDir())
	require.ErrorIs(t, err, ErrMissingFile)
}

// The real snapshots carry indexes but no weights: a binder over the index's key set must accept
// every key with any shape, and report the keys nobody asked for.
func TestIndexStateDict(t *testing.T) {
	idx, err := ReadIndex(filepath.Join(fixtures, "real-blip2-opt-2.7b", SafetensorsIndexName))
	require.NoError(t, err)
	sd := NewIndexStateDict(idx)
	b := NewBinder(sd)
	w := b.Pp("language_model").Pp("model").Pp("decoder").Weight("embed_tokens.weight", 50304, 2560)
	require.True(t, w.ShapeOnly())
	require.Equal(t, []int{50304, 2560}, w.Shape)
	tied := b.Pp("language_model").Tied("lm_head.weight", w)
	require.Same(t, w, tied)
	ks := b.Keys()
	require.Equal(t, "language_model.model.decoder.embed_tokens.weight", ks[1-1].Name)
	require.Equal(t, "model-00001-of-00002.safetensors", ks[0].Source)
	require.Equal(t, "language_model.model.decoder.embed_tokens.weight", ks[1].TiedTo)
	err = b.Finish()
	var ke *KeysError
	require.ErrorAs(t, err, &ke)
	require.Empty(t, ke.Missing)
	require.Len(t, ke.Unexpected, len(idx.WeightMap)-1)
}

func TestLoadIndexStateDict(t *testing.T) {
	sd, err := LoadIndexStateDict(filepath.Join(fixtures, "real-blip2-flan-t5-xl"))
	require.NoError(t, err)
	require.Equal(t, filepath.Join(fixtures, "real-blip2-flan-t5-xl", SafetensorsIndexName), sd.Index().Path)
	require.True(t, sd.Has("language_model.shared.weight"))
	dt, shape, ok := sd.Info("language_model.shared.weight")
	require.True(t, ok)
	require.Equal(t, "", dt)
	require.Nil(t, shape)
	_, err = LoadIndexStateDict(t.TempDir())
	require.ErrorIs(t, err, ErrMissingFile)
}
