package generation

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// fakeDecoder is a model whose next-token distribution is a table lookup on each row's history
// (prompt + fed tokens). It keeps the histories as a KV cache would: Reorder must move them.
type fakeDecoder struct {
	v       int
	hist    [][]int
	table   map[string][]float64 // history -> probabilities (missing: uniform)
	steps   int
	onStep  func(step int)
	prefill int
}

func key(h []int) string { return fmt.Sprint(h) }

func (f *fakeDecoder) logits() *tensor.Tensor {
	t := tensor.New(len(f.hist), f.v)
	for i, h := range f.hist {
		p, ok := f.table[key(h)]
		for j := 0; j < f.v; j++ {
			q := 1 / float64(f.v)
			if ok {
				q = p[j]
			}
			t.Data[i*f.v+j] = float32(math.Log(q))
		}
	}
	return t
}

func (f *fakeDecoder) Prefill(ctx context.Context) (*tensor.Tensor, error) {
	f.prefill++
	return f.logits(), nil
}

func (f *fakeDecoder) Step(ctx context.Context, tokens []int) (*tensor.Tensor, error) {
	if len(tokens) != len(f.hist) {
		return nil, fmt.Errorf("step with %d tokens for %d rows", len(tokens), len(f.hist))
	}
	f.steps++
	if f.onStep != nil {
		f.onStep(f.steps)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i, t := range tokens {
		f.hist[i] = append(append([]int(nil), f.hist[i]...), t)
	}
	return f.logits(), nil
}

func (f *fakeDecoder) Reorder(rows []int) error {
	n := make([][]int, len(rows))
	for i, r := range rows {
		n[i] = append([]int(nil), f.hist[r]...)
	}
	f.hist = n
	return nil
}

func newFake(v int, prompt [][]int, table map[string][]float64) *fakeDecoder {
	f := &fakeDecoder{v: v, table: table}
	for _, r := range prompt {
		f.hist = append(f.hist, append([]int(nil), r...))
	}
	return f
}

// beamTable is the worked example of TestBeamSearchHandComputed (V=4, eos=3).
var beamTable = map[string][]float64{
	"[0]":       {0, 0.5, 0.3, 0.2},
	"[0 1]":     {0, 0.1, 0.2, 0.7},
	"[0 2]":     {0, 0.6, 0.3, 0.1},
	"[0 2 1]":   {0, 0.2, 0.2, 0.6},
	"[0 1 2]":   {0, 0.5, 0.4, 0.1},
	"[0 1 2 1]": {0.25, 0.25, 0.25, 0.25},
}

func ip(v int) *int { return &v }

func TestBeamSearchHandComputed(t *testing.T) {
	// Step 1 keeps [0 1] (log .5) and [0 2] (log .3). Step 2: eos after [0 1] is the best candidate:
	// hypothesis [0 1] with sum log(.5*.7) = -1.0498 over 2 generated tokens; the beams become
	// [0 2 1] (log .3*.6) and [0 1 2] (log .5*.2). Step 3: eos after [0 2 1] gives hypothesis
	// [0 2 1] with log(.3*.6*.6) = -2.2256 over 3 tokens; max_length 4 ends the search.
	cases := []struct {
		lp     float64
		nrs    int
		want   [][]int
		scores []float64
	}{
		// length_penalty 1: -1.0498/2 = -0.525 beats -2.2256/3 = -0.742; [0 1] gets eos appended.
		{1, 1, [][]int{{0, 1, 3}}, []float64{math.Log(.35) / 2}},
		{1, 2, [][]int{{0, 1, 3, 9}, {0, 2, 1, 3}}, []float64{math.Log(.35) / 2, math.Log(.108) / 3}},
		// length_penalty 2: -1.0498/4 = -0.262 loses to -2.2256/9 = -0.247.
		{2, 1, [][]int{{0, 2, 1, 3}}, []float64{math.Log(.108) / 9}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("lp%g_nrs%d", c.lp, c.nrs), func(t *testing.T) {
			f := newFake(4, [][]int{{0}}, beamTable)
			out, err := Generate(context.Background(), f, [][]int{{0}}, Params{
				MaxLength: 4, NumBeams: 2, NumReturnSequences: c.nrs, LengthPenalty: c.lp,
				EOSTokenIDs: []int{3}, PadTokenID: ip(9),
			})
			require.NoError(t, err)
			assert.Equal(t, c.want, out.Sequences)
			require.Len(t, out.SequencesScores, len(c.scores))
			for i := range c.scores {
				assert.InDelta(t, c.scores[i], out.SequencesScores[i], 1e-5)
			}
		})
	}
}

func TestBeamSearchEarlyStoppingTrue(t *testing.T) {
	// With early_stopping=True and num_beams=1... hypotheses need num_beams entries: use nb=2 and a
	// table where both step-2 candidates of beam 0 and beam 1 are eos-heavy.
	table := map[string][]float64{
		"[0]":   {0, 0.5, 0.5, 0},
		"[0 1]": {0, 0.1, 0.1, 0.8},
		"[0 2]": {0, 0.1, 0.2, 0.7},
	}
	f := newFake(4, [][]int{{0}}, table)
	out, err := Generate(context.Background(), f, [][]int{{0}}, Params{
		MaxLength: 10, NumBeams: 2, NumReturnSequences: 2, LengthPenalty: 1, EarlyStopping: EarlyStoppingTrue,
		EOSTokenIDs: []int{3}, PadTokenID: ip(9),
	})
	require.NoError(t, err)
	// step 2 candidates: [0 1]+eos log(.4), [0 2]+eos log(.35), then non-eos ones fill the beams;
	// both hypotheses are in after step 2, so early stopping ends the search there.
	assert.Equal(t, [][]int{{0, 1, 3}, {0, 2, 3}}, out.Sequences)
	assert.Equal(t, 1, f.steps, "one decode step after the prefill")
}

func TestGreedyBatchEOSAndPadding(t *testing.T) {
	// V=5, eos=4, pad=0. Row 0 emits 2 then eos; row 1 emits 1 3 1 3 ... until max_length.
	table := map[string][]float64{
		"[0 2]":       {0, 0, 1, 0, 0},
		"[0 2 2]":     {0, 0, 0, 0, 1},
		"[0 2 2 4]":   {0.1, 0.1, 0.1, 0.6, 0.1}, // after finishing: must be ignored (pad)
		"[0 2 2 4 0]": {0.1, 0.1, 0.1, 0.6, 0.1},
		"[1 1]":       {0, 0.2, 0.1, 0.7, 0},
		"[1 1 3]":     {0, 0.6, 0.1, 0.3, 0},
		"[1 1 3 1]":   {0, 0.2, 0.1, 0.7, 0},
		"[1 1 3 1 3]": {0, 0.6, 0.1, 0.3, 0},
	}
	prompt := [][]int{{0, 2}, {1, 1}}
	f := newFake(5, prompt, table)
	out, err := Generate(context.Background(), f, prompt, Params{MaxLength: 6, EOSTokenIDs: []int{4}, PadTokenID: ip(0)})
	require.NoError(t, err)
	assert.Equal(t, [][]int{{0, 2, 2, 4, 0, 0}, {1, 1, 3, 1, 3, 1}}, out.Sequences)

	// All rows finishing early stops the loop without another model call.
	f = newFake(5, prompt[:1], table)
	out, err = Generate(context.Background(), f, prompt[:1], Params{MaxLength: 20, EOSTokenIDs: []int{4}})
	require.NoError(t, err)
	assert.Equal(t, [][]int{{0, 2, 2, 4}}, out.Sequences)
	assert.Equal(t, 1, f.steps)
}

func TestGreedyNoEOSRunsToMaxLength(t *testing.T) {
	f := newFake(3, [][]int{{1}}, map[string][]float64{})
	out, err := Generate(context.Background(), f, [][]int{{1}}, Params{MaxLength: 4})
	require.NoError(t, err)
	// uniform logits: argmax takes the first index
	assert.Equal(t, [][]int{{1, 0, 0, 0}}, out.Sequences)
}

func TestMaxLengthNotAbovePromptFails(t *testing.T) {
	f := newFake(3, [][]int{{1, 2}}, nil)
	_, err := Generate(context.Background(), f, [][]int{{1, 2}}, Params{MaxLength: 2})
	require.ErrorContains(t, err, "max_length")
}

func TestSamplingDeterministicPerSeed(t *testing.T) {
	table := map[string][]float64{}
	run := func(seed uint64, topK int) []int {
		f := newFake(6, [][]int{{0}}, table)
		out, err := Generate(context.Background(), f, [][]int{{0}}, Params{
			MaxLength: 30, DoSample: true, Seed: seed, TopK: topK, Temperature: 1, TopP: 1,
		})
		require.NoError(t, err)
		return out.Sequences[0]
	}
	a, b := run(7, 0), run(7, 0)
	assert.Equal(t, a, b)
	c := run(8, 0)
	assert.NotEqual(t, a, c, "uniform over 6 tokens, 29 draws: two seeds agree with probability 6^-29")
	seen := map[int]bool{}
	for _, t := range a[1:] {
		seen[t] = true
	}
	assert.Greater(t, len(seen), 2)
}

func TestSamplingTopKOneIsGreedy(t *testing.T) {
	table := map[string][]float64{"[0]": {0.1, 0.2, 0.3, 0.4}, "[0 3]": {0.4, 0.3, 0.2, 0.1}}
	f := newFake(4, [][]int{{0}}, table)
	out, err := Generate(context.Background(), f, [][]int{{0}}, Params{MaxLength: 3, DoSample: true, TopK: 1, Seed: 3})
	require.NoError(t, err)
	assert.Equal(t, [][]int{{0, 3, 0}}, out.Sequences)
}

func TestNumReturnSequencesSampling(t *testing.T) {
	f := newFake(6, [][]int{{0}, {1}}, map[string][]float64{})
	out, err := Generate(context.Background(), f, [][]int{{0}, {1}}, Params{MaxLength: 3, DoSample: true, NumReturnSequences: 3, Seed: 1})
	require.NoError(t, err)
	require.Len(t, out.Sequences, 6)
	for i, r := range out.Sequences {
		assert.Equal(t, i/3, r[0], "rows are expanded in place (repeat_interleave)")
	}
}

func TestGreedyWithNumReturnSequencesFails(t *testing.T) {
	f := newFake(3, [][]int{{0}}, nil)
	_, err := Generate(context.Background(), f, [][]int{{0}}, Params{MaxLength: 3, NumReturnSequences: 2})
	require.ErrorContains(t, err, "num_return_sequences")
}

func TestMinNewTokensSuppressesEOS(t *testing.T) {
	table := map[string][]float64{"[0]": {0.1, 0, 0.9}, "[0 0]": {0.1, 0, 0.9}, "[0 0 0]": {0.1, 0, 0.9}}
	f := newFake(3, [][]int{{0}}, table)
	out, err := Generate(context.Background(), f, [][]int{{0}}, Params{MaxLength: 10, MinNewTokens: 2, MinLength: 3, EOSTokenIDs: []int{2}})
	require.NoError(t, err)
	assert.Equal(t, [][]int{{0, 0, 0, 2}}, out.Sequences)
}

func TestCancellationStopsWithinOneStep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFake(3, [][]int{{0}}, nil)
	f.onStep = func(step int) {
		if step == 3 {
			cancel()
		}
	}
	_, err := Generate(ctx, f, [][]int{{0}}, Params{MaxLength: 1000})
	require.True(t, errors.Is(err, context.Canceled), "got %v", err)
	assert.Equal(t, 3, f.steps)
}

