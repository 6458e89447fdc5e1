package transformers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// ConfigName is the file name of a model configuration (transformers' CONFIG_NAME).
const ConfigName = "config.json"

// LoadConfigDict reads the JSON object file fileName (e.g. config.json) for nameOrPath: a path to
// the JSON file itself, a local model folder, or a hub repo id resolved by ResolveModelDir. It
// returns the decoded object (see ParseJSON) and the path it was read from.
func LoadConfigDict(ctx context.Context, nameOrPath, fileName string, opts ...Option) (map[string]any, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	path := ""
	if st, err := os.Stat(nameOrPath); err == nil && !st.IsDir() {
		path = nameOrPath
	} else {
		dir, err := ResolveModelDir(ctx, nameOrPath, []string{fileName}, NewLoadOptions(opts...))
		if err != nil {
			return nil, "", err
		}
		path = filepath.Join(dir, fileName)
	}
	m, err := ReadJSONFile(path)
	if err != nil {
		return nil, path, err
	}
	return m, path, nil
}

// MaxConfigSize bounds the sizes a configuration may declare (hidden sizes, vocabularies, layer
// counts): larger values are rejected on load as certainly wrong.
const MaxConfigSize = 1 << 24

// MaxLayers bounds the layer counts a configuration may declare (num_hidden_layers, num_layers,
// num_decoder_layers). Every layer is built as Go objects before the checkpoint is bound, so a
// forged count in a 1 KB config.json would otherwise cost gigabytes (65536 layers: 1.6 GB and half
// a minute) before the missing keys are reported. Published models have at most a few hundred.
const MaxLayers = 1 << 12

var layerKeys = map[string]bool{"num_hidden_layers": true, "num_layers": true, "num_decoder_layers": true}

// CheckSize returns an error naming file and key unless min <= v <= MaxConfigSize (MaxLayers for
// the layer-count keys).
func CheckSize(file, key string, v, min int) error {
	if v < min {
		return fmt.Errorf("%s: key %q: %d must be >= %d: %w", file, key, v, min, ErrInvalidConfig)
	}
	limit := MaxConfigSize
	if layerKeys[key] {
		limit = MaxLayers
	}
	if v > limit {
		return fmt.Errorf("%s: key %q: %d is larger than %d: %w", file, key, v, limit, ErrInvalidConfig)
	}
	return nil
}

// CheckHeads returns an error naming file and keys unless heads > 0 divides hidden.
func CheckHeads(file, hiddenKey string, hidden int, headsKey string, heads int) error {
	if err := CheckSize(file, headsKey, heads, 1); err != nil {
		return err
	}
	if hidden%heads != 0 {
		return fmt.Errorf("%s: key %q: %d heads do not divide %s %d: %w", file, headsKey, heads, hiddenKey, hidden, ErrInvalidConfig)
	}
	return nil
}

// CheckProb returns an error naming file and key unless 0 <= p <= 1 (dropout rates).
func CheckProb(file, key string, p float64) error {
	if !(p >= 0 && p <= 1) {
		return fmt.Errorf("%s: key %q: %v is not a probability in [0, 1]: %w", file, key, p, ErrInvalidConfig)
	}
	return nil
}

// CheckModelType returns an error naming file unless m's model_type is absent or want.
func CheckModelType(m map[string]any, file, want string) error {
	v, ok := m["model_type"]
	if !ok {
		return nil
	}
	s, isStr := v.(string)
	if !isStr {
		return fmt.Errorf("%s: key \"model_type\": want a string, got %s: %w", file, pyTypeName(v), ErrInvalidConfig)
	}
	if s != want {
		return fmt.Errorf("%s: key \"model_type\": %q, want %q: %w", file, s, want, ErrInvalidConfig)
	}
	return nil
}
