package tokenizer

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"unicode/utf8"
)

const spaceSymbol = "\u2581" // ▁

// pieceTrie is a byte trie over the pieces the Unigram lattice may use (or over added tokens).
// Edges live in an open-addressing hash table keyed by (state, byte), so a step costs one or two
// probes. State 0 is the root; child returns 0 for "no transition".
type pieceTrie struct {
	value []int32 // piece id at a state, -1 if none
	slots []trieSlot
	shift uint
	root  [256]trieSlot
}

// trieSlot is one edge: key = (state<<8 | byte) + 1 (0 = empty slot), the target state and the
// piece id ending at the target (-1: none). Key and value share a cache line.
type trieSlot struct {
	key uint64
	to  int32
	id  int32
}

func buildPieceTrie(keys map[string]int32) *pieceTrie {
	t := &pieceTrie{value: []int32{-1}}
	type edge struct {
		key uint64
		to  int32
	}
	var edges []edge
	kids := map[uint64]int32{}
	for k, id := range keys {
		cur := int32(0)
		for i := 0; i < len(k); i++ {
			ek := uint64(cur)<<8 | uint64(k[i])
			nx, ok := kids[ek]
			if !ok {
				nx = int32(len(t.value))
				t.value = append(t.value, -1)
				kids[ek] = nx
				edges = append(edges, edge{ek, nx})
			}
			cur = nx
		}
		t.value[cur] = id
	}
	size := 16
	for size < 2*len(edges) {
		size *= 2
	}
	t.shift = uint(64 - bitsLen(size))
	t.slots = make([]trieSlot, size)
	for _, e := range edges {
		h := (e.key * 0x9E3779B97F4A7C15) >> t.shift
		for t.slots[h].key != 0 {
			h = (h + 1) & uint64(size-1)
		}
		sl := trieSlot{key: e.key + 1, to: e.to, id: t.value[e.to]}
		t.slots[h] = sl
		if e.key>>8 == 0 {
			t.root[e.key&0xff] = sl
		}
	}
	return t
}

func bitsLen(size int) int {
	n := 0
	for size > 1 {
		size >>= 1
		n++
	}
	return n
}

// step follows byte b from node: the next state (0: none) and the piece id ending there (-1:
// none).
func (t *pieceTrie) step(node int32, b byte) (int32, int32) {
	if node == 0 {
		sl := &t.root[b]
		if sl.key == 0 {
			return 0, -1
		}
		return sl.to, sl.id
	}
	k := uint64(node)<<8 | uint64(b)
	mask := uint64(len(t.slots) - 1)
	for h := (k * 0x9E3779B97F4A7C15) >> t.shift; ; h = (h + 1) & mask {
		sl := &t.slots[h]
		if sl.key == k+1 {
			return sl.to, sl.id
		}
		if sl.key == 0 {
			return 0, -1
		}
	}
}

func (t *pieceTrie) child(node int32, b byte) int32 {
	n, _ := t.step(node, b)
	return n
}

// unigramModel is a SentencePiece Unigram model with its normalizer, as
// sentencepiece.SentencePieceProcessor encodes and decodes (version 0.1.97).
type unigramModel struct {
	spm        *spmModel
	pieceIndex map[string]int
	trie       *pieceTrie
	userTrie   *pieceTrie // user-defined pieces: never normalized
	hasUser    bool
	cm         *charsMap
	minScore   float32
	maxScore   float32
	byteIDs    [256]int // id of <0xXX>, -1 if absent
	unkSurface string
	bestPool   sync.Pool // *[]bestNode buffers of the Viterbi search
	infos      []pieceInfo
	plain      [128]bool // ASCII bytes that no normalization rule or user-defined piece starts with
}

// pieceInfo packs what the Viterbi search reads per piece into one cache line slot.
type pieceInfo struct {
	score float32
	typ   int8
}

