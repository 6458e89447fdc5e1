package auto

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/models/opt"
	"github.com/gotransformers/gotransformers/models/t5"
	"github.com/gotransformers/gotransformers/transformers"
)

const cfgFixtures = "../../parity/testdata"

func TestConfigFromPretrainedDispatch(t *testing.T) {
	for dir, want := range map[string]string{
		"blip2-opt": "*blip2.Blip2Config", "blip2-opt-legacy-fp16": "*blip2.Blip2Config",
		"blip2-flan-t5": "*blip2.Blip2Config", "real-blip2-opt-2.7b": "*blip2.Blip2Config",
		"real-blip2-flan-t5-xl": "*blip2.Blip2Config", "opt": "*opt.OPTConfig", "flan-t5": "*t5.T5Config",
	} {
		c, err := ConfigFromPretrained(context.Background(), filepath.Join(cfgFixtures, dir))
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		var got string
		switch c.(type) {
		case *blip2.Blip2Config:
			got = "*blip2.Blip2Config"
		case *opt.OPTConfig:
			got = "*opt.OPTConfig"
		case *t5.T5Config:
			got = "*t5.T5Config"
		}
		if got != want {
			t.Errorf("%s: got %T, want %s", dir, c, want)
		}
		// Every config.json of the fixtures was written by save_pretrained (use_diff=True) of
		// transformers 4.45: reproducing it byte for byte checks load and diff together.
		raw, err := os.ReadFile(filepath.Join(cfgFixtures, dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(dir, "real-") {
			if s := c.ToJSONString(true); s != string(raw) {
				t.Errorf("%s: config.json not reproduced:\n%s\nwant\n%s", dir, s, raw)
			}
		}
		// Round trip through both forms.
		for _, diff := range []bool{false, true} {
			s := c.ToJSONString(diff)
			m, err := transformers.ParseJSON([]byte(s), dir)
			if err != nil {
				t.Fatal(err)
			}
			c2, err := ConfigFromDict(m, dir)
			if err != nil {
				t.Fatalf("%s: reload: %v", dir, err)
			}
			if c2.ToJSONString(diff) != s {
				t.Errorf("%s: round trip (use_diff=%v) changed the JSON", dir, diff)
			}
		}
	}
}

func TestUnknownModelType(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, []byte(`{"model_type": "llama", "hidden_size": 8}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ConfigFromPretrained(context.Background(), dir)
	if err == nil || !errors.Is(err, transformers.ErrInvalidConfig) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "model_type") {
		t.Fatalf("want an error naming %s and model_type, got %v", path, err)
	}
	if _, err := ConfigFromDict(map[string]any{}, "x.json"); err == nil || !strings.Contains(err.Error(), "x.json") {
		t.Fatalf("missing model_type: %v", err)
	}
	if _, err := ConfigFromPretrained(context.Background(), filepath.Join(dir, "nope")); err == nil {
		t.Fatal("missing folder: no error")
	}
}
