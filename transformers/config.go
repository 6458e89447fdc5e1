package transformers

// TransformersVersion is the transformers_version every configuration writes, as transformers'
// to_dict does with its own __version__. It is the version of the reference this port reproduces
// (transformers 4.45.0.dev0 at commit 52cb4034ada381fe1ffe8d428a1076e5411a8026), not the version
// read from a file: loading a config.json written by 4.47 and saving it writes "4.45.0.dev0", exactly
// as the reference does.
const TransformersVersion = "4.45.0.dev0"

// TokenIDs is a token id attribute that transformers accepts as null, an int or a list of ints
// (eos_token_id, decoder_start_token_id). IDs holds the ids (nil and !List means JSON null); List
// remembers that the JSON form was a list, so a single id read from `[2]` is written back as `[2]`.
type TokenIDs struct {
	IDs  []int
	List bool
}

// IsNull reports whether the attribute is None in Python.
func (t TokenIDs) IsNull() bool { return len(t.IDs) == 0 && !t.List }

// First returns the first id, false when there is none.
func (t TokenIDs) First() (int, bool) {
	if len(t.IDs) == 0 {
		return 0, false
	}
	return t.IDs[0], true
}

// Contains reports whether id is one of the ids.
func (t TokenIDs) Contains(id int) bool {
	for _, v := range t.IDs {
		if v == id {
			return true
		}
	}
	return false
}

// SingleTokenID returns a TokenIDs holding one id in the int (not list) form.
func SingleTokenID(id int) TokenIDs { return TokenIDs{IDs: []int{id}} }

// Meta is what a configuration remembers of its JSON beyond its typed fields: the keys this port
// does not know (kept, in Python's __dict__ manner, so that they survive a save) and which float
// attributes were written as JSON integers (Python keeps `0` an int and writes `0`, not `0.0`).
type Meta struct {
	// Extra holds the unknown keys with their decoded JSON values (nil, bool, float64 or int64
	// numbers, string, []any, map[string]any).
	Extra map[string]any `json:"-"`
	// numForm marks number keys written in the other JSON form: 'i' a float field given as an
	// integer, 'f' an int field given as an integral float.
	numForm map[string]byte
}

