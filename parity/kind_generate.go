package parity

import (
	"context"
	"encoding/json"
	"fmt"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/models/opt"
	"github.com/gotransformers/gotransformers/models/t5"
	"github.com/gotransformers/gotransformers/processing/tokenizer"
	"github.com/gotransformers/gotransformers/transformers/generation"
	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// runGenerate runs a `generate` case (FORMAT.md, "Case kinds"): the LM's or BLIP-2's generate with
// the case's generate_kwargs; sequences must equal expected_ids exactly, and their decoded text
// expected_text / expected_text_raw when a tokenizer is available.
func runGenerate(ctx context.Context, env *Env, c *Case) Result {
	var kwargs map[string]json.RawMessage
	if c.Has("generate_kwargs") {
		if err := c.Get("generate_kwargs", &kwargs); err != nil {
			return Fail("%v", err)
		}
	}
	var seqs [][]int
	var err error
	switch env.File.ModelClass {
	case "OPTForCausalLM", "T5ForConditionalGeneration":
		seqs, err = generateLM(ctx, env, c, kwargs)
	case "Blip2ForConditionalGeneration":
		return runGenerateBlip2(ctx, env, c, kwargs)
	default:
		return Unsupported("generate for model class %q", env.File.ModelClass)
	}
	if c.ExpectError != "" {
		return ErrorCase(c, err, "")
	}
	if err != nil {
		return Fail("generate: %v", err)
	}
	return Merge(env.CompareOutputs(c, map[string]any{"sequences": seqs}), checkGeneratedText(ctx, env, c, seqs, "expected_text", "expected_text_raw"))
}

// folderGenerationConfig loads the folder's generation_config.json (cached).
func folderGenerationConfig(ctx context.Context, env *Env) (*generation.GenerationConfig, error) {
	v, err := env.Cache("generate/generation_config", func() (any, error) {
		return generation.GenerationConfigFromPretrained(ctx, env.Dir)
	})
	if err != nil {
		return nil, err
	}
	return v.(*generation.GenerationConfig), nil
}

func generateLM(ctx context.Context, env *Env, c *Case, kwargs map[string]json.RawMessage) ([][]int, error) {
	ids, err := env.InputIDs(c, "input_ids")
	if err != nil {
		return nil, err
	}
	var mask [][]int
	if c.HasInput("attention_mask") {
		if mask, err = env.InputIDs(c, "attention_mask"); err != nil {
			return nil, err
		}
	}
	gc, err := folderGenerationConfig(ctx, env)
	if err != nil {
		return nil, err
	}
	opts := []generation.Option{generation.WithConfig(gc), generation.WithKwargs(kwargs)}
	var out *generation.Output
	if env.File.ModelClass == "OPTForCausalLM" {
		v, err := env.Cache("lm_forward/opt", func() (any, error) { return opt.FromPretrained(ctx, env.Dir) })
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		out, err = v.(*opt.OPTForCausalLM).Generate(ctx, ids, mask, opts...)
		if err != nil {
			return nil, err
		}
	} else {
		v, err := env.Cache("lm_forward/t5", func() (any, error) { return t5.FromPretrained(ctx, env.Dir) })
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		out, err = v.(*t5.T5ForConditionalGeneration).Generate(ctx, ids, mask, opts...)
		if err != nil {
			return nil, err
		}
	}
	return out.Sequences, nil
}

// checkGeneratedText decodes seqs with the folder's tokenizer and compares them with the case's
// textKey (skip_special_tokens=True, stripped) and rawKey (skip_special_tokens=False) lists.
func checkGeneratedText(ctx context.Context, env *Env, c *Case, seqs [][]int, textKey, rawKey string) Result {
	dec, err := folderDecoder(ctx, env)
	if err != nil {
		return Fail("tokenizer: %v", err)
	}
	res := Result{Status: StatusOK}
	for _, k := range []struct {
		key  string
		skip bool
	}{{textKey, true}, {rawKey, false}} {
		if !c.Has(k.key) {
			continue
		}
		var want []string
		if err := c.Get(k.key, &want); err != nil {
			return Fail("%v", err)
		}
		got, err := dec(seqs, k.skip)
		if err != nil {
			return Fail("decode: %v", err)
		}
		if len(got) != len(want) {
			return Fail("%s: %d texts, want %d", k.key, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				return Fail("%s[%d] = %q, want %q", k.key, i, got[i], want[i])
			}
		}
	}
	res.Msg = "ids and text"
	return res
}

// folderDecoder returns batch_decode of the folder's slow tokenizer: Blip2Processor's (with the
// <image> token it adds) for BLIP-2 folders, the tokenizer alone for LM folders.
func folderDecoder(ctx context.Context, env *Env) (func(seqs [][]int, skip bool) ([]string, error), error) {
	if env.File.ModelClass == "Blip2ForConditionalGeneration" {
		p, err := loadFixtureProcessor(ctx, env)
		if err != nil {
			return nil, err
		}
		return p.BatchDecode, nil
	}
	v, err := env.Cache("generate/tokenizer", func() (any, error) {
		return tokenizer.LoadAuto(env.Dir, tokenizer.LoadOptions{UseSlow: true})
	})
	if err != nil {
		return nil, err
	}
	return v.(*tokenizer.Tokenizer).BatchDecode, nil
}

// blip2Model loads the folder's Blip2ForConditionalGeneration once (shared with other kinds).
func blip2Model(ctx context.Context, env *Env) (*blip2.Blip2ForConditionalGeneration, error) {
	v, err := env.Cache("blip2/model", func() (any, error) { return blip2.FromPretrained(ctx, env.Dir) })
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	return v.(*blip2.Blip2ForConditionalGeneration), nil
}

// Notes for the cases where we deliberately succeed where transformers 4.45 raised (docs/parity.md).
const (
	noteCaptionNoIDs = "caption without input_ids works in every mode (prompt as Blip2Processor(text=\"\") builds it)"
	noteOPTReturnSeq = "OPT num_return_sequences>1: every returned row starts with BOS (= derived_sequences)"
)

func runGenerateBlip2(ctx context.Context, env *Env, c *Case, kwargs map[string]json.RawMessage) Result {
	m, err := blip2Model(ctx, env)
	if err != nil {
		return Fail("%v", err)
	}
	in := &blip2.GenerateInput{}
	if in.PixelValues, err = env.InputTensor(c, "pixel_values"); err != nil {
		return Fail("%v", err)
	}
	if c.HasInput("input_ids") {
		if in.InputIDs, err = env.InputIDs(c, "input_ids"); err != nil {
			return Fail("%v", err)
		}
	}
	if c.HasInput("attention_mask") {
		if in.AttentionMask, err = env.InputIDs(c, "attention_mask"); err != nil {
			return Fail("%v", err)
		}
	}
	out, err := m.Generate(ctx, in, generation.WithKwargs(kwargs))
	if c.ExpectError == "" {
		if err != nil {
			return Fail("generate: %v", err)
		}
		return Merge(env.CompareOutputs(c, map[string]any{"sequences": out.Sequences}),
			checkGeneratedText(ctx, env, c, out.Sequences, "expected_text", "expected_text_raw"))
	}
	if err != nil {
		return ErrorCase(c, err, "")
	}
	// We succeeded where the reference raised: check what we return against what the fix should give.
	if c.Has("derived_outputs") {
		var derived []Output
		if err := c.Get("derived_outputs", &derived); err != nil {
			return Fail("%v", err)
		}
		c2 := *c
		c2.Outputs = derived
		r := Merge(env.CompareOutputs(&c2, map[string]any{"derived_sequences": out.Sequences}),
			checkGeneratedText(ctx, env, c, out.Sequences, "derived_expected_text", "derived_expected_text_raw"))
		if r.Status != StatusOK {
			return r
		}
		return Diverged("%s (reference raised %s)", noteOPTReturnSeq, c.ExpectError)
	}
	if c.ID == "generate/caption_no_input_ids" {
		// The fix equals generate/caption (processor(text="")) when both cases use the same image.
		ref := caseByID(env, "generate/caption")
		if ref != nil {
			a, errA := env.InputTensor(c, "pixel_values")
			b, errB := env.InputTensor(ref, "pixel_values")
			if errA == nil && errB == nil && sameTensor(a, b) {
				if r := env.CompareOutputs(ref, map[string]any{"sequences": out.Sequences}); r.Status != StatusOK {
					return Fail("caption without input_ids differs from generate/caption: %s", r.Msg)
				}
				return Diverged("%s; equals generate/caption (reference raised %s)", noteCaptionNoIDs, c.ExpectError)
			}
		}
		return Diverged("%s (reference raised %s)", noteCaptionNoIDs, c.ExpectError)
	}
	return ErrorCase(c, nil, "")
}

func caseByID(env *Env, id string) *Case {
	for _, c := range env.File.Cases {
		if c.ID == id {
			return c
		}
	}
	return nil
}

func sameTensor(a, b *tensor.Tensor) bool {
	if !equalShape(a.Shape, b.Shape) {
		return false
	}
	for i := range a.Data {
		if a.Data[i] != b.Data[i] {
			return false
		}
	}
	return true
}
