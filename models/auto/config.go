package auto

import (
	"context"
	"fmt"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/models/opt"
	"github.com/gotransformers/gotransformers/models/t5"
	"github.com/gotransformers/gotransformers/transformers"
)

// Config is what every configuration type of this module offers: *blip2.Blip2Config,
// *blip2.Blip2VisionConfig, *blip2.Blip2QFormerConfig, *opt.OPTConfig, *t5.T5Config.
type Config interface {
	// ModelType returns the class model_type.
	ModelType() string
	// Base returns the attributes common to every configuration.
	Base() *transformers.PretrainedConfig
	// ToDict mirrors to_dict().
	ToDict() map[string]any
	// ToJSONString mirrors to_json_string(use_diff).
	ToJSONString(useDiff bool) string
	// Validate checks the sizes a model needs.
	Validate() error
}

// ModelTypes lists the model_type values ConfigForModel knows (transformers' CONFIG_MAPPING,
// restricted to this module).
func ModelTypes() []string {
	return []string{blip2.ModelType, blip2.QFormerModelType, blip2.VisionModelType, opt.ModelType, t5.ModelType}
}

// ConfigForModel mirrors CONFIG_MAPPING[model_type](**config_dict): the configuration class for
// modelType built from m. An unknown model_type is an error naming file and the field.
func ConfigForModel(modelType string, m map[string]any, file string) (Config, error) {
	switch modelType {
	case blip2.ModelType:
		return blip2.NewBlip2ConfigFromDict(m, file)
	case blip2.VisionModelType:
		return blip2.NewBlip2VisionConfigFromDict(m, file)
	case blip2.QFormerModelType:
		return blip2.NewBlip2QFormerConfigFromDict(m, file)
	case opt.ModelType:
		return opt.NewOPTConfigFromDict(m, file)
	case t5.ModelType:
		return t5.NewT5ConfigFromDict(m, file)
	}
	return nil, fmt.Errorf("auto: %s: key \"model_type\": %q is not supported (known: %v): %w", file, modelType, ModelTypes(), transformers.ErrInvalidConfig)
}

// ConfigFromDict dispatches on m["model_type"] (AutoConfig.for_model(**config_dict)). A missing or
// non-string model_type is an error naming file and the field.
func ConfigFromDict(m map[string]any, file string) (Config, error) {
	v, ok := m["model_type"]
	if !ok {
		return nil, fmt.Errorf("auto: %s: key \"model_type\" is missing: %w", file, transformers.ErrInvalidConfig)
	}
	mt, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("auto: %s: key \"model_type\": want a string, got %T: %w", file, v, transformers.ErrInvalidConfig)
	}
	return ConfigForModel(mt, m, file)
}

// ConfigFromPretrained mirrors AutoConfig.from_pretrained: config.json of a local folder (or a
// path to the JSON file itself, or a hub repo id once the resolver supports it), dispatched on
// model_type to *blip2.Blip2Config, *opt.OPTConfig, *t5.T5Config, ...
func ConfigFromPretrained(ctx context.Context, nameOrPath string, opts ...transformers.Option) (Config, error) {
	m, path, err := transformers.LoadConfigDict(ctx, nameOrPath, transformers.ConfigName, opts...)
	if err != nil {
		return nil, fmt.Errorf("auto: %w", err)
	}
	return ConfigFromDict(m, path)
}
