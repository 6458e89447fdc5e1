package opt

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gotransformers/gotransformers/transformers/generation"
	"github.com/stretchr/testify/require"
)

// TestGenerateStartsFromGenerationConfigJSON checks that FromPretrained keeps the folder's
// generation_config.json and that Generate starts from it (transformers' model.generation_config),
// with call options still on top.
func TestGenerateStartsFromGenerationConfigJSON(t *testing.T) {
	src := filepath.Join("..", "..", "parity", "testdata", "opt")
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if filepath.Ext(e.Name()) == ".safetensors" || e.Name() == "config.json" || e.Name() == "model.safetensors.index.json" {
			require.NoError(t, os.Symlink(filepath.Join(mustAbs(t, src), e.Name()), filepath.Join(dir, e.Name())))
		}
	}
	ctx := context.Background()
	plain, err := FromPretrained(ctx, dir)
	require.NoError(t, err)
	defer plain.Close()
	require.Nil(t, plain.GenerationConfig)
	prompt := [][]int{{2, 100, 200, 300}}
	out, err := plain.Generate(ctx, prompt, nil, generation.WithMinNewTokens(100))
	require.NoError(t, err)
	require.Len(t, out.Sequences[0], 20, "default max_length 20 from the model config")

	require.NoError(t, os.WriteFile(filepath.Join(dir, generation.GenerationConfigName),
		[]byte(`{"bos_token_id": 2, "eos_token_id": 2, "pad_token_id": 1, "max_length": 9}`), 0o644))
	m, err := FromPretrained(ctx, dir)
	require.NoError(t, err)
	defer m.Close()
	require.NotNil(t, m.GenerationConfig)
	out, err = m.Generate(ctx, prompt, nil, generation.WithMinNewTokens(100))
	require.NoError(t, err)
	require.Len(t, out.Sequences[0], 9, "max_length from generation_config.json")
	out, err = m.Generate(ctx, prompt, nil, generation.WithMinNewTokens(100), generation.WithMaxNewTokens(2))
	require.NoError(t, err)
	require.Len(t, out.Sequences[0], 6, "call options override generation_config.json")

	require.NoError(t, os.WriteFile(filepath.Join(dir, generation.GenerationConfigName), []byte(`{"max_length": "x"}`), 0o644))
	_, err = FromPretrained(ctx, dir)
	require.ErrorContains(t, err, "max_length")
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	require.NoError(t, err)
	return a
}
