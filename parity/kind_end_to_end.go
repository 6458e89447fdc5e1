package parity

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"unicode"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/processing/image"
	"github.com/gotransformers/gotransformers/transformers/generation"
)

// runEndToEnd runs an `end_to_end` case (FORMAT.md, "Case kinds"): image file -> Blip2Processor
// (slow tokenizer) -> Blip2ForConditionalGeneration.generate -> batch_decode. The ids must equal
// expected_ids; the texts expected_text (skip_special_tokens=True, stripped) and expected_text_raw;
// where batch_decode raises in Python (decode_error / decode_error_raw), our decode must fail too.
func runEndToEnd(ctx context.Context, env *Env, c *Case) Result {
	var file, text string
	if err := c.Input("image", &file); err != nil {
		return Fail("%v", err)
	}
	if err := c.Input("text", &text); err != nil {
		return Fail("%v", err)
	}
	var kwargs map[string]json.RawMessage
	if c.Has("generate_kwargs") {
		if err := c.Get("generate_kwargs", &kwargs); err != nil {
			return Fail("%v", err)
		}
	}
	proc, err := loadFixtureProcessor(ctx, env)
	if err != nil {
		return Fail("load processor: %v", err)
	}
	m, err := blip2Model(ctx, env)
	if err != nil {
		return Fail("%v", err)
	}
	img, err := image.DecodeFile(filepath.Join(env.Inputs, file), nil)
	if err != nil {
		return Fail("decode %s: %v", file, err)
	}
	inputs, err := proc.Call([]*image.Image{img}, []string{text}, blip2.ProcessorOptions{})
	if err != nil {
		return Fail("processor: %v", err)
	}
	out, err := m.Generate(ctx, &blip2.GenerateInput{PixelValues: inputs.PixelValues, InputIDs: inputs.InputIDs, AttentionMask: inputs.AttentionMask},
		generation.WithKwargs(kwargs))
	if err != nil {
		return Fail("generate: %v", err)
	}
	res := env.CompareOutputs(c, map[string]any{"sequences": out.Sequences})
	for _, k := range []struct {
		text, errKey string
		skip, strip  bool
	}{{"expected_text", "decode_error", true, true}, {"expected_text_raw", "decode_error_raw", false, false}} {
		got, derr := proc.BatchDecode(out.Sequences, k.skip)
		if c.Has(k.errKey) {
			var want string
			_ = c.Get(k.errKey, &want)
			if derr == nil {
				res = Merge(res, Fail("%s: decode succeeded (%q), Python raised %s", k.errKey, got, want))
			}
			continue
		}
		if derr != nil {
			res = Merge(res, Fail("decode (skip_special_tokens=%v): %v", k.skip, derr))
			continue
		}
		var want []string
		if err := c.Get(k.text, &want); err != nil {
			res = Merge(res, Fail("%v", err))
			continue
		}
		if k.strip {
			for i := range got {
				got[i] = pyStrip(got[i])
			}
		}
		if len(got) != len(want) {
			res = Merge(res, Fail("%s: %d texts, want %d", k.text, len(got), len(want)))
			continue
		}
		for i := range want {
			if got[i] != want[i] {
				res = Merge(res, Fail("%s[%d] = %q, want %q", k.text, i, got[i], want[i]))
			}
		}
	}
	if res.Status == StatusOK {
		res.Msg = "ids and text"
		if c.Has("decode_error") {
			res.Msg = "ids; decode fails as in Python"
		}
	}
	return res
}

// pyStrip is Python's str.strip(): Unicode whitespace and the separators \x1c-\x1f.
func pyStrip(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) })
}
