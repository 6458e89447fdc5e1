package generation_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/processing/tokenizer"
	"github.com/gotransformers/gotransformers/transformers/generation"
)

// TestTextStreamerByteLevelBPE streams a text whose CJK characters and emoji (with a skin-tone
// modifier) are split over several byte-level BPE tokens of the OPT tokenizer: no piece may end
// inside a character, and the pieces must add up to the full decode.
func TestTextStreamerByteLevelBPE(t *testing.T) {
	tok, err := tokenizer.LoadAuto("../../parity/testdata/opt", tokenizer.LoadOptions{UseSlow: true})
	require.NoError(t, err)
	text := "héllo 世界 🙂 ok\nnext 👍🏽 line"
	ids, err := tok.Encode(text, false)
	require.NoError(t, err)
	decode := func(ids []int) (string, error) { return tok.Decode(ids, true) }
	split := 0
	for _, id := range ids {
		if s, _ := decode([]int{id}); strings.ContainsRune(s, utf8.RuneError) {
			split++
		}
	}
	require.Greater(t, split, 3, "the text must exercise split characters")

	var pieces []string
	s := generation.NewTextStreamer(decode, false, func(p string, final bool) error {
		pieces = append(pieces, p)
		return nil
	})
	for _, id := range ids {
		require.NoError(t, s.Put([][]int{{id}}))
	}
	s.End()
	for _, p := range pieces {
		assert.True(t, utf8.ValidString(p))
		assert.NotContains(t, p, "\uFFFD", "piece %q", p)
	}
	assert.Equal(t, text, strings.Join(pieces, ""))
	assert.Contains(t, pieces, "ok\n", "a newline flushes")
}
