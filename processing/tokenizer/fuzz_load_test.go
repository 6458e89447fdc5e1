package tokenizer_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gotransformers/gotransformers/processing/tokenizer"
)

// The fuzz targets below load a tokenizer folder whose files come from the fuzzer (tokenizer.json,
// vocab.json + merges.txt, spiece.model, tokenizer_config.json, special_tokens_map.json,
// added_tokens.json) through the public loader, then encode and decode with whatever loaded. The
// property: no input makes the loader or the loaded tokenizer panic or hang; bad files are errors.
// Seed corpora: the seeds below (f.Add) and testdata/fuzz/<FuzzName>/ (written by
// GT_WRITE_FUZZ_SEEDS=1 go test -run TestWriteLoadFuzzSeeds). scripts/fuzz.sh runs them all.

// tinyVocab / tinyMerges: a byte-level BPE over "a", "b", "Ġ" with two merges.
const tinyVocab = `{"a":0,"b":1,"Ġ":2,"ab":3,"Ġa":4,"Ġab":5,"<|endoftext|>":6,"<pad>":7,"c":8,"Ċ":9}`

const tinyMerges = "#version: 0.2\na b\nĠ a\nĠa b\n"

const gpt2Config = `{"add_bos_token":true,"add_prefix_space":false,"bos_token":"<|endoftext|>","eos_token":"<|endoftext|>",
"unk_token":"<|endoftext|>","pad_token":"<pad>","padding_side":"left","model_max_length":16,
"additional_special_tokens":["<image>"],"tokenizer_class":"GPT2Tokenizer"}`

const gpt2ConfigDecoder = `{"add_bos_token":true,"added_tokens_decoder":{"7":{"content":"<pad>","lstrip":false,"normalized":true,
"rstrip":false,"single_word":false,"special":true},"10":{"content":"<image>","normalized":false,"special":true}},
"bos_token":{"__type":"AddedToken","content":"<|endoftext|>","lstrip":false,"normalized":true,"rstrip":false,"single_word":false},
"eos_token":"<|endoftext|>","pad_token":"<pad>","model_max_length":1000000000000000019884624838656,
"clean_up_tokenization_spaces":true,"tokenizer_class":"GPT2Tokenizer","truncation_side":"left"}`

const bpeTokenizerJSON = `{"version":"1.0","truncation":null,"padding":null,
"added_tokens":[{"id":6,"content":"<|endoftext|>","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":true},
{"id":7,"content":"<pad>","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":true}],
"normalizer":null,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},
"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<|endoftext|>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
"pair":[],"special_tokens":{"<|endoftext|>":{"id":"<|endoftext|>","ids":[6],"tokens":["<|endoftext|>"]}}},
"decoder":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true},
"model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":"","end_of_word_suffix":"","fuse_unk":false,
"byte_fallback":false,"vocab":` + tinyVocab + `,"merges":["a b","Ġ a",["Ġa","b"]]}}`

const unigramTokenizerJSON = `{"version":"1.0","added_tokens":[{"id":0,"content":"<pad>","special":true},
{"id":1,"content":"</s>","special":true},{"id":2,"content":"<unk>","special":true}],
"normalizer":{"type":"Sequence","normalizers":[{"type":"Replace","pattern":{"Regex":" {2,}"},"content":" "}]},
"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"WhitespaceSplit"},{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}]},
"post_processor":{"type":"TemplateProcessing","single":[{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"</s>","type_id":0}}],
"special_tokens":{"</s>":{"id":"</s>","ids":[1],"tokens":["</s>"]}}},
"decoder":{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true},
"model":{"type":"Unigram","unk_id":2,"byte_fallback":false,"vocab":[["<pad>",0.0],["</s>",0.0],["<unk>",0.0],["▁",-2.0],["a",-3.0],
["b",-3.5],["▁a",-1.5],["ab",-2.5],["<0x41>",-9.0],["<extra_id_0>",0.0]]}}`

const t5Config = `{"tokenizer_class":"T5Tokenizer","eos_token":"</s>","unk_token":"<unk>","pad_token":"<pad>","extra_ids":2,
"legacy":false,"model_max_length":512,"additional_special_tokens":["<extra_id_0>","<extra_id_1>"]}`

// pb helpers build a SentencePiece ModelProto.
func pbVarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func pbBytes(b []byte, field int, p []byte) []byte {
	b = pbVarint(b, uint64(field)<<3|2)
	b = pbVarint(b, uint64(len(p)))
	return append(b, p...)
}

