package blip2

import (
	"context"
	"fmt"

	"github.com/gotransformers/gotransformers/models/t5"
	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// newT5LanguageModel builds the T5 language model under b ("language_model").
func newT5LanguageModel(cfg *t5.T5Config, b *weights.Binder) (LanguageModel, error) {
	m, err := t5.NewT5ForConditionalGeneration(cfg, b)
	if err != nil {
		return nil, err
	}
	return &T5Adapter{Model: m}, nil
}

// T5Adapter presents a *t5.T5ForConditionalGeneration as a LanguageModel.
type T5Adapter struct {
	Model *t5.T5ForConditionalGeneration
}

// IsEncoderDecoder returns true: T5 is an encoder-decoder.
func (a *T5Adapter) IsEncoderDecoder() bool { return true }

// HiddenSize returns d_model.
func (a *T5Adapter) HiddenSize() int { return a.Model.Config.DModel }

// VocabSize returns vocab_size.
func (a *T5Adapter) VocabSize() int { return a.Model.Config.VocabSize }

// EmbedTokens mirrors language_model.get_input_embeddings()(ids) (the shared embedding):
// [B, T, d_model].
func (a *T5Adapter) EmbedTokens(ids [][]int) (*tensor.Tensor, error) {
	if err := checkIDs("input_ids", ids, a.VocabSize()); err != nil {
		return nil, err
	}
	return a.Model.EmbedTokens(ids), nil
}

// Forward runs T5ForConditionalGeneration.forward. Cache must be nil or a *t5.Cache.
func (a *T5Adapter) Forward(ctx context.Context, in *LMInput) (*LMOutput, error) {
	var cache *t5.Cache
	if in.Cache != nil {
		c, ok := in.Cache.(*t5.Cache)
		if !ok {
			return nil, fmt.Errorf("blip2: T5 language model: cache is %T, want *t5.Cache", in.Cache)
		}
		cache = c
	}
	out, err := a.Model.Forward(ctx, &t5.Input{
		InputIDs:             in.InputIDs,
		InputsEmbeds:         in.InputsEmbeds,
		AttentionMask:        in.AttentionMask,
		DecoderInputIDs:      in.DecoderInputIDs,
		DecoderAttentionMask: in.DecoderAttentionMask,
		Labels:               in.Labels,
		Cache:                cache,
		OutputHiddenStates:   in.OutputHiddenStates,
	})
	if err != nil {
		return nil, err
	}
	res := &LMOutput{Logits: out.Logits, Loss: out.Loss, HiddenStates: out.DecoderHiddenStates, Raw: out}
	if out.Cache != nil {
		res.Cache = out.Cache
	}
	return res, nil
}

// Unwrap returns the *t5.T5ForConditionalGeneration.
func (a *T5Adapter) Unwrap() any { return a.Model }
