package generation

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gotransformers/gotransformers/transformers"
)

const cfgFixtures = "../../parity/testdata"

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

func TestRealGenerationConfigsByteIdentical(t *testing.T) {
	for _, dir := range []string{"real-blip2-opt-2.7b", "real-blip2-flan-t5-xl"} {
		want := cfgExpectedJSON(t, dir, "config/generation_config")
		gc, err := GenerationConfigFromPretrained(context.Background(), filepath.Join(cfgFixtures, dir))
		if err != nil {
			t.Fatal(err)
		}
		if got := gc.ToJSONString(true); got != want["to_json_string"] {
			t.Errorf("%s use_diff=True:\n%s\nwant\n%s", dir, got, want["to_json_string"])
		}
		if got := gc.ToJSONString(false); got != want["to_json_string_use_diff_false"] {
			t.Errorf("%s use_diff=False:\n%s\nwant\n%s", dir, got, want["to_json_string_use_diff_false"])
		}
	}
}

func TestFixtureGenerationConfigsRoundTrip(t *testing.T) {
	for _, dir := range []string{"blip2-opt", "blip2-opt-legacy-fp16", "blip2-flan-t5", "opt", "flan-t5", "real-blip2-opt-2.7b", "real-blip2-flan-t5-xl"} {
		path := filepath.Join(cfgFixtures, dir, GenerationConfigName)
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		gc, err := GenerationConfigFromPretrained(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Replace(string(raw), "4.47.0.dev0", transformers.TransformersVersion, 1)
		if got := gc.ToJSONString(true); got != want {
			t.Errorf("%s: got\n%s\nwant\n%s", dir, got, want)
		}
		out := filepath.Join(t.TempDir(), "g")
		if err := gc.SavePretrained(out); err != nil {
			t.Fatal(err)
		}
		back, err := GenerationConfigFromPretrained(context.Background(), out)
		if err != nil {
			t.Fatal(err)
		}
		if back.ToJSONString(false) != gc.ToJSONString(false) {
			t.Errorf("%s: save/load changed the config", dir)
		}
	}
}

func TestEOSTokenIDListForm(t *testing.T) {
	gc, err := NewGenerationConfigFromDict(map[string]any{"eos_token_id": []any{int64(2)}, "custom_key": "kept"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if !gc.EOSTokenID.List || len(gc.EOSTokenID.IDs) != 1 || gc.EOSTokenID.IDs[0] != 2 {
		t.Fatalf("eos_token_id = %+v", gc.EOSTokenID)
	}
	s := gc.ToJSONString(true)
	if !strings.Contains(s, "\"eos_token_id\": [\n    2\n  ]") || !strings.Contains(s, "\"custom_key\": \"kept\"") {
		t.Errorf("list form or unknown key lost:\n%s", s)
	}
}

func TestValidationErrors(t *testing.T) {
	for name, m := range map[string]map[string]any{
		"early_stopping":       {"early_stopping": "sometimes"},
		"max_new_tokens":       {"max_new_tokens": int64(0)},
		"num_return_sequences": {"num_return_sequences": int64(2)},
		"num_beams":            {"num_beams": "3"},
		"eos_token_id":         {"eos_token_id": "x"},
		"diversity_penalty":    {"num_beams": int64(4), "num_beam_groups": int64(2)},
		"num_beam_groups":      {"num_beams": int64(3), "num_beam_groups": int64(2), "diversity_penalty": 0.5},
	} {
		_, err := NewGenerationConfigFromDict(m, "gen.json")
		if err == nil || !errors.Is(err, transformers.ErrInvalidConfig) || !strings.Contains(err.Error(), "gen.json") || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: want an error naming gen.json and the key, got %v", name, err)
		}
	}
}