func TestTopK(t *testing.T) {
	row := []float32{1, 5, 3, 5, 2}
	assert.Equal(t, []int{1, 3, 2}, topK(row, 3), "descending, ties in index order")
	assert.Equal(t, []int{1, 3, 2, 4, 0}, topK(row, 9))
}

type panicProcessor struct{}

func (panicProcessor) Process([][]int, *tensor.Tensor) error { panic("boom") }

func TestPanicBecomesError(t *testing.T) {
	f := newFake(3, [][]int{{0}}, nil)
	_, err := Generate(context.Background(), f, [][]int{{0}}, Params{MaxLength: 3, Processors: LogitsProcessorList{panicProcessor{}}})
	require.ErrorContains(t, err, "boom")
}

type badShapeDecoder struct{ fakeDecoder }

func (d *badShapeDecoder) Prefill(context.Context) (*tensor.Tensor, error) {
	return tensor.New(5, 2), nil
}

func TestBadDecoderOutput(t *testing.T) {
	_, err := Generate(context.Background(), &badShapeDecoder{}, [][]int{{0}}, Params{MaxLength: 3})
	require.ErrorContains(t, err, "logits of shape")
	_, err = Generate(context.Background(), nil, [][]int{{0}}, Params{MaxLength: 3})
	require.Error(t, err)
	_, err = Generate(context.Background(), newFake(3, nil, nil), [][]int{{0}, {1, 2}}, Params{MaxLength: 3})
	require.ErrorContains(t, err, "row 1")
}

