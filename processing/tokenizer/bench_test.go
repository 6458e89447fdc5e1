package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// proseText is English prose: the GPL-3 text when present, else synthetic English words.
func proseText(b *testing.B) string {
	for _, f := range []string{os.Getenv("PROSE_FILE"), "/usr/share/common-licenses/GPL-3"} {
		if data, err := os.ReadFile(f); f != "" && err == nil {
			return string(data)
		}
	}
	var sb strings.Builder
	for i := 0; sb.Len() < 35000; i++ {
		sb.WriteString(corpusWords[(i*7)%120])
		sb.WriteByte(' ')
	}
	return sb.String()
}

func benchTokenizer(b *testing.B, folder string) *Tokenizer {
	tok, err := LoadAuto(filepath.Join(fixtureRoot, folder), LoadOptions{UseSlow: true})
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

func benchEncode(b *testing.B, tok *Tokenizer, text string) {
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		if _, err := tok.Encode(text, true); err != nil {
			b.Fatal(err)
		}
	}
	if c := cpuSeconds() - c0; c > 0 {
		b.ReportMetric(float64(len(text))*float64(b.N)/1e6/c, "MB/cpu-s")
	}
}

// line returns about n bytes of prose on one line (newlines turned into spaces).
func line(b *testing.B, n int) string {
	p := strings.ReplaceAll(proseText(b), "\n", " ")
	return strings.Repeat(p, n/len(p)+1)[:n]
}

func BenchmarkBPEEncodeProse(b *testing.B) {
	benchEncode(b, benchTokenizer(b, "real-blip2-opt-2.7b"), proseText(b))
}

func BenchmarkUnigramEncodeProse(b *testing.B) {
	benchEncode(b, benchTokenizer(b, "real-blip2-flan-t5-xl"), proseText(b))
}

// Linear scaling: the same prose as one line of 64 KB, 256 KB and 1 MB.
func BenchmarkBPELine64K(b *testing.B) {
	benchEncode(b, benchTokenizer(b, "real-blip2-opt-2.7b"), line(b, 64<<10))
}
func BenchmarkBPELine256K(b *testing.B) {
	benchEncode(b, benchTokenizer(b, "real-blip2-opt-2.7b"), line(b, 256<<10))
}
func BenchmarkBPELine1M(b *testing.B) {
	benchEncode(b, benchTokenizer(b, "real-blip2-opt-2.7b"), line(b, 1<<20))
}
func BenchmarkUnigramLine64K(b *testing.B) {
	benchEncode(b, benchTokenizer(b, "real-blip2-flan-t5-xl"), line(b, 64<<10))
}
func BenchmarkUnigramLine256K(b *testing.B) {
	benchEncode(b, benchTokenizer(b, "real-blip2-flan-t5-xl"), line(b, 256<<10))
}
func BenchmarkUnigramLine1M(b *testing.B) {
	benchEncode(b, benchTokenizer(b, "real-blip2-flan-t5-xl"), line(b, 1<<20))
}

// A single 1 MB "word" without spaces: one BPE word (heap merge path), one Unigram lattice.
func BenchmarkBPEWord1M(b *testing.B) {
	benchEncode(b, benchTokenizer(b, "real-blip2-opt-2.7b"), strings.Repeat("abcdefghij", 1<<17)[:1<<20])
}
func BenchmarkUnigramWord1M(b *testing.B) {
	benchEncode(b, benchTokenizer(b, "real-blip2-flan-t5-xl"), strings.Repeat("abcdefghij", 1<<17)[:1<<20])
}

// A 1 MB line of CJK text: every character is unknown to T5, so the unknown pieces merge into
// long runs (must stay linear).
func BenchmarkUnigramCJKLine1M(b *testing.B) {
	benchEncode(b, benchTokenizer(b, "real-blip2-flan-t5-xl"), strings.Repeat("北京欢迎你東京タワー서울특별시", 1<<20/len("北京欢迎你東京タワー서울특별시")))
}