func pbUint(b []byte, field int, v uint64) []byte {
	return pbVarint(pbVarint(b, uint64(field)<<3), v)
}

func spmPiece(piece string, score float32, typ int) []byte {
	p := pbBytes(nil, 1, []byte(piece))
	p = pbVarint(p, 2<<3|5)
	p = binary.LittleEndian.AppendUint32(p, math.Float32bits(score))
	if typ != 1 {
		p = pbUint(p, 3, uint64(typ))
	}
	return p
}

// tinySpiece returns a small unigram spiece.model (no charsmap, or a 4-byte empty trie when
// withCharsmap is set).
func tinySpiece(byteFallback bool) []byte {
	var m []byte
	for _, p := range []struct {
		s   string
		sc  float32
		typ int
	}{{"<pad>", 0, 3}, {"</s>", 0, 3}, {"<unk>", 0, 2}, {"▁", -2, 1}, {"a", -3, 1}, {"b", -3.5, 1}, {"▁a", -1.5, 1},
		{"ab", -2.5, 1}, {"<0x41>", 0, 6}, {"<user>", 0, 4}, {"<unused>", 0, 5}} {
		m = pbBytes(m, 1, spmPiece(p.s, p.sc, p.typ))
	}
	var tr []byte
	tr = pbUint(tr, 3, 1) // model_type UNIGRAM
	tr = pbUint(tr, 4, 11)
	if byteFallback {
		tr = pbUint(tr, 35, 1)
	}
	tr = pbUint(tr, 40, 2)
	tr = pbUint(tr, 41, uint64(uint32(math.MaxUint32))) // bos_id -1 as int32
	tr = pbUint(tr, 42, 1)
	tr = pbUint(tr, 43, 0)
	tr = pbBytes(tr, 44, []byte(" ⁇ "))
	m = pbBytes(m, 2, tr)
	var n []byte
	n = pbBytes(n, 1, []byte("identity"))
	n = pbUint(n, 3, 1)
	n = pbUint(n, 4, 1)
	n = pbUint(n, 5, 1)
	m = pbBytes(m, 3, n)
	return m
}

// fuzzDeadline turns an input that makes loading or encoding run for minutes into a reported
// failure (the fuzzer then saves it) instead of a silent stall.
const fuzzDeadline = 20 * time.Second

// loadAndExercise loads the files and exercises the result, failing when that takes longer than
// fuzzDeadline.
func loadAndExercise(t *testing.T, dir string, files map[string][]byte, opt tokenizer.LoadOptions) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tok, err := loadDir(t, dir, files, opt)
		if err == nil {
			exercise(t, tok)
		}
	}()
	select {
	case <-done:
	case <-time.After(fuzzDeadline):
		t.Fatalf("loading and exercising took more than %v (files of %v bytes)", fuzzDeadline, sizes(files))
	}
}

func sizes(files map[string][]byte) map[string]int {
	m := map[string]int{}
	for k, v := range files {
		m[k] = len(v)
	}
	return m
}

