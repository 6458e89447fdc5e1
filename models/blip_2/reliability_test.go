package blip2_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/processing/image"
	"github.com/gotransformers/gotransformers/transformers"
	"github.com/gotransformers/gotransformers/transformers/generation"
	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// Reliability tests: a loaded model and processor are shared by concurrent generations, a
// cancelled context stops generation within one decode step without leaking goroutines, and bad
// configuration files are errors naming file and key (never panics, never huge allocations).

const (
	relFixture = "../../parity/testdata/blip2-opt"
	relInputs  = "../../parity/testdata/inputs"
)

// relCase is an end_to_end/caption case of the fixture: an image file, max_new_tokens and the ids
// transformers generated.
type relCase struct {
	ID     string `json:"id"`
	Inputs struct {
		Image string          `json:"image"`
		Text  json.RawMessage `json:"text"`
	} `json:"inputs"`
	GenerateKwargs struct {
		MaxNewTokens int `json:"max_new_tokens"`
	} `json:"generate_kwargs"`
	ExpectedIDs [][]int `json:"expected_ids"`
	// DecodeError is set where the ids do not decode (padded vocabulary); such cases are skipped.
	DecodeError json.RawMessage `json:"decode_error"`
}

// relE2ECases returns the fixture's end_to_end cases under prefix ("end_to_end/caption/",
// "end_to_end/vqa/") with one prompt string and expected ids.
func relE2ECases(t *testing.T, prefix string) []relCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(relFixture, "cases", "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []relCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var out []relCase
	for _, c := range doc.Cases {
		var text string
		if strings.HasPrefix(c.ID, prefix) && c.ExpectedIDs != nil && c.DecodeError == nil && json.Unmarshal(c.Inputs.Text, &text) == nil && c.GenerateKwargs.MaxNewTokens > 0 {
			out = append(out, c)
		}
	}
	return out
}

func (c relCase) text() string {
	var s string
	json.Unmarshal(c.Inputs.Text, &s)
	return s
}

var (
	relOnce  sync.Once
	relProc  *blip2.Blip2Processor
	relModel *blip2.Blip2ForConditionalGeneration
	relErr   error
)

// relLoad loads the fixture model and processor once for the whole test binary (they are read-only
// after loading and shared by every test here, as a server would share them).
func relLoad(t *testing.T) (*blip2.Blip2Processor, *blip2.Blip2ForConditionalGeneration) {
	t.Helper()
	relOnce.Do(func() {
		ctx := context.Background()
		if relProc, relErr = blip2.Blip2ProcessorFromPretrained(ctx, relFixture); relErr != nil {
			return
		}
		relModel, relErr = blip2.FromPretrained(ctx, relFixture)
	})
	if relErr != nil {
		t.Fatal(relErr)
	}
	return relProc, relModel
}

// caption runs the whole chain for one image file: decode, processor (with the prompt text, none
// when it is empty), generate, decode text.
func caption(ctx context.Context, proc *blip2.Blip2Processor, model *blip2.Blip2ForConditionalGeneration, file, text string, maxNew int, opts ...generation.Option) ([]int, string, error) {
	img, err := image.DecodeFile(filepath.Join(relInputs, file), nil)
	if err != nil {
		return nil, "", err
	}
	var texts []string
	if text != "" {
		texts = []string{text}
	}
	in, err := proc.Call([]*image.Image{img}, texts, blip2.ProcessorOptions{})
	if err != nil {
		return nil, "", err
	}
	opts = append([]generation.Option{generation.WithMaxNewTokens(maxNew)}, opts...)
	out, err := model.Generate(ctx, &blip2.GenerateInput{PixelValues: in.PixelValues, InputIDs: in.InputIDs, AttentionMask: in.AttentionMask}, opts...)
	if err != nil {
		return nil, "", err
	}
	decoded, err := proc.Decode(out.Sequences[0], true)
	if err != nil {
		return nil, "", err
	}
	return out.Sequences[0], decoded, nil
}

