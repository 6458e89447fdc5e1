package parity

import (
	"context"
	"fmt"
	"strings"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
)

// Blip2Model returns the folder's Blip2ForConditionalGeneration (blip2.FromPretrained on env.Dir,
// weights in their stored dtype), loaded once per folder and shared by every BLIP-2 case kind.
func Blip2Model(ctx context.Context, env *Env) (*blip2.Blip2ForConditionalGeneration, error) {
	v, err := env.Cache("blip2/model", func() (any, error) { return blip2.FromPretrained(ctx, env.Dir) })
	if err != nil {
		return nil, err
	}
	return v.(*blip2.Blip2ForConditionalGeneration), nil
}

// boolInput reads an optional JSON-literal boolean input (false when absent).
func boolInput(c *Case, name string) (bool, error) {
	if !c.HasInput(name) {
		return false, nil
	}
	var v bool
	err := c.Input(name, &v)
	return v, err
}

// wantsHiddenStates reports whether the case expects hidden_states.* outputs.
func wantsHiddenStates(c *Case) bool {
	for _, o := range c.Outputs {
		if strings.HasPrefix(o.Name, "hidden_states.") {
			return true
		}
	}
	return false
}

// imageInput reads pixel_values and interpolate_pos_encoding of a case.
func imageInput(env *Env, c *Case) (*blip2.ImageInput, error) {
	pix, err := env.InputTensor(c, "pixel_values")
	if err != nil {
		return nil, err
	}
	interp, err := boolInput(c, "interpolate_pos_encoding")
	if err != nil {
		return nil, err
	}
	return &blip2.ImageInput{PixelValues: pix, InterpolatePosEncoding: interp, OutputHiddenStates: wantsHiddenStates(c)}, nil
}

// runVisionModel runs a `vision_model` case (FORMAT.md, "Case kinds"): the checkpoint's
// vision_model on the case's pixel values.
func runVisionModel(ctx context.Context, env *Env, c *Case) Result {
	m, err := Blip2Model(ctx, env)
	if err != nil {
		return Fail("load: %v", err)
	}
	in, err := imageInput(env, c)
	if err != nil {
		return Fail("%v", err)
	}
	out, err := m.VisionModel.Forward(ctx, in.PixelValues, blip2.VisionOptions{
		OutputHiddenStates:     in.OutputHiddenStates,
		InterpolatePosEncoding: in.InterpolatePosEncoding,
	})
	if err != nil {
		return Fail("forward: %v", err)
	}
	got := map[string]any{"last_hidden_state": out.LastHiddenState, "pooler_output": out.PoolerOutput}
	for i, h := range out.HiddenStates {
		got[fmt.Sprintf("hidden_states.%d", i)] = h
	}
	return env.CompareOutputs(c, got)
}
