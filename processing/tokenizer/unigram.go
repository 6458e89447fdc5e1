package tokenizer

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"
)

const spaceSymbol = "\u2581" // ▁

// pieceTrie is a byte trie over the pieces that the Unigram lattice may use.
type pieceTrie struct {
	root   [256]int32 // child of the root per byte, 0 = none
	value  []int32    // piece id at a node, -1 if none
	first  []int32    // first edge of a node
	count  []int32    // number of edges of a node
	labels []byte
	target []int32
}

func buildPieceTrie(keys map[string]int32) *pieceTrie {
	type tmp struct {
		kids map[byte]int
		val  int32
	}
	nodes := []tmp{{kids: map[byte]int{}, val: -1}}
	for k, id := range keys {
		cur := 0
		for i := 0; i < len(k); i++ {
			nx, ok := nodes[cur].kids[k[i]]
			if !ok {
				nx = len(nodes)
				nodes = append(nodes, tmp{kids: map[byte]int{}, val: -1})
				nodes[cur].kids[k[i]] = nx
			}
			cur = nx
		}
		nodes[cur].val = id
	}
	t := &pieceTrie{
		value: make([]int32, len(nodes)),
		first: make([]int32, len(nodes)),
		count: make([]int32, len(nodes)),
	}
	for i, n := range nodes {
		t.value[i] = n.val
		t.first[i] = int32(len(t.labels))
		t.count[i] = int32(len(n.kids))
		ls := make([]int, 0, len(n.kids))
		for b := range n.kids {
			ls = append(ls, int(b))
		}
		sort.Ints(ls)
		for _, b := range ls {
			t.labels = append(t.labels, byte(b))
			t.target = append(t.target, int32(n.kids[byte(b)]))
			if i == 0 {
				t.root[b] = int32(n.kids[byte(b)])
			}
		}
	}
	return t
}

func (t *pieceTrie) child(node int32, b byte) int32 {
	if node == 0 {
		return t.root[b]
	}
	lo, hi := t.first[node], t.first[node]+t.count[node]
	for lo < hi {
		mid := (lo + hi) / 2
		if t.labels[mid] < b {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < t.first[node]+t.count[node] && t.labels[lo] == b {
		return t.target[lo]
	}
	return 0
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
}

func newUnigramModel(m *spmModel, file string) (*unigramModel, error) {
	if m.modelType != 1 {
		return nil, formatErr(file, "trainer_spec.model_type", "model type %d is not UNIGRAM (1)", m.modelType)
	}
	u := &unigramModel{spm: m, pieceIndex: make(map[string]int, len(m.pieces)), unkSurface: " \u2047 "}
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
	if len(users) > 0 {
		u.userTrie, u.hasUser = buildPieceTrie(users), true
	}
	cm, err := parseCharsMap(m.charsMap, file, "normalizer_spec.precompiled_charsmap")
	if err != nil {
		return nil, err
	}
	u.cm = cm
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
func (u *unigramModel) normalize(in string) string {
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
	if m.addDummyPrefix && !m.treatWSSufx {
		sb.WriteString(ws)
	}
	isPrevSpace := m.removeExtraSpaces
	for len(in) > 0 {
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
	if m.addDummyPrefix && m.treatWSSufx {
		out += ws
	}
	if m.removeExtraSpaces {
		for strings.HasSuffix(out, ws) {
			out = out[:len(out)-len(ws)]
		}
	}
	return out
}

type spPiece struct {
	piece string
	id    int
}

// encodeNormalized runs the Viterbi search of unigram_model.cc (EncodeOptimized) over a
// normalized string and applies SentencePieceProcessor's unknown merging / byte fallback.
func (u *unigramModel) encodeNormalized(s string, out []spPiece) []spPiece {
	n := len(s)
	if n == 0 {
		return out
	}
	type best struct {
		score  float32
		start  int32
		id     int32
		filled bool
	}
	bp := make([]best, n+1)
	bp[0].filled = true
	unkScore := u.minScore - 10.0
	unk := int32(u.spm.unkID)
	for start := 0; start < n; {
		if !bp[start].filled {
			// unreachable position (cannot happen: every char gets a node)
			start++
			continue
		}
		base := bp[start].score
		_, mblen := utf8.DecodeRuneInString(s[start:])
		hasSingle := false
		node := int32(0)
		for k := start; k < n; k++ {
			node = u.trie.child(node, s[k])
			if node == 0 {
				break
			}
			id := u.trie.value[node]
			if id < 0 {
				continue
			}
			t := u.spm.types[id]
			if t == pieceUnused {
				continue
			}
			length := k + 1 - start
			// In EncodeOptimized `score` is a double (the user-defined branch's "- 0.1" makes the
			// conditional double), so the sum and the comparison are done in double and the
			// result is stored as float.
			var sc float64
			if t == pieceUserDefined {
				sc = float64(float32(length)*u.maxScore) - 0.1
			} else {
				sc = float64(u.spm.scores[id])
			}
			cand := sc + float64(base)
			tn := &bp[k+1]
			if !tn.filled || cand > float64(tn.score) {
				*tn = best{score: float32(cand), start: int32(start), id: id, filled: true}
			}
			if length == mblen {
				hasSingle = true
			}
		}
		if !hasSingle {
			tn := &bp[start+mblen]
			cand := unkScore + base
			if !tn.filled || cand > tn.score {
				*tn = best{score: cand, start: int32(start), id: unk, filled: true}
			}
		}
		start += mblen
	}
	// backtrack
	var rev []spPiece
	for end := n; end > 0; {
		b := bp[end]
		rev = append(rev, spPiece{piece: s[b.start:end], id: int(b.id)})
		end = int(b.start)
	}
	prevUnk := false
	for i := len(rev) - 1; i >= 0; i-- {
		p := rev[i]
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
			out[len(out)-1].piece += p.piece
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
