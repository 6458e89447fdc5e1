package blip2

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"

	"github.com/gotransformers/gotransformers/models/opt"
	"github.com/gotransformers/gotransformers/models/t5"
	"github.com/gotransformers/gotransformers/transformers"
)

// Model types of the BLIP-2 configurations.
const (
	ModelType        = "blip-2"
	VisionModelType  = "blip_2_vision_model"
	QFormerModelType = "blip_2_qformer"
)

// Blip2VisionConfig mirrors transformers' Blip2VisionConfig: the EVA-ViT image encoder.
type Blip2VisionConfig struct {
	transformers.PretrainedConfig

	HiddenSize        int     `json:"hidden_size"`         // D (1408)
	IntermediateSize  int     `json:"intermediate_size"`   // MLP width
	NumHiddenLayers   int     `json:"num_hidden_layers"`   // encoder layers
	NumAttentionHeads int     `json:"num_attention_heads"` // heads (D divisible by it)
	ImageSize         int     `json:"image_size"`          // input resolution (square)
	PatchSize         int     `json:"patch_size"`          // patch side; (ImageSize/PatchSize)^2 patches + 1 class token
	HiddenAct         string  `json:"hidden_act"`          // "gelu"
	LayerNormEps      float64 `json:"layer_norm_eps"`
	AttentionDropout  float64 `json:"attention_dropout"`
	InitializerRange  float64 `json:"initializer_range"`
	QKVBias           bool    `json:"qkv_bias"` // q_bias and v_bias parameters
}

// NewBlip2VisionConfig returns Blip2VisionConfig() with transformers' defaults (ViT-g/14).
func NewBlip2VisionConfig() *Blip2VisionConfig {
	return &Blip2VisionConfig{
		PretrainedConfig:  transformers.NewPretrainedConfig(),
		HiddenSize:        1408,
		IntermediateSize:  6144,
		NumHiddenLayers:   39,
		NumAttentionHeads: 16,
		ImageSize:         224,
		PatchSize:         14,
		HiddenAct:         "gelu",
		LayerNormEps:      1e-6,
		AttentionDropout:  0.0,
		InitializerRange:  1e-10,
		QKVBias:           true,
	}
}

// Blip2QFormerConfig mirrors transformers' Blip2QFormerConfig: the BERT-like querying transformer
// with cross-attention to the image every CrossAttentionFrequency layers.
type Blip2QFormerConfig struct {
	transformers.PretrainedConfig

	VocabSize                 int     `json:"vocab_size"`
	HiddenSize                int     `json:"hidden_size"` // D of the queries
	NumHiddenLayers           int     `json:"num_hidden_layers"`
	NumAttentionHeads         int     `json:"num_attention_heads"`
	IntermediateSize          int     `json:"intermediate_size"`
	HiddenAct                 string  `json:"hidden_act"`
	HiddenDropoutProb         float64 `json:"hidden_dropout_prob"`
	AttentionProbsDropoutProb float64 `json:"attention_probs_dropout_prob"`
	MaxPositionEmbeddings     int     `json:"max_position_embeddings"`
	InitializerRange          float64 `json:"initializer_range"`
	LayerNormEps              float64 `json:"layer_norm_eps"`
	PositionEmbeddingType     string  `json:"position_embedding_type"`
	CrossAttentionFrequency   int     `json:"cross_attention_frequency"` // layer i has crossattention when i%freq == 0
	EncoderHiddenSize         int     `json:"encoder_hidden_size"`       // width of the image features (= vision hidden_size)
}

// NewBlip2QFormerConfig returns Blip2QFormerConfig() with transformers' defaults.
func NewBlip2QFormerConfig() *Blip2QFormerConfig {
	c := &Blip2QFormerConfig{
		PretrainedConfig:          transformers.NewPretrainedConfig(),
		VocabSize:                 30522,
		HiddenSize:                768,
		NumHiddenLayers:           12,
		NumAttentionHeads:         12,
		IntermediateSize:          3072,
		HiddenAct:                 "gelu",
		HiddenDropoutProb:         0.1,
		AttentionProbsDropoutProb: 0.1,
		MaxPositionEmbeddings:     512,
		InitializerRange:          0.02,
		LayerNormEps:              1e-12,
		PositionEmbeddingType:     "absolute",
		CrossAttentionFrequency:   2,
		EncoderHiddenSize:         1408,
	}
	c.PadTokenID = transformers.IntPtr(0)
	return c
}

