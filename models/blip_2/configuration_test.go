package blip2

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gotransformers/gotransformers/models/opt"
	"github.com/gotransformers/gotransformers/models/t5"
	"github.com/gotransformers/gotransformers/transformers"
)

const fixtures = "../../parity/testdata"

type jsonStringer interface{ ToJSONString(useDiff bool) string }

// checkFixture compares got with configs/<name>.json (use_diff=False) and <name>.diff.json.
func checkFixture(t *testing.T, name string, c jsonStringer) {
	t.Helper()
	for _, v := range []struct {
		suffix string
		diff   bool
	}{{".json", false}, {".diff.json", true}} {
		want, err := os.ReadFile(filepath.Join(fixtures, "configs", name+v.suffix))
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
	checkFixture(t, "blip2_config_default", NewBlip2Config())
	checkFixture(t, "blip2_vision_config_default", NewBlip2VisionConfig())
	checkFixture(t, "blip2_qformer_config_default", NewBlip2QFormerConfig())
	checkFixture(t, "opt_config_default", opt.NewOPTConfig())
	checkFixture(t, "t5_config_default", t5.NewT5Config())
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
	checkFixture(t, "blip2_config_from_vision_qformer_text_t5", c)
	c, err = FromVisionQFormerTextConfigs(NewBlip2VisionConfig(), NewBlip2QFormerConfig(), opt.NewOPTConfig(), 32, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkFixture(t, "blip2_config_from_vision_qformer_text_opt", c)
}

func TestFixtureFoldersLoadAndRoundTrip(t *testing.T) {
	for _, dir := range []string{"blip2-opt", "blip2-opt-legacy-fp16", "blip2-flan-t5", "real-blip2-opt-2.7b", "real-blip2-flan-t5-xl"} {
		c, err := Blip2ConfigFromPretrained(context.Background(), filepath.Join(fixtures, dir))
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
