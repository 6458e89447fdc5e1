package parity

import "context"

// runProcessor runs a `processor` case (FORMAT.md, "Case kinds").
func runProcessor(ctx context.Context, env *Env, c *Case) Result {
	return Unsupported("kind processor is not implemented yet")
}
