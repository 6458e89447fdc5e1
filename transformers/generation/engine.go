package generation

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"sort"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// Decoder is one generation's view of a model: it holds the prompt (token ids or input embeddings,
// the encoder output of an encoder-decoder model), the attention mask and the KV cache of a batch of
// rows. The model packages implement it (models/opt, models/t5, models/blip_2 generation.go). It is
// the small interface the engine needs in place of transformers' prepare_inputs_for_generation /
// forward / _reorder_cache.
type Decoder interface {
	// Prefill runs the prompt and returns the next-token logits of the last position of every row,
	// [B, V].
	Prefill(ctx context.Context) (*tensor.Tensor, error)
	// Step appends one token per row (len(tokens) = current batch) and returns the next-token
	// logits, [B, V]. The attention mask grows by one column of ones.
	Step(ctx context.Context, tokens []int) (*tensor.Tensor, error)
	// Reorder makes row i of the state a copy of old row rows[i]; len(rows) may differ from the
	// current batch (expansion for beams or num_return_sequences).
	Reorder(rows []int) error
}

// Params are the resolved settings of one generate call: what transformers' generate holds in its
// GenerationConfig after _prepare_special_tokens and _prepare_generated_length. Build them with
// (*GenerationConfig).Params or fill them directly.
type Params struct {
	// MaxLength is the total length of the returned rows (prompt included), > prompt length.
	MaxLength int
	// MinLength: EOS is suppressed while a row is shorter (0: off).
	MinLength int
	// MinNewTokens: EOS is suppressed until this many tokens were generated (0: off).
	MinNewTokens int

	DoSample           bool
	NumBeams           int     // 1: greedy or sampling
	NumReturnSequences int     // rows returned per input row
	Temperature        float64 // 0 or 1: off
	TopK               int     // 0: off
	TopP               float64 // 0 or 1: off
	RepetitionPenalty  float64 // 0 or 1: off
	NoRepeatNGramSize  int
	BadWordsIDs        [][]int
	ForcedBOSTokenID   *int
	ForcedEOSTokenID   []int
	LengthPenalty      float64
	EarlyStopping      EarlyStopping

	// EOSTokenIDs stop a row (empty: only max_length stops).
	EOSTokenIDs []int
	// PadTokenID fills finished rows; nil means eos_token_id[0] when there is one.
	PadTokenID *int

	// Seed seeds the sampling generator (math/rand/v2 PCG): the same seed gives the same tokens.
	// Sampling is not torch-identical.
	Seed uint64
	// Streamer receives the prompt rows, then each new token of every row (batch 1, no beams).
	Streamer Streamer
	// Processors run after the built-in ones (transformers' logits_processor argument).
	Processors LogitsProcessorList
}

// Output is the result of generation (transformers' GenerateDecoderOnlyOutput /
// GenerateBeamDecoderOnlyOutput, sequences and sequences_scores only).
type Output struct {
	// Sequences are [B*num_return_sequences][L]: the prompt rows followed by the generated tokens,
	// finished rows padded with pad_token_id.
	Sequences [][]int
	// SequencesScores are the final beam scores (beam search only).
	SequencesScores []float64
}

// validate checks the parameters and fills defaults; it returns the pad token (and whether one
// exists).
func (p *Params) validate(promptLen int) (int, bool, error) {
	if p.NumBeams == 0 {
		p.NumBeams = 1
	}
	if p.NumReturnSequences == 0 {
		p.NumReturnSequences = 1
	}
	switch {
	case p.NumBeams < 1:
		return 0, false, fmt.Errorf("generation: num_beams must be >= 1, got %d", p.NumBeams)
	case p.NumReturnSequences < 1:
		return 0, false, fmt.Errorf("generation: num_return_sequences must be >= 1, got %d", p.NumReturnSequences)
	case p.NumBeams == 1 && !p.DoSample && p.NumReturnSequences > 1:
		return 0, false, fmt.Errorf("generation: num_return_sequences (%d) must be 1 for greedy search", p.NumReturnSequences)
	case p.NumReturnSequences > p.NumBeams && p.NumBeams > 1:
		return 0, false, fmt.Errorf("generation: num_return_sequences (%d) must be <= num_beams (%d)", p.NumReturnSequences, p.NumBeams)
	case p.Temperature < 0:
		return 0, false, fmt.Errorf("generation: temperature must be > 0, got %g", p.Temperature)
	case p.TopP < 0 || p.TopP > 1:
		return 0, false, fmt.Errorf("generation: top_p must be in [0, 1], got %g", p.TopP)
	case p.TopK < 0:
		return 0, false, fmt.Errorf("generation: top_k must be >= 0, got %d", p.TopK)
	case p.RepetitionPenalty < 0:
		return 0, false, fmt.Errorf("generation: repetition_penalty must be > 0, got %g", p.RepetitionPenalty)
	case p.NoRepeatNGramSize < 0:
		return 0, false, fmt.Errorf("generation: no_repeat_ngram_size must be >= 0, got %d", p.NoRepeatNGramSize)
	case p.MaxLength <= promptLen:
		return 0, false, fmt.Errorf("generation: input length is %d, but max_length is set to %d; increase max_length or set max_new_tokens", promptLen, p.MaxLength)
	case p.Streamer != nil && p.NumBeams > 1:
		return 0, false, errors.New("generation: a streamer cannot be used with beam search")
	}
	for _, e := range p.EOSTokenIDs {
		if e < 0 {
			return 0, false, fmt.Errorf("generation: eos_token_id must be >= 0, got %d", e)
		}
	}
	if p.PadTokenID != nil {
		return *p.PadTokenID, true, nil
	}
	if len(p.EOSTokenIDs) > 0 {
		return p.EOSTokenIDs[0], true, nil
	}
	return 0, false, nil
}

