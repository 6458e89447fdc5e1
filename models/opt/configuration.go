package opt

import "github.com/gotransformers/gotransformers/transformers"

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
