package opt

import (
	"context"
	"fmt"
	"math"

	"github.com/gotransformers/gotransformers/transformers/generation"
	"github.com/gotransformers/gotransformers/transformers/nn"
	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// positionOffset is OPTLearnedPositionalEmbedding's offset: position p uses row p+2 of
// embed_positions (rows 0 and 1 are a fairseq leftover).
const positionOffset = 2

// Input is the argument set of OPTModel.forward / OPTForCausalLM.forward.
//
// Exactly one of InputIDs and InputsEmbeds is set. AttentionMask covers the cached positions and
// the new ones ([B, Cache.Len()+T], 1 = attend, 0 = padding), as transformers expects during
// generation; nil means all ones.
type Input struct {
	// InputIDs: [B, T] token ids.
	InputIDs [][]int
	// AttentionMask: [B, past+T] of 0/1, nil for all ones.
	AttentionMask [][]int
	// InputsEmbeds: [B, T, WordEmbedProjDim] used instead of InputIDs (BLIP-2 passes the projected
	// query outputs concatenated with EmbedTokens of the text).
	InputsEmbeds *tensor.Tensor
	// Labels: [B, T] target ids (-100 = ignored); the loss is computed on labels shifted left.
	Labels [][]int
	// Cache, when not nil, supplies the keys and values of earlier calls and receives this call's.
	Cache *Cache
	// OutputHiddenStates asks for the hidden states (embeddings, every layer's input and the final
	// output), as output_hidden_states=True.
	OutputHiddenStates bool
	// LogitsToKeep > 0 computes logits for the last LogitsToKeep positions only (generation needs
	// the last one); 0 computes all (transformers' num_logits_to_keep).
	LogitsToKeep int
}

// Output mirrors CausalLMOutputWithPast / BaseModelOutputWithPast.
type Output struct {
	// Logits: [B, T, VocabSize] ([B, LogitsToKeep, VocabSize] when asked); nil from OPTModel.
	Logits *tensor.Tensor
	// LastHiddenState: [B, T, WordEmbedProjDim], after the final layer norm and project_out.
	LastHiddenState *tensor.Tensor
	// HiddenStates: NumHiddenLayers+1 tensors when OutputHiddenStates: the input embeddings (with
	// positions), the input of layers 1.., and the final output (after the final layer norm and
	// project_out), exactly as transformers returns them.
	HiddenStates []*tensor.Tensor
	// Loss: scalar mean cross entropy of the shifted labels; nil without labels.
	Loss *tensor.Tensor
	// Cache is Input.Cache, now holding this call's positions too.
	Cache *Cache
}

// OPTAttention mirrors transformers' OPTAttention (eager): q is scaled by head_dim^-0.5 after the
// projection.
type OPTAttention struct {
	KProj, VProj, QProj, OutProj *nn.Linear
	NumHeads, HeadDim            int
	Scaling                      float32
}

func newOPTAttention(cfg *OPTConfig, b *weights.Binder) *OPTAttention {
	d := cfg.HiddenSize
	return &OPTAttention{
		KProj:    nn.NewLinear(b, "k_proj", d, d, cfg.EnableBias),
		VProj:    nn.NewLinear(b, "v_proj", d, d, cfg.EnableBias),
		QProj:    nn.NewLinear(b, "q_proj", d, d, cfg.EnableBias),
		OutProj:  nn.NewLinear(b, "out_proj", d, d, cfg.EnableBias),
		NumHeads: cfg.NumAttentionHeads,
		HeadDim:  d / cfg.NumAttentionHeads,
		Scaling:  float32(math.Pow(float64(d/cfg.NumAttentionHeads), -0.5)),
	}
}

// forward appends this call's keys and values to kv and attends over all of them.
func (a *OPTAttention) forward(x *tensor.Tensor, kv *nn.KVBuffer, masked []bool) *tensor.Tensor {
	// x: [B, T, D]
	qkv := nn.LinearGroup(x, a.QProj, a.KProj, a.VProj)
	q := qkv[0]
	tensor.ScaleInPlace(q, a.Scaling)
	kv.Append(qkv[1], qkv[2])
	o := nn.CachedAttention(q, kv, masked, nil) // [B, T, D]
	return a.OutProj.Forward(o)
}

// OPTDecoderLayer mirrors transformers' OPTDecoderLayer (pre- or post-layer-norm).
type OPTDecoderLayer struct {
	SelfAttn          *OPTAttention
	SelfAttnLayerNorm *nn.LayerNorm
	FC1, FC2          *nn.Linear
	FinalLayerNorm    *nn.LayerNorm

	doLayerNormBefore bool
	act               func(*tensor.Tensor)
}

func newLayerNorm(cfg *OPTConfig, b *weights.Binder, name string) *nn.LayerNorm {
	if !cfg.LayerNormElementwiseAffine {
		return &nn.LayerNorm{Eps: 1e-5}
	}
	return nn.NewLayerNorm(b, name, cfg.HiddenSize, 1e-5)
}

func newOPTDecoderLayer(cfg *OPTConfig, b *weights.Binder, act func(*tensor.Tensor)) *OPTDecoderLayer {
	return &OPTDecoderLayer{
		SelfAttn:          newOPTAttention(cfg, b.Pp("self_attn")),
		SelfAttnLayerNorm: newLayerNorm(cfg, b, "self_attn_layer_norm"),
		FC1:               nn.NewLinear(b, "fc1", cfg.HiddenSize, cfg.FFNDim, cfg.EnableBias),
		FC2:               nn.NewLinear(b, "fc2", cfg.FFNDim, cfg.HiddenSize, cfg.EnableBias),
		FinalLayerNorm:    newLayerNorm(cfg, b, "final_layer_norm"),
		doLayerNormBefore: cfg.DoLayerNormBefore,
		act:               act,
	}
}

func (l *OPTDecoderLayer) forward(h *tensor.Tensor, kv *nn.KVBuffer, masked []bool) *tensor.Tensor {
	// h: [B, T, D]
	x := h
	if l.doLayerNormBefore {
		x = l.SelfAttnLayerNorm.Forward(h)
	}
	a := l.SelfAttn.forward(x, kv, masked)
	tensor.AddInPlace(a, h)
	h = a
	if !l.doLayerNormBefore {
		h = l.SelfAttnLayerNorm.Forward(h)
	}
	x = h
	if l.doLayerNormBefore {
		x = l.FinalLayerNorm.Forward(h)
	}
	f := l.FC1.Forward(x)
	l.act(f)
	f = l.FC2.Forward(f)
	tensor.AddInPlace(f, h)
	h = f
	if !l.doLayerNormBefore {
		h = l.FinalLayerNorm.Forward(h)
	}
	return h
}

// OPTDecoder mirrors transformers' OPTDecoder.
type OPTDecoder struct {
	// EmbedTokens: [VocabSize, WordEmbedProjDim].
	EmbedTokens *nn.Embedding
	// EmbedPositions: [MaxPositionEmbeddings+2, HiddenSize].
	EmbedPositions *nn.Embedding
	// ProjectOut: HiddenSize -> WordEmbedProjDim, nil when they are equal.
	ProjectOut *nn.Linear
	// ProjectIn: WordEmbedProjDim -> HiddenSize, nil when they are equal.
	ProjectIn *nn.Linear
	// FinalLayerNorm: nil unless DoLayerNormBefore and not RemoveFinalLayerNorm.
	FinalLayerNorm *nn.LayerNorm
	Layers         []*OPTDecoderLayer

	cfg *OPTConfig
}

func newOPTDecoder(cfg *OPTConfig, b *weights.Binder) (*OPTDecoder, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	act, err := activation(cfg.ActivationFunction)
	if err != nil {
		return nil, err
	}
	d := &OPTDecoder{
		EmbedTokens:    nn.NewEmbedding(b, "embed_tokens", cfg.VocabSize, cfg.WordEmbedProjDim),
		EmbedPositions: nn.NewEmbedding(b, "embed_positions", cfg.MaxPositionEmbeddings+positionOffset, cfg.HiddenSize),
		cfg:            cfg,
	}
	if cfg.WordEmbedProjDim != cfg.HiddenSize {
		d.ProjectOut = nn.NewLinear(b, "project_out", cfg.HiddenSize, cfg.WordEmbedProjDim, false)
		d.ProjectIn = nn.NewLinear(b, "project_in", cfg.WordEmbedProjDim, cfg.HiddenSize, false)
	}
	if cfg.DoLayerNormBefore && !cfg.RemoveFinalLayerNorm {
		d.FinalLayerNorm = newLayerNorm(cfg, b, "final_layer_norm")
	}
	lb := b.Pp("layers")
	for i := 0; i < cfg.NumHiddenLayers; i++ {
		d.Layers = append(d.Layers, newOPTDecoderLayer(cfg, lb.Pp(i), act))
	}
	return d, nil
}

func checkConfig(cfg *OPTConfig) error {
	switch {
	case cfg == nil:
		return fmt.Errorf("opt: nil config")
	case cfg.HiddenSize <= 0 || cfg.NumAttentionHeads <= 0 || cfg.HiddenSize%cfg.NumAttentionHeads != 0:
		return fmt.Errorf("opt: config: hidden_size %d must be a positive multiple of num_attention_heads %d", cfg.HiddenSize, cfg.NumAttentionHeads)
	case cfg.VocabSize <= 0 || cfg.WordEmbedProjDim <= 0 || cfg.FFNDim <= 0 || cfg.MaxPositionEmbeddings <= 0 || cfg.NumHiddenLayers < 0:
		return fmt.Errorf("opt: config: vocab_size %d, word_embed_proj_dim %d, ffn_dim %d, max_position_embeddings %d must be positive",
			cfg.VocabSize, cfg.WordEmbedProjDim, cfg.FFNDim, cfg.MaxPositionEmbeddings)
	}
	return nil
}

// activation maps config.activation_function to a kernel (transformers' ACT2FN).
func activation(name string) (func(*tensor.Tensor), error) {
	switch name {
	case "relu":
		return tensor.ReLUInPlace, nil
	case "gelu":
		return tensor.GELUInPlace, nil
	case "gelu_new", "gelu_pytorch_tanh":
		return tensor.GELUTanhInPlace, nil
	case "silu", "swish":
		return tensor.SiLUInPlace, nil
	case "tanh":
		return tensor.TanhInPlace, nil
	}
	return nil, fmt.Errorf("opt: config: activation_function %q is not supported (relu, gelu, gelu_new, gelu_pytorch_tanh, silu, swish, tanh)", name)
}

// validateIDs checks that ids is a non-empty rectangle of ids in [0, vocab).
func validateIDs(what string, ids [][]int, vocab int) (bsz, t int, err error) {
	if len(ids) == 0 || len(ids[0]) == 0 {
		return 0, 0, fmt.Errorf("opt: %s is empty", what)
	}
	t = len(ids[0])
	for i, r := range ids {
		if len(r) != t {
			return 0, 0, fmt.Errorf("opt: %s: row %d has length %d, row 0 has %d", what, i, len(r), t)
		}
		for j, id := range r {
			if id < 0 || id >= vocab {
				return 0, 0, fmt.Errorf("opt: %s[%d][%d] = %d is outside the vocabulary [0, %d)", what, i, j, id, vocab)
			}
		}
	}
	return len(ids), t, nil
}

// forward runs the decoder stack.
func (d *OPTDecoder) forward(ctx context.Context, in *Input) (*Output, error) {
	cfg := d.cfg
	var embeds *tensor.Tensor
	var bsz, t int
	switch {
	case in == nil:
		return nil, fmt.Errorf("opt: nil input")
	case in.InputIDs != nil && in.InputsEmbeds != nil:
		return nil, fmt.Errorf("opt: give either InputIDs or InputsEmbeds, not both")
	case in.InputIDs != nil:
		var err error
		if bsz, t, err = validateIDs("input_ids", in.InputIDs, cfg.VocabSize); err != nil {
			return nil, err
		}
		embeds = d.embedTokens(in.InputIDs)
	case in.InputsEmbeds != nil:
		e := in.InputsEmbeds
		if len(e.Shape) != 3 || e.Shape[0] == 0 || e.Shape[1] == 0 || e.Shape[2] != cfg.WordEmbedProjDim || len(e.Data) != tensor.Numel(e.Shape) {
			return nil, fmt.Errorf("opt: inputs_embeds: want shape [B, T, %d], got %v", cfg.WordEmbedProjDim, e.Shape)
		}
		bsz, t = e.Shape[0], e.Shape[1]
		embeds = e
	default:
		return nil, fmt.Errorf("opt: InputIDs or InputsEmbeds is required")
	}

	past := 0
	c := in.Cache
	if c != nil {
		if err := c.prepare(cfg, bsz, t); err != nil {
			return nil, err
		}
		past = c.Len()
	}
	total := past + t
	mask := in.AttentionMask
	if mask == nil {
		mask = make([][]int, bsz)
		for i := range mask {
			mask[i] = ones(total)
		}
	}
	if len(mask) != bsz {
		return nil, fmt.Errorf("opt: attention_mask has %d rows, want %d", len(mask), bsz)
	}
	for i, r := range mask {
		if len(r) != total {
			return nil, fmt.Errorf("opt: attention_mask row %d has length %d, want past %d + new %d", i, len(r), past, t)
		}
		for j, v := range r {
			if v != 0 && v != 1 {
				return nil, fmt.Errorf("opt: attention_mask[%d][%d] = %d, want 0 or 1", i, j, v)
			}
		}
	}
	if in.Labels != nil {
		if len(in.Labels) != bsz {
			return nil, fmt.Errorf("opt: labels has %d rows, want %d", len(in.Labels), bsz)
		}
		for i, r := range in.Labels {
			if len(r) != t {
				return nil, fmt.Errorf("opt: labels row %d has length %d, want %d", i, len(r), t)
			}
			for j, l := range r {
				if l != -100 && (l < 0 || l >= cfg.VocabSize) {
					return nil, fmt.Errorf("opt: labels[%d][%d] = %d is outside the vocabulary [0, %d) and not -100", i, j, l, cfg.VocabSize)
				}
			}
		}
	}

	// positions: cumsum(mask)*mask - 1, the new ones only (OPTLearnedPositionalEmbedding).
	pos := make([]int, 0, bsz*t)
	maxRow := cfg.MaxPositionEmbeddings + positionOffset
	for i, r := range mask {
		cum := 0
		for j, v := range r {
			cum += v
			if j >= past {
				p := cum*v - 1 + positionOffset
				if p >= maxRow {
					return nil, fmt.Errorf("opt: position %d of row %d exceeds max_position_embeddings %d", cum-1, i, cfg.MaxPositionEmbeddings)
				}
				pos = append(pos, p)
			}
		}
	}

	// h: [B, T, D]
	var h *tensor.Tensor
	if d.ProjectIn != nil {
		h = d.ProjectIn.Forward(embeds)
	} else {
		h = embeds.Clone()
	}
	h = h.Reshape(bsz, t, cfg.HiddenSize)
	tensor.AddInPlace(h, d.EmbedPositions.Forward(pos).Reshape(bsz, t, cfg.HiddenSize))

	// masked[b, i, j]: key j is padding or in the future of query i.
	masked := make([]bool, bsz*t*total)
	for b := 0; b < bsz; b++ {
		for i := 0; i < t; i++ {
			row := masked[(b*t+i)*total : (b*t+i+1)*total]
			for j := range row {
				row[j] = mask[b][j] == 0 || j > past+i
			}
		}
	}

	out := &Output{Cache: c}
	hd := cfg.HiddenSize / cfg.NumAttentionHeads
	for li, layer := range d.Layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if in.OutputHiddenStates {
			out.HiddenStates = append(out.HiddenStates, h)
		}
		var kv *nn.KVBuffer
		if c != nil {
			kv = c.layers[li]
		} else {
			kv = nn.NewKVBuffer(bsz, cfg.NumAttentionHeads, hd, t)
		}
		h = layer.forward(h, kv, masked)
	}
	if d.FinalLayerNorm != nil {
		h = d.FinalLayerNorm.Forward(h)
	}
	if d.ProjectOut != nil {
		h = d.ProjectOut.Forward(h)
	}
	if in.OutputHiddenStates {
		out.HiddenStates = append(out.HiddenStates, h)
	}
	out.LastHiddenState = h
	return out, nil
}

