package parity

import "context"

// runConditionalGenerationForward runs a `conditional_generation_forward` case (FORMAT.md, "Case kinds").
func runConditionalGenerationForward(ctx context.Context, env *Env, c *Case) Result {
	return Unsupported("kind conditional_generation_forward is not implemented yet")
}