// TextConfig is the language-model configuration of a Blip2Config: *opt.OPTConfig or
// *t5.T5Config (transformers picks the class from text_config.model_type). Model code
// type-switches on it.
type TextConfig interface {
	// ModelType returns the text config's model_type ("opt" or "t5").
	ModelType() string
	// Base returns the attributes common to every configuration (eos/pad ids, ...).
	Base() *transformers.PretrainedConfig
	// ToDict mirrors the config's to_dict().
	ToDict() map[string]any
	// Validate checks the sizes a model needs.
	Validate() error
}

// Blip2Config mirrors transformers' Blip2Config: a vision config, a Q-Former config and a text
// (language model) config, plus the number of query tokens and the image token id.
type Blip2Config struct {
	transformers.PretrainedConfig

	VisionConfig  *Blip2VisionConfig  `json:"-"` // "vision_config"
	QFormerConfig *Blip2QFormerConfig `json:"-"` // "qformer_config"
	// TextConfig is "text_config": *opt.OPTConfig or *t5.T5Config.
	TextConfig TextConfig `json:"-"`

	NumQueryTokens int `json:"num_query_tokens"` // learned queries (32)
	// ImageTokenIndex is "image_token_index": the id of <image> in expanded-mode checkpoints; nil
	// in legacy checkpoints (query outputs are concatenated in front of the text).
	ImageTokenIndex *int `json:"image_token_index"`
	// UseDecoderOnlyLanguageModel is true for a causal LM (OPT), false for T5; derived from the
	// text config's model_type at load.
	UseDecoderOnlyLanguageModel bool    `json:"use_decoder_only_language_model"`
	InitializerFactor           float64 `json:"initializer_factor"`
	InitializerRange            float64 `json:"initializer_range"`
}

// NewBlip2Config returns Blip2Config() with transformers' defaults: default vision and Q-Former
// configs and a default OPT text config.
func NewBlip2Config() *Blip2Config {
	c := &Blip2Config{
		PretrainedConfig:  transformers.NewPretrainedConfig(),
		VisionConfig:      NewBlip2VisionConfig(),
		QFormerConfig:     NewBlip2QFormerConfig(),
		TextConfig:        opt.NewOPTConfig(),
		NumQueryTokens:    32,
		InitializerFactor: 1.0,
		InitializerRange:  0.02,
	}
	c.syncDerived()
	return c
}

// syncDerived sets what Blip2Config.__init__ derives from the sub-configs.
func (c *Blip2Config) syncDerived() {
	switch tc := c.TextConfig.(type) {
	case *opt.OPTConfig:
		c.TieWordEmbeddings = tc.TieWordEmbeddings
		c.IsEncoderDecoder = tc.IsEncoderDecoder
		c.UseDecoderOnlyLanguageModel = true
	case *t5.T5Config:
		c.TieWordEmbeddings = tc.TieWordEmbeddings
		c.IsEncoderDecoder = tc.IsEncoderDecoder
		c.UseDecoderOnlyLanguageModel = false
	}
	if c.QFormerConfig != nil && c.VisionConfig != nil {
		c.QFormerConfig.EncoderHiddenSize = c.VisionConfig.HiddenSize
	}
	c.InitializerFactor = 1.0
	c.InitializerRange = 0.02
}

