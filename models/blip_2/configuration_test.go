package blip2

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gotransformers/gotransformers/models/opt"
	"github.com/gotransformers/gotransformers/models/t5"
	"github.com/gotransformers/gotransformers/transformers"
	"github.com/gotransformers/gotransformers/transformers/generation"
)

const cfgFixtures = "../../parity/testdata"

type cfgJSONStringer interface{ ToJSONString(useDiff bool) string }

// cfgCheckFixture compares got with configs/<name>.json (use_diff=False) and <name>.diff.json.
func cfgCheckFixture(t *testing.T, name string, c cfgJSONStringer) {
	t.Helper()
	for _, v := range []struct {
		suffix string
		diff   bool
	}{{".json", false}, {".diff.json", true}} {
		want, err := os.ReadFile(filepath.Join(cfgFixtures, "configs", name+v.suffix))
		if err != nil {
			t.Fatal(err)
		}
		got := c.ToJSONString(v.diff)
		if got != string(want) {
			var a, b any
			_ = json.Unmarshal([]byte(got), &a)
			_ = json.Unmarshal(want, &b)
			if reflect.DeepEqual(a, b) {
				t.Errorf("%s%s: JSON-equal but not byte-identical:\n%s", name, v.suffix, got)
			} else {
				t.Errorf("%s%s: differs:\ngot:\n%s\nwant:\n%s", name, v.suffix, got, want)
			}
		}
	}
}

func TestDefaultConfigsMatchTransformers(t *testing.T) {
	cfgCheckFixture(t, "blip2_config_default", NewBlip2Config())
	cfgCheckFixture(t, "blip2_vision_config_default", NewBlip2VisionConfig())
	cfgCheckFixture(t, "blip2_qformer_config_default", NewBlip2QFormerConfig())
	cfgCheckFixture(t, "opt_config_default", opt.NewOPTConfig())
	cfgCheckFixture(t, "t5_config_default", t5.NewT5Config())
}

