package t5

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/transformers"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// TestRealCheckpointKeys builds the language model of Salesforce/blip2-flan-t5-xl (shapes only)
// and checks that it asks for exactly the language_model.* keys of the hub's safetensors index,
// plus the encoder/decoder embed_tokens tied to shared that the index omits.
func TestRealCheckpointKeys(t *testing.T) {
	dir := filepath.Join("..", "..", "parity", "testdata", "real-blip2-flan-t5-xl")
	raw, err := transformers.ReadJSONFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	cfg, err := NewT5ConfigFromDict(raw["text_config"].(map[string]any), "text_config")
	require.NoError(t, err)
	idx, err := weights.ReadIndex(filepath.Join(dir, weights.SafetensorsIndexName))
	require.NoError(t, err)
	b := weights.NewShapeBinder()
	_, err = NewT5ForConditionalGeneration(cfg, b.Pp("language_model"))
	require.NoError(t, err)
	var ours, tied []string
	for _, k := range b.Keys() {
		if k.TiedTo != "" {
			tied = append(tied, k.Name)
			continue
		}
		ours = append(ours, k.Name)
	}
	var want []string
	for k := range idx.WeightMap {
		if strings.HasPrefix(k, "language_model.") {
			want = append(want, k)
		}
	}
	sort.Strings(ours)
	sort.Strings(want)
	require.Equal(t, want, ours)
	require.Equal(t, []string{"language_model.encoder.embed_tokens.weight", "language_model.decoder.embed_tokens.weight"}, tied)
}
