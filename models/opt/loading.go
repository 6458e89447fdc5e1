package opt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gotransformers/gotransformers/transformers"
	"github.com/gotransformers/gotransformers/transformers/generation"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// checkpointFiles are the files FromPretrained asks the resolver for: config.json and the weight
// files in transformers' order of preference (only those that exist are used).
var checkpointFiles = []string{
	transformers.ConfigName, generation.GenerationConfigName, weights.SafetensorsName, weights.SafetensorsIndexName, weights.PytorchName, weights.PytorchIndexName,
}

// FromPretrained mirrors OPTForCausalLM.from_pretrained: config.json and the weights
// (model.safetensors, model.safetensors.index.json with its shards, or pytorch_model.bin[.index.json])
// of a model folder, bound strictly (one error lists every missing, unexpected and mis-shaped key)
// and kept in their stored dtype unless transformers.WithDType asks otherwise. The weights stay
// memory-mapped: call Close when the model is no longer used.
func FromPretrained(ctx context.Context, nameOrPath string, opts ...transformers.Option) (*OPTForCausalLM, error) {
	lo := transformers.NewLoadOptions(opts...)
	dir, err := transformers.ResolveModelDir(ctx, nameOrPath, checkpointFiles, lo)
	if err != nil {
		return nil, fmt.Errorf("opt: %w", err)
	}
	cfg, err := OPTConfigFromPretrained(ctx, dir, opts...)
	if err != nil {
		return nil, err
	}
	sd, err := weights.LoadStateDict(dir)
	if err != nil {
		return nil, fmt.Errorf("opt: %w", err)
	}
	b := lo.NewBinder(sd)
	m, err := NewOPTForCausalLM(cfg, b)
	if err == nil {
		err = b.Finish()
	}
	if err != nil {
		sd.Close()
		return nil, fmt.Errorf("opt: load %s: %w", dir, err)
	}
	m.sd = sd
	if _, err := os.Stat(filepath.Join(dir, generation.GenerationConfigName)); err == nil {
		gc, err := generation.GenerationConfigFromPretrained(ctx, dir)
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("opt: load %s: %w", dir, err)
		}
		m.GenerationConfig = gc
	}
	return m, nil
}

// Close releases the memory-mapped checkpoint of a model made by FromPretrained (a no-op for
// models built from a caller's binder). The model must not be used afterwards.
func (m *OPTForCausalLM) Close() error {
	if m.sd == nil {
		return nil
	}
	err := m.sd.Close()
	m.sd = nil
	return err
}
