package parity

import "context"

// runVisionModel runs a `vision_model` case (FORMAT.md, "Case kinds").
func runVisionModel(ctx context.Context, env *Env, c *Case) Result {
	return Unsupported("kind vision_model is not implemented yet")
}
