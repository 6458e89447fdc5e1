package t5

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gotransformers/gotransformers/transformers"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// loadConfig reads dir/config.json over the defaults.
func loadConfig(dir string) (*T5Config, error) {
	p := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("t5: %w", err)
	}
	cfg := NewT5Config()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("t5: %s: %w", p, err)
	}
	delete(raw, "eos_token_id") // TODO: use the configs' loader
	data, _ = json.Marshal(raw)
	if err := json.Unmarshal(data, cfg); err != nil {
		return nil, fmt.Errorf("t5: %s: %w", p, err)
	}
	if _, ok := raw["num_decoder_layers"]; !ok {
		cfg.NumDecoderLayers = cfg.NumLayers
	}
	if cfg.DecoderStartTokenID == nil {
		cfg.DecoderStartTokenID = transformers.IntPtr(0)
	}
	return cfg, nil
}

// FromPretrained mirrors T5ForConditionalGeneration.from_pretrained for a local folder: config.json
// and the weights (model.safetensors, a sharded index or pytorch_model.bin), bound strictly (every
// missing, unexpected or mis-shaped key is an error) and kept in their stored dtype.
func FromPretrained(ctx context.Context, nameOrPath string) (*T5ForConditionalGeneration, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg, err := loadConfig(nameOrPath)
	if err != nil {
		return nil, err
	}
	sd, err := weights.LoadStateDict(nameOrPath)
	if err != nil {
		return nil, fmt.Errorf("t5: %w", err)
	}
	b := weights.NewBinder(sd)
	m, err := NewT5ForConditionalGeneration(cfg, b)
	if err != nil {
		return nil, err
	}
	if err := b.Finish(); err != nil {
		return nil, fmt.Errorf("t5: %s: %w", nameOrPath, err)
	}
	return m, nil
}
