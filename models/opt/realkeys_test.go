package opt

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/transformers"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// TestRealCheckpointKeys builds the language model of Salesforce/blip2-opt-2.7b (shapes only) and
// checks that it asks for exactly the language_model.* keys of the hub's safetensors index, plus
// the tied lm_head.weight the index omits.
func TestRealCheckpointKeys(t *testing.T) {
	dir := filepath.Join("..", "..", "parity", "testdata", "real-blip2-opt-2.7b")
	raw, err := transformers.ReadJSONFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	cfg, err := NewOPTConfigFromDict(raw["text_config"].(map[string]any), "text_config")
	require.NoError(t, err)
	idx, err := weights.ReadIndex(filepath.Join(dir, weights.SafetensorsIndexName))
	require.NoError(t, err)
	b := weights.NewShapeBinder()
	_, err = NewOPTForCausalLM(cfg, b.Pp("language_model"))
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
	require.Equal(t, []string{"language_model.lm_head.weight"}, tied)
}
