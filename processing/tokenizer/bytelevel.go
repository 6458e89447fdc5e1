package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// byteLevelTables maps bytes to the printable runes GPT-2 uses for them (bytes_to_unicode in
// transformers' tokenization_gpt2.py) and back.
type byteLevelTables struct {
	enc    [256]rune   // byte -> rune
	encStr [256]string // byte -> UTF-8 of enc
	dec    map[rune]byte
}

func newByteLevelTables() *byteLevelTables {
	t := &byteLevelTables{dec: make(map[rune]byte, 256)}
	n := 0
	for b := 0; b < 256; b++ {
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		if printable {
			t.enc[b] = rune(b)
		} else {
			t.enc[b] = rune(256 + n)
			n++
		}
		t.encStr[b] = string(t.enc[b])
		t.dec[t.enc[b]] = byte(b)
	}
	return t
}

// Character classes of the GPT-2 pre-tokenization pattern
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
const (
	clsOther = iota
	clsLetter
	clsNumber
	clsSpace
)

var asciiClass = func() (t [128]uint8) {
	for c := 0; c < 128; c++ {
		r := rune(c)
		switch {
		case unicode.IsLetter(r):
			t[c] = clsLetter
		case unicode.IsNumber(r):
			t[c] = clsNumber
		case unicode.IsSpace(r):
			t[c] = clsSpace
		default:
			t[c] = clsOther
		}
	}
	return
}()

// runeAt decodes the rune at byte offset i of s and returns its class and width. Invalid UTF-8
// never reaches here (inputs are made valid first).
func runeAt(s string, i int) (uint8, int) {
	c := s[i]
	if c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	switch {
	case unicode.IsLetter(r):
		return clsLetter, w
	case unicode.IsNumber(r):
		return clsNumber, w
	case unicode.IsSpace(r):
		return clsSpace, w
	}
	return clsOther, w
}

// gpt2Split calls fn for every match of the GPT-2 pre-tokenization regex in s, in order. It is a
// hand-written matcher (Go's regexp has no lookahead) that reproduces the leftmost-first
// alternation of Python's `regex` module, in time linear in len(s).
func gpt2Split(s string, fn func(piece string)) {
	n := len(s)
	i := 0
	for i < n {
		start := i
		// 's|'t|'re|'ve|'m|'ll|'d
		if s[i] == '\'' && i+1 < n {
			switch s[i+1] {
			case 's', 't', 'm', 'd':
				fn(s[i : i+2])
				i += 2
				continue
			case 'r', 'v', 'l':
				if i+2 < n {
					want := byte('e')
					if s[i+1] == 'l' {
						want = 'l'
					}
					if s[i+2] == want {
						fn(s[i : i+3])
						i += 3
						continue
					}
				}
			}
		}
		// optional leading space (U+0020 only) for the next three alternatives
		j := i
		if s[j] == ' ' && j+1 < n {
			j++
		}
		cls, w := runeAt(s, j)
		if j > i && cls == clsSpace {
			// " " followed by whitespace: the optional-space alternatives fail on the space itself
			// (a space is not L, N or [^\s\pL\pN]); fall to the whitespace rules below.
			j = i
			cls, w = runeAt(s, j)
		}
		if cls != clsSpace {
			k := j + w
			for k < n {
				c2, w2 := runeAt(s, k)
				if c2 != cls {
					break
				}
				k += w2
			}
			fn(s[start:k])
			i = k
			continue
		}
		// \s+(?!\S) | \s+
		k := i
		last := i // start of the last whitespace rune in the run
		for k < n {
			c2, w2 := runeAt(s, k)
			if c2 != clsSpace {
				break
			}
			last = k
			k += w2
		}
		if k < n && last > i {
			// followed by a non-space: give back the last whitespace rune
			k = last
		}
		fn(s[i:k])
		i = k
	}
}

// pySpace reports whether Python's str.isspace() is true for r (used by str.strip()).
func pySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

func pyRStrip(s string) string { return strings.TrimRightFunc(s, pySpace) }
func pyLStrip(s string) string { return strings.TrimLeftFunc(s, pySpace) }
func pyStrip(s string) string  { return strings.TrimFunc(s, pySpace) }

// decodeUTF8Replace decodes b as Python's bytes.decode("utf-8", errors="replace") does: every
// maximal ill-formed subpart becomes one U+FFFD.
func decodeUTF8Replace(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + 8)
	i := 0
	for i < len(b) {
		c := b[i]
		if c < 0x80 {
			sb.WriteByte(c)
			i++
			continue
		}
		var need int
		lo, hi := byte(0x80), byte(0xBF)
		switch {
		case c >= 0xC2 && c <= 0xDF:
			need = 1
		case c == 0xE0:
			need, lo = 2, 0xA0
		case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
			need = 2
		case c == 0xED:
			need, hi = 2, 0x9F
		case c == 0xF0:
			need, lo = 3, 0x90
		case c >= 0xF1 && c <= 0xF3:
			need = 3
		case c == 0xF4:
			need, hi = 3, 0x8F
		default:
			sb.WriteRune(utf8.RuneError)
			i++
			continue
		}
		j := i + 1
		ok := true
		for k := 0; k < need; k++ {
			if j >= len(b) {
				ok = false
				break
			}
			d := b[j]
			if k == 0 {
				if d < lo || d > hi {
					ok = false
					break
				}
			} else if d < 0x80 || d > 0xBF {
				ok = false
				break
			}
			j++
		}
		if ok {
			sb.Write(b[i:j])
		} else {
			sb.WriteRune(utf8.RuneError)
		}
		i = j
	}
	return sb.String()
}
