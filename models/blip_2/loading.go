package blip2

import (
	"context"
	"fmt"
	"strings"

	"github.com/gotransformers/gotransformers/models/opt"
	"github.com/gotransformers/gotransformers/models/t5"
	"github.com/gotransformers/gotransformers/transformers"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// weightFiles are the checkpoint files FromPretrained may need (weights.LoadStateDict's order).
var weightFiles = []string{"config.json", "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"}

// loadStateDict resolves nameOrPath and opens its weights.
func loadStateDict(ctx context.Context, nameOrPath string, lo *transformers.LoadOptions) (string, *weights.StateDict, error) {
	dir, err := transformers.ResolveModelDir(ctx, nameOrPath, weightFiles, lo)
	if err != nil {
		return "", nil, fmt.Errorf("blip2: %w", err)
	}
	sd, err := weights.LoadStateDict(dir)
	if err != nil {
		return "", nil, fmt.Errorf("blip2: %w", err)
	}
	return dir, sd, nil
}

// loadParts loads config and weights of a BLIP-2 checkpoint and builds the shared tree.
func loadParts(ctx context.Context, nameOrPath string, opts []transformers.Option) (*Blip2Parts, error) {
	lo := transformers.NewLoadOptions(opts...)
	cfg, err := Blip2ConfigFromPretrained(ctx, nameOrPath, opts...)
	if err != nil {
		return nil, err
	}
	dir, sd, err := loadStateDict(ctx, nameOrPath, lo)
	if err != nil {
		return nil, err
	}
	b := lo.NewBinder(sd)
	p, err := newBlip2Parts(cfg, b)
	if err != nil {
		sd.Close()
		return nil, err
	}
	if err := b.Finish(); err != nil {
		sd.Close()
		return nil, fmt.Errorf("blip2: load %s: %w", dir, err)
	}
	p.stateDict = sd
	return p, nil
}

// FromPretrained mirrors Blip2ForConditionalGeneration.from_pretrained: config.json and the weights
// (model.safetensors, a sharded safetensors index or pytorch_model.bin) of a local folder (or hub id
// once the resolver supports it), bound strictly: every missing, unexpected or mis-shaped key is an
// error; tied keys absent from the checkpoint (OPT lm_head, T5 embed_tokens) share their group's
// parameter. Weights stay in their stored dtype (float16/bfloat16 are widened inside the kernels)
// unless transformers.WithDType asks otherwise. Close releases the mapped files.
func FromPretrained(ctx context.Context, nameOrPath string, opts ...transformers.Option) (*Blip2ForConditionalGeneration, error) {
	p, err := loadParts(ctx, nameOrPath, opts)
	if err != nil {
		return nil, err
	}
	return &Blip2ForConditionalGeneration{p}, nil
}

// Blip2ModelFromPretrained mirrors Blip2Model.from_pretrained (same checkpoint keys as
// Blip2ForConditionalGeneration).
func Blip2ModelFromPretrained(ctx context.Context, nameOrPath string, opts ...transformers.Option) (*Blip2Model, error) {
	p, err := loadParts(ctx, nameOrPath, opts)
	if err != nil {
		return nil, err
	}
	return &Blip2Model{p}, nil
}

// Close releases the checkpoint files the weights are mapped from. The model must not be used
// afterwards. Models built from a caller's binder have nothing to close.
func (p *Blip2Parts) Close() error {
	if p.stateDict == nil {
		return nil
	}
	err := p.stateDict.Close()
	p.stateDict = nil
	return err
}

// VisionModelFromPretrained mirrors Blip2VisionModel.from_pretrained. The folder holds either a
// Blip2VisionModel checkpoint (config model_type "blip_2_vision_model", keys at the root) or a whole
// BLIP-2 checkpoint (model_type "blip-2"): then the vision_config and the "vision_model." keys are
// used and the other keys ignored (transformers would not strip the prefix; this is a convenience).
func VisionModelFromPretrained(ctx context.Context, nameOrPath string, opts ...transformers.Option) (*Blip2VisionModel, error) {
	lo := transformers.NewLoadOptions(opts...)
	m, _, err := transformers.LoadConfigDict(ctx, nameOrPath, transformers.ConfigName, opts...)
	if err != nil {
		return nil, fmt.Errorf("blip2: %w", err)
	}
	cfg, err := Blip2VisionConfigFromPretrained(ctx, nameOrPath, opts...)
	if err != nil {
		return nil, err
	}
	prefix := ""
	if mt, _ := m["model_type"].(string); mt == ModelType {
		prefix = "vision_model"
	}
	dir, sd, err := loadStateDict(ctx, nameOrPath, lo)
	if err != nil {
		return nil, err
	}
	b := lo.NewBinder(sd)
	vb := b
	if prefix != "" {
		vb = b.Pp(prefix)
		for _, k := range sd.Keys() {
			if !strings.HasPrefix(k, prefix+".") {
				b.Skip(k)
			}
		}
	}
	vm, err := NewBlip2VisionModel(cfg, vb)
	if err != nil {
		sd.Close()
		return nil, fmt.Errorf("blip2: %w", err)
	}
	if err := b.Finish(); err != nil {
		sd.Close()
		return nil, fmt.Errorf("blip2: load %s: %w", dir, err)
	}
	vm.stateDict = sd
	return vm, nil
}

// Close releases the checkpoint files of a model loaded with VisionModelFromPretrained.
func (m *Blip2VisionModel) Close() error {
	if m.stateDict == nil {
		return nil
	}
	err := m.stateDict.Close()
	m.stateDict = nil
	return err
}

// NewShapeOnly builds Blip2ForConditionalGeneration from a config alone, without weight memory
// (transformers' construction on the meta device): parameter shapes, the state_dict key order and
// parameter counts are available, forwards return ErrShapeOnly. A 15 GB checkpoint's tree takes
// milliseconds.
func NewShapeOnly(cfg *Blip2Config) (*Blip2ForConditionalGeneration, error) {
	b := weights.NewShapeBinder()
	m, err := NewBlip2ForConditionalGeneration(cfg, b)
	if err != nil {
		return nil, err
	}
	if err := b.Finish(); err != nil {
		return nil, fmt.Errorf("blip2: %w", err)
	}
	return m, nil
}

// StateDictKeys lists the model's state_dict entries in module order (transformers'
// model.state_dict() after tie_weights(): tied parameters appear under each name, TiedTo naming the
// key they share).
func (p *Blip2Parts) StateDictKeys() []weights.KeyInfo {
	return append([]weights.KeyInfo(nil), p.keys...)
}

// TiedWeightsKeys mirrors the class attribute _tied_weights_keys of Blip2ForConditionalGeneration:
// the language model's tied keys under "language_model.".
func (p *Blip2Parts) TiedWeightsKeys() []string {
	switch p.Config.TextConfig.(type) {
	case *opt.OPTConfig:
		return []string{"language_model.lm_head.weight"}
	case *t5.T5Config:
		return []string{"language_model.encoder.embed_tokens.weight", "language_model.decoder.embed_tokens.weight", "language_model.lm_head.weight"}
	}
	return nil
}

// ParameterCounts returns the number of parameters per part, tied parameters counted once
// (transformers' num_parameters()): Vision = vision_model, QFormer = qformer + query_tokens,
// Projection = language_projection, LanguageModel = language_model.
func (p *Blip2Parts) ParameterCounts() ParameterCounts {
	var c ParameterCounts
	for _, k := range p.keys {
		if k.TiedTo != "" && k.TiedTo != k.Name {
			continue
		}
		n := int64(1)
		for _, s := range k.Shape {
			n *= int64(s)
		}
		name := strings.TrimPrefix(k.Name, p.prefix)
		switch {
		case strings.HasPrefix(name, "vision_model."):
			c.Vision += n
		case strings.HasPrefix(name, "qformer.") || name == "query_tokens":
			c.QFormer += n
		case strings.HasPrefix(name, "language_projection."):
			c.Projection += n
		default:
			c.LanguageModel += n
		}
		c.Total += n
	}
	return c
}
