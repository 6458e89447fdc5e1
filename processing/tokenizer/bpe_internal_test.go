package tokenizer

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// The heap merge (used for long words) must give exactly what GPT2Tokenizer.bpe gives
// (mergeSmall, a transcription of it) on every word, including long repetitive ones.
func TestMergeHeapEqualsReference(t *testing.T) {
	tok, err := LoadAuto(filepath.Join(fixtureRoot, "real-blip2-opt-2.7b"), LoadOptions{UseSlow: true})
	if err != nil {
		t.Fatal(err)
	}
	m := tok.bpe
	r := rand.New(rand.NewPCG(1, 2))
	docs := syntheticCorpus(20)
	alpha := []string{"a", "b", "ab", "aa", "e", "th", "in", "er", " ", "ll", "é", "中", "😀", "0", "1", "=", "_"}
	for i := 0; i < 3000; i++ {
		var w string
		if i%2 == 0 {
			d := docs[r.IntN(len(docs))].Text
			a := r.IntN(len(d))
			b := min(len(d), a+1+r.IntN(120))
			w = d[a:b]
		} else {
			for n := r.IntN(60); n >= 0; n-- {
				w += alpha[r.IntN(len(alpha))]
			}
		}
		if len(w) < 2 {
			continue
		}
		mk := func() []int32 {
			s := make([]int32, len(w))
			for j := 0; j < len(w); j++ {
				s[j] = int32(w[j])
			}
			return s
		}
		want := m.mergeSmall(mk())
		got := m.mergeHeap(mk())
		if len(want) != len(got) {
			t.Fatalf("%q: heap %v, reference %v", w, got, want)
		}
		for j := range want {
			if want[j] != got[j] {
				t.Fatalf("%q: heap %v, reference %v", w, got, want)
			}
		}
	}
}
