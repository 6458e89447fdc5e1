package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

const fixtureRoot = "../../parity/testdata"

type fixtureEntry struct {
	Text              string   `json:"text"`
	InputIDs          []int    `json:"input_ids"`
	InputIDsNoSpecial []int    `json:"input_ids_no_special"`
	Tokens            []string `json:"tokens"`
	Decode            string   `json:"decode"`
	DecodeSkipSpecial string   `json:"decode_skip_special"`
}

type fixtureCase struct {
	ID      string          `json:"id"`
	Kind    string          `json:"kind"`
	Entries []fixtureEntry  `json:"entries"`
	Args    json.RawMessage `json:"args"`
	Expect  json.RawMessage `json:"expected"`
}

func loadFixtureCases(t *testing.T, dir string) []fixtureCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "cases", "cases.json"))
	if err != nil {
		t.Skip(err)
	}
	var f struct {
		Cases []fixtureCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	var out []fixtureCase
	for _, c := range f.Cases {
		if c.Kind == "tokenizer" {
			out = append(out, c)
		}
	}
	return out
}

// fixtureTokenizer loads a folder's tokenizer as the fixtures were made: with the processor's
// <image> token added.
func fixtureTokenizer(t *testing.T, dir string, opt LoadOptions) *Tokenizer {
	t.Helper()
	tok, err := LoadAuto(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "processor_config.json")); err == nil {
		tok.AddTokens([]AddedToken{{Content: "<image>", Special: true}}, true)
	}
	return tok
}

func TestFixtures(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(fixtureRoot, "*", "cases", "cases.json"))
	if len(dirs) == 0 {
		t.Skip("no fixtures")
	}
	for _, p := range dirs {
		dir := filepath.Dir(filepath.Dir(p))
		cases := loadFixtureCases(t, dir)
		if len(cases) == 0 {
			continue
		}
		paths := []LoadOptions{{UseSlow: true}}
		if _, err := os.Stat(filepath.Join(dir, TokenizerJSONFile)); err == nil {
			paths = append(paths, LoadOptions{})
		}
		for _, opt := range paths {
			name := filepath.Base(dir) + map[bool]string{true: "/slow", false: "/json"}[opt.UseSlow]
			t.Run(name, func(t *testing.T) {
				tok := fixtureTokenizer(t, dir, opt)
				n := 0
				for _, c := range cases {
					n += checkFixtureCase(t, tok, c)
				}
				if n < 4 {
					t.Errorf("only %d checks ran", n)
				}
				t.Logf("%d checks", n)
			})
		}
	}
}

