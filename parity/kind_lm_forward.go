package parity

import "context"

// runLMForward runs a `lm_forward` case (FORMAT.md, "Case kinds").
func runLMForward(ctx context.Context, env *Env, c *Case) Result {
	return Unsupported("kind lm_forward is not implemented yet")
}
