package blip2

import (
	"fmt"

	"github.com/gotransformers/gotransformers/models/t5"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// newT5LanguageModel builds the T5 language model under b ("language_model").
func newT5LanguageModel(cfg *t5.T5Config, b *weights.Binder) (LanguageModel, error) {
	return nil, fmt.Errorf("T5 language model not available yet")
}
