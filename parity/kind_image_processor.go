package parity

import "context"

// runImageProcessor runs a `image_processor` case (FORMAT.md, "Case kinds").
func runImageProcessor(ctx context.Context, env *Env, c *Case) Result {
	return Unsupported("kind image_processor is not implemented yet")
}
