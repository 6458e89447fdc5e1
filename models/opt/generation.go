package opt

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/gotransformers/gotransformers/transformers/generation"
	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// decoder drives OPTForCausalLM for the generation engine: the prompt (ids or embeddings), the
// attention mask that grows by one column of ones per step, and the KV cache.
type decoder struct {
	m      *OPTForCausalLM
	ids    [][]int
	embeds *tensor.Tensor
	mask   [][]int
	cache  *Cache
}

// NewDecoder returns the generation.Decoder of one generate call: the prompt is inputIDs [B][T] or
// inputsEmbeds [B, T, WordEmbedProjDim] (exactly one), with attentionMask [B][T] (nil: all ones).
// BLIP-2 uses it with the merged image and text embeddings.
func (m *OPTForCausalLM) NewDecoder(inputIDs [][]int, inputsEmbeds *tensor.Tensor, attentionMask [][]int) (generation.Decoder, error) {
	if (inputIDs == nil) == (inputsEmbeds == nil) {
		return nil, fmt.Errorf("opt: generate: give exactly one of input_ids and inputs_embeds")
	}
	var bsz, t int
	if inputIDs != nil {
		var err error
		if bsz, t, err = validateIDs("input_ids", inputIDs, m.Config.VocabSize); err != nil {
			return nil, fmt.Errorf("opt: generate: %w", err)
		}
	} else {
		if len(inputsEmbeds.Shape) != 3 || inputsEmbeds.Shape[2] != m.Config.WordEmbedProjDim || inputsEmbeds.Shape[0] == 0 {
			return nil, fmt.Errorf("opt: generate: inputs_embeds has shape %v, want [B, T, %d]", inputsEmbeds.Shape, m.Config.WordEmbedProjDim)
		}
		bsz, t = inputsEmbeds.Shape[0], inputsEmbeds.Shape[1]
	}
	mask := make([][]int, bsz)
	if attentionMask != nil && len(attentionMask) != bsz {
		return nil, fmt.Errorf("opt: generate: attention_mask has %d rows, want %d", len(attentionMask), bsz)
	}
	for i := range mask {
		mask[i] = make([]int, t, t+64)
		if attentionMask == nil {
			for j := range mask[i] {
				mask[i][j] = 1
			}
			continue
		}
		if len(attentionMask[i]) != t {
			return nil, fmt.Errorf("opt: generate: attention_mask row %d has %d entries, want %d", i, len(attentionMask[i]), t)
		}
		for j, v := range attentionMask[i] {
			if v != 0 && v != 1 {
				return nil, fmt.Errorf("opt: generate: attention_mask[%d][%d] = %d, want 0 or 1", i, j, v)
			}
		}
		copy(mask[i], attentionMask[i])
	}
	return &decoder{m: m, ids: inputIDs, embeds: inputsEmbeds, mask: mask, cache: NewCache()}, nil
}

func lastLogits(out *Output) (*tensor.Tensor, error) {
	l := out.Logits
	if l == nil || len(l.Shape) != 3 {
		return nil, fmt.Errorf("opt: generate: forward returned no logits")
	}
	b, t, v := l.Shape[0], l.Shape[1], l.Shape[2]
	if t == 1 {
		return l.Reshape(b, v), nil
	}
	return tensor.Slice(l, 1, t-1, t).Reshape(b, v), nil
}

func (d *decoder) Prefill(ctx context.Context) (*tensor.Tensor, error) {
	out, err := d.m.Forward(ctx, &Input{InputIDs: d.ids, InputsEmbeds: d.embeds, AttentionMask: d.mask, Cache: d.cache, LogitsToKeep: 1})
	if err != nil {
		return nil, err
	}
	d.ids, d.embeds = nil, nil
	return lastLogits(out)
}

func (d *decoder) Step(ctx context.Context, tokens []int) (*tensor.Tensor, error) {
	if len(tokens) != len(d.mask) {
		return nil, fmt.Errorf("opt: generate: %d tokens for %d rows", len(tokens), len(d.mask))
	}
	ids := make([][]int, len(tokens))
	for i, t := range tokens {
		ids[i] = []int{t}
		d.mask[i] = append(d.mask[i], 1)
	}
	out, err := d.m.Forward(ctx, &Input{InputIDs: ids, AttentionMask: d.mask, Cache: d.cache, LogitsToKeep: 1})
	if err != nil {
		return nil, err
	}
	return lastLogits(out)
}

func (d *decoder) Reorder(rows []int) error {
	if err := d.cache.Reorder(rows); err != nil {
		return err
	}
	mask := make([][]int, len(rows))
	for i, r := range rows {
		if r < 0 || r >= len(d.mask) {
			return fmt.Errorf("opt: generate: reorder row %d outside the batch of %d", r, len(d.mask))
		}
		mask[i] = append(make([]int, 0, cap(d.mask[r])), d.mask[r]...)
	}
	d.mask = mask
	return nil
}

// GenerationConfigFromModel returns the generation config derived from the model config
// (GenerationConfig.from_model_config); pass generation_config.json
// (generation.GenerationConfigFromPretrained) with generation.WithConfig to use that instead.
func (m *OPTForCausalLM) GenerationConfigFromModel() (*generation.GenerationConfig, error) {
	return generation.FromModelConfig(m.Config)
}

// Generate mirrors OPTForCausalLM.generate(input_ids, attention_mask, **kwargs): greedy search,
// sampling or beam search from the prompt inputIDs [B][T] (left padded for batches of different
// lengths), and returns the prompt followed by the new tokens, finished rows padded with
// pad_token_id. inputIDs nil starts every row from [bos_token_id] (batch 1). attentionMask nil is
// inferred as transformers does (0 at pad tokens when pad_token_id is not an EOS token).
// Options: call options > generation.WithConfig (generation_config.json) > the model config.
func (m *OPTForCausalLM) Generate(ctx context.Context, inputIDs, attentionMask [][]int, opts ...generation.Option) (out *generation.Output, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("opt: generate: internal error: %v\n%s", r, debug.Stack())
		}
	}()
	base := m.GenerationConfig
	if base == nil {
		base, err = m.GenerationConfigFromModel()
	}
	if err != nil {
		return nil, fmt.Errorf("opt: generate: %w", err)
	}
	cfg, co, err := generation.ResolveOptions(base, opts...)
	if err != nil {
		return nil, fmt.Errorf("opt: generate: %w", err)
	}
	if inputIDs == nil {
		if cfg.BOSTokenID == nil {
			return nil, fmt.Errorf("opt: generate: no input_ids and bos_token_id is not set")
		}
		inputIDs = [][]int{{*cfg.BOSTokenID}}
		attentionMask = nil
	}
	if len(inputIDs) == 0 {
		return nil, fmt.Errorf("opt: generate: input_ids: empty batch")
	}
	if attentionMask == nil {
		pad := cfg.PadTokenID
		if pad == nil && len(cfg.EOSTokenID.IDs) > 0 {
			pad = &cfg.EOSTokenID.IDs[0]
		}
		attentionMask = generation.DefaultAttentionMask(inputIDs, pad, cfg.EOSTokenID.IDs)
	}
	p, err := cfg.Params(generation.Lengths{InputIDsLen: len(inputIDs[0])}, co)
	if err != nil {
		return nil, fmt.Errorf("opt: generate: %w", err)
	}
	dec, err := m.NewDecoder(inputIDs, nil, attentionMask)
	if err != nil {
		return nil, err
	}
	out, err = generation.Generate(ctx, dec, inputIDs, p)
	if err != nil {
		return nil, fmt.Errorf("opt: generate: %w", err)
	}
	return out, nil
}
