package t5

import (
	"context"
	"fmt"
	"math"

	"github.com/gotransformers/gotransformers/transformers/generation"
	"github.com/gotransformers/gotransformers/transformers/nn"
	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// Input is the argument set of T5ForConditionalGeneration.forward.
//
// The encoder side is InputIDs or InputsEmbeds with AttentionMask ([B, S], 1 = token, 0 = padding;
// nil = all ones), or EncoderOutputs computed earlier by Encode (then AttentionMask is still the
// encoder mask). The decoder side is DecoderInputIDs or DecoderInputsEmbeds; when both are nil and
// Labels is set, the decoder input is Labels shifted right (decoder_start_token_id first, -100 ->
// pad_token_id), as transformers' _shift_right. DecoderAttentionMask covers the cached positions and
// the new ones ([B, Cache.Len()+T]); nil means all ones.
type Input struct {
	// InputIDs: [B, S] encoder token ids.
	InputIDs [][]int
	// AttentionMask: [B, S] encoder mask of 0/1.
	AttentionMask [][]int
	// InputsEmbeds: [B, S, DModel] used instead of InputIDs (BLIP-2 passes the projected query
	// outputs concatenated with EmbedTokens of the text).
	InputsEmbeds *tensor.Tensor
	// DecoderInputIDs: [B, T] decoder token ids.
	DecoderInputIDs [][]int
	// DecoderAttentionMask: [B, past+T] decoder mask of 0/1.
	DecoderAttentionMask [][]int
	// DecoderInputsEmbeds: [B, T, DModel] used instead of DecoderInputIDs.
	DecoderInputsEmbeds *tensor.Tensor
	// EncoderOutputs skips the encoder (generation encodes once with Encode).
	EncoderOutputs *EncoderOutput
	// Labels: [B, T] target ids (-100 = ignored).
	Labels [][]int
	// Cache, when not nil, supplies the decoder keys and values of earlier calls (self-attention)
	// and the cross-attention keys and values computed once from the encoder output.
	Cache *Cache
	// OutputHiddenStates asks for the encoder and decoder hidden states.
	OutputHiddenStates bool
	// LogitsToKeep > 0 computes logits for the last LogitsToKeep decoder positions only (ignored
	// with Labels); 0 computes all (transformers' num_logits_to_keep).
	LogitsToKeep int
}

// EncoderOutput mirrors the encoder's BaseModelOutput.
type EncoderOutput struct {
	// LastHiddenState: [B, S, DModel] after the final layer norm.
	LastHiddenState *tensor.Tensor
	// HiddenStates: NumLayers+1 tensors when asked: the embeddings, the input of blocks 1.., and
	// LastHiddenState.
	HiddenStates []*tensor.Tensor
}

// Output mirrors Seq2SeqLMOutput.
type Output struct {
	// Logits: [B, T, VocabSize] ([B, LogitsToKeep, VocabSize] when asked).
	Logits *tensor.Tensor
	// Loss: scalar mean cross entropy over the labels that are not -100; nil without Labels.
	Loss *tensor.Tensor
	// DecoderLastHiddenState: [B, T, DModel] after the decoder's final layer norm (before the
	// d_model^-0.5 scaling of tied models).
	DecoderLastHiddenState *tensor.Tensor
	// DecoderHiddenStates: NumDecoderLayers+1 tensors when asked (the last after the final norm).
	DecoderHiddenStates []*tensor.Tensor
	// EncoderLastHiddenState: [B, S, DModel]; nil when neither encoder inputs nor EncoderOutputs
	// were given (a decode step that relies on the cache's cross-attention keys).
	EncoderLastHiddenState *tensor.Tensor
	// EncoderHiddenStates: NumLayers+1 tensors when asked and the encoder ran (or EncoderOutputs
	// carried them).
	EncoderHiddenStates []*tensor.Tensor
	// Cache is Input.Cache, now holding this call's positions too.
	Cache *Cache
}

// T5LayerNorm mirrors transformers' T5LayerNorm (RMS norm without mean subtraction or bias).
type T5LayerNorm struct {
	Weight *tensor.Weight // [DModel]
	Eps    float32
}

// Forward normalizes x: [..., D].
func (n *T5LayerNorm) Forward(x *tensor.Tensor) *tensor.Tensor {
	return tensor.RMSNorm(x, n.Weight, n.Eps)
}

func newT5LayerNorm(cfg *T5Config, b *weights.Binder) *T5LayerNorm {
	return &T5LayerNorm{Weight: b.Weight("weight", cfg.DModel), Eps: float32(cfg.LayerNormEpsilon)}
}

// T5Attention mirrors transformers' T5Attention: no scaling of the scores, and a relative
// position bias in the first block of each stack.
type T5Attention struct {
	Q, K, V, O *nn.Linear
	// RelativeAttentionBias: [RelativeAttentionNumBuckets, NumHeads]; nil except in block 0.
	RelativeAttentionBias *nn.Embedding
	NumHeads, DKV         int

	isDecoder               bool
	numBuckets, maxDistance int
}

func newT5Attention(cfg *T5Config, b *weights.Binder, isDecoder, relBias bool) *T5Attention {
	inner := cfg.NumHeads * cfg.DKV
	a := &T5Attention{
		Q:           nn.NewLinear(b, "q", cfg.DModel, inner, false),
		K:           nn.NewLinear(b, "k", cfg.DModel, inner, false),
		V:           nn.NewLinear(b, "v", cfg.DModel, inner, false),
		O:           nn.NewLinear(b, "o", inner, cfg.DModel, false),
		NumHeads:    cfg.NumHeads,
		DKV:         cfg.DKV,
		isDecoder:   isDecoder,
		numBuckets:  cfg.RelativeAttentionNumBuckets,
		maxDistance: cfg.RelativeAttentionMaxDistance,
	}
	if relBias {
		a.RelativeAttentionBias = nn.NewEmbedding(b, "relative_attention_bias", cfg.RelativeAttentionNumBuckets, cfg.NumHeads)
	}
	return a
}

// relativePositionBucket mirrors T5Attention._relative_position_bucket, with the logarithm part in
// float32 as torch computes it.
func relativePositionBucket(rel int, bidirectional bool, numBuckets, maxDistance int) int {
	bucket := 0
	if bidirectional {
		numBuckets /= 2
		if rel > 0 {
			bucket += numBuckets
		}
		if rel < 0 {
			rel = -rel
		}
	} else {
		rel = -min(rel, 0)
	}
	maxExact := numBuckets / 2
	if rel < maxExact {
		return bucket + rel
	}
	x := float32(rel) / float32(maxExact)
	l := float32(math.Log(float64(x)))
	l = l / float32(math.Log(float64(maxDistance)/float64(maxExact)))
	l = l * float32(numBuckets-maxExact)
	large := maxExact + int(l)
	return bucket + min(large, numBuckets-1)
}

// computeBias mirrors T5Attention.compute_bias for queries at positions past..past+tq-1 and keys
// 0..tk-1: [H, tq, tk].
func (a *T5Attention) computeBias(past, tq, tk int) []float32 {
	H := a.NumHeads
	bias := make([]float32, H*tq*tk)
	w := a.RelativeAttentionBias.Weight
	for i := 0; i < tq; i++ {
		for j := 0; j < tk; j++ {
			bk := relativePositionBucket(j-(past+i), !a.isDecoder, a.numBuckets, a.maxDistance)
			for h := 0; h < H; h++ {
				bias[(h*tq+i)*tk+j] = w.At(bk*H + h)
			}
		}
	}
	return bias
}

// T5LayerSelfAttention mirrors transformers' T5LayerSelfAttention (layer.0).
type T5LayerSelfAttention struct {
	SelfAttention *T5Attention
	LayerNorm     *T5LayerNorm
}

// T5LayerCrossAttention mirrors transformers' T5LayerCrossAttention (decoder layer.1).
type T5LayerCrossAttention struct {
	EncDecAttention *T5Attention
	LayerNorm       *T5LayerNorm
}

// T5DenseActDense mirrors T5DenseActDense (Wi, Wo) and T5DenseGatedActDense (Wi0, Wi1, Wo):
// wo(act(wi(x))) or wo(act(wi_0(x)) * wi_1(x)).
type T5DenseActDense struct {
	Wi, Wi0, Wi1, Wo *nn.Linear

	act func(*tensor.Tensor)
}

// Forward applies the feed-forward: x [..., DModel] -> [..., DModel].
func (f *T5DenseActDense) Forward(x *tensor.Tensor) *tensor.Tensor {
	var h *tensor.Tensor
	if f.Wi0 != nil {
		hs := nn.LinearGroup(x, f.Wi0, f.Wi1)
		h = hs[0]
		f.act(h)
		tensor.MulInPlace(h, hs[1])
	} else {
		h = f.Wi.Forward(x)
		f.act(h)
	}
	return f.Wo.Forward(h)
}

// T5LayerFF mirrors transformers' T5LayerFF (the last layer of a block).
type T5LayerFF struct {
	DenseReluDense *T5DenseActDense
	LayerNorm      *T5LayerNorm
}

// T5Block mirrors transformers' T5Block: Layer[0] self-attention, Layer[1] cross-attention
// (decoder only), then the feed-forward (checkpoint keys block.N.layer.0/1/2).
type T5Block struct {
	SelfAttention  *T5LayerSelfAttention
	CrossAttention *T5LayerCrossAttention // nil in the encoder
	FF             *T5LayerFF
}

// T5Stack mirrors transformers' T5Stack (the encoder or the decoder).
type T5Stack struct {
	// EmbedTokens is the shared embedding [VocabSize, DModel].
	EmbedTokens    *nn.Embedding
	Block          []*T5Block
	FinalLayerNorm *T5LayerNorm

	isDecoder bool
	cfg       *T5Config
}

func newT5Stack(cfg *T5Config, b *weights.Binder, shared *nn.Embedding, isDecoder bool, act func(*tensor.Tensor)) *T5Stack {
	s := &T5Stack{
		EmbedTokens: &nn.Embedding{Weight: b.Tied("embed_tokens.weight", shared.Weight)},
		isDecoder:   isDecoder,
		cfg:         cfg,
	}
	n := cfg.NumLayers
	if isDecoder {
		n = cfg.NumDecoderLayers
	}
	for i := 0; i < n; i++ {
		lb := b.Pp("block").Pp(i).Pp("layer")
		blk := &T5Block{SelfAttention: &T5LayerSelfAttention{
			SelfAttention: newT5Attention(cfg, lb.Pp(0).Pp("SelfAttention"), isDecoder, i == 0),
			LayerNorm:     newT5LayerNorm(cfg, lb.Pp(0).Pp("layer_norm")),
		}}
		ff := 1
		if isDecoder {
			blk.CrossAttention = &T5LayerCrossAttention{
				EncDecAttention: newT5Attention(cfg, lb.Pp(1).Pp("EncDecAttention"), true, false),
				LayerNorm:       newT5LayerNorm(cfg, lb.Pp(1).Pp("layer_norm")),
			}
			ff = 2
		}
		fb := lb.Pp(ff).Pp("DenseReluDense")
		d := &T5DenseActDense{act: act}
		if cfg.IsGatedAct {
			d.Wi0 = nn.NewLinear(fb, "wi_0", cfg.DModel, cfg.DFF, false)
			d.Wi1 = nn.NewLinear(fb, "wi_1", cfg.DModel, cfg.DFF, false)
		} else {
			d.Wi = nn.NewLinear(fb, "wi", cfg.DModel, cfg.DFF, false)
		}
		d.Wo = nn.NewLinear(fb, "wo", cfg.DFF, cfg.DModel, false)
		blk.FF = &T5LayerFF{DenseReluDense: d, LayerNorm: newT5LayerNorm(cfg, lb.Pp(ff).Pp("layer_norm"))}
		s.Block = append(s.Block, blk)
	}
	s.FinalLayerNorm = newT5LayerNorm(cfg, b.Pp("final_layer_norm"))
	return s
}

// stackRun is one pass through a stack.
type stackRun struct {
	h        *tensor.Tensor // [B, T, D] input embeddings
	past     int            // cached self-attention positions
	masked   []bool         // [B, T, past+T] self-attention mask
	selfKV   []*nn.KVBuffer // per block; filled and appended
	crossKV  []*nn.KVBuffer // decoder: per block; filled from enc when empty
	enc      *tensor.Tensor // decoder: encoder hidden states [B, S, D] (nil when crossKV is filled)
	crossMsk []bool         // decoder: [B, T, S]
	hidden   bool
}

func (s *T5Stack) forward(ctx context.Context, r *stackRun) (*tensor.Tensor, []*tensor.Tensor, error) {
	h := r.h
	t := h.Shape[1]
	var hiddens []*tensor.Tensor
	var bias []float32
	for i, blk := range s.Block {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if r.hidden {
			hiddens = append(hiddens, h)
		}
		sa := blk.SelfAttention.SelfAttention
		if i == 0 {
			bias = sa.computeBias(r.past, t, r.past+t)
		}
		x := blk.SelfAttention.LayerNorm.Forward(h)
		qkv := nn.LinearGroup(x, sa.Q, sa.K, sa.V)
		q := qkv[0]
		kv := r.selfKV[i]
		kv.Append(qkv[1], qkv[2])
		a := sa.O.Forward(nn.CachedAttention(q, kv, r.masked, bias))
		tensor.AddInPlace(a, h)
		h = a
		if blk.CrossAttention != nil {
			ca := blk.CrossAttention.EncDecAttention
			x = blk.CrossAttention.LayerNorm.Forward(h)
			q = ca.Q.Forward(x)
			ckv := r.crossKV[i]
			if ckv.Len() == 0 {
				ckv.Append(kvPair(nn.LinearGroup(r.enc, ca.K, ca.V)))
			}
			a = ca.O.Forward(nn.CachedAttention(q, ckv, r.crossMsk, nil))
			tensor.AddInPlace(a, h)
			h = a
		}
		f := blk.FF.DenseReluDense.Forward(blk.FF.LayerNorm.Forward(h))
		tensor.AddInPlace(f, h)
		h = f
	}
	h = s.FinalLayerNorm.Forward(h)
	if r.hidden {
		hiddens = append(hiddens, h)
	}
	return h, hiddens, nil
}

// embed turns ids or embeds into the stack input [B, T, D].
func (s *T5Stack) embed(what string, ids [][]int, embeds *tensor.Tensor) (*tensor.Tensor, error) {
	D := s.cfg.DModel
	switch {
	case ids != nil && embeds != nil:
		return nil, fmt.Errorf("t5: give either %s ids or embeddings, not both", what)
	case ids != nil:
		bsz, t, err := validateIDs(what, ids, s.cfg.VocabSize)
		if err != nil {
			return nil, err
		}
		return embedIDs(s.EmbedTokens, ids, bsz, t, D), nil
	case embeds != nil:
		e := embeds
		if len(e.Shape) != 3 || e.Shape[0] == 0 || e.Shape[1] == 0 || e.Shape[2] != D || len(e.Data) != tensor.Numel(e.Shape) {
			return nil, fmt.Errorf("t5: %s embeddings: want shape [B, T, %d], got %v", what, D, e.Shape)
		}
		return e, nil
	}
	return nil, fmt.Errorf("t5: %s ids or embeddings are required", what)
}

// embedIDs looks ids up: [B, T, D]; ids outside the table give zero vectors.
func embedIDs(e *nn.Embedding, ids [][]int, bsz, t, D int) *tensor.Tensor {
	out := tensor.New(bsz, t, D)
	var flat, at []int
	for i, r := range ids {
		for j := 0; j < t && j < len(r); j++ {
			if r[j] >= 0 && r[j] < e.Num() {
				flat = append(flat, r[j])
				at = append(at, i*t+j)
			}
		}
	}
	if len(flat) > 0 {
		x := e.Forward(flat)
		for k, p := range at {
			copy(out.Data[p*D:(p+1)*D], x.Data[k*D:(k+1)*D])
		}
	}
	return out
}

// validateIDs checks that ids is a non-empty rectangle of ids in [0, vocab).
func validateIDs(what string, ids [][]int, vocab int) (bsz, t int, err error) {
	if len(ids) == 0 || len(ids[0]) == 0 {
		return 0, 0, fmt.Errorf("t5: %s is empty", what)
	}
	t = len(ids[0])
	for i, r := range ids {
		if len(r) != t {
			return 0, 0, fmt.Errorf("t5: %s: row %d has length %d, row 0 has %d", what, i, len(r), t)
		}
		for j, id := range r {
			if id < 0 || id >= vocab {
				return 0, 0, fmt.Errorf("t5: %s[%d][%d] = %d is outside the vocabulary [0, %d)", what, i, j, id, vocab)
			}
		}
	}
	return len(ids), t, nil
}

// checkMask validates a 0/1 mask of bsz rows of length n; nil gives all ones.
func checkMask(what string, mask [][]int, bsz, n int) ([][]int, error) {
	if mask == nil {
		mask = make([][]int, bsz)
		for i := range mask {
			mask[i] = make([]int, n)
			for j := range mask[i] {
				mask[i][j] = 1
			}
		}
		return mask, nil
	}
	if len(mask) != bsz {
		return nil, fmt.Errorf("t5: %s has %d rows, want %d", what, len(mask), bsz)
	}
	for i, r := range mask {
		if len(r) != n {
			return nil, fmt.Errorf("t5: %s row %d has length %d, want %d", what, i, len(r), n)
		}
		for j, v := range r {
			if v != 0 && v != 1 {
				return nil, fmt.Errorf("t5: %s[%d][%d] = %d, want 0 or 1", what, i, j, v)
			}
		}
	}
	return mask, nil
}

// keyMask expands a key mask [B, K] to [B, T, K] (true = masked), with a causal limit when causal
// (query i sees keys j <= past+i).
func keyMask(mask [][]int, t, past int, causal bool) []bool {
	bsz := len(mask)
	k := len(mask[0])
	out := make([]bool, bsz*t*k)
	for b := 0; b < bsz; b++ {
		for i := 0; i < t; i++ {
			row := out[(b*t+i)*k : (b*t+i+1)*k]
			for j := range row {
				row[j] = mask[b][j] == 0 || (causal && j > past+i)
			}
		}
	}
	return out
}

// T5ForConditionalGeneration mirrors transformers' T5ForConditionalGeneration (classic T5 and
// Flan-T5): shared embedding, encoder, decoder and lm_head (tied to shared, with the d_model^-0.5
// output scaling, when TieWordEmbeddings).
type T5ForConditionalGeneration struct {
	Config *T5Config
	// Shared: [VocabSize, DModel].
	Shared  *nn.Embedding
	Encoder *T5Stack
	Decoder *T5Stack
	// LMHead: [VocabSize, DModel], no bias.
	LMHead *tensor.Weight

	// GenerationConfig is the model's generation_config.json when FromPretrained found one (the
	// model's generation_config attribute); nil means defaults derived from Config. Generate starts
	// from it; call options override it.
	GenerationConfig *generation.GenerationConfig

	sd *weights.StateDict // the checkpoint FromPretrained opened (nil otherwise)
}

func checkConfig(cfg *T5Config) error {
	switch {
	case cfg == nil:
		return fmt.Errorf("t5: nil config")
	case cfg.VocabSize <= 0 || cfg.DModel <= 0 || cfg.DKV <= 0 || cfg.DFF <= 0 || cfg.NumHeads <= 0:
		return fmt.Errorf("t5: config: vocab_size %d, d_model %d, d_kv %d, d_ff %d, num_heads %d must be positive",
			cfg.VocabSize, cfg.DModel, cfg.DKV, cfg.DFF, cfg.NumHeads)
	case cfg.NumLayers < 0 || cfg.NumDecoderLayers < 0:
		return fmt.Errorf("t5: config: num_layers %d, num_decoder_layers %d must not be negative", cfg.NumLayers, cfg.NumDecoderLayers)
	case cfg.RelativeAttentionNumBuckets < 4 || cfg.RelativeAttentionMaxDistance <= cfg.RelativeAttentionNumBuckets/4:
		return fmt.Errorf("t5: config: relative_attention_num_buckets %d / relative_attention_max_distance %d are not usable",
			cfg.RelativeAttentionNumBuckets, cfg.RelativeAttentionMaxDistance)
	}
	return nil
}

// activation maps dense_act_fn to a kernel (transformers' ACT2FN).
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
	return nil, fmt.Errorf("t5: config: dense_act_fn %q is not supported (relu, gelu, gelu_new, gelu_pytorch_tanh, silu, swish, tanh)", name)
}

