package parity

import "context"

// runGenerate runs a `generate` case (FORMAT.md, "Case kinds").
func runGenerate(ctx context.Context, env *Env, c *Case) Result {
	return Unsupported("kind generate is not implemented yet")
}
