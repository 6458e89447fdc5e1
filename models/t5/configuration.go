package t5

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gotransformers/gotransformers/transformers"
)

// ModelType is the model_type of T5Config ("t5").
const ModelType = "t5"

// T5Config mirrors transformers' T5Config (configuration_t5.py), classic T5 and Flan-T5 (v1.1,
// "gated-gelu"). The aliases hidden_size, num_attention_heads and num_hidden_layers of
// transformers' attribute_map are accepted in config.json and stored in DModel, NumHeads and
// NumLayers.
type T5Config struct {
	transformers.PretrainedConfig

	VocabSize int `json:"vocab_size"` // rows of shared
	DModel    int `json:"d_model"`    // D
	DKV       int `json:"d_kv"`       // per-head width (inner = NumHeads*DKV may differ from D)
	DFF       int `json:"d_ff"`       // feed-forward width
	NumLayers int `json:"num_layers"` // encoder blocks
	// NumDecoderLayers is the number of decoder blocks (JSON null means NumLayers).
	NumDecoderLayers             int     `json:"num_decoder_layers"`
	NumHeads                     int     `json:"num_heads"`
	RelativeAttentionNumBuckets  int     `json:"relative_attention_num_buckets"`
	RelativeAttentionMaxDistance int     `json:"relative_attention_max_distance"`
	DropoutRate                  float64 `json:"dropout_rate"`
	ClassifierDropout            float64 `json:"classifier_dropout"`
	LayerNormEpsilon             float64 `json:"layer_norm_epsilon"`
	InitializerFactor            float64 `json:"initializer_factor"`
	// FeedForwardProj is "relu", "gelu", "gated-gelu", "gated-silu", ...: "[gated-]ACT".
	FeedForwardProj string `json:"feed_forward_proj"`
	UseCache        bool   `json:"use_cache"`
	// DenseActFn is the activation derived from FeedForwardProj ("gated-gelu" gives "gelu_new",
	// as transformers' __init__ does); a dense_act_fn key in config.json overrides it.
	DenseActFn string `json:"dense_act_fn"`
	// IsGatedAct is derived from FeedForwardProj (wi_0/wi_1 instead of wi); a JSON key overrides it.
	IsGatedAct bool `json:"is_gated_act"`
}

// NewT5Config returns T5Config() with transformers' defaults (the t5-small shape).
func NewT5Config() *T5Config {
	c := &T5Config{
		PretrainedConfig:             transformers.NewPretrainedConfig(),
		VocabSize:                    32128,
		DModel:                       512,
		DKV:                          64,
		DFF:                          2048,
		NumLayers:                    6,
		NumDecoderLayers:             6,
		NumHeads:                     8,
		RelativeAttentionNumBuckets:  32,
		RelativeAttentionMaxDistance: 128,
		DropoutRate:                  0.1,
		ClassifierDropout:            0.0,
		LayerNormEpsilon:             1e-6,
		InitializerFactor:            1.0,
		FeedForwardProj:              "relu",
		UseCache:                     true,
		DenseActFn:                   "relu",
		IsGatedAct:                   false,
	}
	c.IsEncoderDecoder = true
	c.PadTokenID = transformers.IntPtr(0)
	c.EOSTokenID = transformers.SingleTokenID(1)
	return c
}

// ModelType returns "t5" (the class attribute model_type).
func (c *T5Config) ModelType() string { return ModelType }

// attributeMap is T5Config.attribute_map: standard names accepted for T5's own keys.
func attributeMap() map[string]string {
	return map[string]string{
		"hidden_size":         "d_model",
		"num_attention_heads": "num_heads",
		"num_hidden_layers":   "num_layers",
	}
}

// NewT5ConfigFromDict mirrors T5Config(**config_dict): the keys of m over the defaults, unknown
// keys kept, dense_act_fn / is_gated_act derived from feed_forward_proj unless given, and
// num_decoder_layers = num_layers when null or missing. file names the source in errors.
func NewT5ConfigFromDict(m map[string]any, file string) (*T5Config, error) {
	c := NewT5Config()
	if v, ok := m["num_decoder_layers"]; ok && v == nil {
		m = withoutKey(m, "num_decoder_layers")
	}
	if err := transformers.DecodeConfig(c, m, file, attributeMap()); err != nil {
		return nil, fmt.Errorf("t5: %w", err)
	}
	if v, ok := m["num_decoder_layers"]; !ok || v == nil {
		c.NumDecoderLayers = 6
		if n, ok := m["num_layers"]; ok && n != nil {
			c.NumDecoderLayers = c.NumLayers
		}
	}
	act, gated, err := ParseFeedForwardProj(c.FeedForwardProj)
	if err != nil {
		return nil, fmt.Errorf("t5: %s: key \"feed_forward_proj\": %v: %w", file, err, transformers.ErrInvalidConfig)
	}
	// Python derives both in __init__, then PretrainedConfig.__init__ sets the keys given in the
	// dict, so explicit values win.
	if _, ok := m["dense_act_fn"]; !ok {
		c.DenseActFn = act
	}
	if _, ok := m["is_gated_act"]; !ok {
		c.IsGatedAct = gated
	}
	if err := c.validate(file); err != nil {
		return nil, err
	}
	return c, nil
}

