package parity

import "context"

// runEndToEnd runs a `end_to_end` case (FORMAT.md, "Case kinds").
func runEndToEnd(ctx context.Context, env *Env, c *Case) Result {
	return Unsupported("kind end_to_end is not implemented yet")
}