func ones(n int) []int {
	r := make([]int, n)
	for i := range r {
		r[i] = 1
	}
	return r
}

// OPTModel mirrors transformers' OPTModel (the bare decoder, weights under "decoder.").
type OPTModel struct {
	Config  *OPTConfig
	Decoder *OPTDecoder
}

// NewOPTModel builds an OPTModel whose weights are bound through b (keys "decoder.…" under b's
// prefix). The caller calls b.Finish() once the whole tree is built.
func NewOPTModel(cfg *OPTConfig, b *weights.Binder) (*OPTModel, error) {
	dec, err := newOPTDecoder(cfg, b.Pp("decoder"))
	if err != nil {
		return nil, err
	}
	return &OPTModel{Config: cfg, Decoder: dec}, nil
}

// Forward mirrors OPTModel.forward: Output.LastHiddenState and HiddenStates (Logits stays nil).
func (m *OPTModel) Forward(ctx context.Context, in *Input) (*Output, error) {
	if in != nil && in.Labels != nil {
		return nil, fmt.Errorf("opt: OPTModel.Forward takes no labels (use OPTForCausalLM)")
	}
	return m.Decoder.forward(ctx, in)
}

// EmbedTokens mirrors get_input_embeddings()(input_ids): [B, T, WordEmbedProjDim]. Ids outside
// the vocabulary and rows shorter than the first give zero vectors: check them with ValidateIDs
// where they come from users.
func (m *OPTModel) EmbedTokens(ids [][]int) *tensor.Tensor {
	return m.Decoder.embedTokens(ids)
}

