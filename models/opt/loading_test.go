package opt

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/transformers"
	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// TestWithDType: WithDType(F16) narrows the weights at load and the logits stay close.
func TestWithDType(t *testing.T) {
	ctx := context.Background()
	m32, err := FromPretrained(ctx, fixtureDir)
	require.NoError(t, err)
	defer m32.Close()
	m16, err := FromPretrained(ctx, fixtureDir, transformers.WithDType(tensor.F16))
	require.NoError(t, err)
	defer m16.Close()
	require.Equal(t, tensor.F32, m32.LMHead.DType)
	require.Equal(t, tensor.F16, m16.LMHead.DType)
	require.Equal(t, tensor.F16, m16.Model.Decoder.Layers[1].FC2.Weight.DType)
	in := &Input{InputIDs: [][]int{{2, 15500, 15, 620}}}
	a, err := m32.Forward(ctx, in)
	require.NoError(t, err)
	b, err := m16.Forward(ctx, in)
	require.NoError(t, err)
	assertClose(t, "f16 logits", a.Logits.Data, b.Logits.Data, 0.05)
}

// TestBlip2LanguageModelPrefix binds the language model of a BLIP-2 checkpoint whose weights are
// stored as float16 under "language_model.": nothing is missing or mis-shaped (the vision and
// Q-Former keys are the only unexpected ones) and the weights stay float16.
func TestBlip2LanguageModelPrefix(t *testing.T) {
	dir := filepath.Join("..", "..", "parity", "testdata", "blip2-opt-legacy-fp16")
	raw, err := transformers.ReadJSONFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	tc, ok := raw["text_config"].(map[string]any)
	require.True(t, ok)
	cfg, err := NewOPTConfigFromDict(tc, "text_config")
	require.NoError(t, err)
	sd, err := weights.LoadStateDict(dir)
	require.NoError(t, err)
	defer sd.Close()
	b := weights.NewBinder(sd)
	m, err := NewOPTForCausalLM(cfg, b.Pp("language_model"))
	require.NoError(t, err)
	err = b.Finish()
	var ke *weights.KeysError
	require.True(t, errors.As(err, &ke), "%v", err)
	require.Empty(t, ke.Missing)
	require.Empty(t, ke.MisShaped)
	for _, k := range ke.Unexpected {
		require.NotContains(t, k.Name, "language_model.")
	}
	require.Equal(t, tensor.F16, m.Model.Decoder.Layers[0].SelfAttn.QProj.Weight.DType)
	out, err := m.Forward(context.Background(), &Input{InputIDs: [][]int{{2, 100, 200}}})
	require.NoError(t, err)
	require.Equal(t, []int{1, 3, cfg.VocabSize}, out.Logits.Shape)
}

func TestFromPretrainedErrors(t *testing.T) {
	_, err := FromPretrained(context.Background(), filepath.Join(t.TempDir(), "absent"))
	require.Error(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = FromPretrained(ctx, fixtureDir)
	require.Error(t, err)
}
