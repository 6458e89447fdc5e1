package generation

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"github.com/gotransformers/gotransformers/transformers"
)

// Option is one keyword argument of a generate call (transformers' generate(**kwargs)). Call
// options win over the generation config (the model's generation_config.json, or WithConfig), which
// wins over the model config.
type Option func(*CallOptions) error

// CallOptions collect the options of one call. Models read them through ResolveOptions.
type CallOptions struct {
	// Config replaces the model's generation config (generate(generation_config=...)).
	Config *GenerationConfig
	// set lists the GenerationConfig keys the call gave, in order, with their setters (see Has).
	set  []kwarg
	keys map[string]bool
	// Streamer, Seed and Processors are passed to the engine as they are.
	Streamer   Streamer
	Seed       uint64
	Processors LogitsProcessorList
}

type kwarg struct {
	key string
	fn  func(*GenerationConfig) error
}

// Has reports whether the call set the GenerationConfig key (e.g. "max_length").
func (o *CallOptions) Has(key string) bool { return o.keys[key] }

func setter(key string, fn func(*GenerationConfig) error) Option {
	return func(o *CallOptions) error {
		if o.keys == nil {
			o.keys = map[string]bool{}
		}
		o.keys[key] = true
		o.set = append(o.set, kwarg{key, fn})
		return nil
	}
}