func (d *OPTDecoder) embedTokens(ids [][]int) *tensor.Tensor {
	bsz, t := len(ids), 0
	if bsz > 0 {
		t = len(ids[0])
	}
	D := d.cfg.WordEmbedProjDim
	out := tensor.New(bsz, t, D)
	var flat, at []int
	for i, r := range ids {
		for j := 0; j < t && j < len(r); j++ {
			if r[j] >= 0 && r[j] < d.cfg.VocabSize {
				flat = append(flat, r[j])
				at = append(at, i*t+j)
			}
		}
	}
	if len(flat) > 0 {
		e := d.EmbedTokens.Forward(flat)
		for k, p := range at {
			copy(out.Data[p*D:(p+1)*D], e.Data[k*D:(k+1)*D])
		}
	}
	return out
}

// ValidateIDs reports an error unless ids is a non-empty rectangle of ids in [0, VocabSize).
func (m *OPTModel) ValidateIDs(ids [][]int) error {
	_, _, err := validateIDs("input_ids", ids, m.Config.VocabSize)
	return err
}

// OPTForCausalLM mirrors transformers' OPTForCausalLM: OPTModel under "model." and lm_head
// (tied to model.decoder.embed_tokens when the checkpoint has no lm_head.weight).
type OPTForCausalLM struct {
	Config *OPTConfig
	Model  *OPTModel
	// LMHead: [VocabSize, WordEmbedProjDim], no bias.
	LMHead *tensor.Weight

	// GenerationConfig is the model's generation_config.json when FromPretrained found one (the
	// model's generation_config attribute); nil means defaults derived from Config. Generate starts
	// from it; call options override it.
	GenerationConfig *generation.GenerationConfig

	sd *weights.StateDict // the checkpoint FromPretrained opened (nil otherwise)
}