// loadDir writes files into dir (a fresh folder when dir is empty) and loads it; nil contents
// are left out (and removed from a reused dir).
func loadDir(t *testing.T, dir string, files map[string][]byte, opt tokenizer.LoadOptions) (*tokenizer.Tokenizer, error) {
	if dir == "" {
		dir = t.TempDir()
	}
	for name, data := range files {
		path := filepath.Join(dir, name)
		if data == nil {
			os.Remove(path)
			continue
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return tokenizer.LoadAuto(dir, opt)
}

var exerciseTexts = []string{
	"", "a", "ab ab  abc\n\n b", " <image> a<pad>b</s>", "héllo 你好 🙂 \u0000\xff",
	"<extra_id_0> a <extra_id_1>", "<|endoftext|>a<|endoftext|>",
}

// exercise runs the public encode/decode surface of a loaded tokenizer; errors are fine, panics
// are not (the fuzzer reports them).
func exercise(t *testing.T, tok *tokenizer.Tokenizer) {
	n := tok.Len()
	if n < 0 {
		t.Fatalf("Len %d", n)
	}
	tok.VocabSize()
	tok.AllSpecialIDs()
	tok.AddedTokensDecoder()
	for _, s := range exerciseTexts {
		ids, err := tok.Encode(s, true)
		if err != nil {
			continue
		}
		for _, id := range ids {
			if id < 0 {
				t.Fatalf("Encode(%q) gave id %d", s, id)
			}
		}
		tok.Tokenize(s)
		tok.Decode(ids, false)
		tok.Decode(ids, true)
	}
	tok.Call(exerciseTexts, tokenizer.EncodeOptions{Padding: tokenizer.PadLongest, Truncation: true, MaxLength: 5, PadToMultipleOf: 3})
	tok.Call(exerciseTexts[:3], tokenizer.EncodeOptions{Padding: tokenizer.PadMaxLength, MaxLength: 7, PaddingSide: "left"})
	// every id up to a little past the vocabulary, and some that are not ids at all
	ids := []int{-1, math.MaxInt, math.MinInt}
	for i := 0; i < min(n+3, 4096); i++ {
		ids = append(ids, i)
	}
	tok.Decode(ids, false)
	tok.Decode(ids[3:], true)
	tok.ConvertIDsToTokens(ids, false)
	tok.AddTokens([]tokenizer.AddedToken{{Content: "<image>", Special: true}}, true)
	tok.Encode(" <image><image>a", false)
}

func FuzzLoadTokenizerJSON(f *testing.F) {
	f.Add([]byte(bpeTokenizerJSON), []byte(`{"tokenizer_class":"GPT2Tokenizer","add_bos_token":true}`))
	f.Add([]byte(bpeTokenizerJSON), []byte(`{"tokenizer_class":"BartTokenizer"}`))
	f.Add([]byte(unigramTokenizerJSON), []byte(t5Config))
	f.Add([]byte(unigramTokenizerJSON), []byte(`{"tokenizer_class":"LlamaTokenizerFast"}`))
	dir := f.TempDir() // reused: the fuzz function runs one input at a time in each process
	f.Fuzz(func(t *testing.T, tokJSON, cfg []byte) {
		loadAndExercise(t, dir, map[string][]byte{tokenizer.TokenizerJSONFile: tokJSON, tokenizer.TokenizerConfigFile: cfg}, tokenizer.LoadOptions{})
	})
}

func FuzzLoadVocabMerges(f *testing.F) {
	f.Add([]byte(tinyVocab), []byte(tinyMerges), []byte(gpt2Config))
	f.Add([]byte(tinyVocab), []byte(tinyMerges), []byte(gpt2ConfigDecoder))
	f.Add([]byte(tinyVocab), []byte("#version: 0.2\na b c\n\nĠ\n"), []byte(`{}`))
	dir := f.TempDir() // reused: the fuzz function runs one input at a time in each process
	f.Fuzz(func(t *testing.T, vocab, merges, cfg []byte) {
		loadAndExercise(t, dir, map[string][]byte{
			tokenizer.VocabJSONFile: vocab, tokenizer.MergesFile: merges, tokenizer.TokenizerConfigFile: cfg,
		}, tokenizer.LoadOptions{UseSlow: true})
	})
}

func FuzzLoadSpiece(f *testing.F) {
	f.Add(tinySpiece(false), []byte(t5Config))
	f.Add(tinySpiece(true), []byte(`{"tokenizer_class":"T5Tokenizer","legacy":true,"extra_ids":0}`))
	f.Add(tinySpiece(false), []byte(`{"extra_ids":3,"add_prefix_space":false}`))
	dir := f.TempDir() // reused: the fuzz function runs one input at a time in each process
	f.Fuzz(func(t *testing.T, model, cfg []byte) {
		loadAndExercise(t, dir, map[string][]byte{tokenizer.SentencePieceFile: model, tokenizer.TokenizerConfigFile: cfg}, tokenizer.LoadOptions{UseSlow: true})
	})
}

// FuzzLoadTokenizerConfig varies the three JSON side files over a fixed small vocabulary.
func FuzzLoadTokenizerConfig(f *testing.F) {
	f.Add([]byte(gpt2Config), []byte(`{"pad_token":{"content":"<pad>","lstrip":true},"additional_special_tokens":[{"content":"<image>"}]}`), []byte(`{"<image>":10,"<x>":11}`))
	f.Add([]byte(gpt2ConfigDecoder), []byte(`{}`), []byte(`{}`))
	f.Add([]byte(`{"tokenizer_class":"GPT2TokenizerFast","padding_side":"right","add_prefix_space":true}`), []byte(`{"unk_token":null}`), []byte(`{"<image>":50000}`))
	dir := f.TempDir() // reused: the fuzz function runs one input at a time in each process
	f.Fuzz(func(t *testing.T, cfg, specialMap, added []byte) {
		loadAndExercise(t, dir, map[string][]byte{
			tokenizer.VocabJSONFile: []byte(tinyVocab), tokenizer.MergesFile: []byte(tinyMerges),
			tokenizer.TokenizerConfigFile: cfg, tokenizer.SpecialTokensMapFile: specialMap, tokenizer.AddedTokensFile: added,
		}, tokenizer.LoadOptions{})
	})
}

// TestLoadFuzzSeedsLoad checks that the hand-made seeds are valid tokenizers (so the fuzzer starts
// from inputs that reach encoding), and that their encodings are what the tiny vocabularies give.
func TestLoadFuzzSeedsLoad(t *testing.T) {
	cases := []struct {
		name  string
		files map[string][]byte
		slow  bool
		text  string
		want  []int
	}{
		{"vocab+merges", map[string][]byte{tokenizer.VocabJSONFile: []byte(tinyVocab), tokenizer.MergesFile: []byte(tinyMerges), tokenizer.TokenizerConfigFile: []byte(gpt2Config)}, true, "ab ab", []int{6, 3, 2, 3}},
		{"tokenizer.json BPE", map[string][]byte{tokenizer.TokenizerJSONFile: []byte(bpeTokenizerJSON), tokenizer.TokenizerConfigFile: []byte(`{"tokenizer_class":"GPT2Tokenizer","add_bos_token":true}`)}, false, "ab ab", []int{6, 3, 2, 3}},
		{"tokenizer.json Unigram", map[string][]byte{tokenizer.TokenizerJSONFile: []byte(unigramTokenizerJSON), tokenizer.TokenizerConfigFile: []byte(t5Config)}, false, "ab", []int{3, 7, 1}},
		{"spiece.model", map[string][]byte{tokenizer.SentencePieceFile: tinySpiece(false), tokenizer.TokenizerConfigFile: []byte(t5Config)}, true, "ab", []int{3, 7, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok, err := loadDir(t, "", c.files, tokenizer.LoadOptions{UseSlow: c.slow})
			if err != nil {
				t.Fatal(err)
			}
			ids, err := tok.Encode(c.text, true)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(ids) != fmt.Sprint(c.want) {
				t.Errorf("Encode(%q) = %v, want %v", c.text, ids, c.want)
			}
			exercise(t, tok)
		})
	}
}

// TestWriteLoadFuzzSeeds writes the f.Add seeds above as files under testdata/fuzz/<FuzzName>/
// (the committed corpus scripts/fuzz.sh starts from). Run with GT_WRITE_FUZZ_SEEDS=1.
func TestWriteLoadFuzzSeeds(t *testing.T) {
	if os.Getenv("GT_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set GT_WRITE_FUZZ_SEEDS=1 to rewrite the seed corpus")
	}
	seeds := map[string][][][]byte{
		"FuzzLoadTokenizerJSON": {
			{[]byte(bpeTokenizerJSON), []byte(`{"tokenizer_class":"GPT2Tokenizer","add_bos_token":true}`)},
			{[]byte(unigramTokenizerJSON), []byte(t5Config)},
		},
		"FuzzLoadVocabMerges": {
			{[]byte(tinyVocab), []byte(tinyMerges), []byte(gpt2Config)},
			{[]byte(tinyVocab), []byte(tinyMerges), []byte(gpt2ConfigDecoder)},
		},
		"FuzzLoadSpiece": {
			{tinySpiece(false), []byte(t5Config)},
			{tinySpiece(true), []byte(`{"tokenizer_class":"T5Tokenizer","legacy":true,"extra_ids":0}`)},
		},
		"FuzzLoadTokenizerConfig": {
			{[]byte(gpt2ConfigDecoder), []byte(`{}`), []byte(`{}`)},
			{[]byte(gpt2Config), []byte(`{"pad_token":{"content":"<pad>","lstrip":true}}`), []byte(`{"<image>":10}`)},
		},
	}
	for name, list := range seeds {
		for i, args := range list {
			writeCorpusFile(t, name, fmt.Sprintf("seed-%d", i), args...)
		}
	}
}

// writeCorpusFile writes one input in the "go test fuzz v1" format.
func writeCorpusFile(t *testing.T, fuzzName, file string, args ...[]byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", fuzzName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := "go test fuzz v1\n"
	for _, a := range args {
		s += "[]byte(" + strconv.Quote(string(a)) + ")\n"
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
