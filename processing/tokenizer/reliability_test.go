package tokenizer_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/gotransformers/gotransformers/processing/tokenizer"

	"github.com/gotransformers/gotransformers/internal/heapstat"
)

// Bad tokenizer folders: each is an error naming the file (or, where transformers accepts the
// file, a working tokenizer), never a panic, and forged ids or counts never make loading allocate
// for what they claim.

func TestBadTokenizerFolders(t *testing.T) {
	const huge = "1099511627776" // 2^40
	unigramNullPre := strings.Replace(unigramTokenizerJSON, `{"type":"WhitespaceSplit"}`, `null`, 1)
	cases := []struct {
		name    string
		files   map[string][]byte
		slow    bool
		wantErr string // "" when loading must succeed
	}{
		// found by FuzzLoadTokenizerJSON: a null entry in a Sequence pre-tokenizer was dereferenced
		{"null pre-tokenizer entry", map[string][]byte{tokenizer.TokenizerJSONFile: []byte(unigramNullPre)}, false, ""},
		// a 20-byte tokenizer_config.json made T5 loading add 2^40 added tokens (quadratic time)
		{"extra_ids huge", map[string][]byte{tokenizer.SentencePieceFile: tinySpiece(false), tokenizer.TokenizerConfigFile: []byte(`{"extra_ids":` + huge + `}`)}, true, "extra_ids"},
		{"extra_ids negative", map[string][]byte{tokenizer.SentencePieceFile: tinySpiece(false), tokenizer.TokenizerConfigFile: []byte(`{"extra_ids":-3}`)}, true, "extra_ids"},
		{"vocab id 2^40", map[string][]byte{tokenizer.VocabJSONFile: []byte(`{"a":` + huge + `,"b":1}`), tokenizer.MergesFile: []byte(tinyMerges)}, true, "?"},
		{"vocab id negative", map[string][]byte{tokenizer.VocabJSONFile: []byte(`{"a":-5,"b":1}`), tokenizer.MergesFile: []byte(tinyMerges)}, true, "?"},
		{"added token id 2^40", map[string][]byte{tokenizer.VocabJSONFile: []byte(tinyVocab), tokenizer.MergesFile: []byte(tinyMerges), tokenizer.AddedTokensFile: []byte(`{"<x>":` + huge + `}`)}, true, "?"},
		{"added_tokens_decoder id 2^40", map[string][]byte{tokenizer.VocabJSONFile: []byte(tinyVocab), tokenizer.MergesFile: []byte(tinyMerges),
			tokenizer.TokenizerConfigFile: []byte(`{"added_tokens_decoder":{"` + huge + `":{"content":"<x>","special":true}}}`)}, true, "?"},
		{"tokenizer.json added token id 2^40", map[string][]byte{tokenizer.TokenizerJSONFile: []byte(strings.Replace(bpeTokenizerJSON, `"id":7`, `"id":`+huge, 1))}, false, "?"},
		{"spiece vocab_size 2^31", map[string][]byte{tokenizer.SentencePieceFile: append(tinySpiece(false), pbBytes(nil, 2, pbUint(nil, 4, 1<<31))...)}, true, "?"},
		{"merges without header", map[string][]byte{tokenizer.VocabJSONFile: []byte(tinyVocab), tokenizer.MergesFile: []byte("")}, true, "merges"},
		{"vocab not an object", map[string][]byte{tokenizer.VocabJSONFile: []byte(`["a"]`), tokenizer.MergesFile: []byte(tinyMerges)}, true, "vocab.json"},
		{"spiece truncated", map[string][]byte{tokenizer.SentencePieceFile: tinySpiece(false)[:37]}, true, "spiece.model"},
		{"spiece length past the end", map[string][]byte{tokenizer.SentencePieceFile: []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 'a'}}, true, "spiece.model"},
		{"tokenizer.json model type", map[string][]byte{tokenizer.TokenizerJSONFile: []byte(`{"model":{"type":"WordPiece","vocab":{}}}`)}, false, "model.type"},
		{"padding_side", map[string][]byte{tokenizer.VocabJSONFile: []byte(tinyVocab), tokenizer.MergesFile: []byte(tinyMerges), tokenizer.TokenizerConfigFile: []byte(`{"padding_side":"up"}`)}, true, "padding_side"},
		{"unknown class", map[string][]byte{tokenizer.VocabJSONFile: []byte(tinyVocab), tokenizer.MergesFile: []byte(tinyMerges), tokenizer.TokenizerConfigFile: []byte(`{"tokenizer_class":"BertTokenizer"}`)}, true, "tokenizer_class"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tok *tokenizer.Tokenizer
			var err error
			n := heapstat.Allocated(func() { tok, err = loadDir(t, "", c.files, tokenizer.LoadOptions{UseSlow: c.slow}) })
			if n > 64<<20 {
				t.Errorf("loading allocated %d MB", n>>20)
			}
			switch c.wantErr {
			case "":
				if err != nil {
					t.Fatal(err)
				}
			case "?": // transformers accepts some of these too; either way it must not panic
			default:
				if err == nil {
					t.Fatalf("accepted, want an error naming %q", c.wantErr)
				}
				if !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("error does not name %q: %v", c.wantErr, err)
				}
				if !errors.Is(err, tokenizer.ErrFormat) && !strings.Contains(err.Error(), "no such file") {
					t.Logf("note: error does not wrap ErrFormat: %v", err)
				}
			}
			if err == nil {
				exercise(t, tok)
				if n := heapstat.Allocated(func() { exercise(t, tok) }); n > 64<<20 {
					t.Errorf("encoding and decoding allocated %d MB", n>>20)
				}
			}
		})
	}
}

// TestManyAdditionalSpecialTokens: 50 000 additional special tokens load (the list was deduplicated
// with a linear search, so a 0.5 MB tokenizer_config.json took seconds, and 5 MB hours) and work.
func TestManyAdditionalSpecialTokens(t *testing.T) {
	const n = 50000
	var b strings.Builder
	b.WriteString(`{"additional_special_tokens":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"<t` + strconv.Itoa(i) + `>"`)
	}
	b.WriteString(`,"<t7>"]}`) // a repeat, dropped as Python does
	tok, err := loadDir(t, "", map[string][]byte{tokenizer.VocabJSONFile: []byte(tinyVocab), tokenizer.MergesFile: []byte(tinyMerges),
		tokenizer.TokenizerConfigFile: []byte(b.String())}, tokenizer.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(tok.AdditionalSpecialTokens()); got != n {
		t.Fatalf("%d additional special tokens, want %d", got, n)
	}
	id, ok := tok.TokenToID("<t49999>")
	if !ok {
		t.Fatal("<t49999> has no id")
	}
	ids, err := tok.Encode("a<t49999>b", false)
	if err != nil || len(ids) != 3 || ids[1] != id {
		t.Fatalf("Encode: %v %v, want the middle id %d", ids, err, id)
	}
}
