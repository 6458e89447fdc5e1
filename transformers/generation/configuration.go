package generation

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/gotransformers/gotransformers/transformers"
)

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

// GenerationConfigName is the file name of a generation configuration
// (transformers' GENERATION_CONFIG_NAME).
const GenerationConfigName = "generation_config.json"

// NewGenerationConfigFromDict mirrors GenerationConfig(**config_dict) (GenerationConfig.from_dict):
// the keys of m over the defaults; unknown keys are kept unless _from_model_config is true (as in
// Python, model-config keys are then dropped). The result is validated. file names the source in
// errors.
func NewGenerationConfigFromDict(m map[string]any, file string) (*GenerationConfig, error) {
	c := NewGenerationConfig()
	if err := transformers.DecodeConfig(c, m, file, nil); err != nil {
		return nil, fmt.Errorf("generation: %w", err)
	}
	if c.FromModelConfig {
		c.Extra = map[string]any{}
	}
	if err := c.validate(file); err != nil {
		return nil, err
	}
	return c, nil
}

// GenerationConfigFromPretrained mirrors GenerationConfig.from_pretrained: generation_config.json
// of a local folder (or a path to the JSON file itself, or a hub repo id once the resolver supports
// it).
func GenerationConfigFromPretrained(ctx context.Context, nameOrPath string, opts ...transformers.Option) (*GenerationConfig, error) {
	m, path, err := transformers.LoadConfigDict(ctx, nameOrPath, GenerationConfigName, opts...)
	if err != nil {
		return nil, fmt.Errorf("generation: %w", err)
	}
	return NewGenerationConfigFromDict(m, path)
}

// ModelConfig is what FromModelConfig needs of a model configuration: its to_dict().
type ModelConfig interface {
	ToDict() map[string]any
}

// FromModelConfig mirrors GenerationConfig.from_model_config(model_config): the model config's
// non-null attributes over the defaults with _from_model_config=True, then, for a "decoder",
// "generator" or "text_config" sub-config (BLIP-2's language model), each generation attribute still
// at its default takes the sub-config's value.
func FromModelConfig(mc ModelConfig) (*GenerationConfig, error) {
	if mc == nil {
		return nil, fmt.Errorf("generation: FromModelConfig: nil model config")
	}
	cd := mc.ToDict()
	delete(cd, "_from_model_config")
	d := make(map[string]any, len(cd))
	for k, v := range cd {
		if v != nil {
			d[k] = v
		}
	}
	d["_from_model_config"] = true
	gc, err := NewGenerationConfigFromDict(d, "model config")
	if err != nil {
		return nil, err
	}
	def := NewGenerationConfig().ToDict()
	for _, name := range []string{"decoder", "generator", "text_config"} {
		dec, ok := d[name].(map[string]any)
		if !ok {
			continue
		}
		cur := gc.ToDict()
		for attr, v := range cur {
			dv, inDec := dec[attr]
			if !inDec || !transformers.PyEqual(v, def[attr]) {
				continue
			}
			if err := transformers.DecodeConfig(gc, map[string]any{attr: dv}, "model config: "+name, nil); err != nil {
				return nil, fmt.Errorf("generation: %w", err)
			}
		}
	}
	if err := gc.validate("model config"); err != nil {
		return nil, err
	}
	return gc, nil
}

// Update mirrors GenerationConfig.update(**kwargs): sets the attributes named in kwargs, validates,
// and returns the keys that are not attributes.
func (c *GenerationConfig) Update(kwargs map[string]any) (map[string]any, error) {
	known := map[string]any{}
	unused := map[string]any{}
	fields := c.ToDict()
	for k, v := range kwargs {
		if _, ok := fields[k]; ok && k != "transformers_version" {
			known[k] = v
		} else {
			unused[k] = v
		}
	}
	if err := transformers.DecodeConfig(c, known, "update", nil); err != nil {
		return nil, fmt.Errorf("generation: %w", err)
	}
	if err := c.validate("update"); err != nil {
		return nil, err
	}
	return unused, nil
}

// Validate mirrors the checks of GenerationConfig.validate that raise in transformers 4.45
// (early_stopping, constrained and group beam search, num_return_sequences), plus range checks
// on lengths and counts that transformers only hits inside generate.
func (c *GenerationConfig) Validate() error { return c.validate("generation config") }