func newUnigramModel(m *spmModel, file string) (*unigramModel, error) {
	if m.modelType != 1 {
		return nil, formatErr(file, "trainer_spec.model_type", "model type %d is not UNIGRAM (1)", m.modelType)
	}
	u := &unigramModel{spm: m, pieceIndex: make(map[string]int, len(m.pieces)), unkSurface: " \u2047 "}
	u.bestPool.New = func() any { return new([]bestNode) }
	if m.hasUnkSurf {
		u.unkSurface = m.unkSurface
	}
	keys := make(map[string]int32, len(m.pieces))
	users := map[string]int32{}
	u.minScore, u.maxScore = float32(math.MaxFloat32), float32(math.SmallestNonzeroFloat32)
	for i := range u.byteIDs {
		u.byteIDs[i] = -1
	}
	for i, p := range m.pieces {
		t := m.types[i]
		if _, dup := u.pieceIndex[p]; dup {
			return nil, formatErr(file, "pieces", "piece %q (id %d) is repeated", p, i)
		}
		u.pieceIndex[p] = i
		switch t {
		case pieceNormal, pieceUserDefined, pieceUnused:
			if p == "" {
				return nil, formatErr(file, "pieces", "empty piece at id %d", i)
			}
			keys[p] = int32(i)
			if t == pieceUserDefined {
				users[p] = int32(i)
			}
		case pieceByte:
			var b int
			if _, err := fmt.Sscanf(p, "<0x%02X>", &b); err == nil && b >= 0 && b < 256 {
				u.byteIDs[b] = i
			}
		}
		if t == pieceNormal {
			u.minScore = min(u.minScore, m.scores[i])
			u.maxScore = max(u.maxScore, m.scores[i])
		}
	}
	u.trie = buildPieceTrie(keys)
	u.infos = make([]pieceInfo, len(m.pieces))
	for i := range m.pieces {
		u.infos[i] = pieceInfo{score: m.scores[i], typ: m.types[i]}
	}
	if len(users) > 0 {
		u.userTrie, u.hasUser = buildPieceTrie(users), true
	}
	cm, err := parseCharsMap(m.charsMap, file, "normalizer_spec.precompiled_charsmap")
	if err != nil {
		return nil, err
	}
	u.cm = cm
	for b := 0; b < 128; b++ {
		u.plain[b] = !(u.hasUser && u.userTrie.root[b].key != 0) && !cm.startsWith(byte(b))
	}
	return u, nil
}

// normalizePrefix: user-defined symbols are matched first and kept as they are.
func (u *unigramModel) normalizePrefix(s string) (string, int) {
	if u.hasUser {
		node, best := int32(0), 0
		for i := 0; i < len(s); i++ {
			node = u.userTrie.child(node, s[i])
			if node == 0 {
				break
			}
			if u.userTrie.value[node] >= 0 {
				best = i + 1
			}
		}
		if best > 0 {
			return s[:best], best
		}
	}
	return u.cm.normalizePrefix(s)
}

// normalize is sentencepiece's Normalizer::Normalize (without the offset map).
func (u *unigramModel) normalize(in string) string { return u.normalizeOpt(in, u.spm.addDummyPrefix) }

// normalizeOpt is normalize with add_dummy_prefix given (T5Tokenizer with legacy=False loads the
// model with add_dummy_prefix=False).
func (u *unigramModel) normalizeOpt(in string, addDummyPrefix bool) string {
	m := u.spm
	if m.removeExtraSpaces {
		for len(in) > 0 {
			r, n := u.normalizePrefix(in)
			if r != " " {
				break
			}
			in = in[n:]
		}
	}
	if len(in) == 0 {
		return ""
	}
	var sb strings.Builder
	sb.Grow(len(in) + len(in)/2 + 3)
	ws := " "
	if m.escapeWhitespaces {
		ws = spaceSymbol
	}
	if addDummyPrefix && !m.treatWSSufx {
		sb.WriteString(ws)
	}
	isPrevSpace := m.removeExtraSpaces
	for len(in) > 0 {
		if c := in[0]; c < 0x80 && c != ' ' && u.plain[c] {
			// fast path: an ASCII byte that no rule rewrites
			sb.WriteByte(c)
			isPrevSpace = false
			in = in[1:]
			continue
		}
		r, n := u.normalizePrefix(in)
		if isPrevSpace {
			for strings.HasPrefix(r, " ") {
				r = r[1:]
			}
		}
		if r != "" {
			if m.escapeWhitespaces {
				for i := 0; i < len(r); i++ {
					if r[i] == ' ' {
						sb.WriteString(spaceSymbol)
					} else {
						sb.WriteByte(r[i])
					}
				}
			} else {
				sb.WriteString(r)
			}
			isPrevSpace = strings.HasSuffix(r, " ")
		}
		in = in[n:]
		if !m.removeExtraSpaces {
			isPrevSpace = false
		}
	}
	out := sb.String()
	if addDummyPrefix && m.treatWSSufx {
		out += ws
	}
	if m.removeExtraSpaces {
		for strings.HasSuffix(out, ws) {
			out = out[:len(out)-len(ws)]
		}
	}
	return out
}

type bestNode struct {
	score float32
	start int32 // -1: not reached yet
	id    int32
}

type spPiece struct {
	piece      string
	id         int
	start, end int32 // byte offsets of piece in the normalized string
}

