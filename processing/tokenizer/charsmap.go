package tokenizer

import (
	"encoding/binary"
	"unicode/utf8"
)

// charsMap is SentencePiece's precompiled normalization map (normalizer_spec.precompiled_charsmap,
// or the Precompiled normalizer of tokenizer.json): a Darts-clone double-array trie of source
// strings whose values index NUL-terminated replacement strings.
type charsMap struct {
	units []uint32
	norm  []byte
}

// parseCharsMap reads the blob: uint32 little-endian trie size in bytes, the trie units, then
// the replacement strings.
func parseCharsMap(blob []byte, file, field string) (*charsMap, error) {
	if len(blob) == 0 {
		return nil, nil
	}
	if len(blob) < 4 {
		return nil, formatErr(file, field, "%d bytes, need at least 4", len(blob))
	}
	size := binary.LittleEndian.Uint32(blob)
	if size%4 != 0 || uint64(size) > uint64(len(blob)-4) || size == 0 {
		return nil, formatErr(file, field, "trie size %d does not fit in %d bytes", size, len(blob))
	}
	cm := &charsMap{units: make([]uint32, size/4), norm: blob[4+size:]}
	for i := range cm.units {
		cm.units[i] = binary.LittleEndian.Uint32(blob[4+4*i:])
	}
	return cm, nil
}

func dartsOffset(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }
func dartsLabel(u uint32) uint32  { return u & ((1 << 31) | 0xFF) }
func dartsHasLeaf(u uint32) bool  { return (u>>8)&1 == 1 }
func dartsValue(u uint32) uint32  { return u & ((1 << 31) - 1) }

// longestPrefix returns the replacement of the longest key that is a prefix of s (as
// Darts::DoubleArray::commonPrefixSearch + the normalizer's longest-match rule), or ok=false.
func (cm *charsMap) longestPrefix(s string) (repl string, n int, ok bool) {
	units := cm.units
	if len(units) == 0 {
		return "", 0, false
	}
	pos := dartsOffset(units[0])
	found := 0
	for i := 0; i < len(s); i++ {
		pos ^= uint32(s[i])
		if int(pos) >= len(units) {
			break
		}
		u := units[pos]
		if dartsLabel(u) != uint32(s[i]) {
			break
		}
		pos ^= dartsOffset(u)
		if int(pos) >= len(units) {
			break
		}
		if dartsHasLeaf(u) {
			found++
			if found > 32 { // kMaxTrieResultsSize: later results are not recorded
				continue
			}
			v := dartsValue(units[pos])
			if int(v) >= len(cm.norm) {
				continue
			}
			end := int(v)
			for end < len(cm.norm) && cm.norm[end] != 0 {
				end++
			}
			repl, n, ok = string(cm.norm[v:end]), i+1, true
		}
	}
	return repl, n, ok
}

// normalizePrefix is sentencepiece's Normalizer::NormalizePrefix for one step: the replacement
// and the number of input bytes consumed.
func (cm *charsMap) normalizePrefix(s string) (string, int) {
	if cm != nil {
		if r, n, ok := cm.longestPrefix(s); ok {
			return r, n
		}
	}
	r, w := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && w <= 1 {
		return "\uFFFD", 1
	}
	return s[:w], w
}

// startsWith reports whether some key of the map starts with byte b.
func (cm *charsMap) startsWith(b byte) bool {
	if cm == nil || len(cm.units) == 0 {
		return false
	}
	pos := dartsOffset(cm.units[0]) ^ uint32(b)
	return int(pos) < len(cm.units) && dartsLabel(cm.units[pos]) == uint32(b)
}