// TestBeamSearchEarlyStoppingFalseVsNever: after step 2 both hypotheses ([0 1 3]: log .4 / 2,
// [0 2 3]: log .35 / 2) are in. At step 3 (uniform tables), early_stopping=False scores the best
// running beam at the current length: log(.5*.2*.25)/3 = -1.23 < worst -0.525, so the search
// stops; "never" scores it at max_length: log(.025)/9 = -0.41 > -0.525, so it runs one more step
// (then log(.025*.25)/9 = -0.564 <= -0.525 stops it).
func TestBeamSearchEarlyStoppingFalseVsNever(t *testing.T) {
	table := map[string][]float64{
		"[0]":   {0, 0.5, 0.5, 0},
		"[0 1]": {0, 0.1, 0.1, 0.8},
		"[0 2]": {0, 0.1, 0.2, 0.7},
	}
	for _, c := range []struct {
		early EarlyStopping
		steps int
	}{{EarlyStoppingFalse, 2}, {EarlyStoppingNever, 3}} {
		f := newFake(4, [][]int{{0}}, table)
		out, err := Generate(context.Background(), f, [][]int{{0}}, Params{
			MaxLength: 10, NumBeams: 2, LengthPenalty: 1, EarlyStopping: c.early, EOSTokenIDs: []int{3}, PadTokenID: ip(9),
		})
		require.NoError(t, err)
		assert.Equal(t, [][]int{{0, 1, 3}}, out.Sequences, c.early.String())
		assert.Equal(t, c.steps, f.steps, c.early.String())
	}
}