// encodeNormalized runs the Viterbi search of unigram_model.cc (EncodeOptimized) over a
// normalized string and applies SentencePieceProcessor's unknown merging / byte fallback.
func (u *unigramModel) encodeNormalized(s string, out []spPiece) []spPiece {
	n := len(s)
	if n == 0 {
		return out
	}
	bpp := u.bestPool.Get().(*[]bestNode)
	bp := *bpp
	if cap(bp) < n+1 {
		bp = make([]bestNode, n+1)
	}
	bp = bp[:n+1]
	for i := range bp {
		bp[i] = bestNode{start: -1}
	}
	bp[0].start = 0
	unkScore := u.minScore - 10.0
	unk := int32(u.spm.unkID)
	infos := u.infos
	for start := 0; start < n; {
		base := bp[start].score
		mblen := 1
		if s[start] >= utf8.RuneSelf {
			_, mblen = utf8.DecodeRuneInString(s[start:])
		}
		hasSingle := false
		node := int32(0)
		for k := start; k < n; k++ {
			var id int32
			node, id = u.trie.step(node, s[k])
			if node == 0 {
				break
			}
			if id < 0 {
				continue
			}
			info := infos[id]
			if info.typ == pieceUnused {
				continue
			}
			length := k + 1 - start
			// In EncodeOptimized `score` is a double (the user-defined branch's "- 0.1" makes the
			// conditional double), so the sum and the comparison are done in double and the
			// result is stored as float.
			var sc float64
			if info.typ == pieceUserDefined {
				sc = float64(float32(length)*u.maxScore) - 0.1
			} else {
				sc = float64(info.score)
			}
			cand := sc + float64(base)
			tn := &bp[k+1]
			if tn.start < 0 || cand > float64(tn.score) {
				*tn = bestNode{score: float32(cand), start: int32(start), id: id}
			}
			if length == mblen {
				hasSingle = true
			}
		}
		if !hasSingle {
			tn := &bp[start+mblen]
			cand := unkScore + base
			if tn.start < 0 || cand > tn.score {
				*tn = bestNode{score: cand, start: int32(start), id: unk}
			}
		}
		start += mblen
	}
	// backtrack: count the pieces, then fill them in order
	count := 0
	for end := n; end > 0; end = int(bp[end].start) {
		count++
	}
	first := len(out)
	for i := 0; i < count; i++ {
		out = append(out, spPiece{})
	}
	i := len(out) - 1
	for end := n; end > 0; end = int(bp[end].start) {
		b := bp[end]
		out[i] = spPiece{piece: s[b.start:end], id: int(b.id), start: b.start, end: int32(end)}
		i--
	}
	*bpp = bp
	u.bestPool.Put(bpp)
	rev := out[first:]
	out = out[:first]
	// merge runs of unknown pieces (in place: out never overtakes rev, except with byte
	// fallback, which may write several pieces for one)
	if u.spm.byteFallback {
		rev = append([]spPiece(nil), rev...)
	}
	prevUnk := false
	for _, p := range rev {
		isUnk := p.id == u.spm.unkID
		if isUnk && u.spm.byteFallback {
			for j := 0; j < len(p.piece); j++ {
				bid := u.byteIDs[p.piece[j]]
				pc := fmt.Sprintf("<0x%02X>", p.piece[j])
				if bid < 0 {
					bid = u.spm.unkID
				}
				out = append(out, spPiece{piece: pc, id: bid})
			}
			prevUnk = false
			continue
		}
		if isUnk && prevUnk {
			// adjacent in the normalized string: extend the slice (no copy, linear overall)
			last := &out[len(out)-1]
			last.end = p.end
			last.piece = s[last.start:last.end]
		} else {
			out = append(out, p)
		}
		prevUnk = isUnk
	}
	return out
}

// encode is sp_model.encode(text, out_type=str) with the ids.
func (u *unigramModel) encode(text string, out []spPiece) []spPiece {
	return u.encodeNormalized(u.normalize(text), out)
}

func (u *unigramModel) pieceToID(p string) int {
	if id, ok := u.pieceIndex[p]; ok {
		return id
	}
	return u.spm.unkID
}

// decodePieces is sp_model.decode(pieces): SentencePieceProcessor::Decode.
func (u *unigramModel) decodePieces(pieces []string) string {
	var sb strings.Builder
	var pending []byte
	flush := func() {
		if len(pending) > 0 {
			sb.WriteString(decodeUTF8Replace(pending))
			pending = pending[:0]
		}
	}
	for _, p := range pieces {
		id := u.pieceToID(p)
		t := u.spm.types[id]
		if t == pieceByte {
			var b int
			if _, err := fmt.Sscanf(p, "<0x%02X>", &b); err == nil {
				pending = append(pending, byte(b))
				continue
			}
		}
		flush()
		switch {
		case t == pieceControl:
			continue
		case t == pieceUnknown:
			if u.spm.pieces[id] == p {
				sb.WriteString(u.unkSurface)
			} else {
				sb.WriteString(p)
			}
			continue
		}
		if sb.Len() == 0 {
			p = strings.TrimPrefix(p, spaceSymbol)
		}
		sb.WriteString(strings.ReplaceAll(p, spaceSymbol, " "))
	}
	flush()
	return sb.String()
}
