// Package generation mirrors transformers' generation/: GenerationConfig (generation_config.json,
// from_model_config, exact to_json_string), logits processors and warpers, greedy and beam search
// with stopping criteria and streamers, driven through a small model interface.
// It imports transformers and transformers/tensor only; it must not import models/... (model
// packages implement its interface).
package generation
