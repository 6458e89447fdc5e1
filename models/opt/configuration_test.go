package opt

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

func TestOPTConfigDefaultMatchesTransformers(t *testing.T) {
	for _, v := range []struct {
		file string
		diff bool
	}{{"opt_config_default.json", false}, {"opt_config_default.diff.json", true}} {
		want, err := os.ReadFile(filepath.Join(cfgFixtures, "configs", v.file))
		if err != nil {
			t.Fatal(err)
		}
		if got := NewOPTConfig().ToJSONString(v.diff); got != string(want) {
			t.Errorf("%s:\n%s\nwant\n%s", v.file, got, want)
		}
	}
}

func TestOPTConfigFixtureFolder(t *testing.T) {
	dir := filepath.Join(cfgFixtures, "opt")
	c, err := OPTConfigFromPretrained(context.Background(), dir)
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
	out := t.TempDir()
	if err := c.SavePretrained(out); err != nil {
		t.Fatal(err)
	}
	back, err := OPTConfigFromPretrained(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	if back.ToJSONString(false) != c.ToJSONString(false) {
		t.Error("save/load changed the config")
	}
}

func TestOPTConfigWordEmbedProjDimDefaultsToHiddenSize(t *testing.T) {
	c, err := NewOPTConfigFromDict(map[string]any{"hidden_size": int64(64), "num_attention_heads": int64(4), "word_embed_proj_dim": nil}, "x")
	if err != nil {
		t.Fatal(err)
	}
	if c.WordEmbedProjDim != 64 {
		t.Errorf("word_embed_proj_dim = %d, want 64", c.WordEmbedProjDim)
	}
}

func TestOPTConfigErrors(t *testing.T) {
	for key, m := range map[string]map[string]any{
		"hidden_size":          {"hidden_size": int64(-1)},
		"num_attention_heads":  {"num_attention_heads": int64(5)},
		"vocab_size":           {"vocab_size": int64(1) << 40},
		"do_layer_norm_before": {"do_layer_norm_before": "yes"},
	} {
		_, err := NewOPTConfigFromDict(m, "opt/config.json")
		if err == nil || !errors.Is(err, transformers.ErrInvalidConfig) || !strings.Contains(err.Error(), "opt/config.json") || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: want an error naming the file and key, got %v", key, err)
		}
	}
	if _, err := OPTConfigFromPretrained(context.Background(), filepath.Join(cfgFixtures, "flan-t5")); err == nil || !strings.Contains(err.Error(), "model_type") {
		t.Errorf("t5 folder: %v", err)
	}
}
