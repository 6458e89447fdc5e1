package tokenizer

import "sync"

// bpeCacheCap bounds the per-tokenizer word cache (entries); words longer than bpeCacheMaxWord
// bytes are never cached.
const (
	bpeCacheCap     = 1 << 16
	bpeCacheMaxWord = 64
)

type mergeRule struct {
	rank int32
	out  int32
}

// bpeModel is byte-level BPE as GPT2Tokenizer implements it (bpe(), bpe_ranks, byte_encoder).
type bpeModel struct {
	bl      *byteLevelTables
	vocab   map[string]int // encoder
	decoder map[int]string
	unkID   int // -1 when the unk token is not in the vocabulary
	size    int // len(encoder)

	// symbol table: 0..255 are the byte runes, then every string named in a merge rule
	symStr   []string
	symIndex map[string]int32
	symVocab []int32 // vocabulary id of each symbol, -1 if absent
	merges   map[uint64]mergeRule

	mu    sync.RWMutex
	cache map[string][]int32
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func newBPEModel(vocab map[string]int, merges [][2]string, unk string) *bpeModel {
	m := &bpeModel{
		bl:       newByteLevelTables(),
		vocab:    vocab,
		decoder:  make(map[int]string, len(vocab)),
		unkID:    -1,
		size:     len(vocab),
		symIndex: make(map[string]int32, len(merges)+256),
		merges:   make(map[uint64]mergeRule, len(merges)),
		cache:    make(map[string][]int32),
	}
	for k, v := range vocab {
		m.decoder[v] = k
	}
	if id, ok := vocab[unk]; ok {
		m.unkID = id
	}
	for b := 0; b < 256; b++ {
		m.sym(m.bl.encStr[b])
	}
	for rank, mg := range merges {
		a, b := m.sym(mg[0]), m.sym(mg[1])
		out := m.sym(mg[0] + mg[1])
		// dict(zip(merges, range(n))): a repeated pair keeps its last rank
		m.merges[pairKey(a, b)] = mergeRule{rank: int32(rank), out: out}
	}
	m.symVocab = make([]int32, len(m.symStr))
	for i, s := range m.symStr {
		if id, ok := vocab[s]; ok {
			m.symVocab[i] = int32(id)
		} else {
			m.symVocab[i] = -1
		}
	}
	return m
}

func (m *bpeModel) sym(s string) int32 {
	if id, ok := m.symIndex[s]; ok {
		return id
	}
	id := int32(len(m.symStr))
	m.symStr = append(m.symStr, s)
	m.symIndex[s] = id
	return id
}

// word returns the BPE symbols of one pre-tokenized word (raw UTF-8 bytes).
func (m *bpeModel) word(w string) []int32 {
	if len(w) <= bpeCacheMaxWord {
		m.mu.RLock()
		syms, ok := m.cache[w]
		m.mu.RUnlock()
		if ok {
			return syms
		}
	}
	syms := make([]int32, len(w))
	for i := 0; i < len(w); i++ {
		syms[i] = int32(w[i])
	}
	if len(syms) > 1 {
		if len(syms) <= 48 {
			syms = m.mergeSmall(syms)
		} else {
			syms = m.mergeHeap(syms)
		}
	}
	if len(w) <= bpeCacheMaxWord {
		m.mu.Lock()
		if len(m.cache) < bpeCacheCap {
			m.cache[w] = syms
		}
		m.mu.Unlock()
	}
	return syms
}

// mergeSmall is GPT2Tokenizer.bpe verbatim: merge every occurrence (left to right) of the
// lowest-ranked adjacent pair until no pair has a rank.
func (m *bpeModel) mergeSmall(syms []int32) []int32 {
	for len(syms) > 1 {
		best := int32(-1)
		var bestRule mergeRule
		var ba, bb int32
		for i := 0; i+1 < len(syms); i++ {
			r, ok := m.merges[pairKey(syms[i], syms[i+1])]
			if ok && (best < 0 || r.rank < best) {
				best, bestRule, ba, bb = r.rank, r, syms[i], syms[i+1]
			}
		}
		if best < 0 {
			break
		}
		out := syms[:0]
		for i := 0; i < len(syms); {
			if i+1 < len(syms) && syms[i] == ba && syms[i+1] == bb {
				out = append(out, bestRule.out)
				i += 2
			} else {
				out = append(out, syms[i])
				i++
			}
		}
		syms = out
	}
	return syms
}

type mergeEntry struct {
	rank, pos, a, b int32
}

// mergeQueue is a binary min-heap of merge candidates ordered by (rank, position).
type mergeQueue []mergeEntry

func (q mergeQueue) less(i, j int) bool {
	if q[i].rank != q[j].rank {
		return q[i].rank < q[j].rank
	}
	return q[i].pos < q[j].pos
}

func (q *mergeQueue) push(e mergeEntry) {
	*q = append(*q, e)
	h := *q
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *mergeQueue) pop() mergeEntry {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h.less(l, m) {
			m = l
		}
		if r < len(h) && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}

func (q mergeQueue) init() {
	for i := len(q)/2 - 1; i >= 0; i-- {
		for j := i; ; {
			l, r, m := 2*j+1, 2*j+2, j
			if l < len(q) && q.less(l, m) {
				m = l
			}
			if r < len(q) && q.less(r, m) {
				m = r
			}
			if m == j {
				break
			}
			q[j], q[m] = q[m], q[j]
			j = m
		}
	}
}

// mergeHeap gives the same result as mergeSmall in O(n log n): all occurrences of one rank are
// merged in one pass, left to right, before pairs created by that pass are considered.
func (m *bpeModel) mergeHeap(syms []int32) []int32 {
	n := len(syms)
	prev := make([]int32, n)
	next := make([]int32, n)
	alive := make([]bool, n)
	for i := range syms {
		prev[i] = int32(i - 1)
		next[i] = int32(i + 1)
		alive[i] = true
	}
	next[n-1] = -1
	h := make(mergeQueue, 0, n)
	for i := 0; i+1 < n; i++ {
		if r, ok := m.merges[pairKey(syms[i], syms[i+1])]; ok {
			h = append(h, mergeEntry{r.rank, int32(i), syms[i], syms[i+1]})
		}
	}
	h.init()
	var touched []int32
	valid := func(e mergeEntry) bool {
		if !alive[e.pos] || syms[e.pos] != e.a {
			return false
		}
		nx := next[e.pos]
		return nx >= 0 && syms[nx] == e.b
	}
	for len(h) > 0 {
		e := h.pop()
		if !valid(e) {
			continue
		}
		rank := e.rank
		touched = touched[:0]
		for {
			if valid(e) {
				r := m.merges[pairKey(e.a, e.b)]
				p := e.pos
				nx := next[p]
				syms[p] = r.out
				alive[nx] = false
				nn := next[nx]
				next[p] = nn
				if nn >= 0 {
					prev[nn] = p
				}
				touched = append(touched, p)
			}
			if len(h) == 0 || h[0].rank != rank {
				break
			}
			e = h.pop()
		}
		for _, p := range touched {
			if !alive[p] {
				continue
			}
			if pp := prev[p]; pp >= 0 {
				if r, ok := m.merges[pairKey(syms[pp], syms[p])]; ok {
					h.push(mergeEntry{r.rank, pp, syms[pp], syms[p]})
				}
			}
			if nx := next[p]; nx >= 0 {
				if r, ok := m.merges[pairKey(syms[p], syms[nx])]; ok {
					h.push(mergeEntry{r.rank, p, syms[p], syms[nx]})
				}
			}
		}
	}
	out := syms[:0]
	for i := int32(0); i >= 0; i = next[i] {
		out = append(out, syms[i])
	}
	return out
}

// encode appends the ids (and, if toks is non-nil, the token strings) of text, which holds no
// added tokens, as GPT2Tokenizer._tokenize + convert_tokens_to_ids do. lookup resolves a token
// string against the added-token encoder first; it may be nil.
func (m *bpeModel) encode(text string, ids []int, toks *[]string, added map[string]int) ([]int, error) {
	var err error
	gpt2Split(text, func(piece string) {
		if err != nil {
			return
		}
		for _, s := range m.word(piece) {
			id := int(m.symVocab[s])
			if len(added) > 0 {
				if aid, ok := added[m.symStr[s]]; ok {
					id = aid
				}
			}
			if id < 0 {
				if m.unkID < 0 {
					err = errUnknownToken(m.symStr[s])
					return
				}
				id = m.unkID
			}
			ids = append(ids, id)
			if toks != nil {
				*toks = append(*toks, m.symStr[s])
			}
		}
	})
	return ids, err
}

// tokensToString is GPT2Tokenizer.convert_tokens_to_string: join, map runes back to bytes,
// decode UTF-8 with errors="replace".
func (m *bpeModel) tokensToString(tokens []string) (string, error) {
	var b []byte
	for _, t := range tokens {
		for _, r := range t {
			c, ok := m.bl.dec[r]
			if !ok {
				return "", errNotByteLevel(t, r)
			}
			b = append(b, c)
		}
	}
	return decodeUTF8Replace(b), nil
}
