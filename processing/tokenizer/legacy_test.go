package tokenizer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestT5NonLegacy: T5Tokenizer with legacy=False. Expected ids come from sentencepiece 0.1.97 on
// real-blip2-flan-t5-xl's spiece.model loaded with add_dummy_prefix=False (the model proto with a
// merged NormalizerSpec, as get_spm_processor does), following T5Tokenizer.tokenize/_tokenize
// (text "▁"-prefixed, "<unk>" + text encoded and the unk pieces dropped).
func TestT5NonLegacy(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(fixtureRoot, "real-blip2-flan-t5-xl", "spiece.model"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "spiece.model"), data, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"tokenizer_class":"T5Tokenizer","legacy":false}`), 0o644))
	tok, err := FromPretrained(dir)
	require.NoError(t, err)
	for text, want := range map[string][]int{
		"Hello world":                            {8774, 296},
		"  leading and   trailing  ":             {1374, 11, 5032, 53},
		"Hey ▁there":                             {9459, 132},
		"a.b,c":                                  {3, 9, 5, 115, 6, 75},
		"Question: what is shown? Short answer:": {11860, 10, 125, 19, 2008, 58, 7110, 1525, 10},
		"été Ｆull ①":                             {1366, 4043, 209},
		"":                                       nil,
	} {
		got, err := tok.Encode(text, false)
		require.NoError(t, err)
		require.Equal(t, want, got, text)
	}
}