// processors builds the logits processor list in transformers' order (_get_logits_processor).
func (p *Params) processors(promptLen int) (LogitsProcessorList, error) {
	var l LogitsProcessorList
	if p.RepetitionPenalty != 0 && p.RepetitionPenalty != 1 {
		l = append(l, RepetitionPenaltyLogitsProcessor{Penalty: float32(p.RepetitionPenalty)})
	}
	if p.NoRepeatNGramSize > 0 {
		l = append(l, NoRepeatNGramLogitsProcessor{NGramSize: p.NoRepeatNGramSize})
	}
	if len(p.BadWordsIDs) > 0 {
		bw, err := NewNoBadWordsLogitsProcessor(p.BadWordsIDs, p.EOSTokenIDs)
		if err != nil {
			return nil, err
		}
		l = append(l, bw)
	}
	if p.MinLength > 0 && len(p.EOSTokenIDs) > 0 {
		l = append(l, MinLengthLogitsProcessor{MinLength: p.MinLength, EOS: p.EOSTokenIDs})
	}
	if p.MinNewTokens > 0 && len(p.EOSTokenIDs) > 0 {
		l = append(l, MinNewTokensLengthLogitsProcessor{PromptLength: promptLen, MinNewTokens: p.MinNewTokens, EOS: p.EOSTokenIDs})
	}
	if p.ForcedBOSTokenID != nil {
		l = append(l, ForcedBOSTokenLogitsProcessor{BOS: *p.ForcedBOSTokenID})
	}
	if len(p.ForcedEOSTokenID) > 0 {
		l = append(l, ForcedEOSTokenLogitsProcessor{MaxLength: p.MaxLength, EOS: p.ForcedEOSTokenID})
	}
	l = append(l, p.Processors...)
	if p.DoSample {
		keep := 1
		if p.NumBeams > 1 {
			keep = 2
		}
		if p.Temperature != 0 && p.Temperature != 1 {
			l = append(l, TemperatureLogitsWarper{Temperature: float32(p.Temperature)})
		}
		if p.TopK != 0 {
			l = append(l, TopKLogitsWarper{TopK: p.TopK, MinTokensToKeep: keep})
		}
		if p.TopP != 0 && p.TopP < 1 {
			l = append(l, TopPLogitsWarper{TopP: p.TopP, MinTokensToKeep: keep})
		}
	}
	return l, nil
}

