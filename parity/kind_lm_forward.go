package parity

import (
	"context"
	"fmt"

	"github.com/gotransformers/gotransformers/models/opt"
	"github.com/gotransformers/gotransformers/models/t5"
)

// runLMForward runs a `lm_forward` case (FORMAT.md, "Case kinds"): OPTForCausalLM.forward or
// T5ForConditionalGeneration.forward with output_hidden_states=True on the case's tensors.
func runLMForward(ctx context.Context, env *Env, c *Case) Result {
	ids, err := env.InputIDs(c, "input_ids")
	if err != nil {
		return Fail("%v", err)
	}
	var mask, labels [][]int
	if c.HasInput("attention_mask") {
		if mask, err = env.InputIDs(c, "attention_mask"); err != nil {
			return Fail("%v", err)
		}
	}
	if c.HasInput("labels") {
		if labels, err = env.InputIDs(c, "labels"); err != nil {
			return Fail("%v", err)
		}
	}
	got := map[string]any{}
	switch env.File.ModelClass {
	case "OPTForCausalLM":
		v, err := env.Cache("lm_forward/opt", func() (any, error) { return opt.FromPretrained(ctx, env.Dir) })
		if err != nil {
			return Fail("load: %v", err)
		}
		out, err := v.(*opt.OPTForCausalLM).Forward(ctx, &opt.Input{InputIDs: ids, AttentionMask: mask, Labels: labels, OutputHiddenStates: true})
		if err != nil {
			return Fail("forward: %v", err)
		}
		got["logits"] = out.Logits
		if out.Loss != nil {
			got["loss"] = out.Loss
		}
		for i, h := range out.HiddenStates {
			got[fmt.Sprintf("hidden_states.%d", i)] = h
		}
	case "T5ForConditionalGeneration":
		v, err := env.Cache("lm_forward/t5", func() (any, error) { return t5.FromPretrained(ctx, env.Dir) })
		if err != nil {
			return Fail("load: %v", err)
		}
		out, err := v.(*t5.T5ForConditionalGeneration).Forward(ctx, &t5.Input{InputIDs: ids, AttentionMask: mask, Labels: labels, OutputHiddenStates: true})
		if err != nil {
			return Fail("forward: %v", err)
		}
		got["logits"] = out.Logits
		if out.Loss != nil {
			got["loss"] = out.Loss
		}
		got["encoder_last_hidden_state"] = out.EncoderLastHiddenState
		for i, h := range out.DecoderHiddenStates {
			got[fmt.Sprintf("decoder_hidden_states.%d", i)] = h
		}
		for i, h := range out.EncoderHiddenStates {
			got[fmt.Sprintf("encoder_hidden_states.%d", i)] = h
		}
	default:
		return Unsupported("lm_forward for model class %q", env.File.ModelClass)
	}
	return env.CompareOutputs(c, got)
}
