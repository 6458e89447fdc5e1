package t5

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/gotransformers/gotransformers/transformers/generation"
	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// decoder drives T5ForConditionalGeneration for the generation engine: Prefill encodes the input
// once and runs the decoder on the start tokens; each Step feeds one token per row through the
// cache (self-attention keys, cross-attention keys computed once, encoder mask).
type decoder struct {
	m      *T5ForConditionalGeneration
	ids    [][]int
	embeds *tensor.Tensor
	mask   [][]int
	start  [][]int
	cache  *Cache
}

// NewDecoder returns the generation.Decoder of one generate call: the encoder input is inputIDs
// [B][S] or inputsEmbeds [B, S, DModel] (exactly one) with attentionMask [B][S] (nil: all ones);
// decoderStart [B][Td] are the decoder's first ids (usually [[decoder_start_token_id]] per row).
// BLIP-2 uses it with the merged image and text embeddings.
func (m *T5ForConditionalGeneration) NewDecoder(inputIDs [][]int, inputsEmbeds *tensor.Tensor, attentionMask [][]int, decoderStart [][]int) (generation.Decoder, error) {
	if (inputIDs == nil) == (inputsEmbeds == nil) {
		return nil, fmt.Errorf("t5: generate: give exactly one of input_ids and inputs_embeds")
	}
	bsz := len(inputIDs)
	if inputIDs != nil {
		if err := m.ValidateIDs(inputIDs); err != nil {
			return nil, fmt.Errorf("t5: generate: %w", err)
		}
	} else {
		if len(inputsEmbeds.Shape) != 3 || inputsEmbeds.Shape[2] != m.Config.DModel || inputsEmbeds.Shape[0] == 0 || inputsEmbeds.Shape[1] == 0 {
			return nil, fmt.Errorf("t5: generate: inputs_embeds has shape %v, want [B, S, %d]", inputsEmbeds.Shape, m.Config.DModel)
		}
		bsz = inputsEmbeds.Shape[0]
	}
	if len(decoderStart) != bsz {
		return nil, fmt.Errorf("t5: generate: %d decoder start rows for a batch of %d", len(decoderStart), bsz)
	}
	if _, _, err := validateIDs("decoder_input_ids", decoderStart, m.Config.VocabSize); err != nil {
		return nil, fmt.Errorf("t5: generate: %w", err)
	}
	return &decoder{m: m, ids: inputIDs, embeds: inputsEmbeds, mask: attentionMask, start: decoderStart, cache: NewCache()}, nil
}

func lastLogits(out *Output) (*tensor.Tensor, error) {
	l := out.Logits
	if l == nil || len(l.Shape) != 3 {
		return nil, fmt.Errorf("t5: generate: forward returned no logits")
	}
	b, t, v := l.Shape[0], l.Shape[1], l.Shape[2]
	if t == 1 {
		return l.Reshape(b, v), nil
	}
	return tensor.Slice(l, 1, t-1, t).Reshape(b, v), nil
}

func (d *decoder) Prefill(ctx context.Context) (*tensor.Tensor, error) {
	enc, err := d.m.Encode(ctx, &Input{InputIDs: d.ids, InputsEmbeds: d.embeds, AttentionMask: d.mask})
	if err != nil {
		return nil, err
	}
	out, err := d.m.Forward(ctx, &Input{EncoderOutputs: enc, AttentionMask: d.mask, DecoderInputIDs: d.start, Cache: d.cache, LogitsToKeep: 1})
	if err != nil {
		return nil, err
	}
	d.ids, d.embeds = nil, nil
	return lastLogits(out)
}

func (d *decoder) Step(ctx context.Context, tokens []int) (*tensor.Tensor, error) {
	ids := make([][]int, len(tokens))
	for i, t := range tokens {
		ids[i] = []int{t}
	}
	out, err := d.m.Forward(ctx, &Input{DecoderInputIDs: ids, Cache: d.cache, LogitsToKeep: 1})
	if err != nil {
		return nil, err
	}
	return lastLogits(out)
}

func (d *decoder) Reorder(rows []int) error { return d.cache.Reorder(rows) }

// GenerationConfigFromModel returns the generation config derived from the model config
// (GenerationConfig.from_model_config); pass generation_config.json
// (generation.GenerationConfigFromPretrained) with generation.WithConfig to use that instead.
func (m *T5ForConditionalGeneration) GenerationConfigFromModel() (*generation.GenerationConfig, error) {
	return generation.FromModelConfig(m.Config)
}

// Generate mirrors T5ForConditionalGeneration.generate(input_ids, attention_mask, **kwargs): the
// encoder reads inputIDs [B][S] (right padded), the decoder starts from decoder_start_token_id and
// the result rows are that start id followed by the new tokens, finished rows padded with
// pad_token_id. max_new_tokens counts the new tokens; max_length counts the start id too.
// attentionMask nil is inferred as transformers does (0 at pad tokens when pad_token_id is not an
// EOS token). Options: call options > generation.WithConfig (generation_config.json) > the model
// config.
func (m *T5ForConditionalGeneration) Generate(ctx context.Context, inputIDs, attentionMask [][]int, opts ...generation.Option) (out *generation.Output, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("t5: generate: internal error: %v\n%s", r, debug.Stack())
		}
	}()
	base := m.GenerationConfig
	if base == nil {
		base, err = m.GenerationConfigFromModel()
	}
	if err != nil {
		return nil, fmt.Errorf("t5: generate: %w", err)
	}
	cfg, co, err := generation.ResolveOptions(base, opts...)
	if err != nil {
		return nil, fmt.Errorf("t5: generate: %w", err)
	}
	if len(inputIDs) == 0 {
		return nil, fmt.Errorf("t5: generate: input_ids: empty batch")
	}
	if attentionMask == nil {
		pad := cfg.PadTokenID
		if pad == nil && len(cfg.EOSTokenID.IDs) > 0 {
			pad = &cfg.EOSTokenID.IDs[0]
		}
		attentionMask = generation.DefaultAttentionMask(inputIDs, pad, cfg.EOSTokenID.IDs)
	}
	return m.GenerateFrom(ctx, cfg, co, inputIDs, nil, attentionMask)
}

// GenerateFrom runs generation with a resolved config (generation.ResolveOptions) from encoder
// inputIDs or inputsEmbeds (exactly one) and their mask; BLIP-2 calls it with inputs_embeds.
func (m *T5ForConditionalGeneration) GenerateFrom(ctx context.Context, cfg *generation.GenerationConfig, co *generation.CallOptions, inputIDs [][]int, inputsEmbeds *tensor.Tensor, attentionMask [][]int) (*generation.Output, error) {
	startID, err := cfg.DecoderStart()
	if err != nil {
		return nil, fmt.Errorf("t5: generate: %w", err)
	}
	bsz := len(inputIDs)
	if inputsEmbeds != nil && len(inputsEmbeds.Shape) > 0 {
		bsz = inputsEmbeds.Shape[0]
	}
	start := make([][]int, bsz)
	for i := range start {
		start[i] = []int{startID}
	}
	p, err := cfg.Params(generation.Lengths{InputIDsLen: 1, EncoderDecoder: true}, co)
	if err != nil {
		return nil, fmt.Errorf("t5: generate: %w", err)
	}
	dec, err := m.NewDecoder(inputIDs, inputsEmbeds, attentionMask, start)
	if err != nil {
		return nil, err
	}
	out, err := generation.Generate(ctx, dec, start, p)
	if err != nil {
		return nil, fmt.Errorf("t5: generate: %w", err)
	}
	return out, nil
}