func (c *GenerationConfig) validate(file string) error {
	if c == nil {
		return fmt.Errorf("generation: %s: nil config: %w", file, transformers.ErrInvalidConfig)
	}
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("generation: %s: key %q: %s: %w", file, key, fmt.Sprintf(format, args...), transformers.ErrInvalidConfig)
	}
	switch v := c.EarlyStopping.(type) {
	case bool:
	case string:
		if v != "never" {
			return bad("early_stopping", "%q; want true, false or \"never\"", v)
		}
	default:
		return bad("early_stopping", "%v; want true, false or \"never\"", v)
	}
	if c.MaxNewTokens != nil && *c.MaxNewTokens <= 0 {
		return bad("max_new_tokens", "%d must be greater than 0", *c.MaxNewTokens)
	}
	if c.MaxLength < 0 || c.MaxLength > transformers.MaxConfigSize {
		return bad("max_length", "%d is out of range", c.MaxLength)
	}
	if c.MinLength < 0 {
		return bad("min_length", "%d is negative", c.MinLength)
	}
	if c.NumBeams < 1 {
		return bad("num_beams", "%d must be >= 1", c.NumBeams)
	}
	if c.NumBeamGroups < 1 {
		return bad("num_beam_groups", "%d must be >= 1", c.NumBeamGroups)
	}
	if c.NumBeams > 1 {
		if c.Constraints != nil {
			if c.DoSample {
				return bad("do_sample", "constraints trigger constrained beam search, which does not sample")
			}
			if c.NumBeamGroups != 1 {
				return bad("num_beam_groups", "constraints trigger constrained beam search, which needs num_beam_groups 1, not %d", c.NumBeamGroups)
			}
		}
		if c.DiversityPenalty != 0 || c.NumBeamGroups != 1 {
			// group beam search
			if c.DoSample {
				return bad("do_sample", "group beam search (diversity_penalty or num_beam_groups set) does not sample")
			}
			if c.NumBeams%c.NumBeamGroups != 0 {
				return bad("num_beam_groups", "%d must divide num_beams %d", c.NumBeamGroups, c.NumBeams)
			}
			if c.DiversityPenalty == 0 {
				return bad("diversity_penalty", "group beam search needs diversity_penalty > 0, otherwise the groups are identical")
			}
		}
	}
	if c.NumReturnSequences < 1 {
		return bad("num_return_sequences", "%d must be >= 1", c.NumReturnSequences)
	}
	if c.NumReturnSequences != 1 {
		if c.NumBeams == 1 && !c.DoSample {
			return bad("num_return_sequences", "greedy search without beams does not support num_return_sequences %d (set num_beams or do_sample)", c.NumReturnSequences)
		}
		if c.NumBeams > 1 && c.NumReturnSequences > c.NumBeams {
			return bad("num_return_sequences", "%d must be <= num_beams %d", c.NumReturnSequences, c.NumBeams)
		}
	}
	if c.TopK < 0 {
		return bad("top_k", "%d is negative", c.TopK)
	}
	return nil
}

// ToDict mirrors GenerationConfig.to_dict(): every attribute, the unknown keys and
// transformers_version.
func (c *GenerationConfig) ToDict() map[string]any {
	d := transformers.EncodeFields(c)
	d["transformers_version"] = transformers.TransformersVersion
	return d
}

// ToDiffDict mirrors GenerationConfig.to_diff_dict(): the attributes that differ from
// GenerationConfig(), plus transformers_version.
func (c *GenerationConfig) ToDiffDict() map[string]any {
	def := NewGenerationConfig().ToDict()
	out := map[string]any{}
	for k, v := range c.ToDict() {
		dv, ok := def[k]
		if !ok || k == "transformers_version" || !transformers.PyEqual(v, dv) {
			out[k] = v
		}
	}
	return out
}

// ToJSONString mirrors GenerationConfig.to_json_string(use_diff) (note: transformers' default is
// use_diff=True).
func (c *GenerationConfig) ToJSONString(useDiff bool) string {
	if useDiff {
		return transformers.ToJSONString(c.ToDiffDict())
	}
	return transformers.ToJSONString(c.ToDict())
}

// SaveJSON mirrors to_json_file(path, use_diff) (written atomically).
func (c *GenerationConfig) SaveJSON(path string, useDiff bool) error {
	return transformers.SaveJSON(path, c.ToJSONString(useDiff))
}

// SavePretrained mirrors save_pretrained(dir): dir/generation_config.json with use_diff=True.
func (c *GenerationConfig) SavePretrained(dir string) error {
	return c.SaveJSON(filepath.Join(dir, GenerationConfigName), true)
}
