package blip2

import (
	"context"
	"fmt"
	"math"

	"github.com/gotransformers/gotransformers/transformers/nn"
	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// numChannels is the input channel count: transformers' Blip2VisionEmbeddings hard-codes in_channels=3.
const numChannels = 3

// Blip2VisionEmbeddings mirrors transformers' Blip2VisionEmbeddings: patch embedding (a stride = kernel
// convolution, computed as a GEMM), class token and learned position embeddings.
type Blip2VisionEmbeddings struct {
	ClassEmbedding    *tensor.Weight // class_embedding: [1, 1, D]
	PatchEmbedding    *Conv2D        // patch_embedding: weight [D, 3, p, p], bias [D]
	PositionEmbedding *tensor.Weight // position_embedding: [1, 1 + (image_size/p)^2, D]
	PatchSize         int
	ImageSize         int
	EmbedDim          int
}

// Conv2D holds the parameters of a torch nn.Conv2d whose stride equals its kernel (patch embedding).
type Conv2D struct {
	Weight *tensor.Weight // [out, in, p, p]
	Bias   *tensor.Weight // [out] or nil
}

// newBlip2VisionEmbeddings binds b (the "embeddings" prefix).
func newBlip2VisionEmbeddings(cfg *Blip2VisionConfig, b *weights.Binder) *Blip2VisionEmbeddings {
	d, p := cfg.HiddenSize, cfg.PatchSize
	numPositions := (cfg.ImageSize/p)*(cfg.ImageSize/p) + 1
	pb := b.Pp("patch_embedding")
	// Binding order = transformers' state_dict order: own parameters first, then the conv.
	return &Blip2VisionEmbeddings{
		ClassEmbedding:    b.Weight("class_embedding", 1, 1, d),
		PositionEmbedding: b.Weight("position_embedding", 1, numPositions, d),
		PatchEmbedding:    &Conv2D{Weight: pb.Weight("weight", d, numChannels, p, p), Bias: pb.Weight("bias", d)},
		PatchSize:         p,
		ImageSize:         cfg.ImageSize,
		EmbedDim:          d,
	}
}

// Forward embeds pixel values.
// pixel: [N, C, H, W] -> [N, 1 + (H/p)*(W/p), D] (H/p, W/p floored, as torch's convolution does).
func (e *Blip2VisionEmbeddings) Forward(pixel *tensor.Tensor, interpolatePosEncoding bool) (out *tensor.Tensor, err error) {
	defer recoverErr("vision embeddings", &err)
	if err := checkShape("pixel_values", pixel, -1, -1, -1, -1); err != nil {
		return nil, err
	}
	p := e.PatchSize
	n, c, h, w := pixel.Shape[0], pixel.Shape[1], pixel.Shape[2], pixel.Shape[3]
	if want := e.PatchEmbedding.Weight.Shape[1]; c != want {
		return nil, fmt.Errorf("pixel_values: %d channels, want %d (shape %v)", c, want, pixel.Shape)
	}
	gh, gw := h/p, w/p
	if gh == 0 || gw == 0 {
		return nil, fmt.Errorf("pixel_values: image %dx%d (HxW) is smaller than one %dx%d patch", h, w, p, p)
	}
	numPositions := e.PositionEmbedding.Shape[1]
	if !interpolatePosEncoding && gh*gw+1 > numPositions {
		return nil, fmt.Errorf("pixel_values: image %dx%d gives %d patches, but the position embedding has %d "+
			"(image_size %d, patch_size %d); resize to %dx%d or set InterpolatePosEncoding",
			h, w, gh*gw, numPositions-1, e.ImageSize, p, e.ImageSize, e.ImageSize)
	}
	x := pixel
	if h%p != 0 || w%p != 0 { // torch's stride-p convolution ignores the remainder rows/columns
		x = tensor.Slice(tensor.Slice(x, 2, 0, gh*p), 3, 0, gw*p)
	}
	patch := tensor.Conv2DPatch(x, e.PatchEmbedding.Weight, e.PatchEmbedding.Bias, p) // [N, D, gh, gw]
	d := patch.Shape[1]
	patchT := tensor.Transpose(patch.Reshape(n, d, gh*gw), 1, 2) // [N, P, D]
	cls := tensor.New(n, 1, d)
	for i := range n {
		e.ClassEmbedding.WidenTo(cls.Data[i*d:(i+1)*d], 0)
	}
	emb := tensor.Concat(1, cls, patchT) // [N, 1+P, D]
	t := emb.Shape[1]
	var pos *tensor.Tensor
	if interpolatePosEncoding {
		pos = e.interpolatePosEncoding(t-1, h, w)
	} else {
		pos = e.PositionEmbedding.Float32()
	}
	pos = tensor.Slice(pos, 1, 0, t) // [1, T, D]
	tensor.AddInPlace(emb, pos)
	return emb, nil
}

// interpolatePosEncoding mirrors Blip2VisionEmbeddings.interpolate_pos_encoding of transformers 4.45:
// the patch position grid is resized bicubically with torch's interpolate(scale_factor=((h/p + 0.1) /
// sqrt(N), (w/p + 0.1) / sqrt(N)), align_corners=False). Returns [1, 1 + H'*W', D].
func (e *Blip2VisionEmbeddings) interpolatePosEncoding(numPatches, height, width int) *tensor.Tensor {
	full := e.PositionEmbedding.Float32() // [1, N+1, D]
	numPositions := full.Shape[1] - 1
	if numPatches == numPositions && height == width {
		return full
	}
	d := full.Shape[2]
	side := int(math.Sqrt(float64(numPositions)))
	classPos := tensor.Slice(full, 1, 0, 1)                                                             // [1, 1, D]
	grid := tensor.Permute(tensor.Slice(full, 1, 1, 1+side*side).Reshape(1, side, side, d), 0, 3, 1, 2) // [1, D, s, s]
	h0 := float64(height/e.PatchSize) + 0.1
	w0 := float64(width/e.PatchSize) + 0.1
	sq := math.Sqrt(float64(numPositions))
	sh, sw := h0/sq, w0/sq
	outH := int(math.Floor(float64(side) * sh))
	outW := int(math.Floor(float64(side) * sw))
	res := tensor.InterpolateBicubic(grid, outH, outW, sh, sw)     // [1, D, H', W']
	res = tensor.Permute(res, 0, 2, 3, 1).Reshape(1, outH*outW, d) // [1, H'*W', D]
	return tensor.Concat(1, classPos, res)
}

// The layer types below (Blip2Attention, Blip2MLP, Blip2EncoderLayer and the Q-Former's) take the
// shapes their Forward documents; other shapes are a programming error and panic, as nn.Linear does.
// The model-level Forward methods check user input and return errors.

// Blip2Attention mirrors transformers' Blip2Attention: fused qkv projection (its bias is the stored
// qkv.bias, a parameter in 4.45 initialised as cat(q_bias, zeros, v_bias); older checkpoints' q_bias
// and v_bias are fused at load), scale head_dim^-0.5 applied to the scores, output projection.
type Blip2Attention struct {
	QKV        *nn.Linear // qkv: [3D, D], bias [3D] when qkv_bias
	Projection *nn.Linear // projection: [D, D]
	NumHeads   int
	Scale      float32
}

// Forward runs self-attention. x: [B, T, D] -> [B, T, D].
func (a *Blip2Attention) Forward(x *tensor.Tensor) *tensor.Tensor {
	var ar tensor.Arena
	return a.forward(x, &ar)
}

// forward is Forward with its temporaries and its output taken from ar, and the temporaries given
// back to it.
func (a *Blip2Attention) forward(x *tensor.Tensor, ar *tensor.Arena) *tensor.Tensor {
	b, t, d := x.Shape[0], x.Shape[1], x.Shape[2]
	h, hd := a.NumHeads, d/a.NumHeads
	qkv := linearTake(ar, a.QKV, x) // [B, T, 3D]
	heads := ar.Take(3, b, h, t, hd)
	tensor.PermuteInto(heads, qkv.Reshape(b, t, 3, h, hd), 2, 0, 3, 1, 4)
	ar.Release(qkv)
	per := b * h * t * hd
	q := tensor.From(heads.Data[:per], b, h, t, hd)
	k := tensor.From(heads.Data[per:2*per], b, h, t, hd)
	v := tensor.From(heads.Data[2*per:], b, h, t, hd)
	ctx := ar.Take(b, h, t, hd)
	tensor.AttentionInto(ctx, q, k, v, nil, a.Scale)
	ar.Release(heads)
	merged := mergeTakeRelease(ar, ctx) // [B, T, D]
	out := linearTake(ar, a.Projection, merged)
	ar.Release(merged)
	return out
}

// Blip2MLP mirrors transformers' Blip2MLP: fc1, activation, fc2.
type Blip2MLP struct {
	FC1, FC2 *nn.Linear
	act      func(*tensor.Tensor)
}

// Forward x: [B, T, D] -> [B, T, D].
func (m *Blip2MLP) Forward(x *tensor.Tensor) *tensor.Tensor {
	var ar tensor.Arena
	return m.forward(x, &ar)
}

// forward is Forward with its temporary and its output taken from ar.
func (m *Blip2MLP) forward(x *tensor.Tensor, ar *tensor.Arena) *tensor.Tensor {
	y := linearTake(ar, m.FC1, x) // [B, T, I]
	m.act(y)
	out := linearTake(ar, m.FC2, y)
	ar.Release(y)
	return out
}

// Blip2EncoderLayer mirrors transformers' Blip2EncoderLayer (pre-LayerNorm).
type Blip2EncoderLayer struct {
	SelfAttn   *Blip2Attention
	LayerNorm1 *nn.LayerNorm
	MLP        *Blip2MLP
	LayerNorm2 *nn.LayerNorm
}

// Forward x: [B, T, D] -> [B, T, D].
func (l *Blip2EncoderLayer) Forward(x *tensor.Tensor) *tensor.Tensor {
	var ar tensor.Arena
	return l.forward(x, &ar)
}

// forward is Forward with its temporaries and its output taken from ar, and the temporaries given
// back to it (x is not).
func (l *Blip2EncoderLayer) forward(x *tensor.Tensor, ar *tensor.Arena) *tensor.Tensor {
	n1 := ar.Take(x.Shape...)
	l.LayerNorm1.ForwardInto(n1, x)
	h := l.SelfAttn.forward(n1, ar)
	ar.Release(n1)
	tensor.AddInPlace(h, x)
	n2 := ar.Take(h.Shape...)
	l.LayerNorm2.ForwardInto(n2, h)
	y := l.MLP.forward(n2, ar)
	ar.Release(n2)
	tensor.AddInPlace(y, h)
	ar.Release(h)
	return y
}

// Blip2Encoder mirrors transformers' Blip2Encoder (the vision transformer layers).
type Blip2Encoder struct {
	Layers []*Blip2EncoderLayer
}

// Blip2VisionModel mirrors transformers' Blip2VisionModel (EVA-ViT as used by BLIP-2).
type Blip2VisionModel struct {
	Config        *Blip2VisionConfig
	Embeddings    *Blip2VisionEmbeddings
	Encoder       *Blip2Encoder
	PostLayernorm *nn.LayerNorm
	stateDict     *weights.StateDict // owned by VisionModelFromPretrained models (Close)
}

// shapeOnly reports whether the model was built without weights.
func (m *Blip2VisionModel) shapeOnly() bool { return m.Embeddings.PositionEmbedding.ShapeOnly() }

// VisionOptions are the optional arguments of Blip2VisionModel.Forward.
type VisionOptions struct {
	// OutputHiddenStates returns the embeddings output and every layer's output (output_hidden_states).
	OutputHiddenStates bool
	// InterpolatePosEncoding resizes the position embeddings to the image (interpolate_pos_encoding).
	InterpolatePosEncoding bool
}

// VisionOutput mirrors BaseModelOutputWithPooling of the vision model.
type VisionOutput struct {
	LastHiddenState *tensor.Tensor   // [N, T, D], after post_layernorm
	PoolerOutput    *tensor.Tensor   // [N, D]: post_layernorm(last_hidden_state[:, 0])
	HiddenStates    []*tensor.Tensor // nil unless asked: [embeddings, layer 1, ..., layer L], each [N, T, D]
}

// validateVisionConfig checks what the forward relies on.
func validateVisionConfig(cfg *Blip2VisionConfig) error {
	if cfg == nil {
		return fmt.Errorf("vision_config: missing")
	}
	switch {
	case cfg.HiddenSize <= 0 || cfg.NumAttentionHeads <= 0 || cfg.HiddenSize%cfg.NumAttentionHeads != 0:
		return fmt.Errorf("vision_config: hidden_size %d must be a positive multiple of num_attention_heads %d", cfg.HiddenSize, cfg.NumAttentionHeads)
	case cfg.PatchSize <= 0 || cfg.ImageSize < cfg.PatchSize:
		return fmt.Errorf("vision_config: patch_size %d / image_size %d invalid", cfg.PatchSize, cfg.ImageSize)
	case cfg.IntermediateSize <= 0 || cfg.NumHiddenLayers < 0:
		return fmt.Errorf("vision_config: intermediate_size %d / num_hidden_layers %d invalid", cfg.IntermediateSize, cfg.NumHiddenLayers)
	}
	if _, err := activation(cfg.HiddenAct); err != nil {
		return fmt.Errorf("vision_config: %w", err)
	}
	return nil
}

// newQKV binds the fused qkv projection. transformers 4.45 stores its bias as qkv.bias
// (= cat(q_bias, zeros, v_bias), built at init); checkpoints saved by older versions hold q_bias and
// v_bias instead, which are accepted and fused the same way.
func newQKV(at *weights.Binder, d int, bias bool) *nn.Linear {
	if bias && !at.Has("qkv.bias") && at.Has("q_bias") && at.Has("v_bias") {
		q, v := at.Weight("q_bias", d), at.Weight("v_bias", d)
		fused := tensor.New(3 * d)
		if !q.ShapeOnly() && !v.ShapeOnly() {
			q.WidenTo(fused.Data[:d], 0)
			v.WidenTo(fused.Data[2*d:], 0)
		}
		return &nn.Linear{Weight: at.Pp("qkv").Weight("weight", 3*d, d), Bias: tensor.WeightFrom(fused)}
	}
	return nn.NewLinear(at, "qkv", d, 3*d, bias)
}

// NewBlip2VisionModel builds the vision model from its config, binding weights under b (the
// "vision_model" prefix of a Blip2 checkpoint, or the root of a Blip2VisionModel checkpoint).
// Missing or mis-shaped weights are reported by b.Finish().
func NewBlip2VisionModel(cfg *Blip2VisionConfig, b *weights.Binder) (*Blip2VisionModel, error) {
	if err := validateVisionConfig(cfg); err != nil {
		return nil, err
	}
	act, _ := activation(cfg.HiddenAct)
	d, eps := cfg.HiddenSize, float32(cfg.LayerNormEps)
	m := &Blip2VisionModel{Config: cfg, Embeddings: newBlip2VisionEmbeddings(cfg, b.Pp("embeddings")), Encoder: &Blip2Encoder{}}
	lb := b.Pp("encoder").Pp("layers")
	for i := range cfg.NumHiddenLayers {
		l := lb.Pp(i)
		at := l.Pp("self_attn")
		m.Encoder.Layers = append(m.Encoder.Layers, &Blip2EncoderLayer{
			SelfAttn: &Blip2Attention{
				QKV:        newQKV(at, d, cfg.QKVBias),
				Projection: nn.NewLinear(at, "projection", d, d, true),
				NumHeads:   cfg.NumAttentionHeads,
				Scale:      float32(math.Pow(float64(d/cfg.NumAttentionHeads), -0.5)),
			},
			LayerNorm1: nn.NewLayerNorm(l, "layer_norm1", d, eps),
			MLP: &Blip2MLP{
				FC1: nn.NewLinear(l.Pp("mlp"), "fc1", d, cfg.IntermediateSize, true),
				FC2: nn.NewLinear(l.Pp("mlp"), "fc2", cfg.IntermediateSize, d, true),
				act: act,
			},
			LayerNorm2: nn.NewLayerNorm(l, "layer_norm2", d, eps),
		})
	}
	m.PostLayernorm = nn.NewLayerNorm(b, "post_layernorm", d, eps)
	return m, nil
}

// Forward mirrors Blip2VisionModel.forward.
// pixelValues: [N, 3, H, W] -> LastHiddenState [N, 1 + (H/p)(W/p), D], PoolerOutput [N, D].
// Without InterpolatePosEncoding an image with more patches than the position table is an error;
// a smaller one uses the first positions of the table, exactly as transformers 4.45 does (no check
// there either). With InterpolatePosEncoding the table is resized to the image's patch grid.
func (m *Blip2VisionModel) Forward(ctx context.Context, pixelValues *tensor.Tensor, opts VisionOptions) (out *VisionOutput, err error) {
	defer recoverErr("vision_model", &err)
	if m.shapeOnly() {
		return nil, ErrShapeOnly
	}
	if err := checkShape("blip2: vision_model: pixel_values", pixelValues, -1, -1, -1, -1); err != nil {
		return nil, err
	}
	if pixelValues.Shape[0] == 0 {
		return nil, fmt.Errorf("blip2: vision_model: pixel_values: empty batch (shape %v)", pixelValues.Shape)
	}
	x, err := m.Embeddings.Forward(pixelValues, opts.InterpolatePosEncoding) // [N, T, D]
	if err != nil {
		return nil, fmt.Errorf("blip2: vision_model: %w", err)
	}
	out = &VisionOutput{}
	if opts.OutputHiddenStates {
		out.HiddenStates = append(out.HiddenStates, x)
	}
	// one arena for all layers: each layer's temporaries reuse the buffers of the one before, and
	// so does its output, that of the layer before once that is read (unless it is returned)
	var ar tensor.Arena
	for i, l := range m.Encoder.Layers {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("blip2: vision_model: layer %d: %w", i, err)
		}
		y := l.forward(x, &ar)
		if opts.OutputHiddenStates {
			out.HiddenStates = append(out.HiddenStates, y)
		} else {
			ar.Release(x)
		}
		x = y
	}
	out.LastHiddenState = m.PostLayernorm.Forward(x)
	n, d := x.Shape[0], x.Shape[2]
	cls := tensor.Slice(out.LastHiddenState, 1, 0, 1).Reshape(n, d) // [N, D]
	out.PoolerOutput = m.PostLayernorm.Forward(cls)
	return out, nil
}