// TestConcurrentGenerate shares one model and one processor between 8 goroutines at once, on 8
// different images: 4 captions (no prompt) and 4 questions (the tokenizer encodes concurrently
// too); each result must equal the sequential run and transformers' ids. A second, fresh processor
// is first used by the goroutines, so its lazily built state is built under concurrency. Run under
// -race it also checks that generation writes no shared state.
func TestConcurrentGenerate(t *testing.T) {
	proc, model := relLoad(t)
	const workers = 8
	captions, questions := relE2ECases(t, "end_to_end/caption/"), relE2ECases(t, "end_to_end/vqa/")
	if len(captions) < workers || len(questions) < workers {
		t.Fatalf("fixture has %d caption and %d vqa cases, need %d of each", len(captions), len(questions), workers)
	}
	var cases []relCase
	for i := 0; i < workers/2; i++ {
		cases = append(cases, captions[i], questions[workers/2+i]) // 8 different images
	}
	ctx := context.Background()
	fresh, err := blip2.Blip2ProcessorFromPretrained(ctx, relFixture)
	if err != nil {
		t.Fatal(err)
	}

	type result struct {
		ids  []int
		text string
	}
	seq := make([]result, workers)
	for i, c := range cases {
		ids, text, err := caption(ctx, proc, model, c.Inputs.Image, c.text(), c.GenerateKwargs.MaxNewTokens)
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		if fmt.Sprint(ids) != fmt.Sprint(c.ExpectedIDs[0]) {
			t.Errorf("%s: sequential ids %v, transformers %v", c.ID, ids, c.ExpectedIDs[0])
		}
		seq[i] = result{ids, text}
	}

	for round, p := range []*blip2.Blip2Processor{fresh, proc} {
		par := make([]result, workers)
		errs := make([]error, workers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, c := range cases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start // all goroutines begin together
				ids, text, err := caption(ctx, p, model, c.Inputs.Image, c.text(), c.GenerateKwargs.MaxNewTokens)
				par[i], errs[i] = result{ids, text}, err
			}()
		}
		close(start)
		wg.Wait()
		for i, c := range cases {
			if errs[i] != nil {
				t.Errorf("%s (concurrent, round %d): %v", c.ID, round, errs[i])
				continue
			}
			if fmt.Sprint(par[i].ids) != fmt.Sprint(seq[i].ids) || par[i].text != seq[i].text {
				t.Errorf("%s (round %d): concurrent %v %q, sequential %v %q", c.ID, round, par[i].ids, par[i].text, seq[i].ids, seq[i].text)
			}
		}
	}
}