func TestFromVisionQFormerTextConfigs(t *testing.T) {
	// T5Config(vocab_size=32128, d_model=2048, d_kv=64, d_ff=5120, num_layers=24, num_heads=32,
	// feed_forward_proj='gated-gelu', tie_word_embeddings=False, dense_act_fn='gelu_new')
	tc, err := t5.NewT5ConfigFromDict(map[string]any{
		"vocab_size": int64(32128), "d_model": int64(2048), "d_kv": int64(64), "d_ff": int64(5120),
		"num_layers": int64(24), "num_heads": int64(32), "feed_forward_proj": "gated-gelu",
		"tie_word_embeddings": false, "dense_act_fn": "gelu_new",
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	c, err := FromVisionQFormerTextConfigs(NewBlip2VisionConfig(), NewBlip2QFormerConfig(), tc, 32, transformers.IntPtr(32100))
	if err != nil {
		t.Fatal(err)
	}
	cfgCheckFixture(t, "blip2_config_from_vision_qformer_text_t5", c)
	c, err = FromVisionQFormerTextConfigs(NewBlip2VisionConfig(), NewBlip2QFormerConfig(), opt.NewOPTConfig(), 32, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfgCheckFixture(t, "blip2_config_from_vision_qformer_text_opt", c)
}

func TestFixtureFoldersLoadAndRoundTrip(t *testing.T) {
	for _, dir := range []string{"blip2-opt", "blip2-opt-legacy-fp16", "blip2-flan-t5", "real-blip2-opt-2.7b", "real-blip2-flan-t5-xl"} {
		c, err := Blip2ConfigFromPretrained(context.Background(), filepath.Join(cfgFixtures, dir))
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, diff := range []bool{false, true} {
			s := c.ToJSONString(diff)
			m, err := transformers.ParseJSON([]byte(s), dir)
			if err != nil {
				t.Fatal(err)
			}
			c2, err := NewBlip2ConfigFromDict(m, dir)
			if err != nil {
				t.Fatalf("%s: reload: %v", dir, err)
			}
			if s2 := c2.ToJSONString(diff); s2 != s {
				t.Errorf("%s (use_diff=%v): round trip changed the JSON:\n%s\nvs\n%s", dir, diff, s, s2)
			}
		}
	}
}

// cfgExpectedJSON returns the expected_json strings of case id in dir/cases/cases.json.
func cfgExpectedJSON(t *testing.T, dir, id string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(cfgFixtures, dir, "cases", "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []struct {
			ID           string            `json:"id"`
			ExpectedJSON map[string]string `json:"expected_json"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	for _, c := range f.Cases {
		if c.ID == id {
			return c.ExpectedJSON
		}
	}
	t.Fatalf("%s: no case %s", dir, id)
	return nil
}

func TestRealConfigsByteIdentical(t *testing.T) {
	for _, dir := range []string{"real-blip2-opt-2.7b", "real-blip2-flan-t5-xl"} {
		want := cfgExpectedJSON(t, dir, "config/blip2_config")
		c, err := Blip2ConfigFromPretrained(context.Background(), filepath.Join(cfgFixtures, dir))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{
			"to_json_string_use_diff_false": c.ToJSONString(false),
			"to_json_string_use_diff_true":  c.ToJSONString(true),
			"text_config_to_dict":           transformers.ToJSONString(c.TextConfig.ToDict()),
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s %s:\n%s\nwant\n%s", dir, k, got[k], w)
			}
		}
	}
}

func TestGenerationConfigFromModelConfig(t *testing.T) {
	// The generation_config.json of the fixture folders were written from from_model_config.
	for _, dir := range []string{"blip2-opt", "blip2-opt-legacy-fp16", "blip2-flan-t5", "real-blip2-opt-2.7b", "real-blip2-flan-t5-xl"} {
		c, err := Blip2ConfigFromPretrained(context.Background(), filepath.Join(cfgFixtures, dir))
		if err != nil {
			t.Fatal(err)
		}
		gc, err := generation.FromModelConfig(c)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(cfgFixtures, dir, generation.GenerationConfigName))
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Replace(string(raw), "4.47.0.dev0", transformers.TransformersVersion, 1)
		if got := gc.ToJSONString(true); got != want {
			t.Errorf("%s:\n%s\nwant\n%s", dir, got, want)
		}
	}
}

func TestLoadErrorsNameFileAndField(t *testing.T) {
	base := func() map[string]any {
		return map[string]any{"model_type": "blip-2", "vision_config": map[string]any{}, "qformer_config": map[string]any{}, "text_config": map[string]any{"model_type": "opt"}}
	}
	for _, tc := range []struct {
		name, want string
		edit       func(m map[string]any)
	}{
		{"unknown text model_type", "text_config.model_type", func(m map[string]any) { m["text_config"] = map[string]any{"model_type": "llama"} }},
		{"wrong type", "num_query_tokens", func(m map[string]any) { m["num_query_tokens"] = "32" }},
		{"hidden_size <= 0", "hidden_size", func(m map[string]any) { m["vision_config"] = map[string]any{"hidden_size": int64(0)} }},
		{"heads do not divide", "num_attention_heads", func(m map[string]any) {
			m["qformer_config"] = map[string]any{"hidden_size": int64(30), "num_attention_heads": int64(4)}
		}},
		{"absurd size", "vocab_size", func(m map[string]any) { m["text_config"] = map[string]any{"vocab_size": int64(1) << 40} }},
		{"sub-config not an object", "vision_config", func(m map[string]any) { m["vision_config"] = []any{} }},
		{"t5 feed_forward_proj", "feed_forward_proj", func(m map[string]any) {
			m["text_config"] = map[string]any{"model_type": "t5", "feed_forward_proj": "gated-gelu-x"}
		}},
	} {
		m := base()
		tc.edit(m)
		_, err := NewBlip2ConfigFromDict(m, "my/config.json")
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if !errors.Is(err, transformers.ErrInvalidConfig) || !strings.Contains(err.Error(), "my/config.json") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q should name my/config.json and %s", tc.name, err, tc.want)
		}
	}
}

func TestUnknownKeysSurviveSave(t *testing.T) {
	m := map[string]any{
		"model_type": "blip-2", "my_key": []any{int64(1), 2.5, "x"},
		"text_config":   map[string]any{"model_type": "t5", "hidden_size": int64(64), "num_heads": int64(2), "odd": map[string]any{"a": nil}},
		"vision_config": map[string]any{"dropout": int64(0)},
	}
	c, err := NewBlip2ConfigFromDict(m, "x")
	if err != nil {
		t.Fatal(err)
	}
	tc := c.TextConfig.(*t5.T5Config)
	if tc.DModel != 64 {
		t.Errorf("hidden_size alias: d_model = %d", tc.DModel)
	}
	dir := t.TempDir()
	if err := c.SavePretrained(dir); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"\"my_key\": [\n    1,\n    2.5,\n    \"x\"\n  ]", "\"odd\": {\n      \"a\": null\n    }", "\"dropout\": 0,\n"} {
		if !strings.Contains(string(raw), s) {
			t.Errorf("saved config lacks %q:\n%s", s, raw)
		}
	}
}

func TestZeroValuesDoNotPanic(t *testing.T) {
	var c Blip2Config
	_ = c.ToJSONString(false)
	_ = c.ToJSONString(true)
	if err := c.Validate(); err == nil {
		t.Error("empty Blip2Config validates")
	}
	var tc *opt.OPTConfig
	c.TextConfig = tc
	_ = c.ToJSONString(true)
	c.VisionConfig, c.QFormerConfig = NewBlip2VisionConfig(), NewBlip2QFormerConfig()
	if err := c.Validate(); err == nil {
		t.Error("nil text config validates")
	}
	if _, err := FromVisionQFormerTextConfigs(nil, nil, nil, 32, nil); err == nil {
		t.Error("nil sub-configs accepted")
	}
}
