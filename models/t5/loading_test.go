package t5

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/transformers"
	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// TestBlip2LanguageModelPrefix binds the language model of a BLIP-2 checkpoint (sharded, stored as
// bfloat16) under "language_model.": nothing missing or mis-shaped, the weights stay bfloat16.
func TestBlip2LanguageModelPrefix(t *testing.T) {
	dir := filepath.Join("..", "..", "parity", "testdata", "blip2-flan-t5")
	raw, err := transformers.ReadJSONFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	tc, ok := raw["text_config"].(map[string]any)
	require.True(t, ok)
	cfg, err := NewT5ConfigFromDict(tc, "text_config")
	require.NoError(t, err)
	sd, err := weights.LoadStateDict(dir)
	require.NoError(t, err)
	defer sd.Close()
	b := weights.NewBinder(sd)
	m, err := NewT5ForConditionalGeneration(cfg, b.Pp("language_model"))
	require.NoError(t, err)
	err = b.Finish()
	var ke *weights.KeysError
	require.True(t, errors.As(err, &ke), "%v", err)
	require.Empty(t, ke.Missing)
	require.Empty(t, ke.MisShaped)
	for _, k := range ke.Unexpected {
		require.NotContains(t, k.Name, "language_model.")
	}
	require.Equal(t, tensor.BF16, m.LMHead.DType)
	require.Equal(t, tensor.BF16, m.Encoder.Block[1].FF.DenseReluDense.Wi1.Weight.DType)
	out, err := m.Forward(context.Background(), &Input{InputIDs: [][]int{{5, 6, 1}}, DecoderInputIDs: [][]int{{0}}})
	require.NoError(t, err)
	require.Equal(t, []int{1, 1, cfg.VocabSize}, out.Logits.Shape)
}

func TestFromPretrainedErrors(t *testing.T) {
	_, err := FromPretrained(context.Background(), filepath.Join(t.TempDir(), "absent"))
	require.Error(t, err)
	m, err := FromPretrained(context.Background(), fixtureDir)
	require.NoError(t, err)
	require.NoError(t, m.Close())
	require.NoError(t, m.Close())
}

// TestFromPretrainedPytorchBin: a folder with only config.json and pytorch_model.bin loads through
// FromPretrained and gives the logits of the safetensors folder.
func TestFromPretrainedPytorchBin(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"config.json", "pytorch_model.bin"} {
		abs, err := filepath.Abs(filepath.Join(fixtureDir, name))
		require.NoError(t, err)
		require.NoError(t, os.Symlink(abs, filepath.Join(dir, name)))
	}
	ctx := context.Background()
	mb, err := FromPretrained(ctx, dir)
	require.NoError(t, err)
	defer mb.Close()
	ms, err := FromPretrained(ctx, fixtureDir)
	require.NoError(t, err)
	defer ms.Close()
	in := &Input{InputIDs: [][]int{{5, 6, 7, 1}}, DecoderInputIDs: [][]int{{0, 9}}}
	a, err := mb.Forward(ctx, in)
	require.NoError(t, err)
	b, err := ms.Forward(ctx, in)
	require.NoError(t, err)
	require.Equal(t, b.Logits.Data, a.Logits.Data)
}