// ParseFeedForwardProj splits feed_forward_proj ("relu", "gated-gelu", ...) as T5Config.__init__
// does: the activation is the last "-" part, gated when the first is "gated"; "gated-gelu" gives
// "gelu_new" (backwards compatibility). Anything but "ACT" or "gated-ACT" is an error.
func ParseFeedForwardProj(s string) (denseActFn string, isGated bool, err error) {
	parts := strings.Split(s, "-")
	if (len(parts) > 1 && parts[0] != "gated") || len(parts) > 2 || parts[len(parts)-1] == "" {
		return "", false, fmt.Errorf("%q is not a valid activation: use ACT or gated-ACT (e.g. \"gated-gelu\", \"relu\")", s)
	}
	denseActFn = parts[len(parts)-1]
	isGated = parts[0] == "gated"
	if s == "gated-gelu" {
		denseActFn = "gelu_new"
	}
	return denseActFn, isGated, nil
}

// T5ConfigFromPretrained mirrors T5Config.from_pretrained: config.json of a local folder (or a
// path to the JSON file itself, or a hub repo id once the resolver supports it).
func T5ConfigFromPretrained(ctx context.Context, nameOrPath string, opts ...transformers.Option) (*T5Config, error) {
	m, path, err := transformers.LoadConfigDict(ctx, nameOrPath, transformers.ConfigName, opts...)
	if err != nil {
		return nil, fmt.Errorf("t5: %w", err)
	}
	if err := transformers.CheckModelType(m, path, ModelType); err != nil {
		return nil, fmt.Errorf("t5: %w", err)
	}
	return NewT5ConfigFromDict(m, path)
}

// Validate checks the sizes a model needs.
func (c *T5Config) Validate() error { return c.validate("config") }

func (c *T5Config) validate(file string) error {
	if c == nil {
		return fmt.Errorf("t5: %s: nil config: %w", file, transformers.ErrInvalidConfig)
	}
	for _, s := range []struct {
		key      string
		v, least int
	}{
		{"vocab_size", c.VocabSize, 1},
		{"d_model", c.DModel, 1},
		{"d_kv", c.DKV, 1},
		{"d_ff", c.DFF, 1},
		{"num_layers", c.NumLayers, 0},
		{"num_decoder_layers", c.NumDecoderLayers, 0},
		{"num_heads", c.NumHeads, 1},
		{"relative_attention_num_buckets", c.RelativeAttentionNumBuckets, 1},
		{"relative_attention_max_distance", c.RelativeAttentionMaxDistance, 1},
	} {
		if err := transformers.CheckSize(file, s.key, s.v, s.least); err != nil {
			return fmt.Errorf("t5: %w", err)
		}
	}
	return nil
}

// ToDict mirrors T5Config.to_dict().
func (c *T5Config) ToDict() map[string]any { return transformers.ConfigToDict(c, ModelType) }

// ToDiffDict mirrors T5Config.to_diff_dict().
func (c *T5Config) ToDiffDict() map[string]any {
	return transformers.DiffDict(c.ToDict(), NewT5Config().ToDict())
}

// ToJSONString mirrors T5Config.to_json_string(use_diff).
func (c *T5Config) ToJSONString(useDiff bool) string {
	if useDiff {
		return transformers.ToJSONString(c.ToDiffDict())
	}
	return transformers.ToJSONString(c.ToDict())
}

// SaveJSON mirrors to_json_file(path, use_diff) (written atomically).
func (c *T5Config) SaveJSON(path string, useDiff bool) error {
	return transformers.SaveJSON(path, c.ToJSONString(useDiff))
}

// SavePretrained mirrors save_pretrained(dir): dir/config.json with use_diff=True.
func (c *T5Config) SavePretrained(dir string) error {
	return c.SaveJSON(filepath.Join(dir, transformers.ConfigName), true)
}

// withoutKey returns a shallow copy of m without key.
func withoutKey(m map[string]any, key string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}
