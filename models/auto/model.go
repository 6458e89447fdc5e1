package auto

import (
	"context"
	"fmt"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/models/opt"
	"github.com/gotransformers/gotransformers/models/t5"
	"github.com/gotransformers/gotransformers/transformers"
)

// Model is a model loaded by ModelFromPretrained: *blip2.Blip2ForConditionalGeneration,
// *blip2.Blip2VisionModel, *opt.OPTForCausalLM or *t5.T5ForConditionalGeneration. Type-switch on it
// for the model's own API; Close releases its memory-mapped weights.
type Model interface {
	Close() error
}

// ModelFromPretrained mirrors the AutoModelFor* classes' from_pretrained: it reads config.json
// (a local folder or a hub repo id), dispatches on model_type and loads the matching generation
// model — blip-2: Blip2ForConditionalGeneration (AutoModelForVision2Seq), blip_2_vision_model:
// Blip2VisionModel, opt: OPTForCausalLM (AutoModelForCausalLM), t5: T5ForConditionalGeneration
// (AutoModelForSeq2SeqLM). Another model_type is an error naming config.json and the field.
func ModelFromPretrained(ctx context.Context, nameOrPath string, opts ...transformers.Option) (Model, error) {
	cfg, err := ConfigFromPretrained(ctx, nameOrPath, opts...)
	if err != nil {
		return nil, err
	}
	switch mt := cfg.ModelType(); mt {
	case blip2.ModelType:
		return blip2.FromPretrained(ctx, nameOrPath, opts...)
	case blip2.VisionModelType:
		return blip2.VisionModelFromPretrained(ctx, nameOrPath, opts...)
	case opt.ModelType:
		return opt.FromPretrained(ctx, nameOrPath, opts...)
	case t5.ModelType:
		return t5.FromPretrained(ctx, nameOrPath, opts...)
	default:
		return nil, fmt.Errorf("auto: %s: config.json: key \"model_type\": %q has no generation model here (known: %s, %s, %s, %s): %w",
			nameOrPath, mt, blip2.ModelType, blip2.VisionModelType, opt.ModelType, t5.ModelType, transformers.ErrInvalidConfig)
	}
}
