package generation

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/transformers"
	"github.com/gotransformers/gotransformers/transformers/tensor"
)

var inf = float32(math.Inf(-1))

func scoresOf(rows ...[]float32) *tensor.Tensor {
	t := tensor.New(len(rows), len(rows[0]))
	for i, r := range rows {
		copy(t.Data[i*len(r):], r)
	}
	return t
}

func TestRepetitionPenalty(t *testing.T) {
	s := scoresOf([]float32{2, -2, 3, 1})
	// token 0 (positive) divided, token 1 (negative) multiplied, repeated ids penalised once
	require.NoError(t, RepetitionPenaltyLogitsProcessor{Penalty: 2}.Process([][]int{{0, 1, 0}}, s))
	assert.Equal(t, []float32{1, -4, 3, 1}, s.Data)
}

func TestNoRepeatNGram(t *testing.T) {
	s := scoresOf([]float32{0, 0, 0, 0, 0}, []float32{0, 0, 0, 0, 0})
	// row 0: bigrams (1,2) (2,3) (3,1); the last token is 1 -> 2 is banned.
	// row 1: too short for a trigram check with n=3? n=2 here: (4) only one token -> nothing.
	require.NoError(t, NoRepeatNGramLogitsProcessor{NGramSize: 2}.Process([][]int{{1, 2, 3, 1}, {4}}, s))
	assert.Equal(t, []float32{0, 0, inf, 0, 0, 0, 0, 0, 0, 0}, s.Data)

	s = scoresOf([]float32{0, 0, 0, 0, 0})
	// trigrams of 1 2 3 1 2: (1,2,3) (2,3,1) (3,1,2); the last two tokens 1 2 -> 3 banned.
	require.NoError(t, NoRepeatNGramLogitsProcessor{NGramSize: 3}.Process([][]int{{1, 2, 3, 1, 2}}, s))
	assert.Equal(t, []float32{0, 0, 0, inf, 0}, s.Data)
}

func TestMinLengthAndMinNewTokens(t *testing.T) {
	s := scoresOf([]float32{1, 1, 1}, []float32{1, 1, 1})
	require.NoError(t, MinLengthLogitsProcessor{MinLength: 3, EOS: []int{2, 0}}.Process([][]int{{5, 5}, {5, 5, 5}}, s))
	assert.Equal(t, []float32{inf, 1, inf, 1, 1, 1}, s.Data)

	s = scoresOf([]float32{1, 1, 1})
	require.NoError(t, MinNewTokensLengthLogitsProcessor{PromptLength: 2, MinNewTokens: 2, EOS: []int{1}}.Process([][]int{{5, 5, 7}}, s))
	assert.Equal(t, []float32{1, inf, 1}, s.Data)
}

func TestNoBadWords(t *testing.T) {
	p, err := NewNoBadWordsLogitsProcessor([][]int{{3}, {1, 2}, {4}}, []int{4})
	require.NoError(t, err)
	assert.Len(t, p.BadWordsIDs, 2, "a single-EOS entry is dropped")
	s := scoresOf([]float32{0, 0, 0, 0, 0}, []float32{0, 0, 0, 0, 0})
	require.NoError(t, p.Process([][]int{{0, 1}, {1, 0}}, s))
	assert.Equal(t, []float32{0, 0, inf, inf, 0, 0, 0, 0, inf, 0}, s.Data)
	_, err = NewNoBadWordsLogitsProcessor([][]int{{}}, nil)
	require.ErrorContains(t, err, "bad_words_ids[0]")
}

func TestForcedBOSAndEOS(t *testing.T) {
	s := scoresOf([]float32{1, 2, 3}, []float32{1, 2, 3})
	require.NoError(t, ForcedBOSTokenLogitsProcessor{BOS: 1}.Process([][]int{{0}, {0, 0}}, s))
	assert.Equal(t, []float32{inf, 0, inf, 1, 2, 3}, s.Data)
	s = scoresOf([]float32{1, 2, 3})
	require.NoError(t, ForcedEOSTokenLogitsProcessor{MaxLength: 4, EOS: []int{0}}.Process([][]int{{7, 7, 7}}, s))
	assert.Equal(t, []float32{0, inf, inf}, s.Data)
}

