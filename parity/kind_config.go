package parity

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/transformers"
	"github.com/gotransformers/gotransformers/transformers/generation"
)

// runConfig runs a `config` case (FORMAT.md, "Case kinds"): Blip2Config.from_pretrained and
// GenerationConfig.from_pretrained on the folder, their to_json_string outputs compared with
// expected_json (JSON values must be equal; the result says how many are also byte-identical),
// and the derived values of `expected`.
func runConfig(ctx context.Context, env *Env, c *Case) Result {
	var want map[string]string
	if err := c.Get("expected_json", &want); err != nil {
		return Fail("expected_json: %v", err)
	}
	got := map[string]string{}
	var derived map[string]any
	switch c.ID {
	case "config/blip2_config":
		cfg, err := blip2.Blip2ConfigFromPretrained(ctx, env.Dir)
		if err != nil {
			return Fail("%v", err)
		}
		got["to_json_string_use_diff_false"] = cfg.ToJSONString(false)
		got["to_json_string_use_diff_true"] = cfg.ToJSONString(true)
		got["text_config_to_dict"] = transformers.ToJSONString(cfg.TextConfig.ToDict())
		derived = blip2Derived(cfg)
	case "config/generation_config":
		gc, err := generation.GenerationConfigFromPretrained(ctx, env.Dir)
		if err != nil {
			return Fail("%v", err)
		}
		got["to_json_string"] = gc.ToJSONString(true)
		got["to_json_string_use_diff_false"] = gc.ToJSONString(false)
	default:
		return Unsupported("config case %q is not known", c.ID)
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	exact := 0
	for _, k := range keys {
		g, ok := got[k]
		if !ok {
			return Fail("expected_json key %q is not produced", k)
		}
		if g == want[k] {
			exact++
			continue
		}
		var a, b any
		if err := json.Unmarshal([]byte(g), &a); err != nil {
			return Fail("%s: our JSON does not parse: %v", k, err)
		}
		if err := json.Unmarshal([]byte(want[k]), &b); err != nil {
			return Fail("%s: expected JSON does not parse: %v", k, err)
		}
		if !reflect.DeepEqual(a, b) {
			return Fail("%s: JSON differs: %s", k, firstJSONDiff(a, b, k))
		}
	}
	if c.Has("expected") && derived != nil {
		var exp map[string]any
		if err := c.Get("expected", &exp); err != nil {
			return Fail("expected: %v", err)
		}
		for k, v := range exp {
			g, ok := derived[k]
			if !ok {
				return Fail("expected.%s: not computed", k)
			}
			if fmt.Sprint(g) != fmt.Sprint(v) {
				return Fail("expected.%s: got %v, want %v", k, g, v)
			}
		}
	}
	return OK("%d/%d JSON strings equal, %d byte-identical", len(keys), len(keys), exact)
}

// blip2Derived gives the values listed in a blip2_config case's `expected`, in the JSON forms
// encoding/json decodes (float64 numbers, nil).
func blip2Derived(cfg *blip2.Blip2Config) map[string]any {
	var iti any
	if cfg.ImageTokenIndex != nil {
		iti = float64(*cfg.ImageTokenIndex)
	}
	d := cfg.TextConfig.ToDict()
	return map[string]any{
		"num_query_tokens":                float64(cfg.NumQueryTokens),
		"image_token_index":               iti,
		"use_decoder_only_language_model": cfg.UseDecoderOnlyLanguageModel,
		"text_model_type":                 cfg.TextConfig.ModelType(),
		"text_vocab_size":                 float64(d["vocab_size"].(int64)),
		"vision_hidden_size":              float64(cfg.VisionConfig.HiddenSize),
		"vision_num_hidden_layers":        float64(cfg.VisionConfig.NumHiddenLayers),
		"qformer_hidden_size":             float64(cfg.QFormerConfig.HiddenSize),
		"qformer_num_hidden_layers":       float64(cfg.QFormerConfig.NumHiddenLayers),
	}
}

// firstJSONDiff names the first path where a and b differ.
func firstJSONDiff(a, b any, path string) string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			av, ain := am[k]
			bv, bin := bm[k]
			switch {
			case !ain:
				return fmt.Sprintf("%s.%s: missing (want %v)", path, k, bv)
			case !bin:
				return fmt.Sprintf("%s.%s: unexpected (%v)", path, k, av)
			case !reflect.DeepEqual(av, bv):
				return firstJSONDiff(av, bv, path+"."+k)
			}
		}
	}
	return fmt.Sprintf("%s: got %v, want %v", path, a, b)
}
