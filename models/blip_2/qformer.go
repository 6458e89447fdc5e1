package blip2

import (
	"context"
	"fmt"
	"math"

	"github.com/gotransformers/gotransformers/transformers/nn"
	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// Blip2QFormerMultiHeadAttention mirrors transformers' Blip2QFormerMultiHeadAttention (BERT-style,
// absolute positions only). As cross-attention its key/value read encoder_hidden_size features.
type Blip2QFormerMultiHeadAttention struct {
	Query, Key, Value *nn.Linear // query: [D, D]; key/value: [D, D] or [D, E] (cross-attention)
	NumHeads          int
}

// Forward x: [B, T, D], kv: [B, S, Dkv] (x itself for self-attention), mask additive [B, 1, 1|T, S]
// or nil -> context [B, T, D].
func (a *Blip2QFormerMultiHeadAttention) Forward(x, kv, mask *tensor.Tensor) *tensor.Tensor {
	var ar tensor.Arena
	return a.forwardKV(x, kv, mask, &ar)
}

// forwardKV is Forward with its temporaries and its output taken from ar.
func (a *Blip2QFormerMultiHeadAttention) forwardKV(x, kv, mask *tensor.Tensor, ar *tensor.Arena) *tensor.Tensor {
	key, value := linearTake(ar, a.Key, kv), linearTake(ar, a.Value, kv)
	out := a.forward(x, key, value, mask, ar)
	ar.Release(key, value)
	return out
}

// forward is Forward given the key and value projections [B, S, D] of kv (not released), with
// its temporaries and its output taken from ar.
func (a *Blip2QFormerMultiHeadAttention) forward(x, key, value, mask *tensor.Tensor, ar *tensor.Arena) *tensor.Tensor {
	k := headsTake(ar, key, a.NumHeads)   // [B, H, S, hd]
	v := headsTake(ar, value, a.NumHeads) // [B, H, S, hd]
	qp := linearTake(ar, a.Query, x)
	q := headsTake(ar, qp, a.NumHeads) // [B, H, T, hd]
	ar.Release(qp)
	b, h, t, hd := q.Shape[0], q.Shape[1], q.Shape[2], q.Shape[3]
	ctx := ar.Take(b, h, t, hd)
	tensor.AttentionInto(ctx, q, k, v, mask, float32(1/math.Sqrt(float64(hd))))
	ar.Release(q, k, v)
	return mergeTakeRelease(ar, ctx)
}

// Blip2QFormerSelfOutput mirrors BertSelfOutput: LayerNorm(dense(h) + input).
type Blip2QFormerSelfOutput struct {
	Dense     *nn.Linear
	LayerNorm *nn.LayerNorm
}

// Forward h, input: [B, T, D] -> [B, T, D].
func (o *Blip2QFormerSelfOutput) Forward(h, input *tensor.Tensor) *tensor.Tensor {
	var ar tensor.Arena
	return o.forward(h, input, &ar)
}

// forward is Forward with its output taken from ar.
func (o *Blip2QFormerSelfOutput) forward(h, input *tensor.Tensor, ar *tensor.Arena) *tensor.Tensor {
	y := linearTake(ar, o.Dense, h)
	tensor.AddInPlace(y, input)
	o.LayerNorm.ForwardInto(y, y)
	return y
}

// Blip2QFormerAttention mirrors transformers' Blip2QFormerAttention: attention + output.
type Blip2QFormerAttention struct {
	Attention *Blip2QFormerMultiHeadAttention
	Output    *Blip2QFormerSelfOutput
}

// Forward x: [B, T, D], kv: [B, S, Dkv] -> [B, T, D].
func (a *Blip2QFormerAttention) Forward(x, kv, mask *tensor.Tensor) *tensor.Tensor {
	var ar tensor.Arena
	return a.forward(x, kv, mask, &ar)
}

// forward is Forward with its temporaries and its output taken from ar.
func (a *Blip2QFormerAttention) forward(x, kv, mask *tensor.Tensor, ar *tensor.Arena) *tensor.Tensor {
	ctx := a.Attention.forwardKV(x, kv, mask, ar)
	out := a.Output.forward(ctx, x, ar)
	ar.Release(ctx)
	return out
}

// Blip2QFormerFeedForward is the pair intermediate(_query) + output(_query) of a Q-Former layer:
// LayerNorm(dense2(act(dense1(x))) + x).
type Blip2QFormerFeedForward struct {
	IntermediateDense *nn.Linear // intermediate(_query).dense: [I, D]
	OutputDense       *nn.Linear // output(_query).dense: [D, I]
	OutputLayerNorm   *nn.LayerNorm
	act               func(*tensor.Tensor)
}

// Forward x: [B, T, D] -> [B, T, D].
func (f *Blip2QFormerFeedForward) Forward(x *tensor.Tensor) *tensor.Tensor {
	var ar tensor.Arena
	return f.forward(x, &ar)
}

// forward is Forward with its temporary and its output taken from ar.
func (f *Blip2QFormerFeedForward) forward(x *tensor.Tensor, ar *tensor.Arena) *tensor.Tensor {
	h := linearTake(ar, f.IntermediateDense, x)
	f.act(h)
	y := linearTake(ar, f.OutputDense, h)
	ar.Release(h)
	tensor.AddInPlace(y, x)
	f.OutputLayerNorm.ForwardInto(y, y)
	return y
}

// Blip2QFormerLayer mirrors transformers' Blip2QFormerLayer (4.45): self-attention over the queries,
// cross-attention to the image features on every cross_attention_frequency-th layer, then the query
// feed-forward (intermediate_query/output_query). The text feed-forward (intermediate/output) does not
// exist in 4.45 checkpoints or modules, so only query embeddings are accepted.
type Blip2QFormerLayer struct {
	Attention      *Blip2QFormerAttention
	Crossattention *Blip2QFormerAttention   // nil on layers without cross-attention
	FeedForward    *Blip2QFormerFeedForward // intermediate_query/output_query
}

// Forward h: [B, Q, D], enc: [B, S, E] -> [B, Q, D].
func (l *Blip2QFormerLayer) Forward(h, mask, enc, encMask *tensor.Tensor) (*tensor.Tensor, error) {
	var ar tensor.Arena
	return l.forward(h, mask, enc, encMask, nil, &ar)
}

// forward is Forward with the cross-attention's key and value projections of enc given (encKV,
// both [B, S, D]; released to ar once used), or computed here when encKV is nil; its temporaries
// and its output are taken from ar (h is not released).
func (l *Blip2QFormerLayer) forward(h, mask, enc, encMask *tensor.Tensor, encKV []*tensor.Tensor, ar *tensor.Arena) (*tensor.Tensor, error) {
	if l.Crossattention != nil && enc == nil {
		return nil, fmt.Errorf("encoder_hidden_states must be given for cross-attention layers")
	}
	q := l.Attention.forward(h, h, mask, ar) // [B, Q, D]
	if ca := l.Crossattention; ca != nil {
		if encKV == nil {
			encKV = nn.LinearGroup(enc, ca.Attention.Key, ca.Attention.Value)
		}
		c := ca.Attention.forward(q, encKV[0], encKV[1], encMask, ar)
		ar.Release(encKV...)
		q2 := ca.Output.forward(c, q, ar)
		ar.Release(c, q)
		q = q2
	}
	out := l.FeedForward.forward(q, ar)
	ar.Release(q)
	return out, nil
}

// Blip2QFormerEncoder mirrors transformers' Blip2QFormerEncoder.
type Blip2QFormerEncoder struct {
	Layer []*Blip2QFormerLayer
}

// Blip2QFormerModel mirrors transformers' Blip2QFormerModel (4.45: query embeddings in, no text
// embedding layer).
type Blip2QFormerModel struct {
	Config    *Blip2QFormerConfig
	Layernorm *nn.LayerNorm
	Encoder   *Blip2QFormerEncoder
}

// shapeOnly reports whether the model was built without weights.
func (m *Blip2QFormerModel) shapeOnly() bool {
	return m.Layernorm.Weight == nil || m.Layernorm.Weight.ShapeOnly()
}

// QFormerInput holds the arguments of Blip2QFormerModel.Forward.
type QFormerInput struct {
	// QueryEmbeds: [B, Q, D]: the query tokens (query_embeds).
	QueryEmbeds *tensor.Tensor
	// AttentionMask: [B, T] of 0/1, or nil for all ones.
	AttentionMask [][]int
	// EncoderHiddenStates: [B, S, E] image features (encoder_hidden_states).
	EncoderHiddenStates *tensor.Tensor
	// EncoderAttentionMask: [B, S] of 0/1, or nil for all ones.
	EncoderAttentionMask [][]int
	// OutputHiddenStates returns the embedding output and every layer's output.
	OutputHiddenStates bool
}

// QFormerOutput mirrors BaseModelOutputWithPoolingAndCrossAttentions of the Q-Former.
type QFormerOutput struct {
	LastHiddenState *tensor.Tensor   // [B, T, D]
	PoolerOutput    *tensor.Tensor   // [B, D] = last_hidden_state[:, 0] (no pooler layer)
	HiddenStates    []*tensor.Tensor // nil unless asked: [layernorm(query_embeds), layer 1, ..., layer L]
}

func validateQFormerConfig(cfg *Blip2QFormerConfig) error {
	if cfg == nil {
		return fmt.Errorf("qformer_config: missing")
	}
	switch {
	case cfg.HiddenSize <= 0 || cfg.NumAttentionHeads <= 0 || cfg.HiddenSize%cfg.NumAttentionHeads != 0:
		return fmt.Errorf("qformer_config: hidden_size %d must be a positive multiple of num_attention_heads %d", cfg.HiddenSize, cfg.NumAttentionHeads)
	case cfg.CrossAttentionFrequency <= 0:
		return fmt.Errorf("qformer_config: cross_attention_frequency %d must be positive", cfg.CrossAttentionFrequency)
	case cfg.IntermediateSize <= 0 || cfg.EncoderHiddenSize <= 0 || cfg.NumHiddenLayers < 0:
		return fmt.Errorf("qformer_config: intermediate_size %d / encoder_hidden_size %d / num_hidden_layers %d invalid",
			cfg.IntermediateSize, cfg.EncoderHiddenSize, cfg.NumHiddenLayers)
	case cfg.PositionEmbeddingType != "" && cfg.PositionEmbeddingType != "absolute":
		return fmt.Errorf("qformer_config: position_embedding_type %q not supported (only \"absolute\")", cfg.PositionEmbeddingType)
	}
	if _, err := activation(cfg.HiddenAct); err != nil {
		return fmt.Errorf("qformer_config: %w", err)
	}
	return nil
}

// NewBlip2QFormerModel builds the Q-Former from its config, binding weights under b (the "qformer"
// prefix of a Blip2 checkpoint).
func NewBlip2QFormerModel(cfg *Blip2QFormerConfig, b *weights.Binder) (*Blip2QFormerModel, error) {
	if err := validateQFormerConfig(cfg); err != nil {
		return nil, err
	}
	act, _ := activation(cfg.HiddenAct)
	d, eps, inter := cfg.HiddenSize, float32(cfg.LayerNormEps), cfg.IntermediateSize
	m := &Blip2QFormerModel{Config: cfg, Layernorm: nn.NewLayerNorm(b, "layernorm", d, eps), Encoder: &Blip2QFormerEncoder{}}
	attention := func(ab *weights.Binder, kvIn int) *Blip2QFormerAttention {
		mb, ob := ab.Pp("attention"), ab.Pp("output")
		return &Blip2QFormerAttention{
			Attention: &Blip2QFormerMultiHeadAttention{
				Query:    nn.NewLinear(mb, "query", d, d, true),
				Key:      nn.NewLinear(mb, "key", kvIn, d, true),
				Value:    nn.NewLinear(mb, "value", kvIn, d, true),
				NumHeads: cfg.NumAttentionHeads,
			},
			Output: &Blip2QFormerSelfOutput{Dense: nn.NewLinear(ob, "dense", d, d, true), LayerNorm: nn.NewLayerNorm(ob, "LayerNorm", d, eps)},
		}
	}
	ffn := func(lb *weights.Binder, inter1, out1 string) *Blip2QFormerFeedForward {
		ob := lb.Pp(out1)
		return &Blip2QFormerFeedForward{
			IntermediateDense: nn.NewLinear(lb.Pp(inter1), "dense", d, inter, true),
			OutputDense:       nn.NewLinear(ob, "dense", inter, d, true),
			OutputLayerNorm:   nn.NewLayerNorm(ob, "LayerNorm", d, eps),
			act:               act,
		}
	}
	eb := b.Pp("encoder").Pp("layer")
	for i := range cfg.NumHiddenLayers {
		lb := eb.Pp(i)
		l := &Blip2QFormerLayer{Attention: attention(lb.Pp("attention"), d)}
		if i%cfg.CrossAttentionFrequency == 0 {
			l.Crossattention = attention(lb.Pp("crossattention"), cfg.EncoderHiddenSize)
		}
		l.FeedForward = ffn(lb, "intermediate_query", "output_query")
		m.Encoder.Layer = append(m.Encoder.Layer, l)
	}
	return m, nil
}

// Forward mirrors Blip2QFormerModel.forward.
// in.QueryEmbeds: [B, T, D], in.EncoderHiddenStates: [B, S, E] -> LastHiddenState [B, T, D].
func (m *Blip2QFormerModel) Forward(ctx context.Context, in *QFormerInput) (out *QFormerOutput, err error) {
	defer recoverErr("qformer", &err)
	if m.shapeOnly() {
		return nil, ErrShapeOnly
	}
	if in == nil {
		return nil, fmt.Errorf("blip2: qformer: nil input")
	}
	d := m.Config.HiddenSize
	if err := checkShape("blip2: qformer: query_embeds", in.QueryEmbeds, -1, -1, d); err != nil {
		return nil, err
	}
	b, t := in.QueryEmbeds.Shape[0], in.QueryEmbeds.Shape[1]
	var mask, encMask *tensor.Tensor
	if in.AttentionMask != nil {
		if err := checkMask("blip2: qformer: attention_mask", in.AttentionMask, b, t); err != nil {
			return nil, err
		}
		mask = extendedMask(in.AttentionMask)
	}
	enc := in.EncoderHiddenStates
	if enc != nil {
		if err := checkShape("blip2: qformer: encoder_hidden_states", enc, b, -1, m.Config.EncoderHiddenSize); err != nil {
			return nil, err
		}
		if in.EncoderAttentionMask != nil {
			if err := checkMask("blip2: qformer: encoder_attention_mask", in.EncoderAttentionMask, b, enc.Shape[1]); err != nil {
				return nil, err
			}
			encMask = extendedMask(in.EncoderAttentionMask)
		}
	}
	h := m.Layernorm.Forward(in.QueryEmbeds) // [B, T, D]
	// the key/value projections of the image features for every cross-attention layer, computed
	// together (the same input: one packing of it, one parallel region; for the real Q-Former
	// faster than one pair per layer in 6 of 8 interleaved pairs of runs, by up to 4 %), unless they would take more than maxSharedKV bytes at
	// once (large batches): then each layer computes its own pair
	var encKV [][]*tensor.Tensor
	if enc != nil {
		var proj []*nn.Linear
		for _, l := range m.Encoder.Layer {
			if ca := l.Crossattention; ca != nil {
				proj = append(proj, ca.Attention.Key, ca.Attention.Value)
			}
		}
		if len(proj) > 0 && len(proj)*(len(enc.Data)/max(1, enc.Shape[2]))*d*4 <= maxSharedKV {
			kv := nn.LinearGroup(enc, proj...)
			for i := 0; i < len(kv); i += 2 {
				encKV = append(encKV, kv[i:i+2])
			}
		}
	}
	out = &QFormerOutput{}
	// one arena for all layers: temporaries, the shared keys/values once used, and each layer's
	// input once the next has read it (unless it is returned) are reused
	var ar tensor.Arena
	for i, l := range m.Encoder.Layer {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("blip2: qformer: layer %d: %w", i, err)
		}
		if in.OutputHiddenStates {
			out.HiddenStates = append(out.HiddenStates, h)
		}
		var lkv []*tensor.Tensor
		if l.Crossattention != nil && len(encKV) > 0 {
			lkv, encKV = encKV[0], encKV[1:]
		}
		y, err := l.forward(h, mask, enc, encMask, lkv, &ar)
		if err != nil {
			return nil, fmt.Errorf("blip2: qformer: layer %d: %w", i, err)
		}
		if !in.OutputHiddenStates {
			ar.Release(h)
		}
		h = y
	}
	if in.OutputHiddenStates {
		out.HiddenStates = append(out.HiddenStates, h)
	}
	out.LastHiddenState = h
	out.PoolerOutput = tensor.Slice(h, 1, 0, 1).Reshape(b, d)
	return out, nil
}

// maxSharedKV bounds the bytes of the cross-attention keys/values that Blip2QFormerModel.Forward
// computes for all layers at once (9.5 MB per image for the real Q-Former).
const maxSharedKV = 64 << 20

// checkMask checks a [B, T] 0/1 mask.
func checkMask(what string, mask [][]int, b, t int) error {
	if len(mask) != b {
		return fmt.Errorf("%s: %d rows, want %d", what, len(mask), b)
	}
	for i, row := range mask {
		if len(row) != t {
			return fmt.Errorf("%s: row %d has %d entries, want %d", what, i, len(row), t)
		}
		for j, v := range row {
			if v != 0 && v != 1 {
				return fmt.Errorf("%s: [%d][%d] = %d, want 0 or 1", what, i, j, v)
			}
		}
	}
	return nil
}
