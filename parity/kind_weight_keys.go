package parity

import "context"

// runWeightKeys runs a `weight_keys` case (FORMAT.md, "Case kinds").
func runWeightKeys(ctx context.Context, env *Env, c *Case) Result {
	return Unsupported("kind weight_keys is not implemented yet")
}
