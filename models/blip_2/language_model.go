package blip2

import (
	"context"
	"fmt"
	"math"

	"github.com/gotransformers/gotransformers/models/opt"
	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// LanguageModel is the language model BLIP-2 feeds: OPTForCausalLM (decoder-only) or
// T5ForConditionalGeneration (encoder-decoder), seen through one small interface. In transformers it
// is Blip2*.language_model (AutoModelForCausalLM / AutoModelForSeq2SeqLM). The adapters are OPTAdapter
// and T5Adapter; Unwrap gives the concrete model (for generation).
type LanguageModel interface {
	// IsEncoderDecoder reports whether the model is an encoder-decoder (T5) rather than decoder-only.
	IsEncoderDecoder() bool
	// HiddenSize is the width of the input embeddings (OPT word_embed_proj_dim, T5 d_model).
	HiddenSize() int
	// VocabSize is the number of logits per position (text_config.vocab_size).
	VocabSize() int
	// EmbedTokens mirrors get_input_embeddings()(ids): ids [B][T] -> [B, T, HiddenSize]. Ids outside
	// the vocabulary are an error.
	EmbedTokens(ids [][]int) (*tensor.Tensor, error)
	// Forward runs the model (language_model(...)).
	Forward(ctx context.Context, in *LMInput) (*LMOutput, error)
	// Unwrap returns the concrete model: *opt.OPTForCausalLM or *t5.T5ForConditionalGeneration.
	Unwrap() any
}

// LMInput holds the arguments BLIP-2 passes to its language model. Exactly one of InputIDs and
// InputsEmbeds is set.
type LMInput struct {
	InputIDs      [][]int        // [B][T]
	InputsEmbeds  *tensor.Tensor // [B, T, HiddenSize]
	AttentionMask [][]int        // [B][T] of 0/1; nil means all ones
	// DecoderInputIDs / DecoderAttentionMask: encoder-decoder models only ([B][Td]).
	DecoderInputIDs      [][]int
	DecoderAttentionMask [][]int
	// Labels: [B][T] (decoder-only) or [B][Td] (encoder-decoder); -100 is ignored. An encoder-decoder
	// model computes its loss from them (and derives DecoderInputIDs by shifting right when those are
	// nil); BLIP-2 computes the decoder-only loss itself and never passes labels to OPT.
	Labels             [][]int
	OutputHiddenStates bool
	// Cache is the model's own cache (*opt.Cache / *t5.Cache) or nil; generation passes it.
	Cache any
}

// LMOutput is what the language model returns.
type LMOutput struct {
	Logits *tensor.Tensor // [B, T, VocabSize] (decoder: [B, Td, VocabSize])
	Loss   *tensor.Tensor // scalar (shape []) when labels were given to an encoder-decoder model
	// HiddenStates: decoder-only: the decoder's hidden states; encoder-decoder: the decoder's.
	HiddenStates []*tensor.Tensor
	// Cache is the updated cache (same object as LMInput.Cache when one was given).
	Cache any
	// Raw is the model's own output (*opt.Output / *t5.Output).
	Raw any
}

// crossEntropy mirrors torch.nn.CrossEntropyLoss(reduction="mean", ignore_index=-100) over logits
// [B, T, V] and labels [B][T]; with shift it compares logits[:, :-1] with labels[:, 1:] (causal LM).
// Returns a scalar tensor (NaN when every label is ignored, as torch gives).
func crossEntropy(logits *tensor.Tensor, labels [][]int, shift bool) (*tensor.Tensor, error) {
	b, t, v := logits.Shape[0], logits.Shape[1], logits.Shape[2]
	if len(labels) != b {
		return nil, fmt.Errorf("labels: %d rows, want %d", len(labels), b)
	}
	off := 0
	if shift {
		off = 1
	}
	var sum float64
	n := 0
	for i, row := range labels {
		if len(row) != t {
			return nil, fmt.Errorf("labels: row %d has %d entries, want %d", i, len(row), t)
		}
		for j := 0; j+off < t; j++ {
			y := row[j+off]
			if y == -100 {
				continue
			}
			if y < 0 || y >= v {
				return nil, fmt.Errorf("labels: [%d][%d] = %d outside the vocabulary [0, %d) (use -100 to ignore)", i, j+off, y, v)
			}
			r := logits.Data[(i*t+j)*v : (i*t+j+1)*v]
			sum += float64(tensor.LogSumExp(r)) - float64(r[y])
			n++
		}
	}
	out := tensor.New()
	if n == 0 {
		out.Data[0] = float32(math.NaN())
	} else {
		out.Data[0] = float32(sum / float64(n))
	}
	return out, nil
}

// checkIDs checks a [B][T] id matrix: rectangular, non-empty rows, ids in [0, vocab).
func checkIDs(what string, ids [][]int, vocab int) error {
	if len(ids) == 0 {
		return fmt.Errorf("%s: empty batch", what)
	}
	t := len(ids[0])
	for i, row := range ids {
		if len(row) != t {
			return fmt.Errorf("%s: row %d has %d ids, row 0 has %d (pad the batch)", what, i, len(row), t)
		}
		for j, id := range row {
			if id < 0 || id >= vocab {
				return fmt.Errorf("%s: [%d][%d] = %d outside the vocabulary [0, %d)", what, i, j, id, vocab)
			}
		}
	}
	return nil
}

// onesMask returns a [B][T] mask of ones.
func onesMask(b, t int) [][]int {
	m := make([][]int, b)
	for i := range m {
		m[i] = make([]int, t)
		for j := range m[i] {
			m[i][j] = 1
		}
	}
	return m
}

// OPTAdapter presents an *opt.OPTForCausalLM as a LanguageModel.
type OPTAdapter struct {
	Model *opt.OPTForCausalLM
}

// IsEncoderDecoder returns false: OPT is decoder-only.
func (a *OPTAdapter) IsEncoderDecoder() bool { return false }

// HiddenSize returns word_embed_proj_dim (the width of OPT's input embeddings).
func (a *OPTAdapter) HiddenSize() int { return a.Model.Config.WordEmbedProjDim }

// VocabSize returns vocab_size.
func (a *OPTAdapter) VocabSize() int { return a.Model.Config.VocabSize }

// EmbedTokens mirrors language_model.get_input_embeddings()(ids): [B, T, word_embed_proj_dim].
func (a *OPTAdapter) EmbedTokens(ids [][]int) (*tensor.Tensor, error) {
	if err := checkIDs("input_ids", ids, a.VocabSize()); err != nil {
		return nil, err
	}
	return a.Model.EmbedTokens(ids), nil
}

// Forward runs OPTForCausalLM.forward. Cache must be nil or an *opt.Cache.
func (a *OPTAdapter) Forward(ctx context.Context, in *LMInput) (*LMOutput, error) {
	var cache *opt.Cache
	if in.Cache != nil {
		c, ok := in.Cache.(*opt.Cache)
		if !ok {
			return nil, fmt.Errorf("blip2: OPT language model: cache is %T, want *opt.Cache", in.Cache)
		}
		cache = c
	}
	if in.DecoderInputIDs != nil || in.DecoderAttentionMask != nil {
		return nil, fmt.Errorf("blip2: OPT language model: decoder_input_ids / decoder_attention_mask are for encoder-decoder models")
	}
	out, err := a.Model.Forward(ctx, &opt.Input{
		InputIDs:           in.InputIDs,
		InputsEmbeds:       in.InputsEmbeds,
		AttentionMask:      in.AttentionMask,
		Labels:             in.Labels,
		Cache:              cache,
		OutputHiddenStates: in.OutputHiddenStates,
	})
	if err != nil {
		return nil, err
	}
	res := &LMOutput{Logits: out.Logits, Loss: out.Loss, HiddenStates: out.HiddenStates, Raw: out}
	if out.Cache != nil {
		res.Cache = out.Cache
	}
	return res, nil
}

// Unwrap returns the *opt.OPTForCausalLM.
func (a *OPTAdapter) Unwrap() any { return a.Model }
