package parity

import "context"

// runTokenizer runs a `tokenizer` case (FORMAT.md, "Case kinds").
func runTokenizer(ctx context.Context, env *Env, c *Case) Result {
	return Unsupported("kind tokenizer is not implemented yet")
}
