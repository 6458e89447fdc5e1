package parity

import "context"

// runBlip2Model runs a `blip2_model` case (FORMAT.md, "Case kinds").
func runBlip2Model(ctx context.Context, env *Env, c *Case) Result {
	return Unsupported("kind blip2_model is not implemented yet")
}