// ResolveOptions applies opts and returns the call's generation config: a copy of base (the model's
// generation config; WithConfig replaces it) updated with the keyword options, as generate's
// _prepare_generation_config does. base is not modified.
func ResolveOptions(base *GenerationConfig, opts ...Option) (*GenerationConfig, *CallOptions, error) {
	co := &CallOptions{keys: map[string]bool{}}
	for i, opt := range opts {
		if opt == nil {
			return nil, nil, fmt.Errorf("generation: option %d is nil", i)
		}
		if err := opt(co); err != nil {
			return nil, nil, err
		}
	}
	src := base
	if co.Config != nil {
		src = co.Config
	}
	if src == nil {
		src = NewGenerationConfig()
	}
	cfg := src.clone()
	for _, kw := range co.set {
		if err := kw.fn(cfg); err != nil {
			return nil, nil, fmt.Errorf("generation: %s: %w", kw.key, err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	return cfg, co, nil
}

func (c *GenerationConfig) clone() *GenerationConfig {
	out := *c
	out.EOSTokenID.IDs = append([]int(nil), c.EOSTokenID.IDs...)
	out.DecoderStartTokenID.IDs = append([]int(nil), c.DecoderStartTokenID.IDs...)
	return &out
}

// WithConfig uses cfg instead of the model's generation config (generate(generation_config=cfg)).
func WithConfig(cfg *GenerationConfig) Option {
	return func(o *CallOptions) error {
		if cfg == nil {
			return fmt.Errorf("generation: WithConfig: nil config")
		}
		o.Config = cfg
		return nil
	}
}

// WithMaxNewTokens sets max_new_tokens (tokens to generate, prompt excluded).
func WithMaxNewTokens(n int) Option {
	return setter("max_new_tokens", func(c *GenerationConfig) error {
		if n <= 0 {
			return fmt.Errorf("must be > 0, got %d", n)
		}
		c.MaxNewTokens = &n
		return nil
	})
}

// WithMaxLength sets max_length (prompt + generated tokens).
func WithMaxLength(n int) Option {
	return setter("max_length", func(c *GenerationConfig) error { c.MaxLength = n; return nil })
}

// WithMinLength sets min_length.
func WithMinLength(n int) Option {
	return setter("min_length", func(c *GenerationConfig) error {
		if n < 0 {
			return fmt.Errorf("must be >= 0, got %d", n)
		}
		c.MinLength = n
		return nil
	})
}

// WithMinNewTokens sets min_new_tokens.
func WithMinNewTokens(n int) Option {
	return setter("min_new_tokens", func(c *GenerationConfig) error {
		if n < 0 {
			return fmt.Errorf("must be >= 0, got %d", n)
		}
		c.MinNewTokens = &n
		return nil
	})
}

// WithNumBeams sets num_beams (1: greedy or sampling).
func WithNumBeams(n int) Option {
	return setter("num_beams", func(c *GenerationConfig) error { c.NumBeams = n; return nil })
}

// WithNumReturnSequences sets num_return_sequences.
func WithNumReturnSequences(n int) Option {
	return setter("num_return_sequences", func(c *GenerationConfig) error { c.NumReturnSequences = n; return nil })
}

// WithDoSample sets do_sample.
func WithDoSample(b bool) Option {
	return setter("do_sample", func(c *GenerationConfig) error { c.DoSample = b; return nil })
}

// WithTemperature sets temperature.
func WithTemperature(t float64) Option {
	return setter("temperature", func(c *GenerationConfig) error { c.Temperature = t; return nil })
}

// WithTopK sets top_k (0: off).
func WithTopK(k int) Option {
	return setter("top_k", func(c *GenerationConfig) error { c.TopK = k; return nil })
}

// WithTopP sets top_p (1: off).
func WithTopP(p float64) Option {
	return setter("top_p", func(c *GenerationConfig) error { c.TopP = p; return nil })
}

// WithRepetitionPenalty sets repetition_penalty (1: off).
func WithRepetitionPenalty(p float64) Option {
	return setter("repetition_penalty", func(c *GenerationConfig) error { c.RepetitionPenalty = p; return nil })
}

// WithNoRepeatNgramSize sets no_repeat_ngram_size (0: off).
func WithNoRepeatNgramSize(n int) Option {
	return setter("no_repeat_ngram_size", func(c *GenerationConfig) error { c.NoRepeatNgramSize = n; return nil })
}

// WithLengthPenalty sets length_penalty (beam search).
func WithLengthPenalty(p float64) Option {
	return setter("length_penalty", func(c *GenerationConfig) error { c.LengthPenalty = p; return nil })
}

// WithEarlyStopping sets early_stopping: false, true or "never".
func WithEarlyStopping(e EarlyStopping) Option {
	return setter("early_stopping", func(c *GenerationConfig) error {
		switch e {
		case EarlyStoppingTrue:
			c.EarlyStopping = true
		case EarlyStoppingNever:
			c.EarlyStopping = "never"
		default:
			c.EarlyStopping = false
		}
		return nil
	})
}

// WithEOSTokenID sets eos_token_id (one id or several: generation stops at any).
func WithEOSTokenID(ids ...int) Option {
	return setter("eos_token_id", func(c *GenerationConfig) error {
		if len(ids) == 0 {
			return fmt.Errorf("no ids")
		}
		c.EOSTokenID = transformers.TokenIDs{IDs: append([]int(nil), ids...), List: len(ids) > 1}
		return nil
	})
}

// WithPadTokenID sets pad_token_id.
func WithPadTokenID(id int) Option {
	return setter("pad_token_id", func(c *GenerationConfig) error { c.PadTokenID = &id; return nil })
}

// WithBOSTokenID sets bos_token_id.
func WithBOSTokenID(id int) Option {
	return setter("bos_token_id", func(c *GenerationConfig) error { c.BOSTokenID = &id; return nil })
}

// WithDecoderStartTokenID sets decoder_start_token_id.
func WithDecoderStartTokenID(id int) Option {
	return setter("decoder_start_token_id", func(c *GenerationConfig) error {
		c.DecoderStartTokenID = transformers.SingleTokenID(id)
		return nil
	})
}

// WithBadWordsIDs sets bad_words_ids: token sequences that must not be generated.
func WithBadWordsIDs(ids [][]int) Option {
	return setter("bad_words_ids", func(c *GenerationConfig) error {
		v := make([]any, len(ids))
		for i, seq := range ids {
			s := make([]any, len(seq))
			for j, t := range seq {
				s[j] = t
			}
			v[i] = s
		}
		c.BadWordsIDs = v
		return nil
	})
}

// WithForcedBOSTokenID sets forced_bos_token_id.
func WithForcedBOSTokenID(id int) Option {
	return setter("forced_bos_token_id", func(c *GenerationConfig) error { c.ForcedBOSTokenID = &id; return nil })
}

// WithForcedEOSTokenID sets forced_eos_token_id (one id or several).
func WithForcedEOSTokenID(ids ...int) Option {
	return setter("forced_eos_token_id", func(c *GenerationConfig) error {
		if len(ids) == 1 {
			c.ForcedEOSTokenID = ids[0]
			return nil
		}
		v := make([]any, len(ids))
		for i, t := range ids {
			v[i] = t
		}
		c.ForcedEOSTokenID = v
		return nil
	})
}

// WithSeed seeds the sampling generator (math/rand/v2 PCG). Sampling is deterministic per seed but
// does not reproduce torch's random stream.
func WithSeed(seed uint64) Option {
	return func(o *CallOptions) error { o.Seed = seed; return nil }
}

// WithStreamer streams tokens while they are generated (generate(streamer=...)).
func WithStreamer(s Streamer) Option {
	return func(o *CallOptions) error { o.Streamer = s; return nil }
}

// WithLogitsProcessor adds processors run after the built-in ones (generate(logits_processor=...)).
func WithLogitsProcessor(p ...LogitsProcessor) Option {
	return func(o *CallOptions) error { o.Processors = append(o.Processors, p...); return nil }
}

// WithKwargs applies generate keyword arguments given as JSON values (e.g. the generate_kwargs of
// a parity case: {"max_new_tokens": 10, "num_beams": 3}). Keys are applied in sorted order; an
// unknown key is an error.
func WithKwargs(kwargs map[string]json.RawMessage) Option {
	return func(o *CallOptions) error {
		keys := make([]string, 0, len(kwargs))
		for k := range kwargs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			opt, err := kwargOption(k, kwargs[k])
			if err != nil {
				return fmt.Errorf("generation: kwarg %q: %w", k, err)
			}
			if err := opt(o); err != nil {
				return err
			}
		}
		return nil
	}
}

func kwargOption(key string, raw json.RawMessage) (Option, error) {
	var n int
	var f float64
	var b bool
	intArg := func() error { return json.Unmarshal(raw, &n) }
	floatArg := func() error { return json.Unmarshal(raw, &f) }
	switch key {
	case "max_new_tokens", "max_length", "min_length", "min_new_tokens", "num_beams", "num_return_sequences",
		"top_k", "no_repeat_ngram_size", "pad_token_id", "bos_token_id", "decoder_start_token_id", "forced_bos_token_id", "seed":
		if err := intArg(); err != nil {
			return nil, err
		}
		switch key {
		case "max_new_tokens":
			return WithMaxNewTokens(n), nil
		case "max_length":
			return WithMaxLength(n), nil
		case "min_length":
			return WithMinLength(n), nil
		case "min_new_tokens":
			return WithMinNewTokens(n), nil
		case "num_beams":
			return WithNumBeams(n), nil
		case "num_return_sequences":
			return WithNumReturnSequences(n), nil
		case "top_k":
			return WithTopK(n), nil
		case "no_repeat_ngram_size":
			return WithNoRepeatNgramSize(n), nil
		case "pad_token_id":
			return WithPadTokenID(n), nil
		case "bos_token_id":
			return WithBOSTokenID(n), nil
		case "decoder_start_token_id":
			return WithDecoderStartTokenID(n), nil
		case "forced_bos_token_id":
			return WithForcedBOSTokenID(n), nil
		case "seed":
			return WithSeed(uint64(n)), nil
		}
	case "temperature", "top_p", "repetition_penalty", "length_penalty":
		if err := floatArg(); err != nil {
			return nil, err
		}
		switch key {
		case "temperature":
			return WithTemperature(f), nil
		case "top_p":
			return WithTopP(f), nil
		case "repetition_penalty":
			return WithRepetitionPenalty(f), nil
		case "length_penalty":
			return WithLengthPenalty(f), nil
		}
	case "do_sample":
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, err
		}
		return WithDoSample(b), nil
	case "early_stopping":
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		e, err := parseEarlyStopping(v)
		if err != nil {
			return nil, err
		}
		return WithEarlyStopping(e), nil
	case "eos_token_id", "forced_eos_token_id":
		ids, err := intOrList(raw)
		if err != nil {
			return nil, err
		}
		if key == "eos_token_id" {
			return WithEOSTokenID(ids...), nil
		}
		return WithForcedEOSTokenID(ids...), nil
	case "bad_words_ids":
		var ids [][]int
		if err := json.Unmarshal(raw, &ids); err != nil {
			return nil, err
		}
		return WithBadWordsIDs(ids), nil
	}
	return nil, fmt.Errorf("unsupported generate argument")
}

func intOrList(raw json.RawMessage) ([]int, error) {
	var one int
	if err := json.Unmarshal(raw, &one); err == nil {
		return []int{one}, nil
	}
	var list []int
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("want an int or a list of ints: %w", err)
	}
	return list, nil
}