// NewBlip2VisionConfigFromDict mirrors Blip2VisionConfig(**config_dict). file names the source in
// errors (e.g. "config.json: vision_config").
func NewBlip2VisionConfigFromDict(m map[string]any, file string) (*Blip2VisionConfig, error) {
	c := NewBlip2VisionConfig()
	if err := transformers.DecodeConfig(c, m, file, nil); err != nil {
		return nil, fmt.Errorf("blip2: %w", err)
	}
	if err := c.validate(file); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks the sizes a vision model needs.
func (c *Blip2VisionConfig) Validate() error { return c.validate("vision_config") }

func (c *Blip2VisionConfig) validate(file string) error {
	if c == nil {
		return fmt.Errorf("blip2: %s: nil config: %w", file, transformers.ErrInvalidConfig)
	}
	for _, s := range []struct {
		key      string
		v, least int
	}{
		{"hidden_size", c.HiddenSize, 1},
		{"intermediate_size", c.IntermediateSize, 1},
		{"num_hidden_layers", c.NumHiddenLayers, 0},
		{"patch_size", c.PatchSize, 1},
		{"image_size", c.ImageSize, c.PatchSize},
	} {
		if err := transformers.CheckSize(file, s.key, s.v, s.least); err != nil {
			return fmt.Errorf("blip2: %w", err)
		}
	}
	if err := transformers.CheckHeads(file, "hidden_size", c.HiddenSize, "num_attention_heads", c.NumAttentionHeads); err != nil {
		return fmt.Errorf("blip2: %w", err)
	}
	return nil
}

// ModelType returns "blip_2_vision_model".
func (c *Blip2VisionConfig) ModelType() string { return VisionModelType }

// ToDict mirrors Blip2VisionConfig.to_dict().
func (c *Blip2VisionConfig) ToDict() map[string]any {
	return transformers.ConfigToDict(c, VisionModelType)
}

// ToDiffDict mirrors Blip2VisionConfig.to_diff_dict().
func (c *Blip2VisionConfig) ToDiffDict() map[string]any {
	return transformers.DiffDict(c.ToDict(), NewBlip2VisionConfig().ToDict())
}

// ToJSONString mirrors Blip2VisionConfig.to_json_string(use_diff).
func (c *Blip2VisionConfig) ToJSONString(useDiff bool) string {
	if useDiff {
		return transformers.ToJSONString(c.ToDiffDict())
	}
	return transformers.ToJSONString(c.ToDict())
}

// NewBlip2QFormerConfigFromDict mirrors Blip2QFormerConfig(**config_dict).
func NewBlip2QFormerConfigFromDict(m map[string]any, file string) (*Blip2QFormerConfig, error) {
	c := NewBlip2QFormerConfig()
	if err := transformers.DecodeConfig(c, m, file, nil); err != nil {
		return nil, fmt.Errorf("blip2: %w", err)
	}
	if err := c.validate(file); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks the sizes a Q-Former needs.
func (c *Blip2QFormerConfig) Validate() error { return c.validate("qformer_config") }

func (c *Blip2QFormerConfig) validate(file string) error {
	if c == nil {
		return fmt.Errorf("blip2: %s: nil config: %w", file, transformers.ErrInvalidConfig)
	}
	for _, s := range []struct {
		key      string
		v, least int
	}{
		{"vocab_size", c.VocabSize, 1},
		{"hidden_size", c.HiddenSize, 1},
		{"intermediate_size", c.IntermediateSize, 1},
		{"num_hidden_layers", c.NumHiddenLayers, 0},
		{"max_position_embeddings", c.MaxPositionEmbeddings, 1},
		{"cross_attention_frequency", c.CrossAttentionFrequency, 1},
		{"encoder_hidden_size", c.EncoderHiddenSize, 1},
	} {
		if err := transformers.CheckSize(file, s.key, s.v, s.least); err != nil {
			return fmt.Errorf("blip2: %w", err)
		}
	}
	if err := transformers.CheckHeads(file, "hidden_size", c.HiddenSize, "num_attention_heads", c.NumAttentionHeads); err != nil {
		return fmt.Errorf("blip2: %w", err)
	}
	return nil
}

// ModelType returns "blip_2_qformer".
func (c *Blip2QFormerConfig) ModelType() string { return QFormerModelType }

// ToDict mirrors Blip2QFormerConfig.to_dict().
func (c *Blip2QFormerConfig) ToDict() map[string]any {
	return transformers.ConfigToDict(c, QFormerModelType)
}

// ToDiffDict mirrors Blip2QFormerConfig.to_diff_dict().
func (c *Blip2QFormerConfig) ToDiffDict() map[string]any {
	return transformers.DiffDict(c.ToDict(), NewBlip2QFormerConfig().ToDict())
}

// ToJSONString mirrors Blip2QFormerConfig.to_json_string(use_diff).
func (c *Blip2QFormerConfig) ToJSONString(useDiff bool) string {
	if useDiff {
		return transformers.ToJSONString(c.ToDiffDict())
	}
	return transformers.ToJSONString(c.ToDict())
}

// subDict returns m[key] as an object ({} when missing or null, as Blip2Config.__init__ does).
func subDict(m map[string]any, key, file string) (map[string]any, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return map[string]any{}, nil
	}
	d, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("blip2: %s: key %q: want an object, got %T: %w", file, key, v, transformers.ErrInvalidConfig)
	}
	return d, nil
}

