package t5

import "github.com/gotransformers/gotransformers/transformers"

// ModelType is the model_type of T5Config ("t5").
const ModelType = "t5"

// T5Config mirrors transformers' T5Config (configuration_t5.py), classic T5 and Flan-T5 (v1.1,
// "gated-gelu"). The aliases hidden_size, num_attention_heads, num_hidden_layers and head_dim of
// transformers' attribute_map are accepted in config.json and stored in DModel, NumHeads,
// NumLayers and DKV.
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
