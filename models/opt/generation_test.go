package opt

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/transformers/generation"
	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

const optFixture = "../../parity/testdata/opt"

// TestGenerateFixtures runs every generate case of parity/testdata/opt (greedy on a left-padded
// batch, beam search with num_return_sequences, repetition penalty, no_repeat_ngram) and compares
// the ids with transformers 4.45's.
func TestGenerateFixtures(t *testing.T) {
	ctx := context.Background()
	data, err := os.ReadFile(filepath.Join(optFixture, "cases", "cases.json"))
	require.NoError(t, err)
	var f struct {
		Cases []struct {
			ID             string                     `json:"id"`
			Kind           string                     `json:"kind"`
			GenerateKwargs map[string]json.RawMessage `json:"generate_kwargs"`
			ExpectedIDs    [][]int                    `json:"expected_ids"`
		} `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(data, &f))
	exp, err := weights.OpenSafetensors(filepath.Join(optFixture, "cases", "expected.safetensors"))
	require.NoError(t, err)
	defer exp.Close()
	rows := func(name string) [][]int {
		d, shape, err := exp.Int64(name)
		require.NoError(t, err)
		out := make([][]int, shape[0])
		for i := range out {
			for j := 0; j < shape[1]; j++ {
				out[i] = append(out[i], int(d[i*shape[1]+j]))
			}
		}
		return out
	}
	m, err := FromPretrained(ctx, optFixture)
	require.NoError(t, err)
	gc, err := generation.GenerationConfigFromPretrained(ctx, optFixture)
	require.NoError(t, err)
	n := 0
	for _, c := range f.Cases {
		if c.Kind != "generate" {
			continue
		}
		n++
		out, err := m.Generate(ctx, rows(c.ID+"/in/input_ids"), rows(c.ID+"/in/attention_mask"),
			generation.WithConfig(gc), generation.WithKwargs(c.GenerateKwargs))
		require.NoError(t, err, c.ID)
		assert.Equal(t, c.ExpectedIDs, out.Sequences, c.ID)
	}
	assert.Equal(t, 5, n)
}

// randomOPT builds an OPTForCausalLM with seeded random weights (normal, std 0.02) through a
// safetensors file, as a checkpoint would be loaded.
func randomOPT(tb testing.TB, cfg *OPTConfig) *OPTForCausalLM {
	tb.Helper()
	sb := weights.NewShapeBinder()
	_, err := NewOPTForCausalLM(cfg, sb)
	require.NoError(tb, err)
	rng := rand.New(rand.NewPCG(1, 2))
	ws := map[string]*tensor.Weight{}
	for _, k := range sb.Keys() {
		if k.TiedTo != "" {
			continue
		}
		t := tensor.New(k.Shape...)
		for i := range t.Data {
			t.Data[i] = float32(rng.NormFloat64() * 0.02)
		}
		if strings.Contains(k.Name, "layer_norm") && strings.HasSuffix(k.Name, ".weight") {
			for i := range t.Data {
				t.Data[i] += 1
			}
		}
		ws[k.Name] = tensor.WeightFrom(t)
	}
	dir := tb.TempDir()
	require.NoError(tb, weights.SaveSafetensors(filepath.Join(dir, "model.safetensors"), ws, map[string]string{"format": "pt"}))
	sd, err := weights.LoadStateDict(dir)
	require.NoError(tb, err)
	tb.Cleanup(func() { sd.Close() })
	b := weights.NewBinder(sd)
	m, err := NewOPTForCausalLM(cfg, b)
	require.NoError(tb, err)
	require.NoError(tb, b.Finish())
	return m
}

func benchConfig() *OPTConfig {
	cfg := NewOPTConfig()
	cfg.VocabSize, cfg.HiddenSize, cfg.WordEmbedProjDim, cfg.FFNDim = 4096, 256, 256, 1024
	cfg.NumHiddenLayers, cfg.NumAttentionHeads, cfg.MaxPositionEmbeddings = 4, 4, 512
	return cfg
}

// noCacheDecoder recomputes the whole sequence at every step: the reference the cached decoder
// must agree with.
type noCacheDecoder struct {
	m    *OPTForCausalLM
	seqs [][]int
}

func (d *noCacheDecoder) run(ctx context.Context) (*tensor.Tensor, error) {
	out, err := d.m.Forward(ctx, &Input{InputIDs: d.seqs})
	if err != nil {
		return nil, err
	}
	return lastLogits(out)
}
func (d *noCacheDecoder) Prefill(ctx context.Context) (*tensor.Tensor, error) { return d.run(ctx) }
func (d *noCacheDecoder) Step(ctx context.Context, tokens []int) (*tensor.Tensor, error) {
	for i, t := range tokens {
		d.seqs[i] = append(d.seqs[i], t)
	}
	return d.run(ctx)
}
func (d *noCacheDecoder) Reorder(rows []int) error {
	n := make([][]int, len(rows))
	for i, r := range rows {
		n[i] = append([]int(nil), d.seqs[r]...)
	}
	d.seqs = n
	return nil
}

// TestCachedDecodingMatchesFullRecompute: greedy and beam search through the KV cache give the ids
// of recomputing the full sequence every step.
func TestCachedDecodingMatchesFullRecompute(t *testing.T) {
	ctx := context.Background()
	cfg := benchConfig()
	cfg.NumHiddenLayers, cfg.VocabSize = 2, 512
	m := randomOPT(t, cfg)
	prompt := [][]int{{2, 11, 12, 13}, {2, 40, 41, 42}}
	for _, beams := range []int{1, 3} {
		p := generation.Params{MaxLength: 24, NumBeams: beams, LengthPenalty: 1, EOSTokenIDs: []int{2}, PadTokenID: new(1)}
		dec, err := m.NewDecoder(prompt, nil, nil)
		require.NoError(t, err)
		got, err := generation.Generate(ctx, dec, prompt, p)
		require.NoError(t, err)
		ref := &noCacheDecoder{m: m, seqs: [][]int{append([]int(nil), prompt[0]...), append([]int(nil), prompt[1]...)}}
		want, err := generation.Generate(ctx, ref, prompt, p)
		require.NoError(t, err)
		assert.Equal(t, want.Sequences, got.Sequences, "num_beams %d", beams)
	}
}

func TestGenerateErrors(t *testing.T) {
	ctx := context.Background()
	cfg := benchConfig()
	cfg.NumHiddenLayers, cfg.VocabSize = 1, 64
	m := randomOPT(t, cfg)
	_, err := m.Generate(ctx, [][]int{{1, 2}, {3}}, nil)
	require.ErrorContains(t, err, "row 1")
	_, err = m.Generate(ctx, [][]int{{1, 99}}, nil)
	require.ErrorContains(t, err, "vocabulary")
	_, err = m.Generate(ctx, [][]int{{1, 2}}, [][]int{{1}})
	require.ErrorContains(t, err, "attention_mask")
	_, err = m.Generate(ctx, [][]int{{1, 2}}, nil, generation.WithMaxLength(2))
	require.ErrorContains(t, err, "max_length")
	// no input_ids: starts from [bos]
	out, err := m.Generate(ctx, nil, nil, generation.WithMaxNewTokens(3))
	require.NoError(t, err)
	require.Len(t, out.Sequences, 1)
	assert.Equal(t, 2, out.Sequences[0][0])
	assert.Len(t, out.Sequences[0], 4)
}

// TestStreamingMatchesOutput: the streamer sees exactly the generated tokens.
func TestStreamingMatchesOutput(t *testing.T) {
	ctx := context.Background()
	cfg := benchConfig()
	cfg.NumHiddenLayers, cfg.VocabSize = 1, 64
	m := randomOPT(t, cfg)
	var streamed []int
	s := generation.NewTokenStreamer(func(tok []int) error { streamed = append(streamed, tok[0]); return nil })
	out, err := m.Generate(ctx, [][]int{{2, 5, 6}}, nil, generation.WithMaxNewTokens(6), generation.WithStreamer(s), generation.WithEOSTokenID(63))
	require.NoError(t, err)
	assert.Equal(t, out.Sequences[0][3:], streamed)
}

// BenchmarkDecodeStep measures greedy decoding on a small random OPT (4 layers, d 256, vocab 4096)
// with the KV cache: the time per generated token stays flat from 16 to 128 new tokens (each step
// runs one position; only attention over the cached keys grows, a small share at these lengths).
// Reported as ms/token (wall) and cpu-ms/token (process CPU time, unix), prefill excluded.
func BenchmarkDecodeStep(b *testing.B) {
	ctx := context.Background()
	m := randomOPT(b, benchConfig())
	prompt := [][]int{{2, 100, 200, 300, 400, 500, 600, 700}}
	for _, n := range []int{16, 128} {
		b.Run(fmt.Sprintf("new%d", n), func(b *testing.B) {
			var decode, cpu time.Duration
			for i := 0; i < b.N; i++ {
				dec, err := m.NewDecoder(prompt, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				td := &timedDecoder{Decoder: dec}
				out, err := generation.Generate(ctx, td, prompt, generation.Params{MaxLength: len(prompt[0]) + n})
				if err != nil {
					b.Fatal(err)
				}
				if len(out.Sequences[0]) != len(prompt[0])+n {
					b.Fatalf("generated %d tokens", len(out.Sequences[0])-len(prompt[0]))
				}
				decode += td.steps
				cpu += td.cpu
			}
			b.ReportMetric(float64(decode.Microseconds())/1000/float64(b.N*(n-1)), "ms/token")
			if cpuNow != nil {
				b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N*(n-1)), "cpu-ms/token")
			}
		})
	}
}

// cpuNow returns the process CPU time where the platform tells it (set in
// generation_rusage_test.go), nil elsewhere.
var cpuNow func() time.Duration

// timedDecoder times the decode steps (not the prefill): wall time and, where available, CPU time.
type timedDecoder struct {
	generation.Decoder
	steps, cpu time.Duration
}

func (d *timedDecoder) Step(ctx context.Context, tokens []int) (*tensor.Tensor, error) {
	var c0 time.Duration
	if cpuNow != nil {
		c0 = cpuNow()
	}
	start := time.Now()
	l, err := d.Decoder.Step(ctx, tokens)
	d.steps += time.Since(start)
	if cpuNow != nil {
		d.cpu += cpuNow() - c0
	}
	return l, err
}

// TestGenerateCancel: cancelling the context from a streamer stops generation at the next step
// with context.Canceled. Run with -race.
func TestGenerateCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := benchConfig()
	cfg.NumHiddenLayers, cfg.VocabSize = 1, 64
	m := randomOPT(t, cfg)
	n := 0
	s := generation.NewTokenStreamer(func([]int) error {
		n++
		if n == 3 {
			cancel()
		}
		return nil
	})
	_, err := m.Generate(ctx, [][]int{{2, 5}}, nil, generation.WithMaxNewTokens(100), generation.WithStreamer(s))
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 3, n)
}

// TestGenerateConcurrent: one model, several goroutines generating at once (each call has its own
// cache) give the sequential results. Run with -race.
func TestGenerateConcurrent(t *testing.T) {
	ctx := context.Background()
	cfg := benchConfig()
	cfg.NumHiddenLayers, cfg.VocabSize = 1, 64
	m := randomOPT(t, cfg)
	prompts := [][][]int{{{2, 5, 6}}, {{2, 9}}, {{2, 7, 7, 7}}}
	want := make([][][]int, len(prompts))
	for i, p := range prompts {
		out, err := m.Generate(ctx, p, nil, generation.WithMaxNewTokens(8), generation.WithNumBeams(1+i%2))
		require.NoError(t, err)
		want[i] = out.Sequences
	}
	got := make([][][]int, len(prompts))
	errs := make([]error, len(prompts))
	var wg sync.WaitGroup
	for i, p := range prompts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := m.Generate(ctx, p, nil, generation.WithMaxNewTokens(8), generation.WithNumBeams(1+i%2))
			if err == nil {
				got[i] = out.Sequences
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i := range prompts {
		require.NoError(t, errs[i])
		assert.Equal(t, want[i], got[i])
	}
}
