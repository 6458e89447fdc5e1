package tokenizer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func realOPT(t *testing.T) *Tokenizer {
	t.Helper()
	tok, err := LoadAuto(filepath.Join(fixtureRoot, "real-blip2-opt-2.7b"), LoadOptions{UseSlow: true})
	require.NoError(t, err)
	return tok
}

// Truncation and padding, derived from the fixture ids of real-blip2-opt-2.7b ("A man is riding
// a bicycle ..." = [2, 250, 313, 16, 5793, ...], "Question: what is shown? Answer:" = [2, 45641,
// 35, 99, 16, 2343, 116, 31652, 35] in tokenizer_encode_decode).
func TestTruncationPadding(t *testing.T) {
	tok := realOPT(t)
	texts := []string{"A man is riding a bicycle down a busy street, past a row of small shops.", "Question: what is shown? Answer:"}
	full, err := tok.Call(texts, EncodeOptions{})
	require.NoError(t, err)
	require.Equal(t, []int{2, 250, 313, 16, 5793}, full.InputIDs[0][:5])

	// truncation keeps max_length ids including the BOS
	be, err := tok.Call(texts, EncodeOptions{Truncation: true, MaxLength: 5})
	require.NoError(t, err)
	require.Equal(t, [][]int{full.InputIDs[0][:5], full.InputIDs[1][:5]}, be.InputIDs)

	// left truncation drops from the start of the text, BOS stays first
	tok.TruncationSide = "left"
	be, err = tok.Call(texts[:1], EncodeOptions{Truncation: true, MaxLength: 4})
	require.NoError(t, err)
	n := len(full.InputIDs[0])
	require.Equal(t, append([]int{2}, full.InputIDs[0][n-3:]...), be.InputIDs[0])
	tok.TruncationSide = "right"

	// max_length padding, pad_to_multiple_of, padding side override
	be, err = tok.Call(texts[1:], EncodeOptions{Padding: PadMaxLength, MaxLength: 12, PaddingSide: "left"})
	require.NoError(t, err)
	require.Equal(t, append([]int{1, 1, 1}, full.InputIDs[1]...), be.InputIDs[0])
	require.Equal(t, []int{0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1}, be.AttentionMask[0])
	be, err = tok.Call(texts, EncodeOptions{Padding: PadLongest, PadToMultipleOf: 8})
	require.NoError(t, err)
	require.Len(t, be.InputIDs[0], 24) // 19 -> 24
	require.Equal(t, 1, be.InputIDs[1][23])

	// no special tokens
	be, err = tok.Call(texts[1:], EncodeOptions{NoSpecialTokens: true})
	require.NoError(t, err)
	require.Equal(t, full.InputIDs[1][1:], be.InputIDs[0])

	_, err = tok.Call(texts, EncodeOptions{Padding: PadLongest, PaddingSide: "middle"})
	require.Error(t, err)
}

func TestAddTokens(t *testing.T) {
	tok := realOPT(t)
	n := tok.Len()
	require.Equal(t, 0, tok.AddTokens([]AddedToken{{Content: "<image>"}}, true)) // already there
	require.Equal(t, 1, tok.AddTokens([]AddedToken{{Content: "<obj>"}}, false))
	id, ok := tok.TokenToID("<obj>")
	require.True(t, ok)
	require.Equal(t, n, id)
	require.Equal(t, n+1, tok.Len())
	ids, err := tok.Encode("a<obj>b", false)
	require.NoError(t, err)
	require.Equal(t, n, ids[1])
	// a non-special added token is kept apart and spaced on decode, and not skipped
	s, err := tok.Decode(ids, true)
	require.NoError(t, err)
	require.Equal(t, "a <obj> b", s)

	added, err := tok.AddSpecialTokens(map[string]AddedToken{"mask_token": {Content: "<msk>"}}, []AddedToken{{Content: "<loc>"}}, false)
	require.NoError(t, err)
	require.Equal(t, 2, added)
	mid, ok := tok.SpecialTokenID("mask_token")
	require.True(t, ok)
	require.Equal(t, n+1, mid)
	require.Contains(t, tok.AllSpecialTokens(), "<loc>")
	s, err = tok.Decode([]int{mid, ids[0]}, true)
	require.NoError(t, err)
	require.Equal(t, "a", s)
	_, err = tok.AddSpecialTokens(map[string]AddedToken{"foo_token": {Content: "x"}}, nil, false)
	require.Error(t, err)
}

// Encoding from many goroutines shares the BPE word cache safely (run with -race).
func TestConcurrentEncode(t *testing.T) {
	tok := realOPT(t)
	text := "Concurrent encoding shares one bounded cache; don't race it. 12345 café"
	want, err := tok.Encode(text, true)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				got, err := tok.Encode(text+strings.Repeat(" x", g), true)
				if err != nil || !equalIntSlices(got[:len(want)], want) {
					errs <- errors.New("mismatch")
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	require.NoError(t, <-errs)
}

// Bad files give errors that name the file and the field.
func TestBadFiles(t *testing.T) {
	write := func(t *testing.T, files map[string]string) string {
		dir := t.TempDir()
		for name, data := range files {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644))
		}
		return dir
	}
	cases := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"bad config json", map[string]string{"tokenizer_config.json": "{", "vocab.json": "{}", "merges.txt": "#v\n"}, []string{"tokenizer_config.json"}},
		{"bad vocab json", map[string]string{"vocab.json": "[1,2", "merges.txt": "#v\n"}, []string{"vocab.json"}},
		{"missing merges", map[string]string{"vocab.json": `{"a":0}`}, []string{"merges.txt"}},
		{"truncated spiece", map[string]string{"spiece.model": string(tinySPM()[:len(tinySPM())-3])}, []string{"spiece.model", "ModelProto"}},
		{"bad padding side", map[string]string{"tokenizer_config.json": `{"padding_side":"up"}`, "vocab.json": `{"a":0}`, "merges.txt": "#v\n"}, []string{"tokenizer_config.json", "padding_side"}},
		{"bad tokenizer.json model", map[string]string{"tokenizer.json": `{"model":{"type":"WordPiece"}}`}, []string{"tokenizer.json", "model.type"}},
		{"bad merges entry", map[string]string{"tokenizer.json": `{"pre_tokenizer":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{},"merges":["a b c"]}}`}, []string{"tokenizer.json", "model.merges[0]"}},
		{"bad charsmap", map[string]string{"tokenizer.json": `{"normalizer":{"type":"Precompiled","precompiled_charsmap":"AAAA"},"model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0]]}}`}, []string{"tokenizer.json", "precompiled_charsmap"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := FromPretrained(write(t, c.files))
			require.Error(t, err)
			for _, w := range c.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

// Without max_length, padding="max_length" and truncation fall back to model_max_length, and are
// turned off when the model has none (transformers' _get_padding_truncation_strategies).
func TestModelMaxLengthDefaults(t *testing.T) {
	tok := realOPT(t)
	be, err := tok.Call([]string{"a photo of"}, EncodeOptions{Padding: PadMaxLength, Truncation: true})
	require.NoError(t, err)
	require.Equal(t, [][]int{{2, 102, 1345, 9}}, be.InputIDs)
	tok.ModelMaxLength = 6
	be, err = tok.Call([]string{"a photo of", "a photo of a photo of"}, EncodeOptions{Padding: PadMaxLength, Truncation: true})
	require.NoError(t, err)
	require.Equal(t, [][]int{{2, 102, 1345, 9, 1, 1}, {2, 102, 1345, 9, 10, 1345}}, be.InputIDs)
}