// NewTextConfigFromDict builds the text config of a Blip2Config from its dict, dispatched on
// model_type as transformers' CONFIG_MAPPING does: "opt" (also when missing) or "t5"; any other
// model_type is an error naming file and field.
func NewTextConfigFromDict(m map[string]any, file string) (TextConfig, error) {
	mt := opt.ModelType
	if v, ok := m["model_type"]; ok {
		s, isStr := v.(string)
		if !isStr {
			return nil, fmt.Errorf("blip2: %s: key \"text_config.model_type\": want a string, got %T: %w", file, v, transformers.ErrInvalidConfig)
		}
		mt = s
	}
	switch mt {
	case opt.ModelType:
		return opt.NewOPTConfigFromDict(m, file+": text_config")
	case t5.ModelType:
		return t5.NewT5ConfigFromDict(m, file+": text_config")
	}
	return nil, fmt.Errorf("blip2: %s: key \"text_config.model_type\": %q is not supported (want \"opt\" or \"t5\"): %w", file, mt, transformers.ErrInvalidConfig)
}

// NewBlip2ConfigFromDict mirrors Blip2Config(**config_dict): the vision, Q-Former and text
// sub-configs are built from their dicts (defaults when missing), the text config class chosen by
// its model_type; then, as Blip2Config.__init__ does, tie_word_embeddings and is_encoder_decoder
// are copied from the text config, qformer encoder_hidden_size is set to the vision hidden_size,
// use_decoder_only_language_model is derived and initializer_factor/range are reset to 1.0/0.02.
func NewBlip2ConfigFromDict(m map[string]any, file string) (*Blip2Config, error) {
	c := &Blip2Config{
		PretrainedConfig:  transformers.NewPretrainedConfig(),
		NumQueryTokens:    32,
		InitializerFactor: 1.0,
		InitializerRange:  0.02,
	}
	top := make(map[string]any, len(m))
	for k, v := range m {
		switch k {
		case "vision_config", "qformer_config", "text_config":
		default:
			top[k] = v
		}
	}
	if err := transformers.DecodeConfig(c, top, file, nil); err != nil {
		return nil, fmt.Errorf("blip2: %w", err)
	}
	vd, err := subDict(m, "vision_config", file)
	if err != nil {
		return nil, err
	}
	if c.VisionConfig, err = NewBlip2VisionConfigFromDict(vd, file+": vision_config"); err != nil {
		return nil, err
	}
	qd, err := subDict(m, "qformer_config", file)
	if err != nil {
		return nil, err
	}
	if c.QFormerConfig, err = NewBlip2QFormerConfigFromDict(qd, file+": qformer_config"); err != nil {
		return nil, err
	}
	td, err := subDict(m, "text_config", file)
	if err != nil {
		return nil, err
	}
	if c.TextConfig, err = NewTextConfigFromDict(td, file); err != nil {
		return nil, err
	}
	c.syncDerived()
	if err := c.validate(file); err != nil {
		return nil, err
	}
	return c, nil
}

