package generation

import (
	"fmt"
	"math"
	"sort"
)

// EarlyStopping is the beam search stopping rule (GenerationConfig.early_stopping).
type EarlyStopping int

const (
	// EarlyStoppingFalse (early_stopping=False, the default) stops a batch row when the best running
	// beam, scored at the current length, cannot beat the worst finished hypothesis.
	EarlyStoppingFalse EarlyStopping = iota
	// EarlyStoppingTrue stops a batch row as soon as num_beams hypotheses are finished.
	EarlyStoppingTrue
	// EarlyStoppingNever (early_stopping="never") scores the best running beam at max_length when
	// length_penalty > 0 (the canonical beam search stop).
	EarlyStoppingNever
)

// String returns the Python value.
func (e EarlyStopping) String() string {
	switch e {
	case EarlyStoppingTrue:
		return "True"
	case EarlyStoppingNever:
		return "never"
	}
	return "False"
}

// beamHyp is one finished hypothesis.
type beamHyp struct {
	score float64
	seq   []int
}

// BeamHypotheses mirrors transformers' BeamHypotheses: the n best finished hypotheses of one batch
// row. Scores are Python floats (float64), as in transformers.
type BeamHypotheses struct {
	NumBeams      int
	LengthPenalty float64
	EarlyStopping EarlyStopping
	MaxLength     int
	beams         []beamHyp
	worstScore    float64
}

// NewBeamHypotheses returns an empty set.
func NewBeamHypotheses(numBeams int, lengthPenalty float64, early EarlyStopping, maxLength int) *BeamHypotheses {
	return &BeamHypotheses{NumBeams: numBeams, LengthPenalty: lengthPenalty, EarlyStopping: early, MaxLength: maxLength, worstScore: 1e9}
}

// Len is the number of kept hypotheses.
func (h *BeamHypotheses) Len() int { return len(h.beams) }

// Add adds a hypothesis with the sum of its log-probabilities; its score is
// sumLogprobs / generatedLen**length_penalty.
func (h *BeamHypotheses) Add(seq []int, sumLogprobs float64, generatedLen int) {
	score := sumLogprobs / math.Pow(float64(generatedLen), h.LengthPenalty)
	if len(h.beams) < h.NumBeams || score > h.worstScore {
		h.beams = append(h.beams, beamHyp{score, append([]int(nil), seq...)})
		if len(h.beams) > h.NumBeams {
			// sorted((s, idx)): the lowest score, ties to the lowest index, is removed
			order := make([]int, len(h.beams))
			for i := range order {
				order[i] = i
			}
			sort.SliceStable(order, func(a, b int) bool { return h.beams[order[a]].score < h.beams[order[b]].score })
			del := order[0]
			h.worstScore = h.beams[order[1]].score
			h.beams = append(h.beams[:del], h.beams[del+1:]...)
		} else {
			h.worstScore = math.Min(score, h.worstScore)
		}
	}
}

// IsDone mirrors BeamHypotheses.is_done: whether no running beam can improve this row.
func (h *BeamHypotheses) IsDone(bestSumLogprobs float64, curLen, promptLen int) (bool, error) {
	if len(h.beams) < h.NumBeams {
		return false, nil
	}
	switch h.EarlyStopping {
	case EarlyStoppingTrue:
		return true, nil
	case EarlyStoppingFalse:
		best := bestSumLogprobs / math.Pow(float64(curLen-promptLen), h.LengthPenalty)
		return h.worstScore >= best, nil
	}
	var best float64
	if h.LengthPenalty > 0 {
		if h.MaxLength <= promptLen {
			return false, fmt.Errorf("generation: max_length (%d) must exceed the decoder prompt length (%d) with early_stopping=\"never\"", h.MaxLength, promptLen)
		}
		best = bestSumLogprobs / math.Pow(float64(h.MaxLength-promptLen), h.LengthPenalty)
	} else {
		best = bestSumLogprobs / math.Pow(float64(curLen-promptLen), h.LengthPenalty)
	}
	return h.worstScore >= best, nil
}

// beamScorer mirrors transformers' BeamSearchScorer (num_beam_groups = 1).
type beamScorer struct {
	numBeams, keep int
	hyps           []*BeamHypotheses
	done           []bool
}

func newBeamScorer(batch, numBeams int, lengthPenalty float64, early EarlyStopping, keep, maxLength int) *beamScorer {
	s := &beamScorer{numBeams: numBeams, keep: keep, done: make([]bool, batch)}
	for i := 0; i < batch; i++ {
		s.hyps = append(s.hyps, NewBeamHypotheses(numBeams, lengthPenalty, early, maxLength))
	}
	return s
}

func (s *beamScorer) isDone() bool {
	for _, d := range s.done {
		if !d {
			return false
		}
	}
	return true
}

