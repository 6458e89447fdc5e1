package parity

import "context"

// runConfig runs a `config` case (FORMAT.md, "Case kinds").
func runConfig(ctx context.Context, env *Env, c *Case) Result {
	return Unsupported("kind config is not implemented yet")
}