func parseEarlyStopping(v any) (EarlyStopping, error) {
	switch x := v.(type) {
	case nil:
		return EarlyStoppingFalse, nil
	case bool:
		if x {
			return EarlyStoppingTrue, nil
		}
		return EarlyStoppingFalse, nil
	case string:
		if x == "never" {
			return EarlyStoppingNever, nil
		}
	}
	return 0, fmt.Errorf("early_stopping must be true, false or \"never\", got %v", v)
}

// anyInts converts a decoded JSON int or list of ints (also float64 values from encoding/json).
func anyInts(v any) ([]int, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case int:
		return []int{x}, nil
	case int64:
		return []int{int(x)}, nil
	case float64:
		if x != math.Trunc(x) {
			return nil, fmt.Errorf("want an int, got %v", x)
		}
		return []int{int(x)}, nil
	case []int:
		return append([]int(nil), x...), nil
	case []any:
		var out []int
		for _, e := range x {
			ids, err := anyInts(e)
			if err != nil || len(ids) != 1 {
				return nil, fmt.Errorf("want a list of ints, got %v", v)
			}
			out = append(out, ids[0])
		}
		return out, nil
	}
	return nil, fmt.Errorf("want an int or a list of ints, got %T", v)
}

func anyIntLists(v any) ([][]int, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case [][]int:
		return x, nil
	case []any:
		var out [][]int
		for _, e := range x {
			l, ok := e.([]any)
			if !ok {
				if il, ok := e.([]int); ok {
					out = append(out, il)
					continue
				}
				return nil, fmt.Errorf("want a list of lists of ints, got %v", v)
			}
			ids, err := anyInts(l)
			if err != nil {
				return nil, err
			}
			out = append(out, ids)
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a list of lists of ints, got %T", v)
}

// Lengths are the inputs of transformers' _prepare_generated_length.
type Lengths struct {
	// InputIDsLen is the length of the rows generation starts from (decoder-only: the prompt ids,
	// 0 when only input embeddings are given; encoder-decoder: the decoder start ids, usually 1).
	InputIDsLen int
	// EmbedsLen is the length of inputs_embeds given to a decoder-only model (0: none).
	EmbedsLen int
	// EncoderDecoder is set for encoder-decoder models.
	EncoderDecoder bool
}

// Params resolves the generation config for one call into engine parameters (transformers'
// _prepare_special_tokens, _prepare_generated_length and _validate_generated_length).
func (c *GenerationConfig) Params(l Lengths, co *CallOptions) (Params, error) {
	p := Params{
		MaxLength:          c.MaxLength,
		MinLength:          c.MinLength,
		DoSample:           c.DoSample,
		NumBeams:           c.NumBeams,
		NumReturnSequences: c.NumReturnSequences,
		Temperature:        c.Temperature,
		TopK:               c.TopK,
		TopP:               c.TopP,
		RepetitionPenalty:  c.RepetitionPenalty,
		NoRepeatNGramSize:  c.NoRepeatNgramSize,
		LengthPenalty:      c.LengthPenalty,
		EOSTokenIDs:        append([]int(nil), c.EOSTokenID.IDs...),
		ForcedBOSTokenID:   c.ForcedBOSTokenID,
	}
	if c.PadTokenID != nil {
		v := *c.PadTokenID
		p.PadTokenID = &v
	}
	var err error
	if p.EarlyStopping, err = parseEarlyStopping(c.EarlyStopping); err != nil {
		return p, fmt.Errorf("generation: %w", err)
	}
	if p.BadWordsIDs, err = anyIntLists(c.BadWordsIDs); err != nil {
		return p, fmt.Errorf("generation: bad_words_ids: %w", err)
	}
	if p.ForcedEOSTokenID, err = anyInts(c.ForcedEOSTokenID); err != nil {
		return p, fmt.Errorf("generation: forced_eos_token_id: %w", err)
	}
	embedsOnly := l.EmbedsLen > 0 && l.InputIDsLen != l.EmbedsLen && !l.EncoderDecoder
	if c.MaxNewTokens != nil {
		p.MaxLength = *c.MaxNewTokens + l.InputIDsLen
	} else if embedsOnly {
		p.MaxLength -= l.EmbedsLen
	}
	if c.MinNewTokens != nil {
		p.MinLength = *c.MinNewTokens + l.InputIDsLen
		p.MinNewTokens = *c.MinNewTokens
	} else if embedsOnly {
		p.MinLength = max(p.MinLength-l.EmbedsLen, 0)
	}
	if c.DoSample && c.Temperature <= 0 {
		return p, fmt.Errorf("generation: temperature (=%g) has to be a strictly positive float", c.Temperature)
	}
	if co != nil {
		p.Seed, p.Streamer, p.Processors = co.Seed, co.Streamer, co.Processors
	}
	unsupported := []struct {
		bad  bool
		name string
	}{
		{c.NumBeamGroups > 1, "num_beam_groups > 1 (group beam search)"},
		{c.PenaltyAlpha != nil && *c.PenaltyAlpha > 0 && c.TopK > 1, "penalty_alpha (contrastive search)"},
		{c.DiversityPenalty != 0, "diversity_penalty"},
		{c.ForceWordsIDs != nil || c.Constraints != nil, "force_words_ids / constraints"},
		{c.GuidanceScale != nil && *c.GuidanceScale != 1, "guidance_scale"},
		{c.EncoderRepetitionPenalty != 1, "encoder_repetition_penalty"},
		{c.EncoderNoRepeatNgramSize > 0, "encoder_no_repeat_ngram_size"},
		{c.SuppressTokens != nil || c.BeginSuppressTokens != nil, "suppress_tokens / begin_suppress_tokens"},
		{c.SequenceBias != nil, "sequence_bias"},
		{c.ExponentialDecayLengthPenalty != nil, "exponential_decay_length_penalty"},
		{c.MinP != nil, "min_p"},
		{c.DoSample && c.TypicalP != 1, "typical_p"},
		{c.DoSample && (c.EpsilonCutoff != 0 || c.EtaCutoff != 0), "epsilon_cutoff / eta_cutoff"},
		{c.StopStrings != nil, "stop_strings"},
		{c.MaxTime != nil, "max_time"},
		{c.RenormalizeLogits, "renormalize_logits"},
		{c.RemoveInvalidValues, "remove_invalid_values"},
	}
	for _, u := range unsupported {
		if u.bad {
			return p, fmt.Errorf("generation: %s is not supported", u.name)
		}
	}
	return p, nil
}

// DecoderStart returns the decoder start token of an encoder-decoder model: decoder_start_token_id,
// else bos_token_id (transformers' _prepare_special_tokens).
func (c *GenerationConfig) DecoderStart() (int, error) {
	if id, ok := c.DecoderStartTokenID.First(); ok {
		return id, nil
	}
	if c.BOSTokenID != nil {
		return *c.BOSTokenID, nil
	}
	return 0, fmt.Errorf("generation: decoder_start_token_id or bos_token_id has to be defined for encoder-decoder generation")
}

// DefaultAttentionMask mirrors _prepare_attention_mask_for_generation: 0 at pad tokens when the
// batch holds a pad token that is not an EOS token, else all ones.
func DefaultAttentionMask(ids [][]int, pad *int, eos []int) [][]int {
	infer := false
	if pad != nil && !contains(eos, *pad) {
		for _, r := range ids {
			if contains(r, *pad) {
				infer = true
				break
			}
		}
	}
	mask := make([][]int, len(ids))
	for i, r := range ids {
		mask[i] = make([]int, len(r))
		for j, t := range r {
			if !infer || t != *pad {
				mask[i][j] = 1
			}
		}
	}
	return mask
}