// FromVisionQFormerTextConfigs mirrors Blip2Config.from_vision_qformer_text_configs(vision_config,
// qformer_config, text_config, num_query_tokens=..., image_token_index=...): the sub-configs go
// through to_dict and back, as in Python. imageTokenIndex nil is None.
func FromVisionQFormerTextConfigs(vision *Blip2VisionConfig, qformer *Blip2QFormerConfig, text TextConfig, numQueryTokens int, imageTokenIndex *int) (*Blip2Config, error) {
	if vision == nil || qformer == nil || text == nil {
		return nil, fmt.Errorf("blip2: FromVisionQFormerTextConfigs: vision, qformer and text configs must not be nil")
	}
	m := map[string]any{
		"vision_config":    vision.ToDict(),
		"qformer_config":   qformer.ToDict(),
		"text_config":      text.ToDict(),
		"num_query_tokens": int64(numQueryTokens),
	}
	if imageTokenIndex != nil {
		m["image_token_index"] = int64(*imageTokenIndex)
	}
	return NewBlip2ConfigFromDict(m, "from_vision_qformer_text_configs")
}

// Blip2ConfigFromPretrained mirrors Blip2Config.from_pretrained: config.json of a local folder (or
// a path to the JSON file itself, or a hub repo id once the resolver supports it).
func Blip2ConfigFromPretrained(ctx context.Context, nameOrPath string, opts ...transformers.Option) (*Blip2Config, error) {
	m, path, err := transformers.LoadConfigDict(ctx, nameOrPath, transformers.ConfigName, opts...)
	if err != nil {
		return nil, fmt.Errorf("blip2: %w", err)
	}
	if err := transformers.CheckModelType(m, path, ModelType); err != nil {
		return nil, fmt.Errorf("blip2: %w", err)
	}
	return NewBlip2ConfigFromDict(m, path)
}

// Blip2VisionConfigFromPretrained mirrors Blip2VisionConfig.from_pretrained: from a blip-2
// config.json it takes vision_config, as transformers does.
func Blip2VisionConfigFromPretrained(ctx context.Context, nameOrPath string, opts ...transformers.Option) (*Blip2VisionConfig, error) {
	m, path, err := transformers.LoadConfigDict(ctx, nameOrPath, transformers.ConfigName, opts...)
	if err != nil {
		return nil, fmt.Errorf("blip2: %w", err)
	}
	if m["model_type"] == ModelType {
		if m, err = subDict(m, "vision_config", path); err != nil {
			return nil, err
		}
		path += ": vision_config"
	}
	return NewBlip2VisionConfigFromDict(m, path)
}

// Blip2QFormerConfigFromPretrained mirrors Blip2QFormerConfig.from_pretrained: from a blip-2
// config.json it takes qformer_config, as transformers does.
func Blip2QFormerConfigFromPretrained(ctx context.Context, nameOrPath string, opts ...transformers.Option) (*Blip2QFormerConfig, error) {
	m, path, err := transformers.LoadConfigDict(ctx, nameOrPath, transformers.ConfigName, opts...)
	if err != nil {
		return nil, fmt.Errorf("blip2: %w", err)
	}
	if m["model_type"] == ModelType {
		if m, err = subDict(m, "qformer_config", path); err != nil {
			return nil, err
		}
		path += ": qformer_config"
	}
	return NewBlip2QFormerConfigFromDict(m, path)
}

// Validate checks the sub-configs and the BLIP-2 sizes.
func (c *Blip2Config) Validate() error { return c.validate("config") }

func (c *Blip2Config) validate(file string) error {
	if c == nil {
		return fmt.Errorf("blip2: %s: nil config: %w", file, transformers.ErrInvalidConfig)
	}
	if c.VisionConfig == nil || c.QFormerConfig == nil || c.TextConfig == nil {
		return fmt.Errorf("blip2: %s: vision, qformer and text configs must be set: %w", file, transformers.ErrInvalidConfig)
	}
	if err := c.VisionConfig.validate(file + ": vision_config"); err != nil {
		return err
	}
	if err := c.QFormerConfig.validate(file + ": qformer_config"); err != nil {
		return err
	}
	if err := c.TextConfig.Validate(); err != nil {
		return err
	}
	if err := transformers.CheckSize(file, "num_query_tokens", c.NumQueryTokens, 1); err != nil {
		return fmt.Errorf("blip2: %w", err)
	}
	if c.ImageTokenIndex != nil {
		if err := transformers.CheckSize(file, "image_token_index", *c.ImageTokenIndex, 0); err != nil {
			return fmt.Errorf("blip2: %w", err)
		}
	}
	return nil
}