// NewT5ForConditionalGeneration builds the model with weights bound through b: "shared.weight",
// "encoder.…", "decoder.…", "lm_head.weight" under b's prefix (BLIP-2 passes
// b.Pp("language_model")). The caller calls b.Finish() once the whole tree is built.
func NewT5ForConditionalGeneration(cfg *T5Config, b *weights.Binder) (*T5ForConditionalGeneration, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	act, err := activation(cfg.DenseActFn)
	if err != nil {
		return nil, err
	}
	m := &T5ForConditionalGeneration{Config: cfg, Shared: nn.NewEmbedding(b, "shared", cfg.VocabSize, cfg.DModel)}
	m.Encoder = newT5Stack(cfg, b.Pp("encoder"), m.Shared, false, act)
	m.Decoder = newT5Stack(cfg, b.Pp("decoder"), m.Shared, true, act)
	if cfg.TieWordEmbeddings {
		m.LMHead = b.Tied("lm_head.weight", m.Shared.Weight)
	} else {
		m.LMHead = b.Weight("lm_head.weight", cfg.VocabSize, cfg.DModel)
	}
	return m, nil
}

// EmbedTokens gives the input embeddings (shared) of ids: [B, T, DModel]. Ids outside the
// vocabulary and rows shorter than the first give zero vectors: check user input with ValidateIDs.
func (m *T5ForConditionalGeneration) EmbedTokens(ids [][]int) *tensor.Tensor {
	t := 0
	if len(ids) > 0 {
		t = len(ids[0])
	}
	return embedIDs(m.Shared, ids, len(ids), t, m.Config.DModel)
}