func TestTopKTopPTemperature(t *testing.T) {
	s := scoresOf([]float32{1, 4, 2, 4, 3})
	require.NoError(t, TopKLogitsWarper{TopK: 2, MinTokensToKeep: 1}.Process(nil, s))
	assert.Equal(t, []float32{inf, 4, inf, 4, inf}, s.Data)

	s = scoresOf([]float32{1, 2, 3, 4})
	require.NoError(t, TemperatureLogitsWarper{Temperature: 2}.Process(nil, s))
	assert.Equal(t, []float32{0.5, 1, 1.5, 2}, s.Data)

	// probabilities .1 .2 .3 .4 (as log values): ascending cumulative .1 .3 .6 1.0; top_p 0.65 removes
	// the tokens with cumulative <= 0.35: the .1 and .2 ones.
	s = scoresOf([]float32{float32(math.Log(.1)), float32(math.Log(.2)), float32(math.Log(.3)), float32(math.Log(.4))})
	require.NoError(t, TopPLogitsWarper{TopP: 0.65, MinTokensToKeep: 1}.Process(nil, s))
	assert.Equal(t, inf, s.Data[0])
	assert.Equal(t, inf, s.Data[1])
	assert.NotEqual(t, inf, s.Data[2])
	// min_tokens_to_keep keeps the best ones even when top_p would drop them
	s = scoresOf([]float32{float32(math.Log(.1)), float32(math.Log(.2)), float32(math.Log(.3)), float32(math.Log(.4))})
	require.NoError(t, TopPLogitsWarper{TopP: 0.01, MinTokensToKeep: 2}.Process(nil, s))
	assert.Equal(t, []bool{true, true, false, false}, []bool{s.Data[0] == inf, s.Data[1] == inf, s.Data[2] == inf, s.Data[3] == inf})
}

func TestLogSoftmaxRow(t *testing.T) {
	r := []float32{1, 2, 3, inf}
	logSoftmaxRow(r)
	z := math.Log(math.Exp(1) + math.Exp(2) + math.Exp(3))
	for i, x := range []float64{1, 2, 3} {
		assert.InDelta(t, x-z, float64(r[i]), 1e-6)
	}
	assert.Equal(t, inf, r[3])
}

func TestProcessorOrder(t *testing.T) {
	one := 1
	p := Params{MaxLength: 10, RepetitionPenalty: 1.2, NoRepeatNGramSize: 2, BadWordsIDs: [][]int{{5}}, MinLength: 3,
		MinNewTokens: 2, EOSTokenIDs: []int{1}, ForcedBOSTokenID: &one, ForcedEOSTokenID: []int{1},
		DoSample: true, Temperature: 0.7, TopK: 5, TopP: 0.9}
	l, err := p.processors(1)
	require.NoError(t, err)
	var names []string
	for _, x := range l {
		names = append(names, typeName(x))
	}
	assert.Equal(t, []string{"RepetitionPenalty", "NoRepeatNGram", "NoBadWords", "MinLength", "MinNewTokensLength",
		"ForcedBOS", "ForcedEOS", "Temperature", "TopK", "TopP"}, names)
}

func typeName(x LogitsProcessor) string {
	switch x.(type) {
	case RepetitionPenaltyLogitsProcessor:
		return "RepetitionPenalty"
	case NoRepeatNGramLogitsProcessor:
		return "NoRepeatNGram"
	case *NoBadWordsLogitsProcessor:
		return "NoBadWords"
	case MinLengthLogitsProcessor:
		return "MinLength"
	case MinNewTokensLengthLogitsProcessor:
		return "MinNewTokensLength"
	case ForcedBOSTokenLogitsProcessor:
		return "ForcedBOS"
	case ForcedEOSTokenLogitsProcessor:
		return "ForcedEOS"
	case TemperatureLogitsWarper:
		return "Temperature"
	case TopKLogitsWarper:
		return "TopK"
	case TopPLogitsWarper:
		return "TopP"
	}
	return "?"
}

func TestResolvePrecedenceAndLengths(t *testing.T) {
	model := dictConfig{"bos_token_id": 2, "pad_token_id": 1, "eos_token_id": 2, "num_beams": 4} // model-config defaults
	base, err := FromModelConfig(model)
	require.NoError(t, err)
	assert.Equal(t, 4, base.NumBeams)
	assert.Equal(t, 20, base.MaxLength)

	// generation_config.json (WithConfig) replaces the model-config defaults; call options win.
	file := NewGenerationConfig()
	file.EOSTokenID = transformers.SingleTokenID(7)
	file.NumBeams = 2
	cfg, co, err := ResolveOptions(base, WithConfig(file), WithNumBeams(3), WithMaxNewTokens(5))
	require.NoError(t, err)
	assert.Equal(t, 3, cfg.NumBeams)
	assert.Equal(t, []int{7}, cfg.EOSTokenID.IDs)
	assert.Equal(t, 4, base.NumBeams, "the base is not modified")
	assert.True(t, co.Has("num_beams"))
	assert.False(t, co.Has("max_length"))

	// max_new_tokens counts from the prompt
	p, err := cfg.Params(Lengths{InputIDsLen: 8}, co)
	require.NoError(t, err)
	assert.Equal(t, 13, p.MaxLength)

	// only inputs_embeds (decoder-only): max_length and min_length lose the embeddings' length
	cfg, co, err = ResolveOptions(base, WithMinLength(9))
	require.NoError(t, err)
	p, err = cfg.Params(Lengths{InputIDsLen: 0, EmbedsLen: 7}, co)
	require.NoError(t, err)
	assert.Equal(t, 13, p.MaxLength)
	assert.Equal(t, 2, p.MinLength)
	// encoder-decoder: no correction
	p, err = cfg.Params(Lengths{InputIDsLen: 1, EmbedsLen: 7, EncoderDecoder: true}, co)
	require.NoError(t, err)
	assert.Equal(t, 20, p.MaxLength)
	assert.Equal(t, 9, p.MinLength)
}

