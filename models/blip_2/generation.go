package blip2

import (
	"context"
	"fmt"

	"github.com/gotransformers/gotransformers/models/opt"
	"github.com/gotransformers/gotransformers/models/t5"
	"github.com/gotransformers/gotransformers/transformers/generation"
	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// GenerateInput holds the tensor arguments of Blip2ForConditionalGeneration.generate.
type GenerateInput struct {
	// PixelValues: [B, 3, H, W] (Blip2Processor / BlipImageProcessor output).
	PixelValues *tensor.Tensor
	// InputIDs: [B][T] prompt ids as Blip2Processor builds them (expanded mode: num_query_tokens
	// <image> ids first; decoder-only: left padded). nil: caption without a prompt (see Generate).
	InputIDs [][]int
	// AttentionMask: [B][T] of 0/1; nil means all ones.
	AttentionMask [][]int
	// InterpolatePosEncoding is interpolate_pos_encoding (images of another size than the config's).
	InterpolatePosEncoding bool
}

// LanguageModelGenerationConfig returns the generation config the language model generates with:
// derived from text_config (GenerationConfig.from_model_config), as transformers 4.45 builds
// language_model.generation_config; the top-level generation_config.json is not consulted by
// Blip2ForConditionalGeneration.generate. Override it with generation.WithConfig or call options.
func (m *Blip2ForConditionalGeneration) LanguageModelGenerationConfig() (*generation.GenerationConfig, error) {
	if m.Config == nil || m.Config.TextConfig == nil {
		return nil, fmt.Errorf("blip2: generate: the model has no text_config")
	}
	return generation.FromModelConfig(m.Config.TextConfig)
}

// captionPrompt is the prompt Blip2Processor(images, text="") builds per image: the <image> ids in
// expanded mode, then BOS for a decoder-only LM (GPT2Tokenizer adds it) or EOS for T5 (T5Tokenizer
// appends it).
func (m *Blip2ForConditionalGeneration) captionPrompt(batch int) ([][]int, error) {
	base := m.Config.TextConfig.Base()
	var text []int
	if !m.LanguageModel.IsEncoderDecoder() {
		if base.BOSTokenID == nil {
			return nil, fmt.Errorf("blip2: generate: no input_ids and text_config.bos_token_id is None")
		}
		text = []int{*base.BOSTokenID}
	} else {
		eos, ok := base.EOSTokenID.First()
		if !ok {
			return nil, fmt.Errorf("blip2: generate: no input_ids and text_config.eos_token_id is None")
		}
		text = []int{eos}
	}
	rows := make([][]int, batch)
	for i := range rows {
		var r []int
		if m.Expanded() {
			for range m.Config.NumQueryTokens {
				r = append(r, *m.Config.ImageTokenIndex)
			}
		}
		rows[i] = append(r, text...)
	}
	return rows, nil
}

// Generate mirrors Blip2ForConditionalGeneration.generate (transformers 4.45): the image goes
// through the vision model, the Q-Former and the language projection; the projected queries replace
// the <image> token embeddings of the prompt (expanded mode, config.image_token_index set) or are
// concatenated in front of them (legacy mode, where a decoder-only LM's max_length gains
// num_query_tokens-1 and min_length num_query_tokens, as transformers does); then the language model
// generates from those embeddings.
//
// Returned rows: decoder-only LM (OPT): [bos_token_id] + new tokens (the prompt is not included);
// encoder-decoder (T5): decoder_start_token_id + new tokens. Finished rows are padded with
// pad_token_id. Generation defaults come from text_config (LanguageModelGenerationConfig); options
// override them.
//
// Fixes over 4.45 (docs/parity.md): InputIDs nil captions in every mode, with the prompt
// Blip2Processor(text="") would build (4.45 raises in expanded mode and for T5); with OPT and
// num_return_sequences > 1 every returned row gets its BOS (4.45 raises).
func (m *Blip2ForConditionalGeneration) Generate(ctx context.Context, in *GenerateInput, opts ...generation.Option) (out *generation.Output, err error) {
	defer recoverErr("Blip2ForConditionalGeneration.generate", &err)
	if in == nil || in.PixelValues == nil {
		return nil, fmt.Errorf("blip2: generate: pixel_values is required")
	}
	if len(in.PixelValues.Shape) != 4 || in.PixelValues.Shape[0] == 0 {
		return nil, fmt.Errorf("blip2: generate: pixel_values has shape %v, want [B, 3, H, W]", in.PixelValues.Shape)
	}
	base, err := m.LanguageModelGenerationConfig()
	if err != nil {
		return nil, err
	}
	cfg, co, err := generation.ResolveOptions(base, opts...)
	if err != nil {
		return nil, fmt.Errorf("blip2: generate: %w", err)
	}
	batch := in.PixelValues.Shape[0]
	ids, mask := in.InputIDs, in.AttentionMask
	if ids == nil {
		if ids, err = m.captionPrompt(batch); err != nil {
			return nil, err
		}
		mask = nil
	}
	merged, err := m.PrepareInputsEmbeds(ctx, &ImageInput{PixelValues: in.PixelValues, InterpolatePosEncoding: in.InterpolatePosEncoding}, ids, mask)
	if err != nil {
		return nil, err
	}
	embeds := merged.InputsEmbeds
	nq := merged.Features.LanguageModelInputs.Shape[1]
	switch lm := m.LanguageModel.Unwrap().(type) {
	case *opt.OPTForCausalLM:
		if merged.Legacy {
			// generate_kwargs["max_length"] = generate_kwargs.get("max_length", 20) + Q - 1, and
			// min_length likewise + Q: the call's value or the literal default, not the config's.
			maxLen, minLen := 20, 0
			if co.Has("max_length") {
				maxLen = cfg.MaxLength
			}
			if co.Has("min_length") {
				minLen = cfg.MinLength
			}
			cfg.MaxLength, cfg.MinLength = maxLen+nq-1, minLen+nq
		}
		p, err := cfg.Params(generation.Lengths{InputIDsLen: 0, EmbedsLen: embeds.Shape[1]}, co)
		if err != nil {
			return nil, fmt.Errorf("blip2: generate: %w", err)
		}
		bos, ok := textBOS(m.Config.TextConfig)
		if !ok {
			return nil, fmt.Errorf("blip2: generate: text_config.bos_token_id is None (needed to start the returned rows)")
		}
		dec, err := lm.NewDecoder(nil, embeds, merged.AttentionMask)
		if err != nil {
			return nil, fmt.Errorf("blip2: generate: %w", err)
		}
		if p.Streamer != nil {
			// the streamer sees the rows as returned: [bos] first
			p.Streamer = bosStreamer{inner: p.Streamer, bos: bos}
		}
		out, err := generation.Generate(ctx, dec, make([][]int, batch), p)
		if err != nil {
			return nil, fmt.Errorf("blip2: generate: %w", err)
		}
		for i, r := range out.Sequences {
			out.Sequences[i] = append([]int{bos}, r...)
		}
		return out, nil
	case *t5.T5ForConditionalGeneration:
		out, err := lm.GenerateFrom(ctx, cfg, co, nil, embeds, merged.AttentionMask)
		if err != nil {
			return nil, fmt.Errorf("blip2: generate: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("blip2: generate: unsupported language model %T", m.LanguageModel.Unwrap())
}

// bosStreamer prefixes the (empty) prompt rows with BOS, so streamers see what Generate returns.
type bosStreamer struct {
	inner generation.Streamer
	bos   int
}

func (s bosStreamer) Put(tokens [][]int) error {
	if len(tokens) > 0 && len(tokens[0]) == 0 {
		rows := make([][]int, len(tokens))
		for i := range rows {
			rows[i] = []int{s.bos}
		}
		return s.inner.Put(rows)
	}
	return s.inner.Put(tokens)
}

func (s bosStreamer) End() { s.inner.End() }
