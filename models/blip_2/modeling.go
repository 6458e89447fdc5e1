package blip2

import (
	"context"
	"fmt"
	"strings"

	"github.com/gotransformers/gotransformers/models/opt"
	"github.com/gotransformers/gotransformers/models/t5"
	"github.com/gotransformers/gotransformers/transformers/nn"
	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// Blip2Parts is the module tree shared by Blip2Model and Blip2ForConditionalGeneration (both have
// the same checkpoint keys): query_tokens, vision_model, qformer, language_projection and
// language_model, bound in that (state_dict) order.
type Blip2Parts struct {
	Config             *Blip2Config
	QueryTokens        *tensor.Weight // query_tokens: [1, num_query_tokens, qformer hidden]
	VisionModel        *Blip2VisionModel
	Qformer            *Blip2QFormerModel
	LanguageProjection *nn.Linear // language_projection: [LM hidden, qformer hidden]
	LanguageModel      LanguageModel
	keys               []weights.KeyInfo  // this tree's state_dict entries, in module order
	prefix             string             // the binder prefix the tree was built under ("" or "x.")
	stateDict          *weights.StateDict // owned by FromPretrained models (Close)
}

// shapeOnly reports whether the tree was built without weights (a placeholder query_tokens).
func (p *Blip2Parts) shapeOnly() bool { return p.QueryTokens == nil || p.QueryTokens.ShapeOnly() }

// textHidden returns the width of the language model's input embeddings for a text config.
func textHidden(tc TextConfig) (int, error) {
	switch c := tc.(type) {
	case *opt.OPTConfig:
		// transformers: nn.Linear(qformer hidden, text_config.hidden_size). OPT checkpoints with
		// word_embed_proj_dim != hidden_size project in/out; language_projection targets hidden_size.
		return c.HiddenSize, nil
	case *t5.T5Config:
		return c.DModel, nil
	case nil:
		return 0, fmt.Errorf("text_config: missing")
	}
	return 0, fmt.Errorf("text_config: model_type %q not supported (want opt or t5)", tc.ModelType())
}

// newBlip2Parts builds the tree from cfg, binding under b (the checkpoint root).
func newBlip2Parts(cfg *Blip2Config, b *weights.Binder) (*Blip2Parts, error) {
	if cfg == nil {
		return nil, fmt.Errorf("blip2: nil config")
	}
	if cfg.NumQueryTokens <= 0 {
		return nil, fmt.Errorf("blip2: config: num_query_tokens %d must be positive", cfg.NumQueryTokens)
	}
	if err := validateQFormerConfig(cfg.QFormerConfig); err != nil {
		return nil, fmt.Errorf("blip2: config: %w", err)
	}
	if err := validateVisionConfig(cfg.VisionConfig); err != nil {
		return nil, fmt.Errorf("blip2: config: %w", err)
	}
	th, err := textHidden(cfg.TextConfig)
	if err != nil {
		return nil, fmt.Errorf("blip2: config: %w", err)
	}
	if cfg.QFormerConfig.EncoderHiddenSize != cfg.VisionConfig.HiddenSize {
		return nil, fmt.Errorf("blip2: config: qformer_config.encoder_hidden_size %d != vision_config.hidden_size %d",
			cfg.QFormerConfig.EncoderHiddenSize, cfg.VisionConfig.HiddenSize)
	}
	qd := cfg.QFormerConfig.HiddenSize
	p := &Blip2Parts{Config: cfg}
	p.QueryTokens = b.Weight("query_tokens", 1, cfg.NumQueryTokens, qd)
	if p.VisionModel, err = NewBlip2VisionModel(cfg.VisionConfig, b.Pp("vision_model")); err != nil {
		return nil, fmt.Errorf("blip2: %w", err)
	}
	if p.Qformer, err = NewBlip2QFormerModel(cfg.QFormerConfig, b.Pp("qformer")); err != nil {
		return nil, fmt.Errorf("blip2: %w", err)
	}
	p.LanguageProjection = nn.NewLinear(b, "language_projection", qd, th, true)
	lb := b.Pp("language_model")
	switch tc := cfg.TextConfig.(type) {
	case *opt.OPTConfig:
		m, err := opt.NewOPTForCausalLM(tc, lb)
		if err != nil {
			return nil, fmt.Errorf("blip2: language_model: %w", err)
		}
		p.LanguageModel = &OPTAdapter{Model: m}
	case *t5.T5Config:
		if p.LanguageModel, err = newT5LanguageModel(tc, lb); err != nil {
			return nil, fmt.Errorf("blip2: language_model: %w", err)
		}
	}
	if p.LanguageModel.IsEncoderDecoder() == cfg.UseDecoderOnlyLanguageModel {
		return nil, fmt.Errorf("blip2: config: use_decoder_only_language_model %v does not fit text_config.model_type %q",
			cfg.UseDecoderOnlyLanguageModel, cfg.TextConfig.ModelType())
	}
	if p.prefix = b.Prefix(); p.prefix != "" {
		p.prefix += "."
	}
	for _, k := range b.Keys() {
		if strings.HasPrefix(k.Name, p.prefix) {
			p.keys = append(p.keys, k)
		}
	}
	return p, nil
}

// ImageInput holds the image arguments of the feature methods.
type ImageInput struct {
	PixelValues            *tensor.Tensor // [N, 3, H, W]
	InterpolatePosEncoding bool           // interpolate_pos_encoding
	OutputHiddenStates     bool           // output_hidden_states (vision model and Q-Former)
}

// ImageFeatures are the intermediate results of the image path.
type ImageFeatures struct {
	Vision  *VisionOutput  // vision_outputs
	QFormer *QFormerOutput // qformer_outputs (query_output = QFormer.LastHiddenState [N, Q, Dq])
	// LanguageModelInputs = language_projection(query_output): [N, Q, LM hidden].
	LanguageModelInputs *tensor.Tensor
}

// imageFeatures runs vision model -> Q-Former (-> language_projection when project is set).
func (p *Blip2Parts) imageFeatures(ctx context.Context, in *ImageInput, project bool) (*ImageFeatures, error) {
	if p.shapeOnly() {
		return nil, ErrShapeOnly
	}
	if in == nil {
		return nil, fmt.Errorf("blip2: nil image input")
	}
	vis, err := p.VisionModel.Forward(ctx, in.PixelValues, VisionOptions{
		OutputHiddenStates:     in.OutputHiddenStates,
		InterpolatePosEncoding: in.InterpolatePosEncoding,
	})
	if err != nil {
		return nil, err
	}
	img := vis.LastHiddenState // [N, S, Dv]
	n := img.Shape[0]
	qd, nq := p.QueryTokens.Shape[2], p.QueryTokens.Shape[1]
	query := tensor.New(n, nq, qd) // query_tokens.expand(N, -1, -1)
	for i := range n {
		p.QueryTokens.WidenTo(query.Data[i*nq*qd:(i+1)*nq*qd], 0)
	}
	qf, err := p.Qformer.Forward(ctx, &QFormerInput{
		QueryEmbeds:         query,
		EncoderHiddenStates: img,
		OutputHiddenStates:  in.OutputHiddenStates,
	})
	if err != nil {
		return nil, err
	}
	f := &ImageFeatures{Vision: vis, QFormer: qf}
	if project {
		f.LanguageModelInputs = p.LanguageProjection.Forward(qf.LastHiddenState) // [N, Q, Dl]
	}
	return f, nil
}

// ImageFeatures runs the image path: vision model, Q-Former on the learned queries and the language
// projection (the first half of Blip2ForConditionalGeneration.forward / generate).
// in.PixelValues: [N, 3, H, W] -> LanguageModelInputs [N, num_query_tokens, LM hidden].
func (p *Blip2Parts) ImageFeatures(ctx context.Context, in *ImageInput) (f *ImageFeatures, err error) {
	defer recoverErr("image features", &err)
	return p.imageFeatures(ctx, in, true)
}

// ParameterCounts is the number of parameters per part (tied parameters counted once).
type ParameterCounts struct {
	Vision, QFormer, Projection, LanguageModel, Total int64
}

// Blip2Model mirrors transformers' Blip2Model: vision model, Q-Former, projection and language
// model, with the feature methods.
type Blip2Model struct {
	*Blip2Parts
}

// NewBlip2Model builds a Blip2Model from cfg, binding weights under b. With weights.NewShapeBinder()
// it builds the tree without weight memory (inspection). The caller calls b.Finish().
func NewBlip2Model(cfg *Blip2Config, b *weights.Binder) (*Blip2Model, error) {
	p, err := newBlip2Parts(cfg, b)
	if err != nil {
		return nil, err
	}
	return &Blip2Model{p}, nil
}

// TextInput holds the text arguments of GetTextFeatures and Forward.
type TextInput struct {
	InputIDs             [][]int // [B][T]
	AttentionMask        [][]int // [B][T] of 0/1; nil means all ones
	DecoderInputIDs      [][]int // T5 only: [B][Td]
	DecoderAttentionMask [][]int // T5 only: [B][Td]
	Labels               [][]int // -100 = ignored
	OutputHiddenStates   bool
}

// GetTextFeatures mirrors Blip2Model.get_text_features: the language model on text only. OPT gets
// input_ids; T5 gets the embeddings of input_ids plus decoder_input_ids. Returns the LM output
// (Logits [B, T, V] for OPT, [B, Td, V] for T5).
func (m *Blip2Model) GetTextFeatures(ctx context.Context, in *TextInput) (out *LMOutput, err error) {
	defer recoverErr("get_text_features", &err)
	if m.shapeOnly() {
		return nil, ErrShapeOnly
	}
	if in == nil {
		return nil, fmt.Errorf("blip2: get_text_features: nil input")
	}
	lm := m.LanguageModel
	if !lm.IsEncoderDecoder() {
		return lm.Forward(ctx, &LMInput{InputIDs: in.InputIDs, AttentionMask: in.AttentionMask, OutputHiddenStates: in.OutputHiddenStates})
	}
	emb, err := lm.EmbedTokens(in.InputIDs)
	if err != nil {
		return nil, fmt.Errorf("blip2: get_text_features: %w", err)
	}
	return lm.Forward(ctx, &LMInput{
		InputsEmbeds: emb, AttentionMask: in.AttentionMask,
		DecoderInputIDs: in.DecoderInputIDs, DecoderAttentionMask: in.DecoderAttentionMask,
		Labels: in.Labels, OutputHiddenStates: in.OutputHiddenStates,
	})
}

// GetImageFeatures mirrors Blip2Model.get_image_features of transformers 4.45, which returns the
// vision model output (last_hidden_state, pooler_output), not Q-Former or projected features.
func (m *Blip2Model) GetImageFeatures(ctx context.Context, in *ImageInput) (out *VisionOutput, err error) {
	defer recoverErr("get_image_features", &err)
	if m.shapeOnly() {
		return nil, ErrShapeOnly
	}
	if in == nil {
		return nil, fmt.Errorf("blip2: get_image_features: nil input")
	}
	return m.VisionModel.Forward(ctx, in.PixelValues, VisionOptions{OutputHiddenStates: in.OutputHiddenStates, InterpolatePosEncoding: in.InterpolatePosEncoding})
}

// GetQFormerFeatures mirrors Blip2Model.get_qformer_features: the Q-Former output for the learned
// queries attending to the image (LastHiddenState [N, Q, Dq], PoolerOutput [N, Dq]).
func (m *Blip2Model) GetQFormerFeatures(ctx context.Context, in *ImageInput) (out *QFormerOutput, err error) {
	defer recoverErr("get_qformer_features", &err)
	f, err := m.imageFeatures(ctx, in, false)
	if err != nil {
		return nil, err
	}
	return f.QFormer, nil
}

// Blip2Input holds the arguments of Blip2Model.Forward and Blip2ForConditionalGeneration.Forward.
type Blip2Input struct {
	PixelValues            *tensor.Tensor // [B, 3, H, W]
	InterpolatePosEncoding bool
	TextInput
}

// Blip2Output mirrors Blip2ForConditionalGenerationModelOutput.
type Blip2Output struct {
	// Loss: scalar when labels were given.
	Loss *tensor.Tensor
	// Logits: [B, T, V]. For decoder-only models with labels, the last labels-length positions
	// (transformers slices logits[:, -labels.shape[1]:] before the loss and returns that slice).
	Logits               *tensor.Tensor
	VisionOutputs        *VisionOutput
	QFormerOutputs       *QFormerOutput
	LanguageModelOutputs *LMOutput
	LanguageModelInputs  *tensor.Tensor // projected query outputs [B, Q, Dl]
}

// Forward mirrors Blip2Model.forward: the projected query outputs are always concatenated in front
// of the token embeddings (image_token_index is not used) and the mask is extended with ones.
func (m *Blip2Model) Forward(ctx context.Context, in *Blip2Input) (out *Blip2Output, err error) {
	defer recoverErr("Blip2Model.forward", &err)
	if in == nil {
		return nil, fmt.Errorf("blip2: forward: nil input")
	}
	return m.forward(ctx, in, false)
}

// LMInputs are the language-model inputs BLIP-2 builds from an image and a prompt.
type LMInputs struct {
	InputsEmbeds  *tensor.Tensor // [B, T', Dl]
	AttentionMask [][]int        // [B][T']
	// Legacy reports that the query outputs were concatenated in front (T' = Q + T); otherwise
	// they replaced the embeddings of the <image> tokens (T' = T).
	Legacy   bool
	Features *ImageFeatures
}

// mergeImageText builds inputs_embeds and the mask from projected query outputs lmIn [B, Q, Dl] and
// the prompt. expanded selects transformers' image-token mode (overwrite the embeddings at
// image_token_index positions, in order); otherwise the legacy concatenation.
func (p *Blip2Parts) mergeImageText(lmIn *tensor.Tensor, ids, mask [][]int, expanded bool) (*LMInputs, error) {
	bsz, nq, dl := lmIn.Shape[0], lmIn.Shape[1], lmIn.Shape[2]
	if len(ids) != bsz {
		return nil, fmt.Errorf("input_ids: %d rows for %d images", len(ids), bsz)
	}
	emb, err := p.LanguageModel.EmbedTokens(ids) // [B, T, Dl]
	if err != nil {
		return nil, err
	}
	if emb.Shape[2] != dl {
		return nil, fmt.Errorf("language_projection gives width %d, the language model embeds %d", dl, emb.Shape[2])
	}
	t := emb.Shape[1]
	if mask == nil {
		mask = onesMask(bsz, t)
	} else if err := checkMask("attention_mask", mask, bsz, t); err != nil {
		return nil, err
	}
	if expanded {
		tok := *p.Config.ImageTokenIndex
		// inputs_embeds[input_ids == image_token_index] = language_model_inputs.flatten(): filled in
		// row-major order over the whole batch; the counts must match exactly.
		count := 0
		for _, row := range ids {
			for _, id := range row {
				if id == tok {
					count++
				}
			}
		}
		if count != bsz*nq {
			return nil, fmt.Errorf("input_ids hold %d <image> tokens (id %d), want %d (num_query_tokens %d per image): "+
				"expanded-mode prompts start with num_query_tokens image tokens (Blip2Processor adds them)", count, tok, bsz*nq, nq)
		}
		k := 0
		for i, row := range ids {
			for j, id := range row {
				if id == tok {
					copy(emb.Data[(i*t+j)*dl:(i*t+j+1)*dl], lmIn.Data[k*dl:(k+1)*dl])
					k++
				}
			}
		}
		return &LMInputs{InputsEmbeds: emb, AttentionMask: mask}, nil
	}
	full := make([][]int, bsz)
	for i := range full {
		full[i] = make([]int, 0, nq+t)
		for range nq {
			full[i] = append(full[i], 1)
		}
		full[i] = append(full[i], mask[i]...)
	}
	return &LMInputs{InputsEmbeds: tensor.Concat(1, lmIn, emb), AttentionMask: full, Legacy: true}, nil
}

// forward runs the image path, merges it with the text and runs the language model.
func (p *Blip2Parts) forward(ctx context.Context, in *Blip2Input, expanded bool) (*Blip2Output, error) {
	f, err := p.imageFeatures(ctx, &ImageInput{PixelValues: in.PixelValues, InterpolatePosEncoding: in.InterpolatePosEncoding, OutputHiddenStates: in.OutputHiddenStates}, true)
	if err != nil {
		return nil, err
	}
	merged, err := p.mergeImageText(f.LanguageModelInputs, in.InputIDs, in.AttentionMask, expanded)
	if err != nil {
		return nil, fmt.Errorf("blip2: forward: %w", err)
	}
	out := &Blip2Output{VisionOutputs: f.Vision, QFormerOutputs: f.QFormer, LanguageModelInputs: f.LanguageModelInputs}
	lm := p.LanguageModel
	if !lm.IsEncoderDecoder() {
		if in.DecoderInputIDs != nil {
			return nil, fmt.Errorf("blip2: forward: decoder_input_ids given to a decoder-only language model")
		}
		lo, err := lm.Forward(ctx, &LMInput{InputsEmbeds: merged.InputsEmbeds, AttentionMask: merged.AttentionMask, OutputHiddenStates: in.OutputHiddenStates})
		if err != nil {
			return nil, err
		}
		out.LanguageModelOutputs, out.Logits = lo, lo.Logits
		if in.Labels != nil {
			if len(in.Labels) == 0 || len(in.Labels[0]) == 0 || len(in.Labels[0]) > lo.Logits.Shape[1] {
				n := 0
				if len(in.Labels) > 0 {
					n = len(in.Labels[0])
				}
				return nil, fmt.Errorf("blip2: forward: labels have %d rows of %d positions, the language model sees %d positions", len(in.Labels), n, lo.Logits.Shape[1])
			}
			// logits = logits[:, -labels.size(1):]; loss over logits[:, :-1] vs labels[:, 1:].
			tl := len(in.Labels[0])
			out.Logits = tensor.Slice(lo.Logits, 1, lo.Logits.Shape[1]-tl, lo.Logits.Shape[1])
			if out.Loss, err = crossEntropy(out.Logits, in.Labels, true); err != nil {
				return nil, fmt.Errorf("blip2: forward: %w", err)
			}
		}
		return out, nil
	}
	lo, err := lm.Forward(ctx, &LMInput{
		InputsEmbeds: merged.InputsEmbeds, AttentionMask: merged.AttentionMask,
		DecoderInputIDs: in.DecoderInputIDs, DecoderAttentionMask: in.DecoderAttentionMask,
		Labels: in.Labels, OutputHiddenStates: in.OutputHiddenStates,
	})
	if err != nil {
		return nil, err
	}
	out.LanguageModelOutputs, out.Logits, out.Loss = lo, lo.Logits, lo.Loss
	return out, nil
}

// Blip2ForConditionalGeneration mirrors transformers' Blip2ForConditionalGeneration: image-conditioned
// text generation (captioning, VQA). Generate lives in generation.go.
type Blip2ForConditionalGeneration struct {
	*Blip2Parts
}

// NewBlip2ForConditionalGeneration builds the model from cfg, binding weights under b. With
// weights.NewShapeBinder() it builds the tree without weight memory. The caller calls b.Finish().
func NewBlip2ForConditionalGeneration(cfg *Blip2Config, b *weights.Binder) (*Blip2ForConditionalGeneration, error) {
	p, err := newBlip2Parts(cfg, b)
	if err != nil {
		return nil, err
	}
	return &Blip2ForConditionalGeneration{p}, nil
}

// Expanded reports whether the model runs in expanded image-token mode (config.image_token_index
// set: the prompt carries num_query_tokens <image> tokens whose embeddings are replaced by the
// projected query outputs); otherwise legacy mode concatenates the query outputs in front.
func (p *Blip2Parts) Expanded() bool { return p.Config.ImageTokenIndex != nil }

// Forward mirrors Blip2ForConditionalGeneration.forward: logits, and the loss when labels are given
// (decoder-only: mean cross entropy of logits[:, -L:] shifted by one against labels, -100 ignored;
// T5: the language model's loss on labels).
func (m *Blip2ForConditionalGeneration) Forward(ctx context.Context, in *Blip2Input) (out *Blip2Output, err error) {
	defer recoverErr("Blip2ForConditionalGeneration.forward", &err)
	if in == nil {
		return nil, fmt.Errorf("blip2: forward: nil input")
	}
	return m.forward(ctx, in, m.Expanded())
}

// PrepareInputsEmbeds builds what Blip2ForConditionalGeneration.generate hands to the language
// model: the prompt embeddings with the projected query outputs merged in (expanded mode: at the
// <image> positions; legacy mode: concatenated in front, mask extended with ones).
// inputIDs nil means a [[bos_token_id]] prompt per image, as transformers 4.45 does (an error for T5,
// whose bos_token_id is None, and in expanded mode, which then finds no <image> tokens).
// in.PixelValues: [B, 3, H, W], inputIDs/attentionMask: [B][T] -> InputsEmbeds [B, T', Dl].
func (m *Blip2ForConditionalGeneration) PrepareInputsEmbeds(ctx context.Context, in *ImageInput, inputIDs, attentionMask [][]int) (res *LMInputs, err error) {
	defer recoverErr("prepare inputs_embeds", &err)
	f, err := m.imageFeatures(ctx, in, true)
	if err != nil {
		return nil, err
	}
	if inputIDs == nil {
		bos, ok := textBOS(m.Config.TextConfig)
		if !ok {
			return nil, fmt.Errorf("blip2: generate: no input_ids and text_config.bos_token_id is None")
		}
		inputIDs = make([][]int, f.LanguageModelInputs.Shape[0])
		for i := range inputIDs {
			inputIDs[i] = []int{bos}
		}
		attentionMask = nil
	}
	res, err = m.mergeImageText(f.LanguageModelInputs, inputIDs, attentionMask, m.Expanded())
	if err != nil {
		return nil, fmt.Errorf("blip2: generate: %w", err)
	}
	res.Features = f
	return res, nil
}

// textBOS returns text_config.bos_token_id.
func textBOS(tc TextConfig) (int, bool) {
	switch c := tc.(type) {
	case *opt.OPTConfig:
		if c.BOSTokenID != nil {
			return *c.BOSTokenID, true
		}
	case *t5.T5Config:
		if c.BOSTokenID != nil {
			return *c.BOSTokenID, true
		}
	}
	return 0, false
}
