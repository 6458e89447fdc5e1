package parity

import (
	"context"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
)

// runConditionalGenerationForward runs a `conditional_generation_forward` case (FORMAT.md, "Case
// kinds"): Blip2ForConditionalGeneration.forward -> logits (+ loss with labels).
func runConditionalGenerationForward(ctx context.Context, env *Env, c *Case) Result {
	m, err := Blip2Model(ctx, env)
	if err != nil {
		return Fail("load: %v", err)
	}
	in, err := imageInput(env, c)
	if err != nil {
		return Fail("%v", err)
	}
	t, err := textInput(env, c)
	if err != nil {
		return Fail("%v", err)
	}
	out, err := m.Forward(ctx, &blip2.Blip2Input{PixelValues: in.PixelValues, InterpolatePosEncoding: in.InterpolatePosEncoding, TextInput: t})
	if err != nil {
		return Fail("forward: %v", err)
	}
	got := map[string]any{"logits": out.Logits}
	if out.Loss != nil {
		got["loss"] = out.Loss
	}
	return env.CompareOutputs(c, got)
}
