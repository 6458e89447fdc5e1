package generation_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/gotransformers/gotransformers/transformers"
	"github.com/gotransformers/gotransformers/transformers/generation"
	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// FuzzGenerationConfigJSON loads generation_config.json documents from the fuzzer: whatever loads
// must save and load again, resolve into engine parameters or an error, and (when its lengths and
// beam counts are small) generate with a fake model without panicking. FuzzGenerationKwargs does the
// same for generate() keyword arguments given as JSON (generation.WithKwargs, the CLI's path).
// Seeds: every generation_config.json of the fixtures, the cases below and testdata/fuzz/<FuzzName>/.

var genSeeds = []string{
	`{"max_new_tokens":5,"num_beams":3,"num_return_sequences":2,"length_penalty":0.5,"early_stopping":"never","eos_token_id":[3,4],"pad_token_id":0}`,
	`{"do_sample":true,"top_k":3,"top_p":0.8,"temperature":0.7,"num_return_sequences":2,"max_length":9,"bad_words_ids":[[5],[6,7]],"forced_eos_token_id":2}`,
	`{"repetition_penalty":1.3,"no_repeat_ngram_size":2,"min_new_tokens":3,"max_new_tokens":6,"forced_bos_token_id":1,"eos_token_id":2}`,
	`{"_from_model_config":true,"bos_token_id":1,"decoder_start_token_id":[0],"transformers_version":"4.45.0","max_length":NaN}`,
	`{"early_stopping":true,"num_beams":2,"max_length":8,"min_length":4,"eos_token_id":null,"pad_token_id":null}`,
}

func FuzzGenerationConfigJSON(f *testing.F) {
	for _, s := range genSeeds {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob("../../parity/testdata/*/generation_config.json")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := transformers.ParseJSON(data, "generation_config.json")
		if err != nil {
			return
		}
		c, err := generation.NewGenerationConfigFromDict(m, "generation_config.json")
		if err != nil {
			return
		}
		for _, diff := range []bool{false, true} {
			s := c.ToJSONString(diff)
			m2, err := transformers.ParseJSON([]byte(s), "saved")
			if err != nil {
				t.Fatalf("saved config does not parse: %v\n%s", err, s)
			}
			if _, err := generation.NewGenerationConfigFromDict(m2, "saved"); err != nil {
				t.Fatalf("saved config (use_diff %v) does not load: %v\n%s", diff, err, s)
			}
		}
		runGenerate(t, c)
	})
}

func FuzzGenerationKwargs(f *testing.F) {
	for _, s := range genSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"max_new_tokens":[3],"num_beams":"2"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var kw map[string]json.RawMessage
		if json.Unmarshal(data, &kw) != nil {
			return
		}
		runGenerate(t, generation.NewGenerationConfig(), generation.WithKwargs(kw))
	})
}

// runGenerate resolves the config for a batch of two 2-token prompts and, when the run is small,
// generates with fakeDecoder, checking the output's shape.
func runGenerate(t *testing.T, c *generation.GenerationConfig, opts ...generation.Option) {
	cfg, co, err := generation.ResolveOptions(c, opts...)
	if err != nil {
		return
	}
	p, err := cfg.Params(generation.Lengths{InputIDsLen: 2}, co)
	if err != nil {
		return
	}
	if p.MaxLength > 24 || p.NumBeams > 6 || p.NumReturnSequences > 6 {
		return // valid, only long: not what this target is about
	}
	p.Seed = 7
	dec := &fakeDecoder{vocab: 11}
	out, err := generation.Generate(context.Background(), dec, [][]int{{1, 2}, {3, 4}}, p)
	if err != nil {
		return
	}
	if len(out.Sequences) != 2*max(p.NumReturnSequences, 1) {
		t.Fatalf("%d rows for 2 prompts and num_return_sequences %d", len(out.Sequences), p.NumReturnSequences)
	}
	for _, r := range out.Sequences {
		if len(r) > max(p.MaxLength, 3) {
			t.Fatalf("row of %d tokens, max_length %d", len(r), p.MaxLength)
		}
	}
}

// fakeDecoder is a deterministic stand-in model: logits depend on the row's history.
type fakeDecoder struct {
	vocab int
	rows  [][]int
}

func (d *fakeDecoder) logits() *tensor.Tensor {
	l := tensor.New(len(d.rows), d.vocab)
	for i, r := range d.rows {
		h := 17
		for _, tok := range r {
			h = h*31 + tok
		}
		for v := 0; v < d.vocab; v++ {
			l.Data[i*d.vocab+v] = float32((h+v*13)%23) - 11
		}
	}
	return l
}

func (d *fakeDecoder) Prefill(ctx context.Context) (*tensor.Tensor, error) {
	d.rows = [][]int{{1, 2}, {3, 4}}
	return d.logits(), nil
}

func (d *fakeDecoder) Step(ctx context.Context, tokens []int) (*tensor.Tensor, error) {
	if len(tokens) != len(d.rows) {
		return nil, errBadStep
	}
	for i, tok := range tokens {
		d.rows[i] = append(d.rows[i], tok)
	}
	return d.logits(), nil
}

func (d *fakeDecoder) Reorder(rows []int) error {
	n := make([][]int, len(rows))
	for i, r := range rows {
		if r < 0 || r >= len(d.rows) {
			return errBadStep
		}
		n[i] = append([]int(nil), d.rows[r]...)
	}
	d.rows = n
	return nil
}

type stepError string

func (e stepError) Error() string { return string(e) }

const errBadStep = stepError("fake decoder: bad step")
