package generation

import "github.com/gotransformers/gotransformers/transformers"

// GenerationConfig mirrors transformers' GenerationConfig (generation/configuration_utils.py,
// transformers 4.45): every attribute with its default. Nullable attributes are pointers or `any`
// (nil is null); attributes that take several JSON forms are `any` holding the decoded JSON value.
type GenerationConfig struct {
	transformers.Meta `json:"-"`

	// Length.
	MaxLength    int  `json:"max_length"`
	MaxNewTokens *int `json:"max_new_tokens"`
	MinLength    int  `json:"min_length"`
	MinNewTokens *int `json:"min_new_tokens"`
	// EarlyStopping is false, true or "never" (beam search stopping rule).
	EarlyStopping any      `json:"early_stopping"`
	MaxTime       *float64 `json:"max_time"`
	StopStrings   any      `json:"stop_strings"`

	// Strategy.
	DoSample            bool     `json:"do_sample"`
	NumBeams            int      `json:"num_beams"`
	NumBeamGroups       int      `json:"num_beam_groups"`
	PenaltyAlpha        *float64 `json:"penalty_alpha"`
	DoLaLayers          any      `json:"dola_layers"`
	UseCache            bool     `json:"use_cache"`
	CacheImplementation *string  `json:"cache_implementation"`
	CacheConfig         any      `json:"cache_config"`
	ReturnLegacyCache   bool     `json:"return_legacy_cache"`

	// Logits manipulation.
	Temperature                   float64  `json:"temperature"`
	TopK                          int      `json:"top_k"`
	TopP                          float64  `json:"top_p"`
	MinP                          *float64 `json:"min_p"`
	TypicalP                      float64  `json:"typical_p"`
	EpsilonCutoff                 float64  `json:"epsilon_cutoff"`
	EtaCutoff                     float64  `json:"eta_cutoff"`
	DiversityPenalty              float64  `json:"diversity_penalty"`
	RepetitionPenalty             float64  `json:"repetition_penalty"`
	EncoderRepetitionPenalty      float64  `json:"encoder_repetition_penalty"`
	LengthPenalty                 float64  `json:"length_penalty"`
	NoRepeatNgramSize             int      `json:"no_repeat_ngram_size"`
	BadWordsIDs                   any      `json:"bad_words_ids"`
	ForceWordsIDs                 any      `json:"force_words_ids"`
	RenormalizeLogits             bool     `json:"renormalize_logits"`
	Constraints                   any      `json:"constraints"`
	ForcedBOSTokenID              *int     `json:"forced_bos_token_id"`
	ForcedEOSTokenID              any      `json:"forced_eos_token_id"` // int or list
	RemoveInvalidValues           bool     `json:"remove_invalid_values"`
	ExponentialDecayLengthPenalty any      `json:"exponential_decay_length_penalty"` // [start_index, decay_factor]
	SuppressTokens                any      `json:"suppress_tokens"`
	BeginSuppressTokens           any      `json:"begin_suppress_tokens"`
	ForcedDecoderIDs              any      `json:"forced_decoder_ids"`
	SequenceBias                  any      `json:"sequence_bias"`
	TokenHealing                  bool     `json:"token_healing"`
	GuidanceScale                 *float64 `json:"guidance_scale"`
	LowMemory                     *bool    `json:"low_memory"`
	WatermarkingConfig            any      `json:"watermarking_config"`

	// Output.
	NumReturnSequences   int   `json:"num_return_sequences"`
	OutputAttentions     bool  `json:"output_attentions"`
	OutputHiddenStates   bool  `json:"output_hidden_states"`
	OutputScores         bool  `json:"output_scores"`
	OutputLogits         *bool `json:"output_logits"`
	ReturnDictInGenerate bool  `json:"return_dict_in_generate"`

	// Special tokens.
	PadTokenID *int `json:"pad_token_id"`
	BOSTokenID *int `json:"bos_token_id"`
	// EOSTokenID is "eos_token_id": null, an int or a list of ints (generation stops at any).
	EOSTokenID transformers.TokenIDs `json:"eos_token_id"`

	// Encoder-decoder.
	EncoderNoRepeatNgramSize int `json:"encoder_no_repeat_ngram_size"`
	// DecoderStartTokenID is "decoder_start_token_id": null, an int or a list (one per row).
	DecoderStartTokenID transformers.TokenIDs `json:"decoder_start_token_id"`

	// Assistant generation.
	NumAssistantTokens         int    `json:"num_assistant_tokens"`
	NumAssistantTokensSchedule string `json:"num_assistant_tokens_schedule"`
	PromptLookupNumTokens      *int   `json:"prompt_lookup_num_tokens"`
	MaxMatchingNgramSize       *int   `json:"max_matching_ngram_size"`

	// GenerationKwargs is "generation_kwargs" ({} by default).
	GenerationKwargs map[string]any `json:"generation_kwargs"`

	// FromModelConfig is "_from_model_config": true when the config was derived from a model
	// config (GenerationConfig.from_model_config).
	FromModelConfig bool `json:"_from_model_config"`
}

// NewGenerationConfig returns GenerationConfig() with transformers' defaults.
func NewGenerationConfig() *GenerationConfig {
	return &GenerationConfig{
		MaxLength:                  20,
		EarlyStopping:              false,
		NumBeams:                   1,
		NumBeamGroups:              1,
		UseCache:                   true,
		ReturnLegacyCache:          true,
		Temperature:                1.0,
		TopK:                       50,
		TopP:                       1.0,
		TypicalP:                   1.0,
		RepetitionPenalty:          1.0,
		EncoderRepetitionPenalty:   1.0,
		LengthPenalty:              1.0,
		NumReturnSequences:         1,
		NumAssistantTokens:         5,
		NumAssistantTokensSchedule: "heuristic",
		GenerationKwargs:           map[string]any{},
	}
}
