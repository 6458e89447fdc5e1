package blip2

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gotransformers/gotransformers/processing/image"
	"github.com/gotransformers/gotransformers/processing/tokenizer"
	"github.com/gotransformers/gotransformers/transformers"
)

// FuzzProcessorConfig loads processor_config.json documents from the fuzzer: num_query_tokens is
// accepted only within [0, MaxConfigSize], and a processor built with an accepted value (up to
// 4096, beyond which the prompt is merely long) processes an image and a text.
func FuzzProcessorConfig(f *testing.F) {
	for _, s := range []string{
		`{"num_query_tokens": 6, "processor_class": "Blip2Processor"}`, `{"num_query_tokens": null}`, `{}`,
		`{"num_query_tokens": 1e3}`, `{"num_query_tokens": -1}`, `{"num_query_tokens": 18446744073709551616}`, `[]`,
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	tok, err := tokenizer.LoadAuto("../../parity/testdata/blip2-opt", tokenizer.LoadOptions{UseSlow: true})
	if err != nil {
		f.Fatal(err)
	}
	ip := image.NewBlipImageProcessor()
	ip.Size = image.Size{Height: 4, Width: 4}
	img := image.NewImage(2, 3)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, ProcessorConfigFile)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		n, err := readNumQueryTokens(p)
		if err != nil || n == nil {
			return
		}
		if *n < 0 || *n > transformers.MaxConfigSize {
			t.Fatalf("num_query_tokens %d accepted", *n)
		}
		if *n > 4096 {
			return
		}
		proc, err := NewBlip2Processor(ip, tok, n)
		if err != nil {
			t.Fatal(err)
		}
		in, err := proc.Call([]*image.Image{img}, []string{"a photo of"}, ProcessorOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(in.InputIDs) != 1 || len(in.InputIDs[0]) < *n {
			t.Fatalf("%d rows, first of %d ids, num_query_tokens %d", len(in.InputIDs), len(in.InputIDs[0]), *n)
		}
	})
}