// ValidateIDs reports an error unless ids is a non-empty rectangle of ids in [0, VocabSize).
func (m *T5ForConditionalGeneration) ValidateIDs(ids [][]int) error {
	_, _, err := validateIDs("input_ids", ids, m.Config.VocabSize)
	return err
}

// Encode runs the encoder (get_encoder()(input_ids, attention_mask, inputs_embeds)) on
// in.InputIDs or in.InputsEmbeds with in.AttentionMask; in.OutputHiddenStates asks for every
// hidden state. Generation encodes once and passes the result as Input.EncoderOutputs.
func (m *T5ForConditionalGeneration) Encode(ctx context.Context, in *Input) (*EncoderOutput, error) {
	if in == nil {
		return nil, fmt.Errorf("t5: nil input")
	}
	h, err := m.Encoder.embed("input_ids", in.InputIDs, in.InputsEmbeds)
	if err != nil {
		return nil, err
	}
	bsz, s := h.Shape[0], h.Shape[1]
	mask, err := checkMask("attention_mask", in.AttentionMask, bsz, s)
	if err != nil {
		return nil, err
	}
	hd := m.Config.DKV
	kv := make([]*nn.KVBuffer, len(m.Encoder.Block))
	for i := range kv {
		kv[i] = nn.NewKVBuffer(bsz, m.Config.NumHeads, hd, s)
	}
	last, hiddens, err := m.Encoder.forward(ctx, &stackRun{h: h, masked: keyMask(mask, s, 0, false), selfKV: kv, hidden: in.OutputHiddenStates})
	if err != nil {
		return nil, err
	}
	return &EncoderOutput{LastHiddenState: last, HiddenStates: hiddens}, nil
}

