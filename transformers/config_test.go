package transformers

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPyFloatRepr(t *testing.T) {
	// Values and the strings Python's repr(float) gives for them.
	for _, c := range []struct {
		f    float64
		want string
	}{
		{1.0, "1.0"}, {0.0, "0.0"}, {0.02, "0.02"}, {1e-5, "1e-05"}, {1e-6, "1e-06"}, {1e-12, "1e-12"},
		{1e-10, "1e-10"}, {0.0001, "0.0001"}, {0.1, "0.1"}, {2.0, "2.0"}, {-0.5, "-0.5"}, {123.456, "123.456"},
		{1e15, "1000000000000000.0"}, {1e16, "1e+16"}, {1.5e300, "1.5e+300"}, {0.3333333333333333, "0.3333333333333333"},
		{5e-324, "5e-324"}, {math.Inf(1), "Infinity"}, {math.NaN(), "NaN"}, {math.Copysign(0, -1), "-0.0"},
		{12345678901234567890.0, "1.2345678901234567e+19"}, {0.00012, "0.00012"}, {1.25e-5, "1.25e-05"},
	} {
		if got := PyFloatRepr(c.f); got != c.want {
			t.Errorf("PyFloatRepr(%v) = %q, want %q", c.f, got, c.want)
		}
	}
}

func TestToJSONStringPythonFormat(t *testing.T) {
	// json.dumps({...}, indent=2, sort_keys=True) + "\n" in Python 3.11.
	v := map[string]any{
		"b": []any{}, "a": map[string]any{}, "s": "é\"\\\n\t\x01\x7f😀/",
		"n": nil, "l": []any{int64(1), 1.0, true}, "z": map[string]any{"y": int64(-3)},
	}
	want := "{\n  \"a\": {},\n  \"b\": [],\n  \"l\": [\n    1,\n    1.0,\n    true\n  ],\n  \"n\": null,\n" +
		"  \"s\": \"\\u00e9\\\"\\\\\\n\\t\\u0001\\u007f\\ud83d\\ude00/\",\n  \"z\": {\n    \"y\": -3\n  }\n}\n"
	if got := ToJSONString(v); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

type testConfig struct {
	PretrainedConfig
	Width   int     `json:"width"`
	Rate    float64 `json:"rate"`
	MaybeID *int    `json:"maybe_id"`
}

func newTestConfig() *testConfig {
	return &testConfig{PretrainedConfig: NewPretrainedConfig(), Width: 4, Rate: 0.5}
}

func TestDecodeKeepsNumberFormsAndUnknownKeys(t *testing.T) {
	m, err := ParseJSON([]byte(`{"width": 8.0, "rate": 0, "maybe_id": 3, "extra": {"x": [1, 2.50]},
		"id2label": {"0": "neg", "3": "pos"}, "eos_token_id": [1, 2], "transformers_version": "4.47.0",
		"_commit_hash": "abc", "model_type": "whatever"}`), "t.json")
	if err != nil {
		t.Fatal(err)
	}
	c := newTestConfig()
	if err := DecodeConfig(c, m, "t.json", nil); err != nil {
		t.Fatal(err)
	}
	if c.Width != 8 || c.Rate != 0 || c.MaybeID == nil || *c.MaybeID != 3 || c.ID2Label[3] != "pos" || c.Label2ID != nil {
		t.Fatalf("decoded %+v", c)
	}
	if !c.EOSTokenID.List || len(c.EOSTokenID.IDs) != 2 || !c.EOSTokenID.Contains(2) {
		t.Fatalf("eos %+v", c.EOSTokenID)
	}
	d := ConfigToDict(c, "test")
	if d["width"] != 8.0 || d["rate"] != int64(0) || d["model_type"] != "test" || d["transformers_version"] != TransformersVersion {
		t.Errorf("dict %v", d)
	}
	if _, ok := d["_commit_hash"]; ok {
		t.Error("_commit_hash kept")
	}
	s := ToJSONString(d)
	for _, want := range []string{`"width": 8.0`, `"rate": 0,`, "\"extra\": {\n    \"x\": [\n      1,\n      2.5\n    ]\n  }", `"label2id": null`, "\"3\": \"pos\""} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in\n%s", want, s)
		}
	}
}

func TestNumLabelsBuildsLabelMaps(t *testing.T) {
	c := newTestConfig()
	if err := DecodeConfig(c, map[string]any{"num_labels": int64(3)}, "t.json", nil); err != nil {
		t.Fatal(err)
	}
	if len(c.ID2Label) != 3 || c.ID2Label[2] != "LABEL_2" || c.Label2ID["LABEL_1"] != 1 {
		t.Errorf("labels %v %v", c.ID2Label, c.Label2ID)
	}
}