// PretrainedConfig holds the attributes every transformers configuration has: what
// PretrainedConfig.__init__ (transformers 4.45) sets and to_dict emits. Model configs embed it.
type PretrainedConfig struct {
	Meta `json:"-"`

	// NameOrPath is "_name_or_path".
	NameOrPath         string `json:"_name_or_path"`
	ReturnDict         bool   `json:"return_dict"`
	OutputHiddenStates bool   `json:"output_hidden_states"`
	OutputAttentions   bool   `json:"output_attentions"`
	Torchscript        bool   `json:"torchscript"`
	// TorchDType is "torch_dtype" ("float32", "float16", "bfloat16"); nil is null.
	TorchDType           *string        `json:"torch_dtype"`
	UseBFloat16          bool           `json:"use_bfloat16"`
	TFLegacyLoss         bool           `json:"tf_legacy_loss"`
	PrunedHeads          map[string]any `json:"pruned_heads"`
	TieWordEmbeddings    bool           `json:"tie_word_embeddings"`
	ChunkSizeFeedForward int            `json:"chunk_size_feed_forward"`
	IsEncoderDecoder     bool           `json:"is_encoder_decoder"`
	IsDecoder            bool           `json:"is_decoder"`
	// CrossAttentionHiddenSize is "cross_attention_hidden_size"; nil is null.
	CrossAttentionHiddenSize *int `json:"cross_attention_hidden_size"`
	AddCrossAttention        bool `json:"add_cross_attention"`
	TieEncoderDecoder        bool `json:"tie_encoder_decoder"`

	// Generation parameters kept on model configs for backward compatibility
	// (PretrainedConfig._get_global_generation_defaults).
	MaxLength                     int     `json:"max_length"`
	MinLength                     int     `json:"min_length"`
	DoSample                      bool    `json:"do_sample"`
	EarlyStopping                 any     `json:"early_stopping"` // bool or "never"
	NumBeams                      int     `json:"num_beams"`
	NumBeamGroups                 int     `json:"num_beam_groups"`
	DiversityPenalty              float64 `json:"diversity_penalty"`
	Temperature                   float64 `json:"temperature"`
	TopK                          int     `json:"top_k"`
	TopP                          float64 `json:"top_p"`
	TypicalP                      float64 `json:"typical_p"`
	RepetitionPenalty             float64 `json:"repetition_penalty"`
	LengthPenalty                 float64 `json:"length_penalty"`
	NoRepeatNgramSize             int     `json:"no_repeat_ngram_size"`
	EncoderNoRepeatNgramSize      int     `json:"encoder_no_repeat_ngram_size"`
	BadWordsIDs                   any     `json:"bad_words_ids"`
	NumReturnSequences            int     `json:"num_return_sequences"`
	OutputScores                  bool    `json:"output_scores"`
	ReturnDictInGenerate          bool    `json:"return_dict_in_generate"`
	ForcedBOSTokenID              *int    `json:"forced_bos_token_id"`
	ForcedEOSTokenID              any     `json:"forced_eos_token_id"` // int or list
	RemoveInvalidValues           bool    `json:"remove_invalid_values"`
	ExponentialDecayLengthPenalty any     `json:"exponential_decay_length_penalty"`
	SuppressTokens                any     `json:"suppress_tokens"`
	BeginSuppressTokens           any     `json:"begin_suppress_tokens"`

	// Architectures is "architectures"; nil is null.
	Architectures  []string `json:"architectures"`
	FinetuningTask *string  `json:"finetuning_task"`
	// ID2Label is "id2label" (JSON keys are strings, Python converts them to int).
	ID2Label map[int]string `json:"id2label"`
	Label2ID map[string]int `json:"label2id"`

	TokenizerClass      *string  `json:"tokenizer_class"`
	Prefix              *string  `json:"prefix"`
	BOSTokenID          *int     `json:"bos_token_id"`
	PadTokenID          *int     `json:"pad_token_id"`
	EOSTokenID          TokenIDs `json:"eos_token_id"`
	SepTokenID          *int     `json:"sep_token_id"`
	DecoderStartTokenID *int     `json:"decoder_start_token_id"`

	// TaskSpecificParams is "task_specific_params"; nil is null.
	TaskSpecificParams map[string]any `json:"task_specific_params"`
	// ProblemType is "problem_type": nil, "regression", "single_label_classification" or
	// "multi_label_classification".
	ProblemType *string `json:"problem_type"`
}

// NewPretrainedConfig returns the attributes of PretrainedConfig() with every default.
func NewPretrainedConfig() PretrainedConfig {
	return PretrainedConfig{
		ReturnDict:         true,
		PrunedHeads:        map[string]any{},
		TieWordEmbeddings:  true,
		MaxLength:          20,
		EarlyStopping:      false,
		NumBeams:           1,
		NumBeamGroups:      1,
		Temperature:        1.0,
		TopK:               50,
		TopP:               1.0,
		TypicalP:           1.0,
		RepetitionPenalty:  1.0,
		LengthPenalty:      1.0,
		NumReturnSequences: 1,
		ID2Label:           map[int]string{0: "LABEL_0", 1: "LABEL_1"},
		Label2ID:           map[string]int{"LABEL_0": 0, "LABEL_1": 1},
	}
}

// IntPtr returns a pointer to v (for nullable int attributes).
func IntPtr(v int) *int { return &v }

// StrPtr returns a pointer to v (for nullable string attributes).
func StrPtr(v string) *string { return &v }

// Base returns c itself; model configs embedding PretrainedConfig get it as a promoted method, so
// code holding any configuration can reach the common attributes.
func (c *PretrainedConfig) Base() *PretrainedConfig { return c }

// NumLabels mirrors the num_labels property: len(id2label).
func (c *PretrainedConfig) NumLabels() int { return len(c.ID2Label) }

// UseReturnDict mirrors the use_return_dict property: return_dict and not torchscript.
func (c *PretrainedConfig) UseReturnDict() bool { return c.ReturnDict && !c.Torchscript }
