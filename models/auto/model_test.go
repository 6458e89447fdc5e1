package auto

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/models/opt"
	"github.com/gotransformers/gotransformers/models/t5"
	"github.com/stretchr/testify/require"
)

func TestModelFromPretrainedDispatchesOnModelType(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join("..", "..", "parity", "testdata")
	cases := map[string]func(Model) bool{
		"blip2-opt":             func(m Model) bool { _, ok := m.(*blip2.Blip2ForConditionalGeneration); return ok },
		"blip2-flan-t5":         func(m Model) bool { _, ok := m.(*blip2.Blip2ForConditionalGeneration); return ok },
		"blip2-opt-legacy-fp16": func(m Model) bool { _, ok := m.(*blip2.Blip2ForConditionalGeneration); return ok },
		"opt":                   func(m Model) bool { _, ok := m.(*opt.OPTForCausalLM); return ok },
		"flan-t5":               func(m Model) bool { _, ok := m.(*t5.T5ForConditionalGeneration); return ok },
	}
	for dir, isWant := range cases {
		m, err := ModelFromPretrained(ctx, filepath.Join(root, dir))
		require.NoError(t, err, dir)
		require.True(t, isWant(m), "%s: got %T", dir, m)
		require.NoError(t, m.Close())
	}
	// A model type without a generation model here (the Q-Former alone) and an unknown one.
	bad := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bad, "config.json"), []byte(`{"model_type": "blip_2_qformer"}`), 0o644))
	_, err := ModelFromPretrained(ctx, bad)
	require.ErrorContains(t, err, "model_type")
	require.NoError(t, os.WriteFile(filepath.Join(bad, "config.json"), []byte(`{"model_type": "llama"}`), 0o644))
	_, err = ModelFromPretrained(ctx, bad)
	require.ErrorContains(t, err, "llama")
}