func TestDecodeErrorsNameFileAndKey(t *testing.T) {
	for key, v := range map[string]any{
		"width": "8", "rate": "x", "maybe_id": 1.5, "return_dict": int64(1), "architectures": "X",
		"id2label": []any{}, "eos_token_id": "2", "problem_type": "clustering",
	} {
		c := newTestConfig()
		err := DecodeConfig(c, map[string]any{key: v}, "dir/config.json", nil)
		if err == nil || !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "dir/config.json") || !strings.Contains(err.Error(), key) {
			t.Errorf("%s=%v: want an error naming the file and key, got %v", key, v, err)
		}
	}
	if _, err := ParseJSON([]byte(`[1]`), "a.json"); err == nil || !strings.Contains(err.Error(), "a.json") {
		t.Errorf("top-level list: %v", err)
	}
	if _, err := ParseJSON([]byte(`{"a": 1,}`), "b.json"); err == nil || !strings.Contains(err.Error(), "b.json") {
		t.Errorf("bad JSON: %v", err)
	}
}

func TestDiffDictRules(t *testing.T) {
	def := ConfigToDict(newTestConfig(), "test")
	c := newTestConfig()
	c.Rate = 0.25
	c.TieWordEmbeddings = false
	got := DiffDict(ConfigToDict(c, "test"), def)
	// width/rate/maybe_id are not PretrainedConfig attributes: always kept; model_type differs
	// from PretrainedConfig's "", transformers_version always kept.
	for _, k := range []string{"width", "rate", "maybe_id", "tie_word_embeddings", "model_type", "transformers_version"} {
		if _, ok := got[k]; !ok {
			t.Errorf("diff lacks %s: %v", k, got)
		}
	}
	if len(got) != 6 {
		t.Errorf("diff has extra keys: %v", got)
	}
	if !PyEqual(true, int64(1)) || !PyEqual(int64(1), 1.0) || PyEqual(nil, int64(0)) || PyEqual("1", int64(1)) {
		t.Error("PyEqual does not follow Python ==")
	}
}

func TestSaveJSONAtomicAndLoadConfigDict(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", ConfigName)
	if err := SaveJSON(path, "{\n  \"a\": 1\n}\n"); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	m, p, err := LoadConfigDict(context.Background(), filepath.Dir(path), ConfigName)
	if err != nil || p != path || m["a"] != int64(1) {
		t.Fatalf("LoadConfigDict: %v %v %v", m, p, err)
	}
	// A name that is no local folder goes to the hub resolver; offline with an empty cache it fails.
	if _, _, err := LoadConfigDict(context.Background(), "org/not-a-folder", ConfigName, WithOffline(true), WithCacheDir(t.TempDir())); err == nil {
		t.Error("hub id offline with an empty cache: no error")
	}
	lo := NewLoadOptions(WithRevision("v1"), WithOffline(true), WithCacheDir("/c"), WithToken("t"))
	if lo.Revision != "v1" || !lo.Offline || lo.CacheDir != "/c" || lo.Token != "t" || lo.DType != nil || lo.ApproxBF16Dot {
		t.Errorf("options %+v", lo)
	}
	if lo := NewLoadOptions(WithApproxBF16Dot()); !lo.ApproxBF16Dot {
		t.Errorf("WithApproxBF16Dot: %+v", lo)
	}
}

func TestID2LabelSortsNumerically(t *testing.T) {
	// json.dumps(sort_keys=True) sorts the int keys of id2label as ints: "2" before "10".
	c := newTestConfig()
	if err := DecodeConfig(c, map[string]any{"num_labels": int64(11)}, "t.json", nil); err != nil {
		t.Fatal(err)
	}
	s := ToJSONString(ConfigToDict(c, "test"))
	if i, j := strings.Index(s, "\"9\": \"LABEL_9\""), strings.Index(s, "\"10\": \"LABEL_10\""); i < 0 || j < 0 || i > j {
		t.Errorf("id2label order:\n%s", s)
	}
	if i, j := strings.Index(s, "\"LABEL_10\": 10"), strings.Index(s, "\"LABEL_2\": 2"); i < 0 || j < 0 || i > j {
		t.Errorf("label2id order (string keys):\n%s", s)
	}
}

func TestParseJSONNonFinite(t *testing.T) {
	m, err := ParseJSON([]byte(`{"a": NaN, "b": -Infinity, "c": [Infinity], "s": "NaN \" Infinity"}`), "x.json")
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := m["a"].(float64); !ok || !math.IsNaN(f) {
		t.Errorf("a = %v", m["a"])
	}
	if m["b"] != math.Inf(-1) || m["c"].([]any)[0] != math.Inf(1) || m["s"] != "NaN \" Infinity" {
		t.Errorf("parsed %v", m)
	}
	if s := ToJSONString(map[string]any{"b": m["b"]}); s != "{\n  \"b\": -Infinity\n}\n" {
		t.Errorf("written %q", s)
	}
}

func TestTorchDType(t *testing.T) {
	c := newTestConfig()
	if err := DecodeConfig(c, map[string]any{"torch_dtype": "half", "num_labels": int64(5)}, "t.json", nil); err != nil {
		t.Fatal(err)
	}
	if *c.TorchDType != "float16" || c.NumLabels() != 5 || !c.UseReturnDict() {
		t.Errorf("torch_dtype %q, num_labels %d", *c.TorchDType, c.NumLabels())
	}
	err := DecodeConfig(newTestConfig(), map[string]any{"torch_dtype": "auto"}, "t.json", nil)
	if err == nil || !strings.Contains(err.Error(), "torch_dtype") || !strings.Contains(err.Error(), "t.json") {
		t.Errorf("torch_dtype auto: %v", err)
	}
}