// NewOPTForCausalLM builds the model with weights bound through b: "model.decoder.…" and
// "lm_head.weight" under b's prefix (BLIP-2 passes b.Pp("language_model")). The caller calls
// b.Finish() once the whole tree is built.
func NewOPTForCausalLM(cfg *OPTConfig, b *weights.Binder) (*OPTForCausalLM, error) {
	m, err := NewOPTModel(cfg, b.Pp("model"))
	if err != nil {
		return nil, err
	}
	return &OPTForCausalLM{
		Config: cfg,
		Model:  m,
		LMHead: b.Tied("lm_head.weight", m.Decoder.EmbedTokens.Weight),
	}, nil
}

// EmbedTokens gives the input embeddings of ids: [B, T, WordEmbedProjDim] (see OPTModel.EmbedTokens).
func (m *OPTForCausalLM) EmbedTokens(ids [][]int) *tensor.Tensor { return m.Model.EmbedTokens(ids) }

// Forward mirrors OPTForCausalLM.forward: logits = lm_head(last hidden state), and the loss of
// labels shifted by one when Labels is set.
func (m *OPTForCausalLM) Forward(ctx context.Context, in *Input) (*Output, error) {
	out, err := m.Model.Decoder.forward(ctx, in)
	if err != nil {
		return nil, err
	}
	h := out.LastHiddenState // [B, T, W]
	bsz, t := h.Shape[0], h.Shape[1]
	keep := t
	if in.LogitsToKeep > 0 && in.LogitsToKeep < t && in.Labels == nil {
		keep = in.LogitsToKeep
		h = tensor.Slice(h, 1, t-keep, t)
	}
	logits := tensor.Linear(h, m.LMHead, nil) // [B, keep, V]
	out.Logits = logits
	if in.Labels != nil {
		v := m.Config.VocabSize
		rows := make([]float32, 0, bsz*(t-1)*v)
		var labels []int
		for b := 0; b < bsz; b++ {
			rows = append(rows, logits.Data[b*t*v:(b*t+t-1)*v]...)
			labels = append(labels, in.Labels[b][1:]...)
		}
		out.Loss = tensor.From([]float32{nn.CrossEntropy(rows, v, labels)})
	}
	return out, nil
}