// settleGoroutines waits (polling, at most about 5 s) until no more than want goroutines run and
// returns the last count.
func settleGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 500 && n > want; i++ {
		time.Sleep(10 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

// stepCounter is a LogitsProcessor that only counts its calls (one per decode step).
type stepCounter func()

func (f stepCounter) Process([][]int, *tensor.Tensor) error { f(); return nil }

// TestGenerateCancel cancels the context from a per-step callback (a logits processor; the
// streaming callback for greedy search) after a few decode steps:
// Generate must return context.Canceled having run at most one more step, and leave no goroutine
// behind. Greedy and beam search both.
func TestGenerateCancel(t *testing.T) {
	proc, model := relLoad(t)
	img, err := image.DecodeFile(filepath.Join(relInputs, "cat.png"), nil)
	if err != nil {
		t.Fatal(err)
	}
	in, err := proc.Call([]*image.Image{img}, nil, blip2.ProcessorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, beams := range []int{1, 3} {
		for _, cancelAt := range []int{1, 3} {
			t.Run(fmt.Sprintf("beams%d_cancel%d", beams, cancelAt), func(t *testing.T) {
				before := runtime.NumGoroutine()
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				// steps are counted by a logits processor (called once per decode step, also in beam
				// search, which takes no streamer)
				steps := 0
				counter := stepCounter(func() {
					steps++
					if steps == cancelAt {
						cancel()
					}
				})
				opts := []generation.Option{generation.WithMaxNewTokens(40), generation.WithMinNewTokens(40), generation.WithLogitsProcessor(counter)}
				if beams > 1 {
					opts = append(opts, generation.WithNumBeams(beams))
				} else {
					streamed := 0
					opts = append(opts, generation.WithStreamer(generation.NewTokenStreamer(func([]int) error { streamed++; return nil })))
					defer func() {
						if streamed > cancelAt {
							t.Errorf("%d tokens streamed after a cancel at step %d", streamed, cancelAt)
						}
					}()
				}
				out, err := model.Generate(ctx, &blip2.GenerateInput{PixelValues: in.PixelValues}, opts...)
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("Generate after cancel: out %v, err %v; want context.Canceled", out, err)
				}
				if steps < cancelAt || steps > cancelAt+1 {
					t.Errorf("%d decode steps streamed, cancelled at step %d: want at most one more", steps, cancelAt)
				}
				if n := settleGoroutines(before); n > before {
					buf := make([]byte, 1<<16)
					t.Errorf("%d goroutines after a cancelled Generate, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
				}
			})
		}
	}
	t.Run("cancelled_before", func(t *testing.T) {
		before := runtime.NumGoroutine()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		steps := 0
		_, err := model.Generate(ctx, &blip2.GenerateInput{PixelValues: in.PixelValues}, generation.WithMaxNewTokens(5),
			generation.WithStreamer(generation.NewTokenStreamer(func([]int) error { steps++; return nil })))
		if !errors.Is(err, context.Canceled) || steps != 0 {
			t.Fatalf("Generate with a cancelled context: err %v after %d steps; want context.Canceled, 0 steps", err, steps)
		}
		if n := settleGoroutines(before); n > before {
			t.Errorf("%d goroutines after, %d before", n, before)
		}
	})
}

// relFolder copies the fixture folder into a temporary one (weights as symlinks) with the given
// files replaced; edit, when set, changes config.json's decoded object.
func relFolder(t *testing.T, edit func(m map[string]any), files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	ents, err := os.ReadDir(relFixture)
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(relFixture)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		if err := os.Symlink(filepath.Join(abs, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, content string) {
		os.Remove(filepath.Join(dir, name))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if edit != nil {
		data, err := os.ReadFile(filepath.Join(relFixture, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		write("config.json", string(out))
	}
	for name, content := range files {
		write(name, content)
	}
	return dir
}

func sub(m map[string]any, key string) map[string]any { return m[key].(map[string]any) }

// TestBadConfigs: each broken config.json makes FromPretrained return an error that names the file
// and the key (ErrInvalidConfig), before any weight is bound; absurd sizes are refused without
// allocating for them.
func TestBadConfigs(t *testing.T) {
	cases := []struct {
		name string
		edit func(m map[string]any)
		want []string // substrings of the error
	}{
		{"vision hidden_size 0", func(m map[string]any) { sub(m, "vision_config")["hidden_size"] = 0 }, []string{"hidden_size"}},
		{"qformer hidden_size -32", func(m map[string]any) { sub(m, "qformer_config")["hidden_size"] = -32 }, []string{"hidden_size"}},
		{"text hidden_size 0", func(m map[string]any) { sub(m, "text_config")["hidden_size"] = 0 }, []string{"hidden_size"}},
		{"vision heads do not divide hidden", func(m map[string]any) { sub(m, "vision_config")["num_attention_heads"] = 5 }, []string{"num_attention_heads"}},
		{"qformer heads do not divide hidden", func(m map[string]any) { sub(m, "qformer_config")["num_attention_heads"] = 3 }, []string{"num_attention_heads"}},
		{"text heads do not divide hidden", func(m map[string]any) { sub(m, "text_config")["num_attention_heads"] = 3 }, []string{"num_attention_heads"}},
		{"heads 0", func(m map[string]any) { sub(m, "vision_config")["num_attention_heads"] = 0 }, []string{"num_attention_heads"}},
		{"unknown text model_type", func(m map[string]any) { sub(m, "text_config")["model_type"] = "llama" }, []string{"model_type", "llama"}},
		{"unknown model_type", func(m map[string]any) { m["model_type"] = "gpt2" }, []string{"model_type", "gpt2"}},
		{"model_type not a string", func(m map[string]any) { m["model_type"] = 7 }, []string{"model_type"}},
		{"absurd layer count", func(m map[string]any) { sub(m, "vision_config")["num_hidden_layers"] = 1 << 40 }, []string{"num_hidden_layers"}},
		// 65536 layers cost 1.6 GB and 36 s before transformers.MaxLayers
		{"forged vision layer count", func(m map[string]any) { sub(m, "vision_config")["num_hidden_layers"] = 1 << 16 }, []string{"num_hidden_layers"}},
		{"forged qformer layer count", func(m map[string]any) { sub(m, "qformer_config")["num_hidden_layers"] = 1 << 16 }, []string{"num_hidden_layers"}},
		{"forged text layer count", func(m map[string]any) { sub(m, "text_config")["num_hidden_layers"] = 1 << 16 }, []string{"num_hidden_layers"}},
		{"absurd vocabulary", func(m map[string]any) { sub(m, "text_config")["vocab_size"] = 1 << 40 }, []string{"vocab_size"}},
		{"absurd image size", func(m map[string]any) { sub(m, "vision_config")["image_size"] = 1 << 40 }, []string{"image_size"}},
		{"negative query tokens", func(m map[string]any) { m["num_query_tokens"] = -1 }, []string{"num_query_tokens"}},
		{"absurd query tokens", func(m map[string]any) { m["num_query_tokens"] = 1 << 40 }, []string{"num_query_tokens"}},
		{"wrong JSON type", func(m map[string]any) { sub(m, "text_config")["hidden_size"] = "16" }, []string{"hidden_size"}},
		{"sub-config not an object", func(m map[string]any) { m["vision_config"] = []any{1} }, []string{"vision_config"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := relFolder(t, c.edit, nil)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			m, err := blip2.FromPretrained(context.Background(), dir)
			runtime.ReadMemStats(&after)
			if err == nil {
				m.Close()
				t.Fatal("FromPretrained accepted the config")
			}
			// loading the whole 8 MB fixture allocates far less than this
			if n := after.TotalAlloc - before.TotalAlloc; n > 256<<20 {
				t.Errorf("rejecting the config allocated %d MB", n>>20)
			}
			msg := err.Error()
			if !strings.Contains(msg, "config.json") {
				t.Errorf("error does not name config.json: %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not name %q: %v", w, err)
				}
			}
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		for _, content := range []string{"", "{", "[]", `{"model_type":"blip-2"} trailing`, "\xff\xfe{}"} {
			dir := relFolder(t, nil, map[string]string{"config.json": content})
			if _, err := blip2.FromPretrained(context.Background(), dir); err == nil || !errors.Is(err, transformers.ErrInvalidConfig) {
				t.Errorf("config.json %q: err %v, want ErrInvalidConfig", content, err)
			}
		}
	})
}

// TestBadProcessorFiles: broken processor_config.json / preprocessor_config.json are errors, and
// a forged num_query_tokens cannot make the processor build a gigantic prompt.
func TestBadProcessorFiles(t *testing.T) {
	cases := []struct {
		name, file, content string
	}{
		{"num_query_tokens negative", blip2.ProcessorConfigFile, `{"num_query_tokens": -1}`},
		{"num_query_tokens absurd", blip2.ProcessorConfigFile, `{"num_query_tokens": 1099511627776}`},
		{"num_query_tokens string", blip2.ProcessorConfigFile, `{"num_query_tokens": "6"}`},
		{"processor_config not JSON", blip2.ProcessorConfigFile, `{"num_query_tokens": 6`},
		{"size zero", "preprocessor_config.json", `{"size": {"height": 0, "width": 56}}`},
		{"size missing width", "preprocessor_config.json", `{"size": {"height": 56}}`},
		{"image_mean not numbers", "preprocessor_config.json", `{"image_mean": ["a"]}`},
		{"resample unknown", "preprocessor_config.json", `{"resample": 42}`},
		{"preprocessor not JSON", "preprocessor_config.json", `[`},
		{"tokenizer_config not JSON", "tokenizer_config.json", `{"bos_token": `},
		{"padding_side bad", "tokenizer_config.json", `{"padding_side": "middle", "tokenizer_class": "GPT2Tokenizer"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := relFolder(t, nil, map[string]string{c.file: c.content})
			p, err := blip2.Blip2ProcessorFromPretrained(context.Background(), dir)
			if err == nil {
				t.Fatalf("accepted: num_query_tokens %v", p.NumQueryTokens)
			}
			if !strings.Contains(err.Error(), c.file) {
				t.Errorf("error does not name %s: %v", c.file, err)
			}
		})
	}
}

// TestGenerateBadInputs: malformed tensors and ids given to Generate are errors found by the input
// checks (not panics recovered as "internal error"); inputs transformers accepts still generate.
func TestGenerateBadInputs(t *testing.T) {
	_, model := relLoad(t)
	const imageID = 50260 // the fixture's image_token_index; num_query_tokens is 6
	pv := tensor.New(1, 3, 56, 56)
	prompt := func(extra ...int) [][]int {
		r := []int{imageID, imageID, imageID, imageID, imageID, imageID, 2}
		return [][]int{append(r, extra...)}
	}
	nan := tensor.New(1, 3, 56, 56)
	for i := range nan.Data {
		nan.Data[i] = float32(math.NaN())
	}
	cases := []struct {
		name string
		in   *blip2.GenerateInput
		ok   bool
	}{
		{"id beyond the vocabulary", &blip2.GenerateInput{PixelValues: pv, InputIDs: prompt(1 << 30)}, false},
		{"negative id", &blip2.GenerateInput{PixelValues: pv, InputIDs: prompt(-1)}, false},
		{"attention mask too short", &blip2.GenerateInput{PixelValues: pv, InputIDs: prompt(5), AttentionMask: [][]int{{1, 1}}}, false},
		{"attention mask not 0/1", &blip2.GenerateInput{PixelValues: pv, InputIDs: prompt(5), AttentionMask: [][]int{{7, 7, 7, 7, 7, 7, 7, 7}}}, false},
		{"ragged input_ids", &blip2.GenerateInput{PixelValues: tensor.New(2, 3, 56, 56), InputIDs: [][]int{{1, 2}, {1}}}, false},
		{"rows differ from images", &blip2.GenerateInput{PixelValues: tensor.New(2, 3, 56, 56), InputIDs: prompt(5)}, false},
		{"no rows", &blip2.GenerateInput{PixelValues: pv, InputIDs: [][]int{}}, false},
		{"4 channels", &blip2.GenerateInput{PixelValues: tensor.New(1, 4, 56, 56)}, false},
		{"smaller than a patch", &blip2.GenerateInput{PixelValues: tensor.New(1, 3, 13, 13)}, false},
		{"data shorter than shape", &blip2.GenerateInput{PixelValues: &tensor.Tensor{Shape: []int{1, 3, 56, 56}, Data: make([]float32, 10)}}, false},
		{"rank 3 pixel_values", &blip2.GenerateInput{PixelValues: tensor.New(3, 56, 56)}, false},
		{"no <image> tokens", &blip2.GenerateInput{PixelValues: pv, InputIDs: [][]int{{2, 5}}}, false},
		{"one <image> token too many", &blip2.GenerateInput{PixelValues: pv, InputIDs: [][]int{{imageID, imageID, imageID, imageID, imageID, imageID, imageID, 2}}}, false},
		{"nil input", nil, false},
		{"NaN pixels (torch generates too)", &blip2.GenerateInput{PixelValues: nan}, true},
		{"57x56 image (torch floors the patch grid)", &blip2.GenerateInput{PixelValues: tensor.New(1, 3, 57, 56)}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := model.Generate(context.Background(), c.in, generation.WithMaxNewTokens(3))
			if err != nil && strings.Contains(err.Error(), "internal error") {
				t.Fatalf("a panic was recovered instead of the input being checked: %v", err)
			}
			if c.ok {
				if err != nil || len(out.Sequences) != 1 {
					t.Fatalf("err %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: %v", out.Sequences)
			}
		})
	}
}