func checkFixtureCase(t *testing.T, tok *Tokenizer, c fixtureCase) int {
	switch c.ID {
	case "tokenizer_encode_decode":
		for _, e := range c.Entries {
			ids, err := tok.Encode(e.Text, true)
			if err != nil || !reflect.DeepEqual(ids, e.InputIDs) {
				t.Errorf("%q: ids %v (%v), want %v", e.Text, ids, err, e.InputIDs)
			}
			ids2, _ := tok.Encode(e.Text, false)
			if len(ids2) == 0 && len(e.InputIDsNoSpecial) == 0 {
				ids2 = e.InputIDsNoSpecial
			}
			if !reflect.DeepEqual(ids2, e.InputIDsNoSpecial) {
				t.Errorf("%q: no-special ids %v, want %v", e.Text, ids2, e.InputIDsNoSpecial)
			}
			toks, err := tok.ConvertIDsToTokens(e.InputIDs, false)
			if err != nil || !reflect.DeepEqual(toks, e.Tokens) {
				t.Errorf("%q: tokens %q (%v), want %q", e.Text, toks, err, e.Tokens)
			}
			d, err := tok.Decode(e.InputIDs, false)
			if err != nil || d != e.Decode {
				t.Errorf("%q: decode %q (%v), want %q", e.Text, d, err, e.Decode)
			}
			d, err = tok.Decode(e.InputIDs, true)
			if err != nil || d != e.DecodeSkipSpecial {
				t.Errorf("%q: decode skip %q (%v), want %q", e.Text, d, err, e.DecodeSkipSpecial)
			}
		}
		return len(c.Entries)
	case "tokenizer_batch_padding":
		var args struct {
			Texts       []string `json:"texts"`
			PaddingSide string   `json:"padding_side"`
		}
		var want struct {
			InputIDs      [][]int `json:"input_ids"`
			AttentionMask [][]int `json:"attention_mask"`
		}
		_ = json.Unmarshal(c.Args, &args)
		_ = json.Unmarshal(c.Expect, &want)
		if tok.PaddingSide != args.PaddingSide {
			t.Errorf("padding side %q, want %q", tok.PaddingSide, args.PaddingSide)
		}
		be, err := tok.Call(args.Texts, EncodeOptions{Padding: PadLongest})
		if err != nil || !reflect.DeepEqual(be.InputIDs, want.InputIDs) || !reflect.DeepEqual(be.AttentionMask, want.AttentionMask) {
			t.Errorf("batch padding: %v %v (%v), want %v %v", be.InputIDs, be.AttentionMask, err, want.InputIDs, want.AttentionMask)
		}
	case "tokenizer_batch_decode":
		var args struct {
			Sequences [][]int `json:"sequences"`
		}
		var want struct {
			True  []string `json:"skip_special_tokens_true"`
			False []string `json:"skip_special_tokens_false"`
		}
		_ = json.Unmarshal(c.Args, &args)
		_ = json.Unmarshal(c.Expect, &want)
		for skip, w := range map[bool][]string{true: want.True, false: want.False} {
			got, err := tok.BatchDecode(args.Sequences, skip)
			if err != nil || !reflect.DeepEqual(got, w) {
				t.Errorf("batch decode skip=%v: %q (%v), want %q", skip, got, err, w)
			}
		}
	case "tokenizer_info":
		var want struct {
			Len         int               `json:"len"`
			VocabSize   int               `json:"vocab_size"`
			BOS         *string           `json:"bos_token"`
			BOSID       *int              `json:"bos_token_id"`
			EOS         *string           `json:"eos_token"`
			EOSID       *int              `json:"eos_token_id"`
			Pad         *string           `json:"pad_token"`
			PadID       *int              `json:"pad_token_id"`
			Unk         *string           `json:"unk_token"`
			UnkID       *int              `json:"unk_token_id"`
			PaddingSide string            `json:"padding_side"`
			Added       map[string]string `json:"added_tokens"`
		}
		_ = json.Unmarshal(c.Expect, &want)
		if tok.Len() != want.Len || tok.VocabSize() != want.VocabSize {
			t.Errorf("len %d vocab %d, want %d %d", tok.Len(), tok.VocabSize(), want.Len, want.VocabSize)
		}
		for attr, w := range map[string][2]any{"bos_token": {want.BOS, want.BOSID}, "eos_token": {want.EOS, want.EOSID}, "pad_token": {want.Pad, want.PadID}, "unk_token": {want.Unk, want.UnkID}} {
			s, ok := tok.SpecialToken(attr)
			ws := w[0].(*string)
			if ok != (ws != nil) || (ok && s != *ws) {
				t.Errorf("%s = %q %v, want %v", attr, s, ok, ws)
			}
			id, ok := tok.SpecialTokenID(attr)
			wi := w[1].(*int)
			if ok != (wi != nil) || (ok && id != *wi) {
				t.Errorf("%s id = %d %v, want %v", attr, id, ok, wi)
			}
		}
		got := map[string]string{}
		for id, a := range tok.AddedTokensDecoder() {
			got[itoa(id)] = a.Content
		}
		if !reflect.DeepEqual(got, want.Added) {
			t.Errorf("added tokens %v, want %v", got, want.Added)
		}
	}
	return 1
}