type dictConfig map[string]any

func (d dictConfig) ToDict() map[string]any { return d }

func TestWithKwargs(t *testing.T) {
	var kw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(`{"max_new_tokens": 8, "num_beams": 3, "num_return_sequences": 2,
		"length_penalty": 0.8, "early_stopping": "never", "eos_token_id": [4, 5], "repetition_penalty": 1.5,
		"no_repeat_ngram_size": 2, "min_new_tokens": 6, "bad_words_ids": [[1, 2]], "do_sample": false}`), &kw))
	cfg, co, err := ResolveOptions(nil, WithKwargs(kw))
	require.NoError(t, err)
	p, err := cfg.Params(Lengths{InputIDsLen: 1}, co)
	require.NoError(t, err)
	assert.Equal(t, 9, p.MaxLength)
	assert.Equal(t, 3, p.NumBeams)
	assert.Equal(t, 2, p.NumReturnSequences)
	assert.Equal(t, 0.8, p.LengthPenalty)
	assert.Equal(t, EarlyStoppingNever, p.EarlyStopping)
	assert.Equal(t, []int{4, 5}, p.EOSTokenIDs)
	assert.Equal(t, 1.5, p.RepetitionPenalty)
	assert.Equal(t, 2, p.NoRepeatNGramSize)
	assert.Equal(t, 6, p.MinNewTokens)
	assert.Equal(t, 7, p.MinLength)
	assert.Equal(t, [][]int{{1, 2}}, p.BadWordsIDs)

	_, _, err = ResolveOptions(nil, WithKwargs(map[string]json.RawMessage{"penalty_typo": json.RawMessage("1")}))
	require.ErrorContains(t, err, "penalty_typo")
	_, _, err = ResolveOptions(nil, WithKwargs(map[string]json.RawMessage{"num_beams": json.RawMessage(`"x"`)}))
	require.ErrorContains(t, err, "num_beams")
}

func TestParamsRejectsUnsupported(t *testing.T) {
	cfg := NewGenerationConfig()
	cfg.NumBeamGroups = 2
	_, err := cfg.Params(Lengths{InputIDsLen: 1}, nil)
	require.ErrorContains(t, err, "num_beam_groups")
	cfg = NewGenerationConfig()
	cfg.DoSample, cfg.Temperature = true, 0
	_, err = cfg.Params(Lengths{InputIDsLen: 1}, nil)
	require.ErrorContains(t, err, "temperature")
}

func TestDefaultAttentionMask(t *testing.T) {
	pad := 1
	ids := [][]int{{1, 1, 5}, {4, 5, 6}}
	assert.Equal(t, [][]int{{0, 0, 1}, {1, 1, 1}}, DefaultAttentionMask(ids, &pad, []int{2}))
	// pad equal to eos: cannot tell padding from EOS -> all ones
	assert.Equal(t, [][]int{{1, 1, 1}, {1, 1, 1}}, DefaultAttentionMask(ids, &pad, []int{1}))
}

func TestKthLargest(t *testing.T) {
	rng := []float32{5, 1, 4, 4, 9, inf, 2, 7, 4, 0} // inf is -Inf
	sorted := []float32{9, 7, 5, 4, 4, 4, 2, 1, 0, inf}
	for k := 1; k <= len(rng); k++ {
		a := append([]float32(nil), rng...)
		assert.Equal(t, sorted[k-1], kthLargest(a, k), "k=%d", k)
	}
	big := make([]float32, 5000)
	for i := range big {
		big[i] = float32((i * 7919) % 1000) // many ties
	}
	assert.Equal(t, float32(999), kthLargest(append([]float32(nil), big...), 1))
	assert.Equal(t, float32(998), kthLargest(append([]float32(nil), big...), 6))
	assert.Equal(t, float32(0), kthLargest(append([]float32(nil), big...), 5000))
}
