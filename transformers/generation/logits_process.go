package generation

import (
	"fmt"
	"math"
	"sort"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

var negInf = float32(math.Inf(-1))

// LogitsProcessor changes next-token scores in place. It mirrors transformers' LogitsProcessor:
// inputIDs are the sequences generated so far (one row per score row, [B][L]); scores are [B, V].
type LogitsProcessor interface {
	Process(inputIDs [][]int, scores *tensor.Tensor) error
}

// LogitsProcessorList applies processors in order (transformers' LogitsProcessorList).
type LogitsProcessorList []LogitsProcessor

// Process runs every processor in order.
func (l LogitsProcessorList) Process(inputIDs [][]int, scores *tensor.Tensor) error {
	if len(scores.Shape) != 2 || scores.Shape[0] != len(inputIDs) {
		return fmt.Errorf("generation: scores shape %v does not match %d sequences", scores.Shape, len(inputIDs))
	}
	for _, p := range l {
		if err := p.Process(inputIDs, scores); err != nil {
			return err
		}
	}
	return nil
}

func rowOf(scores *tensor.Tensor, i int) []float32 {
	v := scores.Shape[1]
	return scores.Data[i*v : (i+1)*v]
}

// RepetitionPenaltyLogitsProcessor mirrors transformers' RepetitionPenaltyLogitsProcessor: the score of
// every token already in the row is multiplied by Penalty when negative, divided by it otherwise.
type RepetitionPenaltyLogitsProcessor struct{ Penalty float32 }

// Process applies the penalty once per distinct token of each row.
func (p RepetitionPenaltyLogitsProcessor) Process(inputIDs [][]int, scores *tensor.Tensor) error {
	for i, ids := range inputIDs {
		row := rowOf(scores, i)
		seen := make(map[int]bool, len(ids))
		for _, id := range ids {
			if id < 0 || id >= len(row) || seen[id] {
				continue
			}
			seen[id] = true
			if s := row[id]; s < 0 {
				row[id] = s * p.Penalty
			} else {
				row[id] = s / p.Penalty
			}
		}
	}
	return nil
}

// NoRepeatNGramLogitsProcessor mirrors transformers' NoRepeatNGramLogitsProcessor: a token that would
// complete an n-gram already present in the row gets -inf.
type NoRepeatNGramLogitsProcessor struct{ NGramSize int }

// Process bans the tokens that follow earlier occurrences of the row's last n-1 tokens.
func (p NoRepeatNGramLogitsProcessor) Process(inputIDs [][]int, scores *tensor.Tensor) error {
	n := p.NGramSize
	for i, ids := range inputIDs {
		cur := len(ids)
		if cur+1 < n {
			continue
		}
		row := rowOf(scores, i)
		prefix := ids[cur-n+1:]
		for start := 0; start+n <= cur; start++ {
			match := true
			for k := 0; k < n-1; k++ {
				if ids[start+k] != prefix[k] {
					match = false
					break
				}
			}
			if match {
				if t := ids[start+n-1]; t >= 0 && t < len(row) {
					row[t] = negInf
				}
			}
		}
	}
	return nil
}

// MinLengthLogitsProcessor mirrors transformers' MinLengthLogitsProcessor: EOS tokens get -inf while
// the row is shorter than MinLength.
type MinLengthLogitsProcessor struct {
	MinLength int
	EOS       []int
}

// Process suppresses EOS on short rows.
func (p MinLengthLogitsProcessor) Process(inputIDs [][]int, scores *tensor.Tensor) error {
	for i, ids := range inputIDs {
		if len(ids) < p.MinLength {
			suppress(rowOf(scores, i), p.EOS)
		}
	}
	return nil
}

// MinNewTokensLengthLogitsProcessor mirrors transformers' MinNewTokensLengthLogitsProcessor: EOS tokens
// get -inf until MinNewTokens tokens follow the first PromptLength tokens.
type MinNewTokensLengthLogitsProcessor struct {
	PromptLength, MinNewTokens int
	EOS                        []int
}

// Process suppresses EOS while too few new tokens exist.
func (p MinNewTokensLengthLogitsProcessor) Process(inputIDs [][]int, scores *tensor.Tensor) error {
	for i, ids := range inputIDs {
		if len(ids)-p.PromptLength < p.MinNewTokens {
			suppress(rowOf(scores, i), p.EOS)
		}
	}
	return nil
}

func suppress(row []float32, ids []int) {
	for _, e := range ids {
		if e >= 0 && e < len(row) {
			row[e] = negInf
		}
	}
}

// NoBadWordsLogitsProcessor mirrors transformers' NoBadWordsLogitsProcessor: a one-token entry is
// always banned; the last token of a longer entry is banned when the row ends with the entry's other
// tokens. Entries equal to a single EOS token are dropped, as in transformers.
type NoBadWordsLogitsProcessor struct {
	BadWordsIDs [][]int
}

// NewNoBadWordsLogitsProcessor validates bad_words_ids and drops the single-EOS entries.
func NewNoBadWordsLogitsProcessor(bad [][]int, eos []int) (*NoBadWordsLogitsProcessor, error) {
	p := &NoBadWordsLogitsProcessor{}
	for i, seq := range bad {
		if len(seq) == 0 {
			return nil, fmt.Errorf("generation: bad_words_ids[%d] is empty", i)
		}
		for _, t := range seq {
			if t < 0 {
				return nil, fmt.Errorf("generation: bad_words_ids[%d] holds negative id %d", i, t)
			}
		}
		if len(seq) == 1 && contains(eos, seq[0]) {
			continue
		}
		p.BadWordsIDs = append(p.BadWordsIDs, seq)
	}
	return p, nil
}

// Process bans the tokens.
func (p *NoBadWordsLogitsProcessor) Process(inputIDs [][]int, scores *tensor.Tensor) error {
	for i, ids := range inputIDs {
		row := rowOf(scores, i)
		for _, seq := range p.BadWordsIDs {
			last := seq[len(seq)-1]
			if last >= len(row) {
				continue
			}
			pre := seq[:len(seq)-1]
			if len(pre) > len(ids) {
				continue
			}
			match := true
			for k, t := range pre {
				if ids[len(ids)-len(pre)+k] != t {
					match = false
					break
				}
			}
			if match {
				row[last] = negInf
			}
		}
	}
	return nil
}

// ForcedBOSTokenLogitsProcessor mirrors transformers' ForcedBOSTokenLogitsProcessor: when the rows
// hold one token, every score but BOS's becomes -inf and BOS's 0.
type ForcedBOSTokenLogitsProcessor struct{ BOS int }

// Process forces BOS as the first generated token.
func (p ForcedBOSTokenLogitsProcessor) Process(inputIDs [][]int, scores *tensor.Tensor) error {
	for i, ids := range inputIDs {
		if len(ids) == 1 {
			force(rowOf(scores, i), []int{p.BOS})
		}
	}
	return nil
}

// ForcedEOSTokenLogitsProcessor mirrors transformers' ForcedEOSTokenLogitsProcessor: when the rows
// are max_length-1 long, only the EOS tokens stay possible (score 0).
type ForcedEOSTokenLogitsProcessor struct {
	MaxLength int
	EOS       []int
}

// Process forces EOS as the last token.
func (p ForcedEOSTokenLogitsProcessor) Process(inputIDs [][]int, scores *tensor.Tensor) error {
	for i, ids := range inputIDs {
		if len(ids) == p.MaxLength-1 {
			force(rowOf(scores, i), p.EOS)
		}
	}
	return nil
}

func force(row []float32, ids []int) {
	for j := range row {
		row[j] = negInf
	}
	for _, t := range ids {
		if t >= 0 && t < len(row) {
			row[t] = 0
		}
	}
}

// TemperatureLogitsWarper mirrors transformers' TemperatureLogitsWarper (scores / temperature).
type TemperatureLogitsWarper struct{ Temperature float32 }

// Process divides the scores.
func (p TemperatureLogitsWarper) Process(_ [][]int, scores *tensor.Tensor) error {
	for i := range scores.Data {
		scores.Data[i] /= p.Temperature
	}
	return nil
}

// TopKLogitsWarper mirrors transformers' TopKLogitsWarper: scores below the k-th largest become -inf.
type TopKLogitsWarper struct{ TopK, MinTokensToKeep int }

// Process keeps the top k scores of each row (ties with the k-th kept).
func (p TopKLogitsWarper) Process(_ [][]int, scores *tensor.Tensor) error {
	v := scores.Shape[1]
	k := min(max(p.TopK, p.MinTokensToKeep), v)
	if k <= 0 {
		return nil
	}
	tmp := make([]float32, v)
	for i := 0; i < scores.Shape[0]; i++ {
		row := rowOf(scores, i)
		copy(tmp, row)
		kth := kthLargest(tmp, k)
		for j, s := range row {
			if s < kth {
				row[j] = negInf
			}
		}
	}
	return nil
}

// kthLargest returns the k-th largest value of a (1-based), reordering a (quickselect, O(len(a))).
// NaN values count as smallest.
func kthLargest(a []float32, k int) float32 {
	greater := func(x, y float32) bool { return x > y || (y != y && x == x) }
	lo, hi, want := 0, len(a)-1, k-1
	for lo < hi {
		// median of three as pivot
		mid := lo + (hi-lo)/2
		if greater(a[mid], a[lo]) {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if greater(a[hi], a[lo]) {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if greater(a[hi], a[mid]) {
			a[hi], a[mid] = a[mid], a[hi]
		}
		pivot := a[mid]
		i, j := lo, hi
		for i <= j {
			for greater(a[i], pivot) {
				i++
			}
			for greater(pivot, a[j]) {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case want <= j:
			hi = j
		case want >= i:
			lo = i
		default:
			return a[want]
		}
	}
	return a[want]
}

// TopPLogitsWarper mirrors transformers' TopPLogitsWarper (nucleus filtering): the smallest-probability
// tokens whose cumulative probability stays <= 1-top_p become -inf, keeping at least MinTokensToKeep.
type TopPLogitsWarper struct {
	TopP            float64
	MinTokensToKeep int
}

// Process filters each row.
func (p TopPLogitsWarper) Process(_ [][]int, scores *tensor.Tensor) error {
	v := scores.Shape[1]
	idx := make([]int, v)
	probs := make([]float64, v)
	for i := 0; i < scores.Shape[0]; i++ {
		row := rowOf(scores, i)
		for j := range idx {
			idx[j] = j
		}
		// ascending, as torch.sort(descending=False); stable for equal scores
		sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] < row[idx[b]] })
		softmax64(row, probs)
		cum := 0.0
		keepFrom := v - max(p.MinTokensToKeep, 1)
		for r, j := range idx {
			cum += probs[j]
			if r < keepFrom && cum <= 1-p.TopP {
				row[j] = negInf
			}
		}
	}
	return nil
}

// softmax64 writes softmax(row) into out in float64.
func softmax64(row []float32, out []float64) {
	m := math.Inf(-1)
	for _, s := range row {
		m = math.Max(m, float64(s))
	}
	if math.IsInf(m, -1) {
		for j := range out {
			out[j] = 0
		}
		return
	}
	sum := 0.0
	for j, s := range row {
		e := math.Exp(float64(s) - m)
		out[j] = e
		sum += e
	}
	for j := range out {
		out[j] /= sum
	}
}

// logSoftmaxRow replaces row by log_softmax(row) in float32 (x - (max + log(sum(exp(x-max))))).
func logSoftmaxRow(row []float32) {
	m := float32(math.Inf(-1))
	for _, s := range row {
		if s > m {
			m = s
		}
	}
	if math.IsInf(float64(m), -1) {
		return
	}
	sum := 0.0
	for _, s := range row {
		sum += math.Exp(float64(s - m))
	}
	c := m + float32(math.Log(sum))
	for j, s := range row {
		row[j] = s - c
	}
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