// Generate runs greedy search, sampling or beam search (transformers' GenerationMixin.generate after
// the inputs are prepared: _sample / _beam_search). prompt holds the rows the logits processors and
// the output start from (decoder-only: the padded prompt ids, or empty rows when the model is fed
// input embeddings; encoder-decoder: the decoder start ids), one per row of dec. The context is
// checked before every model call: cancelling stops generation within one step.
func Generate(ctx context.Context, dec Decoder, prompt [][]int, p Params) (out *Output, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("generation: internal error: %v\n%s", r, debug.Stack())
		}
	}()
	if dec == nil {
		return nil, errors.New("generation: nil decoder")
	}
	if len(prompt) == 0 {
		return nil, errors.New("generation: empty batch")
	}
	promptLen := len(prompt[0])
	for i, r := range prompt {
		if len(r) != promptLen {
			return nil, fmt.Errorf("generation: prompt row %d has length %d, want %d (pad the batch)", i, len(r), promptLen)
		}
	}
	pad, hasPad, err := p.validate(promptLen)
	if err != nil {
		return nil, err
	}
	procs, err := p.processors(promptLen)
	if err != nil {
		return nil, err
	}
	if p.Streamer != nil {
		defer p.Streamer.End()
		if err := p.Streamer.Put(prompt); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	logits, err := dec.Prefill(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkLogits(logits, len(prompt)); err != nil {
		return nil, err
	}
	expand := p.NumReturnSequences
	if p.NumBeams > 1 {
		expand = p.NumBeams
	}
	seqs := make([][]int, 0, len(prompt)*expand)
	if expand > 1 {
		rows := make([]int, 0, len(prompt)*expand)
		for i := range prompt {
			for j := 0; j < expand; j++ {
				rows = append(rows, i)
			}
		}
		if err := dec.Reorder(rows); err != nil {
			return nil, err
		}
		logits = tensor.IndexSelect(logits, 0, rows)
	}
	for i := range prompt {
		for j := 0; j < expand; j++ {
			seqs = append(seqs, append(make([]int, 0, min(p.MaxLength, promptLen+128)), prompt[i]...))
		}
	}
	if p.NumBeams > 1 {
		return beamSearch(ctx, dec, seqs, logits, &p, procs, pad, hasPad, len(prompt), promptLen)
	}
	return sample(ctx, dec, seqs, logits, &p, procs, pad)
}

func checkLogits(l *tensor.Tensor, rows int) error {
	if l == nil || len(l.Shape) != 2 || l.Shape[0] != rows || l.Shape[1] == 0 || len(l.Data) != rows*l.Shape[1] {
		var shape []int
		if l != nil {
			shape = l.Shape
		}
		return fmt.Errorf("generation: decoder returned logits of shape %v, want [%d, V]", shape, rows)
	}
	return nil
}

// sample is transformers' _sample: greedy (argmax) or multinomial sampling.
func sample(ctx context.Context, dec Decoder, seqs [][]int, logits *tensor.Tensor, p *Params, procs LogitsProcessorList, pad int) (*Output, error) {
	n := len(seqs)
	unfinished := make([]bool, n)
	for i := range unfinished {
		unfinished[i] = true
	}
	var rng *rand.Rand
	var probs []float64
	if p.DoSample {
		rng = rand.New(rand.NewPCG(p.Seed, p.Seed^0x9e3779b97f4a7c15))
	}
	hasEOS := len(p.EOSTokenIDs) > 0
	next := make([]int, n)
	for {
		if err := procs.Process(seqs, logits); err != nil {
			return nil, err
		}
		v := logits.Shape[1]
		for i := 0; i < n; i++ {
			row := logits.Data[i*v : (i+1)*v]
			if p.DoSample {
				if probs == nil {
					probs = make([]float64, v)
				}
				next[i] = multinomial(row, probs, rng)
			} else {
				next[i] = argmax(row)
			}
			if hasEOS && !unfinished[i] {
				next[i] = pad
			}
		}
		allDone := true
		for i := 0; i < n; i++ {
			seqs[i] = append(seqs[i], next[i])
			stop := len(seqs[i]) >= p.MaxLength || (hasEOS && contains(p.EOSTokenIDs, next[i]))
			unfinished[i] = unfinished[i] && !stop
			allDone = allDone && !unfinished[i]
		}
		if p.Streamer != nil {
			if err := p.Streamer.Put(columns(next)); err != nil {
				return nil, err
			}
		}
		if allDone {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var err error
		if logits, err = dec.Step(ctx, next); err != nil {
			return nil, err
		}
		if err := checkLogits(logits, n); err != nil {
			return nil, err
		}
	}
	return &Output{Sequences: seqs}, nil
}

func columns(tokens []int) [][]int {
	out := make([][]int, len(tokens))
	for i, t := range tokens {
		out[i] = []int{t}
	}
	return out
}

// argmax returns the first index of the largest value (NaN counts as largest, as torch.argmax).
func argmax(row []float32) int {
	best := 0
	for j, s := range row {
		if s != s {
			return j
		}
		if s > row[best] {
			best = j
		}
	}
	return best
}

// multinomial draws one index from softmax(row).
func multinomial(row []float32, probs []float64, rng *rand.Rand) int {
	softmax64(row, probs)
	u := rng.Float64()
	cum := 0.0
	last := -1
	for j, q := range probs {
		if q <= 0 {
			continue
		}
		last = j
		cum += q
		if u < cum {
			return j
		}
	}
	if last < 0 {
		return argmax(row)
	}
	return last
}

// beamSearch is transformers' _beam_search with BeamSearchScorer (and beam sampling when DoSample).
func beamSearch(ctx context.Context, dec Decoder, seqs [][]int, logits *tensor.Tensor, p *Params, procs LogitsProcessorList, pad int, hasPad bool, batch, promptLen int) (*Output, error) {
	nb := p.NumBeams
	scorer := newBeamScorer(batch, nb, p.LengthPenalty, p.EarlyStopping, p.NumReturnSequences, p.MaxLength)
	beamScores := make([]float32, batch*nb)
	for b := 0; b < batch; b++ {
		for j := 1; j < nb; j++ {
			beamScores[b*nb+j] = -1e9
		}
	}
	keep := max(2, 1+len(p.EOSTokenIDs)) * nb
	var rng *rand.Rand
	if p.DoSample {
		rng = rand.New(rand.NewPCG(p.Seed, p.Seed^0x9e3779b97f4a7c15))
	}
	candScores := make([][]float32, batch)
	candTokens := make([][]int, batch)
	candBeams := make([][]int, batch)
	for {
		v := logits.Shape[1]
		for i := range seqs {
			logSoftmaxRow(logits.Data[i*v : (i+1)*v])
		}
		if err := procs.Process(seqs, logits); err != nil {
			return nil, err
		}
		for i := range seqs {
			row := logits.Data[i*v : (i+1)*v]
			for j := range row {
				row[j] += beamScores[i]
			}
		}
		for b := 0; b < batch; b++ {
			flat := logits.Data[b*nb*v : (b+1)*nb*v]
			var idx []int
			if p.DoSample {
				idx = sampleWithoutReplacement(flat, keep, rng)
			} else {
				idx = topK(flat, keep)
			}
			candScores[b] = candScores[b][:0]
			candTokens[b] = candTokens[b][:0]
			candBeams[b] = candBeams[b][:0]
			for _, k := range idx {
				candScores[b] = append(candScores[b], flat[k])
				candTokens[b] = append(candTokens[b], k%v)
				candBeams[b] = append(candBeams[b], k/v)
			}
		}
		nextScores, nextTokens, nextRows, err := scorer.process(seqs, candScores, candTokens, candBeams, pad, hasPad, p.EOSTokenIDs, promptLen)
		if err != nil {
			return nil, err
		}
		beamScores = nextScores
		newSeqs := make([][]int, len(seqs))
		identity := true
		for i, r := range nextRows {
			if r != i {
				identity = false
			}
			newSeqs[i] = append(append(make([]int, 0, len(seqs[r])+1), seqs[r]...), nextTokens[i])
		}
		seqs = newSeqs
		if scorer.isDone() || len(seqs[0]) >= p.MaxLength {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !identity {
			if err := dec.Reorder(nextRows); err != nil {
				return nil, err
			}
		}
		if logits, err = dec.Step(ctx, nextTokens); err != nil {
			return nil, err
		}
		if err := checkLogits(logits, len(seqs)); err != nil {
			return nil, err
		}
	}
	out, scores, err := scorer.finalize(seqs, beamScores, p.MaxLength, pad, hasPad, p.EOSTokenIDs, promptLen)
	if err != nil {
		return nil, err
	}
	return &Output{Sequences: out, SequencesScores: scores}, nil
}

// topK returns the indices of the k largest values, descending; equal values in index order.
func topK(row []float32, k int) []int {
	k = min(k, len(row))
	// keep a small sorted buffer: k is 2*num_beams, tiny next to the vocabulary
	idx := make([]int, 0, k+1)
	less := func(a, b int) bool { // a ranks after b
		return row[a] < row[b] || (row[a] == row[b] && a > b)
	}
	for j := range row {
		if len(idx) == k && !less(idx[k-1], j) {
			continue
		}
		pos := sort.Search(len(idx), func(i int) bool { return less(idx[i], j) })
		idx = append(idx, 0)
		copy(idx[pos+1:], idx[pos:])
		idx[pos] = j
		if len(idx) > k {
			idx = idx[:k]
		}
	}
	return idx
}

// sampleWithoutReplacement draws k distinct indices from softmax(row) (torch.multinomial without
// replacement) and returns them ordered by descending score.
func sampleWithoutReplacement(row []float32, k int, rng *rand.Rand) []int {
	probs := make([]float64, len(row))
	softmax64(row, probs)
	var idx []int
	for len(idx) < k {
		total := 0.0
		for _, q := range probs {
			total += q
		}
		if total <= 0 {
			break
		}
		u := rng.Float64() * total
		cum := 0.0
		pick := -1
		for j, q := range probs {
			if q <= 0 {
				continue
			}
			pick = j
			cum += q
			if u < cum {
				break
			}
		}
		idx = append(idx, pick)
		probs[pick] = 0
	}
	for _, j := range topK(row, k) { // fill with the best remaining when too few have probability
		if len(idx) >= k {
			break
		}
		if !contains(idx, j) {
			idx = append(idx, j)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] > row[idx[b]] })
	return idx
}
