package opt

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/gotransformers/gotransformers/transformers"
)

// ModelType is the model_type of OPTConfig ("opt").
const ModelType = "opt"

// OPTConfig mirrors transformers' OPTConfig (configuration_opt.py): the config.json keys of an OPT
// language model. Fields are the JSON keys in CamelCase; the embedded PretrainedConfig holds the
// attributes common to every configuration.
type OPTConfig struct {
	transformers.PretrainedConfig

	VocabSize             int  `json:"vocab_size"`              // rows of embed_tokens
	HiddenSize            int  `json:"hidden_size"`             // D, width of the decoder layers
	NumHiddenLayers       int  `json:"num_hidden_layers"`       // decoder layers
	FFNDim                int  `json:"ffn_dim"`                 // fc1 out / fc2 in
	MaxPositionEmbeddings int  `json:"max_position_embeddings"` // learned positions (table has +2 rows)
	DoLayerNormBefore     bool `json:"do_layer_norm_before"`    // pre-LN (true) or post-LN (350m)
	RemoveFinalLayerNorm  bool `json:"_remove_final_layer_norm"`
	// WordEmbedProjDim is the embedding width; when it differs from HiddenSize the model has
	// project_in / project_out. JSON null means HiddenSize (resolved at load).
	WordEmbedProjDim           int     `json:"word_embed_proj_dim"`
	Dropout                    float64 `json:"dropout"`
	AttentionDropout           float64 `json:"attention_dropout"`
	NumAttentionHeads          int     `json:"num_attention_heads"`
	ActivationFunction         string  `json:"activation_function"` // "relu" in every OPT checkpoint
	LayerDrop                  float64 `json:"layerdrop"`
	InitStd                    float64 `json:"init_std"`
	UseCache                   bool    `json:"use_cache"`
	EnableBias                 bool    `json:"enable_bias"`
	LayerNormElementwiseAffine bool    `json:"layer_norm_elementwise_affine"`
}

// NewOPTConfig returns OPTConfig() with transformers' defaults (the facebook/opt-125m shape).
func NewOPTConfig() *OPTConfig {
	c := &OPTConfig{
		PretrainedConfig:           transformers.NewPretrainedConfig(),
		VocabSize:                  50272,
		HiddenSize:                 768,
		NumHiddenLayers:            12,
		FFNDim:                     3072,
		MaxPositionEmbeddings:      2048,
		DoLayerNormBefore:          true,
		RemoveFinalLayerNorm:       false,
		WordEmbedProjDim:           768,
		Dropout:                    0.1,
		AttentionDropout:           0.0,
		NumAttentionHeads:          12,
		ActivationFunction:         "relu",
		LayerDrop:                  0.0,
		InitStd:                    0.02,
		UseCache:                   true,
		EnableBias:                 true,
		LayerNormElementwiseAffine: true,
	}
	c.PadTokenID = transformers.IntPtr(1)
	c.BOSTokenID = transformers.IntPtr(2)
	c.EOSTokenID = transformers.SingleTokenID(2)
	return c
}

// ModelType returns "opt" (the class attribute model_type).
func (c *OPTConfig) ModelType() string { return ModelType }

// NewOPTConfigFromDict mirrors OPTConfig(**config_dict) (PretrainedConfig.from_dict): the keys of
// m over the defaults, unknown keys kept. file names the source in errors. The result is validated.
func NewOPTConfigFromDict(m map[string]any, file string) (*OPTConfig, error) {
	c := NewOPTConfig()
	if v, ok := m["word_embed_proj_dim"]; ok && v == nil {
		m = withoutKey(m, "word_embed_proj_dim")
	}
	if err := transformers.DecodeConfig(c, m, file, nil); err != nil {
		return nil, fmt.Errorf("opt: %w", err)
	}
	// word_embed_proj_dim=None means hidden_size.
	if v, ok := m["word_embed_proj_dim"]; !ok || v == nil {
		c.WordEmbedProjDim = c.HiddenSize
	}
	if err := c.validate(file); err != nil {
		return nil, err
	}
	return c, nil
}

// OPTConfigFromPretrained mirrors OPTConfig.from_pretrained: config.json of a local folder (or a
// path to the JSON file itself, or a hub repo id once the resolver supports it).
func OPTConfigFromPretrained(ctx context.Context, nameOrPath string, opts ...transformers.Option) (*OPTConfig, error) {
	m, path, err := transformers.LoadConfigDict(ctx, nameOrPath, transformers.ConfigName, opts...)
	if err != nil {
		return nil, fmt.Errorf("opt: %w", err)
	}
	if err := transformers.CheckModelType(m, path, ModelType); err != nil {
		return nil, fmt.Errorf("opt: %w", err)
	}
	return NewOPTConfigFromDict(m, path)
}

// Validate checks the sizes a model needs (positive, heads dividing hidden_size).
func (c *OPTConfig) Validate() error { return c.validate("config") }

func (c *OPTConfig) validate(file string) error {
	if c == nil {
		return fmt.Errorf("opt: %s: nil config: %w", file, transformers.ErrInvalidConfig)
	}
	for _, s := range []struct {
		key      string
		v, least int
	}{
		{"vocab_size", c.VocabSize, 1},
		{"hidden_size", c.HiddenSize, 1},
		{"num_hidden_layers", c.NumHiddenLayers, 0},
		{"ffn_dim", c.FFNDim, 1},
		{"max_position_embeddings", c.MaxPositionEmbeddings, 1},
		{"word_embed_proj_dim", c.WordEmbedProjDim, 1},
	} {
		if err := transformers.CheckSize(file, s.key, s.v, s.least); err != nil {
			return fmt.Errorf("opt: %w", err)
		}
	}
	if err := transformers.CheckHeads(file, "hidden_size", c.HiddenSize, "num_attention_heads", c.NumAttentionHeads); err != nil {
		return fmt.Errorf("opt: %w", err)
	}
	return nil
}

// ToDict mirrors OPTConfig.to_dict(): every attribute (defaults filled in), unknown keys,
// model_type and transformers_version.
func (c *OPTConfig) ToDict() map[string]any { return transformers.ConfigToDict(c, ModelType) }

// ToDiffDict mirrors OPTConfig.to_diff_dict(): the attributes that differ from OPTConfig() or
// PretrainedConfig() (plus transformers_version and model_type).
func (c *OPTConfig) ToDiffDict() map[string]any {
	return transformers.DiffDict(c.ToDict(), NewOPTConfig().ToDict())
}

// ToJSONString mirrors OPTConfig.to_json_string(use_diff): the exact string transformers writes.
func (c *OPTConfig) ToJSONString(useDiff bool) string {
	if useDiff {
		return transformers.ToJSONString(c.ToDiffDict())
	}
	return transformers.ToJSONString(c.ToDict())
}

// SaveJSON mirrors to_json_file(path, use_diff) (written atomically).
func (c *OPTConfig) SaveJSON(path string, useDiff bool) error {
	return transformers.SaveJSON(path, c.ToJSONString(useDiff))
}

// SavePretrained mirrors save_pretrained(dir): dir/config.json with use_diff=True.
func (c *OPTConfig) SavePretrained(dir string) error {
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
