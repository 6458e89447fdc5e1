package tokenizer

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// pbAppend helpers build a small SentencePiece ModelProto for seeds and tests.
func pbVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func pbBytes(b []byte, field int, p []byte) []byte {
	b = pbVarint(b, uint64(field<<3|2))
	b = pbVarint(b, uint64(len(p)))
	return append(b, p...)
}

func pbInt(b []byte, field int, v uint64) []byte {
	b = pbVarint(b, uint64(field<<3))
	return pbVarint(b, v)
}

func pbFloat(b []byte, field int, f float32) []byte {
	b = pbVarint(b, uint64(field<<3|5))
	return binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
}

// tinySPM returns a ModelProto with <pad> <unk> </s> controls/unknown and a few pieces.
func tinySPM() []byte {
	var m []byte
	pieces := []struct {
		p   string
		s   float32
		typ int
	}{{"<pad>", 0, 3}, {"</s>", 0, 3}, {"<unk>", 0, 2}, {"\u2581", -2, 1}, {"\u2581a", -3, 1}, {"b", -4, 1}, {"ab", -3.5, 1}, {"a", -5, 1}, {"<0x41>", 0, 6}}
	for _, p := range pieces {
		var e []byte
		e = pbBytes(e, 1, []byte(p.p))
		e = pbFloat(e, 2, p.s)
		e = pbInt(e, 3, uint64(p.typ))
		m = pbBytes(m, 1, e)
	}
	var ts []byte
	ts = pbInt(ts, 3, 1)
	ts = pbInt(ts, 40, 2)
	ts = pbInt(ts, 42, 1)
	ts = pbInt(ts, 43, 0)
	m = pbBytes(m, 2, ts)
	var ns []byte
	ns = pbBytes(ns, 1, []byte("identity"))
	m = pbBytes(m, 3, ns)
	return m
}

const tinyBPEJSON = `{"version":"1.0","added_tokens":[{"id":0,"content":"</s>","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":true}],
"normalizer":null,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},
"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"</s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"pair":[],"special_tokens":{"</s>":{"id":"</s>","ids":[0],"tokens":["</s>"]}}},
"decoder":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{"</s>":0,"a":1,"b":2,"ab":3,"Ġ":4,"Ġab":5},"merges":["a b","Ġ ab"]}}`

const tinyUnigramJSON = `{"version":"1.0","added_tokens":[{"id":0,"content":"<pad>","special":true},{"id":1,"content":"</s>","special":true},{"id":2,"content":"<unk>","special":true}],
"normalizer":{"type":"Sequence","normalizers":[{"type":"Replace","pattern":{"Regex":" {2,}"},"content":" "}]},
"pre_tokenizer":{"type":"Metaspace","replacement":"\u2581","add_prefix_space":true},"post_processor":null,"decoder":null,
"model":{"type":"Unigram","unk_id":2,"vocab":[["<pad>",0.0],["</s>",0.0],["<unk>",0.0],["\u2581",-2.0],["\u2581a",-3.0],["b",-4.0],["ab",-3.5],["a",-5.0]]}}`

// TestTinyModels checks the tiny models used as fuzz seeds against hand-computed results.
func TestTinyModels(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "spiece.model"), tinySPM(), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := FromPretrained(dir)
	if err != nil {
		t.Fatal(err)
	}
	// "ab  b": ▁ab: ▁a+b = -7, ▁+ab = -5.5 -> [▁, ab]; then ▁b: ▁(-2)+b(-4)
	ids, err := tok.Encode("ab  b", true)
	if err != nil {
		t.Fatal(err)
	}
	want := []int{3, 6, 3, 5, 1}
	if !equalIntSlices(ids, want) {
		t.Fatalf("ids %v, want %v", ids, want)
	}
	// "c" is unknown: ▁ then <unk>; two unknown chars merge into one piece
	toks, _ := tok.Tokenize("cd")
	if len(toks) != 2 || toks[0] != "\u2581" || toks[1] != "cd" {
		t.Fatalf("tokens %q", toks)
	}
	if s, _ := tok.Decode(ids, false); s != "ab b</s>" {
		t.Fatalf("decode %q", s)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(tinyBPEJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "spiece.model")); err != nil {
		t.Fatal(err)
	}
	bt, err := FromPretrained(dir)
	if err != nil {
		t.Fatal(err)
	}
	ids, err = bt.Encode("ab ab", true)
	if err != nil || !equalIntSlices(ids, []int{0, 3, 5}) {
		t.Fatalf("BPE ids %v %v", ids, err)
	}
}
