package transformers_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gotransformers/gotransformers/transformers"
)

// TestOversizedConfigFile: a terabyte config.json (a sparse file) is refused from its size, without
// reading it.
func TestOversizedConfigFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, transformers.ConfigName)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 40); err != nil {
		f.Close()
		t.Skipf("no sparse files here: %v", err)
	}
	f.Close()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err = transformers.LoadConfigDict(context.Background(), dir, transformers.ConfigName)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, transformers.ErrInvalidConfig) || !strings.Contains(err.Error(), "config.json") {
		t.Fatalf("err %v, want ErrInvalidConfig naming config.json", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("refusing the file allocated %d MB", n>>20)
	}
}

// TestHostileJSON: deep nesting, huge numbers, bad UTF-8 and NUL bytes are errors or values, never
// a crash.
func TestHostileJSON(t *testing.T) {
	cases := map[string]struct {
		doc string
		ok  bool
	}{
		"nesting 100000 deep":    {strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000), false},
		"array nesting":          {`{"a":` + strings.Repeat("[", 200000) + strings.Repeat("]", 200000) + "}", false},
		"invalid UTF-8":          {"{\"a\":\"\xff\xfe\"}", true},
		"NUL in key":             {"{\"a\x00\":1}", false},
		"lone surrogate":         {`{"a":"\ud800"}`, true},
		"duplicate keys":         {`{"a":1,"a":2}`, true}, // Python keeps the last
		"NaN as a bare word":     {`{"a":NaN,"b":-Infinity}`, true},
		"top-level array":        {`[1,2]`, false},
		"trailing garbage":       {`{"a":1} x`, false},
		"empty":                  {``, false},
		"string of 4 MB":         {`{"a":"` + strings.Repeat("x", 4<<20) + `"}`, true},
		"unterminated string":    {`{"a":"`, false},
		"control char in string": {"{\"a\":\"\x01\"}", false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := transformers.ParseJSON([]byte(c.doc), "config.json")
			if (err == nil) != c.ok {
				t.Fatalf("ParseJSON: %v, want ok=%v", err, c.ok)
			}
			if err != nil {
				if !errors.Is(err, transformers.ErrInvalidConfig) || !strings.Contains(err.Error(), "config.json") {
					t.Errorf("error %v does not wrap ErrInvalidConfig naming the file", err)
				}
				return
			}
			transformers.ToJSONString(m)
		})
	}
	// Out-of-range numbers: Python reads 1e999999 as inf and keeps big integers exactly; here they
	// are an error naming the file (a divergence, not a hazard). Either way: no crash.
	for _, doc := range []string{`{"a":1e999999}`, `{"a":` + strings.Repeat("9", 400) + `}`, `{"a":-1e-999999}`} {
		if m, err := transformers.ParseJSON([]byte(doc), "config.json"); err == nil {
			transformers.ToJSONString(m)
		} else if !errors.Is(err, transformers.ErrInvalidConfig) {
			t.Errorf("%.20s: %v", doc, err)
		}
	}
}
