package parity

import (
	"context"
	"fmt"
	"strings"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
)

// textInput reads the optional text tensors of a case (input_ids, attention_mask,
// decoder_input_ids, decoder_attention_mask, labels).
func textInput(env *Env, c *Case) (blip2.TextInput, error) {
	var t blip2.TextInput
	for _, f := range []struct {
		name string
		dst  *[][]int
	}{
		{"input_ids", &t.InputIDs},
		{"attention_mask", &t.AttentionMask},
		{"decoder_input_ids", &t.DecoderInputIDs},
		{"decoder_attention_mask", &t.DecoderAttentionMask},
		{"labels", &t.Labels},
	} {
		if !c.HasInput(f.name) {
			continue
		}
		v, err := env.InputIDs(c, f.name)
		if err != nil {
			return t, err
		}
		*f.dst = v
	}
	return t, nil
}

// runBlip2Model runs a `blip2_model` case (FORMAT.md, "Case kinds"): the Blip2Model feature methods
// and forward on the folder's checkpoint (Blip2Model and Blip2ForConditionalGeneration share it).
func runBlip2Model(ctx context.Context, env *Env, c *Case) Result {
	cg, err := Blip2Model(ctx, env)
	if err != nil {
		return Fail("load: %v", err)
	}
	m := &blip2.Blip2Model{Blip2Parts: cg.Blip2Parts}
	got := map[string]any{}
	method := c.ID[strings.LastIndexByte(c.ID, '/')+1:]
	switch {
	case strings.HasPrefix(method, "get_qformer_features"):
		in, err := imageInput(env, c)
		if err != nil {
			return Fail("%v", err)
		}
		out, err := m.GetQFormerFeatures(ctx, in)
		if err != nil {
			return Fail("get_qformer_features: %v", err)
		}
		got["last_hidden_state"], got["pooler_output"] = out.LastHiddenState, out.PoolerOutput
		for i, h := range out.HiddenStates {
			got[fmt.Sprintf("hidden_states.%d", i)] = h
		}
	case method == "get_image_features":
		in, err := imageInput(env, c)
		if err != nil {
			return Fail("%v", err)
		}
		out, err := m.GetImageFeatures(ctx, in)
		if err != nil {
			return Fail("get_image_features: %v", err)
		}
		got["last_hidden_state"], got["pooler_output"] = out.LastHiddenState, out.PoolerOutput
		for i, h := range out.HiddenStates {
			got[fmt.Sprintf("hidden_states.%d", i)] = h
		}
	case method == "language_projection":
		in, err := imageInput(env, c)
		if err != nil {
			return Fail("%v", err)
		}
		f, err := m.ImageFeatures(ctx, in)
		if err != nil {
			return Fail("image features: %v", err)
		}
		got["language_model_inputs"] = f.LanguageModelInputs
	case method == "get_text_features":
		t, err := textInput(env, c)
		if err != nil {
			return Fail("%v", err)
		}
		out, err := m.GetTextFeatures(ctx, &t)
		if err != nil {
			return Fail("get_text_features: %v", err)
		}
		got["logits"] = out.Logits
		if out.Loss != nil {
			got["loss"] = out.Loss
		}
	case method == "forward":
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
		got["logits"] = out.Logits
		if out.Loss != nil {
			got["loss"] = out.Loss
		}
	default:
		return Unsupported("blip2_model case %q: unknown method", c.ID)
	}
	return env.CompareOutputs(c, got)
}
