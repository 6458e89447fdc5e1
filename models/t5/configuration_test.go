package t5

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gotransformers/gotransformers/transformers"
	"github.com/gotransformers/gotransformers/transformers/generation"
)

const cfgFixtures = "../../parity/testdata"

func TestT5ConfigDefaultMatchesTransformers(t *testing.T) {
	for _, v := range []struct {
		file string
		diff bool
	}{{"t5_config_default.json", false}, {"t5_config_default.diff.json", true}} {
		want, err := os.ReadFile(filepath.Join(cfgFixtures, "configs", v.file))
		if err != nil {
			t.Fatal(err)
		}
		if got := NewT5Config().ToJSONString(v.diff); got != string(want) {
			t.Errorf("%s:\n%s\nwant\n%s", v.file, got, want)
		}
	}
}

func TestT5ConfigFixtureFolder(t *testing.T) {
	dir := filepath.Join(cfgFixtures, "flan-t5")
	c, err := T5ConfigFromPretrained(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ToJSONString(true); got != string(raw) {
		t.Errorf("config.json not reproduced:\n%s\nwant\n%s", got, raw)
	}
	gc, err := generation.FromModelConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	graw, err := os.ReadFile(filepath.Join(dir, generation.GenerationConfigName))
	if err != nil {
		t.Fatal(err)
	}
	if got := gc.ToJSONString(true); got != string(graw) {
		t.Errorf("from_model_config:\n%s\nwant\n%s", got, graw)
	}
}

func TestFeedForwardProj(t *testing.T) {
	for _, c := range []struct {
		in    string
		act   string
		gated bool
	}{{"relu", "relu", false}, {"gated-gelu", "gelu_new", true}, {"gated-silu", "silu", true}, {"gelu", "gelu", false}} {
		act, gated, err := ParseFeedForwardProj(c.in)
		if err != nil || act != c.act || gated != c.gated {
			t.Errorf("%s: %s %v %v", c.in, act, gated, err)
		}
	}
	for _, bad := range []string{"gated-gelu-new", "new-gelu", "gated-", ""} {
		if _, _, err := ParseFeedForwardProj(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	// dense_act_fn given in the dict wins over the derived one (PretrainedConfig sets it last).
	c, err := NewT5ConfigFromDict(map[string]any{"feed_forward_proj": "gated-gelu", "dense_act_fn": "gelu", "num_layers": int64(3)}, "x")
	if err != nil {
		t.Fatal(err)
	}
	if c.DenseActFn != "gelu" || !c.IsGatedAct || c.NumDecoderLayers != 3 {
		t.Errorf("got %s %v %d", c.DenseActFn, c.IsGatedAct, c.NumDecoderLayers)
	}
}

func TestT5ConfigAliasesAndErrors(t *testing.T) {
	c, err := NewT5ConfigFromDict(map[string]any{"hidden_size": int64(32), "num_attention_heads": int64(2), "num_hidden_layers": int64(1)}, "x")
	if err != nil {
		t.Fatal(err)
	}
	if c.DModel != 32 || c.NumHeads != 2 || c.NumLayers != 1 {
		t.Errorf("aliases: %+v", c)
	}
	for key, m := range map[string]map[string]any{
		"d_model":           {"d_model": int64(0)},
		"num_heads":         {"num_heads": 2.5},
		"feed_forward_proj": {"feed_forward_proj": "a-b-c"},
	} {
		_, err := NewT5ConfigFromDict(m, "t5/config.json")
		if err == nil || !errors.Is(err, transformers.ErrInvalidConfig) || !strings.Contains(err.Error(), "t5/config.json") || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: want an error naming the file and key, got %v", key, err)
		}
	}
}