// ModelType returns "blip-2".
func (c *Blip2Config) ModelType() string { return ModelType }

// ImageTextHiddenSize returns image_text_hidden_size (an attribute of later transformers versions,
// kept as an unknown key here; 256 when missing).
func (c *Blip2Config) ImageTextHiddenSize() int {
	if v, ok := c.Extra["image_text_hidden_size"].(int64); ok {
		return int(v)
	}
	return 256
}

// ToDict mirrors Blip2Config.to_dict(): every attribute, the three sub-configs as dicts (without
// their transformers_version), model_type and transformers_version.
func (c *Blip2Config) ToDict() map[string]any {
	d := transformers.ConfigToDict(c, ModelType)
	put := func(key string, sd map[string]any) {
		delete(sd, "transformers_version")
		d[key] = sd
	}
	d["vision_config"], d["qformer_config"], d["text_config"] = nil, nil, nil
	if c.VisionConfig != nil {
		put("vision_config", c.VisionConfig.ToDict())
	}
	if c.QFormerConfig != nil {
		put("qformer_config", c.QFormerConfig.ToDict())
	}
	if c.TextConfig != nil && !reflect.ValueOf(c.TextConfig).IsNil() {
		put("text_config", c.TextConfig.ToDict())
	}
	return d
}

// subConfigDefault returns config_obj.__class__().to_dict() for a sub-config.
func subConfigDefault(sub any) map[string]any {
	switch sub.(type) {
	case *Blip2VisionConfig:
		return NewBlip2VisionConfig().ToDict()
	case *Blip2QFormerConfig:
		return NewBlip2QFormerConfig().ToDict()
	case *opt.OPTConfig:
		return opt.NewOPTConfig().ToDict()
	case *t5.T5Config:
		return t5.NewT5Config().ToDict()
	}
	return map[string]any{}
}

// ToDiffDict mirrors Blip2Config.to_diff_dict(): top-level attributes that differ from
// Blip2Config() or PretrainedConfig(), and each sub-config diffed recursively against the default
// Blip2Config's sub-dict and its own class defaults, always with its model_type.
func (c *Blip2Config) ToDiffDict() map[string]any {
	d := c.ToDict()
	cls := NewBlip2Config().ToDict()
	nested := map[string]any{}
	for key, sub := range map[string]any{
		"vision_config": c.VisionConfig, "qformer_config": c.QFormerConfig, "text_config": c.TextConfig,
	} {
		value, ok := d[key].(map[string]any)
		delete(d, key)
		if !ok {
			nested[key] = nil
			continue
		}
		b, _ := cls[key].(map[string]any)
		diff := transformers.RecursiveDiffDict(value, b, subConfigDefault(sub))
		if mt, ok := value["model_type"]; ok {
			diff["model_type"] = mt
		}
		if len(diff) > 0 {
			nested[key] = diff
		}
	}
	out := transformers.DiffDict(d, cls)
	for k, v := range nested {
		out[k] = v
	}
	return out
}

// ToJSONString mirrors Blip2Config.to_json_string(use_diff): the exact string transformers writes.
func (c *Blip2Config) ToJSONString(useDiff bool) string {
	if useDiff {
		return transformers.ToJSONString(c.ToDiffDict())
	}
	return transformers.ToJSONString(c.ToDict())
}

// SaveJSON mirrors to_json_file(path, use_diff) (written atomically).
func (c *Blip2Config) SaveJSON(path string, useDiff bool) error {
	return transformers.SaveJSON(path, c.ToJSONString(useDiff))
}

// SavePretrained mirrors save_pretrained(dir): dir/config.json with use_diff=True.
func (c *Blip2Config) SavePretrained(dir string) error {
	return c.SaveJSON(filepath.Join(dir, transformers.ConfigName), true)
}
