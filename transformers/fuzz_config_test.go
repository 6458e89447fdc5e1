package transformers_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gotransformers/gotransformers/transformers"
)

// FuzzParseJSON feeds arbitrary bytes to the JSON reader every configuration file goes through
// (config.json, generation_config.json; Python's json.loads semantics with NaN/Infinity). What
// parses must write back (ToJSONString, the format of to_json_string) and parse again to an equal
// value. Seeds: the fixture JSON files and the cases below.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1,"b":1.5,"c":-0.0,"d":1e400,"e":123456789012345678901234567890,"f":[null,true,"x\u00e9\ud83d\ude00"]}`,
		`{"nan":NaN,"inf":Infinity,"neg":-Infinity,"s":"NaN","nested":{"k":[[],{}]}}`,
		`{"a":1}{"b":2}`, `[1]`, `{"a":"\ud800"}`, `{"a":1e-7,"b":0.1,"c":100000000000000000000.0}`,
	} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob("../parity/testdata/*/*config.json")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil && len(data) < 16<<10 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := transformers.ParseJSON(data, "fuzz.json")
		if err != nil {
			return
		}
		s := transformers.ToJSONString(m)
		m2, err := transformers.ParseJSON([]byte(s), "saved.json")
		if err != nil {
			t.Fatalf("written JSON does not parse: %v\n%s", err, s)
		}
		if !hasNaN(m) && !transformers.PyEqual(transformers.Normalize(m), transformers.Normalize(m2)) {
			t.Fatalf("value changed through ToJSONString:\n%q\n%s", data, s)
		}
	})
}

// hasNaN reports whether v holds a NaN (which equals nothing, itself included, as in Python).
func hasNaN(v any) bool {
	switch x := v.(type) {
	case float64:
		return math.IsNaN(x)
	case map[string]any:
		for _, e := range x {
			if hasNaN(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasNaN(e) {
				return true
			}
		}
	}
	return false
}
