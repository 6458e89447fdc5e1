package t5

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/transformers/generation"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

const t5Fixture = "../../parity/testdata/flan-t5"

// TestGenerateFixtures runs every generate case of parity/testdata/flan-t5 (greedy on a padded
// batch, beam search with num_return_sequences, repetition penalty, no_repeat_ngram) and compares
// the ids with transformers 4.45's (rows start with decoder_start_token_id 0).
func TestGenerateFixtures(t *testing.T) {
	ctx := context.Background()
	data, err := os.ReadFile(filepath.Join(t5Fixture, "cases", "cases.json"))
	require.NoError(t, err)
	var f struct {
		Cases []struct {
			ID             string                     `json:"id"`
			Kind           string                     `json:"kind"`
			GenerateKwargs map[string]json.RawMessage `json:"generate_kwargs"`
			ExpectedIDs    [][]int                    `json:"expected_ids"`
		} `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(data, &f))
	exp, err := weights.OpenSafetensors(filepath.Join(t5Fixture, "cases", "expected.safetensors"))
	require.NoError(t, err)
	defer exp.Close()
	rows := func(name string) [][]int {
		d, shape, err := exp.Int64(name)
		require.NoError(t, err)
		out := make([][]int, shape[0])
		for i := range out {
			for j := 0; j < shape[1]; j++ {
				out[i] = append(out[i], int(d[i*shape[1]+j]))
			}
		}
		return out
	}
	m, err := FromPretrained(ctx, t5Fixture)
	require.NoError(t, err)
	gc, err := generation.GenerationConfigFromPretrained(ctx, t5Fixture)
	require.NoError(t, err)
	n := 0
	for _, c := range f.Cases {
		if c.Kind != "generate" {
			continue
		}
		n++
		ids, mask := rows(c.ID+"/in/input_ids"), rows(c.ID+"/in/attention_mask")
		out, err := m.Generate(ctx, ids, mask, generation.WithConfig(gc), generation.WithKwargs(c.GenerateKwargs))
		require.NoError(t, err, c.ID)
		assert.Equal(t, c.ExpectedIDs, out.Sequences, c.ID)
		if c.ID == "generate/greedy" {
			// the mask inferred from pad tokens (pad 0 is not EOS 1) gives the same result
			out, err = m.Generate(ctx, ids, nil, generation.WithConfig(gc), generation.WithKwargs(c.GenerateKwargs))
			require.NoError(t, err)
			assert.Equal(t, c.ExpectedIDs, out.Sequences, "inferred attention mask")
			// the model config carries the same special tokens as generation_config.json
			out, err = m.Generate(ctx, ids, mask, generation.WithKwargs(c.GenerateKwargs))
			require.NoError(t, err)
			assert.Equal(t, c.ExpectedIDs, out.Sequences, "model-config defaults")
		}
	}
	assert.Equal(t, 5, n)

	// default max_length 20 counts the decoder start token: 19 new tokens at most
	out, err := m.Generate(ctx, rows("generate/greedy_single/in/input_ids"), nil, generation.WithConfig(gc))
	require.NoError(t, err)
	assert.LessOrEqual(t, len(out.Sequences[0]), 20)
	assert.Equal(t, 0, out.Sequences[0][0])

	_, err = m.Generate(ctx, nil, nil)
	require.ErrorContains(t, err, "input_ids")
	_, err = m.Generate(ctx, [][]int{{1, 1 << 30}}, nil)
	require.ErrorContains(t, err, "vocabulary")
}