// ShiftRight mirrors T5PreTrainedModel._shift_right: decoder_start_token_id, then ids[:, :-1],
// with -100 replaced by pad_token_id.
func (m *T5ForConditionalGeneration) ShiftRight(ids [][]int) ([][]int, error) {
	cfg := m.Config
	if cfg.DecoderStartTokenID == nil {
		return nil, fmt.Errorf("t5: config: decoder_start_token_id is not set (needed to shift labels right)")
	}
	if cfg.PadTokenID == nil {
		return nil, fmt.Errorf("t5: config: pad_token_id is not set (needed to shift labels right)")
	}
	out := make([][]int, len(ids))
	for i, r := range ids {
		row := make([]int, len(r))
		if len(r) > 0 {
			row[0] = *cfg.DecoderStartTokenID
			copy(row[1:], r[:len(r)-1])
		}
		for j, v := range row {
			if v == -100 {
				row[j] = *cfg.PadTokenID
			}
		}
		out[i] = row
	}
	return out, nil
}

// Forward mirrors T5ForConditionalGeneration.forward (see Input for the accepted combinations).
func (m *T5ForConditionalGeneration) Forward(ctx context.Context, in *Input) (*Output, error) {
	if in == nil {
		return nil, fmt.Errorf("t5: nil input")
	}
	cfg := m.Config
	c := in.Cache
	out := &Output{Cache: c}

	// encoder side
	enc := in.EncoderOutputs
	if enc == nil && (in.InputIDs != nil || in.InputsEmbeds != nil) {
		var err error
		if enc, err = m.Encode(ctx, in); err != nil {
			return nil, err
		}
	}
	if enc != nil {
		e := enc.LastHiddenState
		if e == nil || len(e.Shape) != 3 || e.Shape[2] != cfg.DModel || e.Shape[0] == 0 || e.Shape[1] == 0 || len(e.Data) != tensor.Numel(e.Shape) {
			return nil, fmt.Errorf("t5: encoder_outputs.last_hidden_state: want shape [B, S, %d]", cfg.DModel)
		}
		out.EncoderLastHiddenState = e
		out.EncoderHiddenStates = enc.HiddenStates
	}
	crossReady := c != nil && c.crossReady()
	if enc == nil && !crossReady {
		return nil, fmt.Errorf("t5: the encoder needs InputIDs, InputsEmbeds or EncoderOutputs (or a cache filled by an earlier call)")
	}

	// decoder side
	decIDs := in.DecoderInputIDs
	if decIDs == nil && in.DecoderInputsEmbeds == nil && in.Labels != nil {
		if _, _, err := checkLabels(in.Labels, cfg.VocabSize); err != nil {
			return nil, err
		}
		var err error
		if decIDs, err = m.ShiftRight(in.Labels); err != nil {
			return nil, err
		}
	}
	h, err := m.Decoder.embed("decoder_input_ids", decIDs, in.DecoderInputsEmbeds)
	if err != nil {
		return nil, err
	}
	bsz, t := h.Shape[0], h.Shape[1]
	if enc != nil && enc.LastHiddenState.Shape[0] != bsz {
		return nil, fmt.Errorf("t5: encoder output has %d rows, decoder input %d", enc.LastHiddenState.Shape[0], bsz)
	}
	if in.Labels != nil {
		lb, lt, err := checkLabels(in.Labels, cfg.VocabSize)
		if err != nil {
			return nil, err
		}
		if lb != bsz || lt != t {
			return nil, fmt.Errorf("t5: labels are [%d, %d], decoder input [%d, %d]", lb, lt, bsz, t)
		}
	}

	hd := cfg.DKV
	var selfKV, crossKV []*nn.KVBuffer
	var encMask [][]int
	past := 0
	if c != nil {
		if err := c.prepare(cfg, bsz, t); err != nil {
			return nil, err
		}
		past = c.Len()
		selfKV, crossKV = c.self, c.cross
		encMask = c.encMask
	} else {
		selfKV = make([]*nn.KVBuffer, len(m.Decoder.Block))
		crossKV = make([]*nn.KVBuffer, len(m.Decoder.Block))
		for i := range selfKV {
			selfKV[i] = nn.NewKVBuffer(bsz, cfg.NumHeads, hd, t)
			crossKV[i] = nn.NewKVBuffer(bsz, cfg.NumHeads, hd, enc.LastHiddenState.Shape[1])
		}
	}
	var s int
	if crossReady {
		s = crossKV[0].Len()
	} else {
		s = enc.LastHiddenState.Shape[1]
	}
	if in.AttentionMask != nil || encMask == nil {
		if encMask, err = checkMask("attention_mask", in.AttentionMask, bsz, s); err != nil {
			return nil, err
		}
	}
	if c != nil {
		c.encMask = encMask
	}
	decMask, err := checkMask("decoder_attention_mask", in.DecoderAttentionMask, bsz, past+t)
	if err != nil {
		return nil, err
	}
	r := &stackRun{
		h: h, past: past, masked: keyMask(decMask, t, past, true),
		selfKV: selfKV, crossKV: crossKV, crossMsk: keyMask(encMask, t, 0, false),
		hidden: in.OutputHiddenStates,
	}
	if enc != nil {
		r.enc = enc.LastHiddenState
	}
	last, hiddens, err := m.Decoder.forward(ctx, r)
	if err != nil {
		return nil, err
	}
	if c != nil {
		c.batch = bsz
	}
	out.DecoderLastHiddenState = last
	out.DecoderHiddenStates = hiddens

	x := last
	keep := t
	if in.LogitsToKeep > 0 && in.LogitsToKeep < t && in.Labels == nil {
		keep = in.LogitsToKeep
		x = tensor.Slice(x, 1, t-keep, t)
	}
	if cfg.TieWordEmbeddings {
		x = x.Clone()
		tensor.ScaleInPlace(x, float32(math.Pow(float64(cfg.DModel), -0.5)))
	}
	out.Logits = tensor.Linear(x, m.LMHead, nil) // [B, keep, V]
	if in.Labels != nil {
		var labels []int
		for _, row := range in.Labels {
			labels = append(labels, row...)
		}
		out.Loss = tensor.From([]float32{nn.CrossEntropy(out.Logits.Data, cfg.VocabSize, labels)})
	}
	return out, nil
}

// checkLabels validates labels (ids in the vocabulary or -100).
func checkLabels(labels [][]int, vocab int) (int, int, error) {
	if len(labels) == 0 || len(labels[0]) == 0 {
		return 0, 0, fmt.Errorf("t5: labels are empty")
	}
	t := len(labels[0])
	for i, r := range labels {
		if len(r) != t {
			return 0, 0, fmt.Errorf("t5: labels row %d has length %d, row 0 has %d", i, len(r), t)
		}
		for j, l := range r {
			if l != -100 && (l < 0 || l >= vocab) {
				return 0, 0, fmt.Errorf("t5: labels[%d][%d] = %d is outside the vocabulary [0, %d) and not -100", i, j, l, vocab)
			}
		}
	}
	return len(labels), t, nil
}

// kvPair returns the two tensors of a key/value pair.
func kvPair(kv []*tensor.Tensor) (k, v *tensor.Tensor) { return kv[0], kv[1] }