// process mirrors BeamSearchScorer.process. seqs are the running beams [B*nb][L]; cand* are the
// top 2*nb candidates per batch row (scores descending, tokens, source beam within the row).
// It returns the next beam scores, tokens and global source rows.
func (s *beamScorer) process(seqs [][]int, candScores [][]float32, candTokens, candBeams [][]int, pad int, hasPad bool, eos []int, promptLen int) ([]float32, []int, []int, error) {
	nb := s.numBeams
	batch := len(s.hyps)
	curLen := len(seqs[0]) + 1
	nextScores := make([]float32, batch*nb)
	nextTokens := make([]int, batch*nb)
	nextRows := make([]int, batch*nb)
	for b := 0; b < batch; b++ {
		if s.done[b] {
			if len(eos) == 0 || !hasPad {
				return nil, nil, nil, fmt.Errorf("generation: beam search: generated beams exceed num_beams without eos_token_id and pad_token_id set")
			}
			for j := 0; j < nb; j++ {
				nextScores[b*nb+j] = 0
				nextTokens[b*nb+j] = pad
				nextRows[b*nb+j] = b * nb
			}
			continue
		}
		beamIdx := 0
		for rank := range candTokens[b] {
			tok, sc, src := candTokens[b][rank], candScores[b][rank], candBeams[b][rank]
			row := b*nb + src
			if len(eos) > 0 && contains(eos, tok) {
				if rank >= nb {
					continue
				}
				s.hyps[b].Add(seqs[row], float64(sc), curLen-promptLen)
			} else {
				nextScores[b*nb+beamIdx] = sc
				nextTokens[b*nb+beamIdx] = tok
				nextRows[b*nb+beamIdx] = row
				beamIdx++
			}
			if beamIdx == nb {
				break
			}
		}
		if beamIdx < nb {
			return nil, nil, nil, fmt.Errorf("generation: beam search: at most %d tokens in %v can be eos_token_id %v; make sure eos tokens are not among the top candidates", nb, candTokens[b], eos)
		}
		best := float64(candScores[b][0])
		for _, v := range candScores[b] {
			best = math.Max(best, float64(v))
		}
		d, err := s.hyps[b].IsDone(best, curLen, promptLen)
		if err != nil {
			return nil, nil, nil, err
		}
		s.done[b] = s.done[b] || d
	}
	return nextScores, nextTokens, nextRows, nil
}

// finalize mirrors BeamSearchScorer.finalize: adds the running beams of unfinished rows, picks the
// best `keep` hypotheses per batch row and pads them to one length (appending the first EOS where
// it fits). It returns the sequences and their scores.
func (s *beamScorer) finalize(seqs [][]int, beamScores []float32, maxLength, pad int, hasPad bool, eos []int, promptLen int) ([][]int, []float64, error) {
	nb := s.numBeams
	for b, h := range s.hyps {
		if s.done[b] {
			continue
		}
		for j := 0; j < nb; j++ {
			row := b*nb + j
			h.Add(seqs[row], float64(beamScores[row]), len(seqs[row])-promptLen)
		}
	}
	var best [][]int
	var scores []float64
	for _, h := range s.hyps {
		// sorted(beams, key=score) is stable; pop() takes from the end
		sorted := append([]beamHyp(nil), h.beams...)
		sort.SliceStable(sorted, func(a, b int) bool { return sorted[a].score < sorted[b].score })
		if len(sorted) < s.keep {
			return nil, nil, fmt.Errorf("generation: beam search kept %d hypotheses, fewer than num_return_sequences %d", len(sorted), s.keep)
		}
		for j := 0; j < s.keep; j++ {
			hyp := sorted[len(sorted)-1-j]
			best = append(best, hyp.seq)
			scores = append(scores, hyp.score)
		}
	}
	minLen, maxLen := math.MaxInt, 0
	for _, seq := range best {
		minLen = min(minLen, len(seq))
		maxLen = max(maxLen, len(seq))
	}
	sentMax := maxLen + 1
	if maxLength > 0 {
		sentMax = min(sentMax, maxLength)
	}
	fill := 0
	if minLen != maxLen {
		if !hasPad {
			return nil, nil, fmt.Errorf("generation: beam search: pad_token_id must be set to pad hypotheses of different lengths")
		}
		fill = pad
	} else if len(eos) > 0 {
		fill = eos[0] // every cell past the hypotheses is overwritten below; no pad needed
	}
	out := make([][]int, len(best))
	for i, seq := range best {
		row := make([]int, sentMax)
		for j := range row {
			row[j] = fill
		}
		copy(row, seq)
		if len(seq) < sentMax {
			if len(eos) == 0 {
				return nil, nil, fmt.Errorf("generation: beam search: hypothesis shorter than the output needs eos_token_id")
			}
			row[len(seq)] = eos[0]
		}
		out[i] = row
	}
	return out, scores, nil
}
