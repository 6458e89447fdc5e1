package blip2

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/transformers/generation"
	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// genCase is the part of a fixture generate case these tests read.
type genCase struct {
	ID                 string                     `json:"id"`
	Kind               string                     `json:"kind"`
	Inputs             map[string]json.RawMessage `json:"inputs"`
	GenerateKwargs     map[string]json.RawMessage `json:"generate_kwargs"`
	ExpectedIDs        [][]int                    `json:"expected_ids"`
	DerivedExpectedIDs [][]int                    `json:"derived_expected_ids"`
	ExpectError        string                     `json:"expect_error"`
}

type genFixture struct {
	dir   string
	cases map[string]genCase
	exp   *weights.Safetensors
}

func loadGenFixture(t *testing.T, folder string) *genFixture {
	t.Helper()
	dir := filepath.Join(parityFixtures, folder)
	data, err := os.ReadFile(filepath.Join(dir, "cases", "cases.json"))
	require.NoError(t, err)
	var f struct {
		Cases []genCase `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(data, &f))
	exp, err := weights.OpenSafetensors(filepath.Join(dir, "cases", "expected.safetensors"))
	require.NoError(t, err)
	t.Cleanup(func() { exp.Close() })
	g := &genFixture{dir: dir, cases: map[string]genCase{}, exp: exp}
	for _, c := range f.Cases {
		if c.Kind == "generate" {
			g.cases[c.ID] = c
		}
	}
	return g
}

// input reads a case input: pixel values (float) or ids (int rows); nil when absent.
func (g *genFixture) input(t *testing.T, c genCase) *GenerateInput {
	t.Helper()
	ref := func(name string) string {
		raw, ok := c.Inputs[name]
		if !ok {
			return ""
		}
		var r struct{ Tensor, SameAs string }
		require.NoError(t, json.Unmarshal(raw, &r))
		if r.Tensor == "" {
			return r.SameAs
		}
		return r.Tensor
	}
	rows := func(name string) [][]int {
		n := ref(name)
		if n == "" {
			return nil
		}
		d, shape, err := g.exp.Int64(n)
		require.NoError(t, err)
		out := make([][]int, shape[0])
		for i := range out {
			for j := 0; j < shape[1]; j++ {
				out[i] = append(out[i], int(d[i*shape[1]+j]))
			}
		}
		return out
	}
	pv, err := g.exp.Float32(ref("pixel_values"))
	require.NoError(t, err)
	return &GenerateInput{PixelValues: pv, InputIDs: rows("input_ids"), AttentionMask: rows("attention_mask")}
}

func sameData(a, b *tensor.Tensor) bool {
	if len(a.Data) != len(b.Data) {
		return false
	}
	for i := range a.Data {
		if a.Data[i] != b.Data[i] {
			return false
		}
	}
	return true
}

// TestGenerateFixtures runs a few generate cases of every BLIP-2 folder (expanded OPT, legacy
// OPT from float16 weights, expanded T5) and compares the ids with transformers 4.45's.
func TestGenerateFixtures(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		folder string
		ids    []string
	}{
		{"blip2-opt", []string{"generate/caption", "generate/vqa_greedy", "generate/beam3", "generate/min_new_tokens", "generate/batch2_greedy", "generate/batch2_beam"}},
		{"blip2-opt-legacy-fp16", []string{"generate/caption", "generate/vqa_greedy", "generate/eos_stop", "generate/min_new_tokens", "generate/batch2_beam"}},
		{"blip2-flan-t5", []string{"generate/caption", "generate/beam3_return2", "generate/batch2_greedy", "generate/beam3_return2_early_stopping"}},
	} {
		t.Run(tc.folder, func(t *testing.T) {
			g := loadGenFixture(t, tc.folder)
			m, err := FromPretrained(ctx, g.dir)
			require.NoError(t, err)
			defer m.Close()
			for _, id := range tc.ids {
				c, ok := g.cases[id]
				require.True(t, ok, id)
				out, err := m.Generate(ctx, g.input(t, c), generation.WithKwargs(c.GenerateKwargs))
				require.NoError(t, err, id)
				assert.Equal(t, c.ExpectedIDs, out.Sequences, id)
			}
		})
	}
}

// TestGenerateCaptionWithoutInputIDs pins our fix: transformers 4.45 raises in expanded mode (no
// <image> tokens to fill) and for T5 (bos_token_id None); we caption with the prompt
// Blip2Processor(images, text="") builds, so the result equals the generate/caption case (same
// image). Legacy OPT starts from [bos] as 4.45 does.
func TestGenerateCaptionWithoutInputIDs(t *testing.T) {
	ctx := context.Background()
	for _, folder := range []string{"blip2-opt", "blip2-flan-t5", "blip2-opt-legacy-fp16"} {
		t.Run(folder, func(t *testing.T) {
			g := loadGenFixture(t, folder)
			m, err := FromPretrained(ctx, g.dir)
			require.NoError(t, err)
			defer m.Close()
			ref := g.cases["generate/caption"]
			src := ref
			if c, ok := g.cases["generate/caption_no_input_ids"]; ok {
				require.NotEmpty(t, c.ExpectError, "4.45 raises here")
				src = c
				require.True(t, sameData(g.input(t, c).PixelValues, g.input(t, ref).PixelValues), "both cases use one image")
			}
			in := g.input(t, src)
			in.InputIDs, in.AttentionMask = nil, nil
			out, err := m.Generate(ctx, in, generation.WithKwargs(src.GenerateKwargs))
			require.NoError(t, err)
			assert.Equal(t, ref.ExpectedIDs, out.Sequences)
		})
	}
}

// TestGenerateOPTNumReturnSequences pins our fix for OPT with num_return_sequences > 1 (4.45
// prepends BOS to batch_size rows only and raises): every row gets BOS, which equals the fixture's
// derived_sequences ([bos] + language_model.generate(...)).
func TestGenerateOPTNumReturnSequences(t *testing.T) {
	ctx := context.Background()
	for _, folder := range []string{"blip2-opt", "blip2-opt-legacy-fp16"} {
		t.Run(folder, func(t *testing.T) {
			g := loadGenFixture(t, folder)
			m, err := FromPretrained(ctx, g.dir)
			require.NoError(t, err)
			defer m.Close()
			c := g.cases["generate/beam3_return2"]
			require.NotEmpty(t, c.ExpectError)
			require.NotEmpty(t, c.DerivedExpectedIDs)
			out, err := m.Generate(ctx, g.input(t, c), generation.WithKwargs(c.GenerateKwargs))
			require.NoError(t, err)
			assert.Equal(t, c.DerivedExpectedIDs, out.Sequences)
		})
	}
}

func TestGenerateBadInput(t *testing.T) {
	ctx := context.Background()
	g := loadGenFixture(t, "blip2-opt")
	m, err := FromPretrained(ctx, g.dir)
	require.NoError(t, err)
	defer m.Close()
	_, err = m.Generate(ctx, nil)
	require.ErrorContains(t, err, "pixel_values")
	_, err = m.Generate(ctx, &GenerateInput{PixelValues: tensor.New(3, 4)})
	require.ErrorContains(t, err, "pixel_values")
	in := g.input(t, g.cases["generate/caption"])
	in.InputIDs = [][]int{{1, 2, 3}} // no <image> tokens in expanded mode
	in.AttentionMask = nil
	_, err = m.Generate(ctx, in)
	require.ErrorContains(t, err, "<image>")
	in = g.input(t, g.cases["generate/caption"])
	_, err = m.Generate(ctx, in, generation.WithNumBeams(2), generation.WithNumReturnSequences(3))
	require.ErrorContains(t, err, "num_return_sequences")
}
