package blip2

import (
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
	c.QFormerConfig.EncoderHiddenSize = c.VisionConfig.HiddenSize
	c.InitializerFactor = 1.0
	c.InitializerRange = 0.02
}
