package parity

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"

	"github.com/gotransformers/gotransformers/processing/tokenizer"
)

// loadFixtureTokenizer loads the folder's tokenizer as the fixtures were made: the tokenizer of
// Blip2Processor.from_pretrained(dir, use_fast=False) for BLIP-2 folders (the processor adds the
// special token <image>), the plain tokenizer otherwise. slow picks the slow files; otherwise
// tokenizer.json is used when the folder has one.
func loadFixtureTokenizer(env *Env, slow bool) (*tokenizer.Tokenizer, error) {
	key := "tokenizer/json"
	if slow {
		key = "tokenizer/slow"
	}
	v, err := env.Cache(key, func() (any, error) {
		tok, err := tokenizer.LoadAuto(env.Dir, tokenizer.LoadOptions{UseSlow: slow})
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(filepath.Join(env.Dir, "processor_config.json")); err == nil {
			tok.AddTokens([]tokenizer.AddedToken{{Content: "<image>", Special: true}}, true)
		}
		return tok, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*tokenizer.Tokenizer), nil
}

// runTokenizer runs a `tokenizer` case (FORMAT.md, "Case kinds"). Folders with a tokenizer.json
// are checked twice: from the slow files and from tokenizer.json.
func runTokenizer(ctx context.Context, env *Env, c *Case) Result {
	paths := []bool{true}
	if _, err := os.Stat(filepath.Join(env.Dir, tokenizer.TokenizerJSONFile)); err == nil {
		paths = append(paths, false)
	}
	var res Result
	for i, slow := range paths {
		name := map[bool]string{true: "slow files", false: "tokenizer.json"}[slow]
		tok, err := loadFixtureTokenizer(env, slow)
		var r Result
		if err != nil {
			r = Fail("%s: load: %v", name, err)
		} else {
			r = checkTokenizerCase(tok, c)
			r.Msg = name + ": " + r.Msg
		}
		if i == 0 {
			res = r
		} else {
			res = Merge(res, r)
		}
	}
	return res
}

func checkTokenizerCase(tok *tokenizer.Tokenizer, c *Case) Result {
	var fails []string
	failf := func(format string, args ...any) {
		if len(fails) < 3 {
			fails = append(fails, fmt.Sprintf(format, args...))
		} else if len(fails) == 3 {
			fails = append(fails, "...")
		}
	}
	checks := 0
	switch c.ID {
	case "tokenizer_encode_decode":
		var entries []struct {
			Text              string   `json:"text"`
			InputIDs          []int    `json:"input_ids"`
			InputIDsNoSpecial []int    `json:"input_ids_no_special"`
			Tokens            []string `json:"tokens"`
			Decode            string   `json:"decode"`
			DecodeSkipSpecial string   `json:"decode_skip_special"`
		}
		if err := c.Get("entries", &entries); err != nil {
			return Fail("%v", err)
		}
		for _, e := range entries {
			checks += 5
			if ids, err := tok.Encode(e.Text, true); err != nil || !equalInts(ids, e.InputIDs) {
				failf("%q: input_ids %v (err %v), want %v", e.Text, ids, err, e.InputIDs)
			}
			if ids, err := tok.Encode(e.Text, false); err != nil || !equalInts(ids, e.InputIDsNoSpecial) {
				failf("%q: input_ids_no_special %v (err %v), want %v", e.Text, ids, err, e.InputIDsNoSpecial)
			}
			if toks, err := tok.ConvertIDsToTokens(e.InputIDs, false); err != nil || !reflect.DeepEqual(toks, e.Tokens) {
				failf("%q: tokens %q (err %v), want %q", e.Text, toks, err, e.Tokens)
			}
			if d, err := tok.Decode(e.InputIDs, false); err != nil || d != e.Decode {
				failf("%q: decode %q (err %v), want %q", e.Text, d, err, e.Decode)
			}
			if d, err := tok.Decode(e.InputIDs, true); err != nil || d != e.DecodeSkipSpecial {
				failf("%q: decode(skip_special_tokens) %q (err %v), want %q", e.Text, d, err, e.DecodeSkipSpecial)
			}
		}
	case "tokenizer_batch_padding":
		var args struct {
			Texts       []string `json:"texts"`
			Padding     bool     `json:"padding"`
			PaddingSide string   `json:"padding_side"`
		}
		var want struct {
			InputIDs      [][]int `json:"input_ids"`
			AttentionMask [][]int `json:"attention_mask"`
		}
		if err := c.Get("args", &args); err != nil {
			return Fail("%v", err)
		}
		if err := c.Get("expected", &want); err != nil {
			return Fail("%v", err)
		}
		checks += 3
		if tok.PaddingSide != args.PaddingSide {
			failf("padding_side %q, want %q", tok.PaddingSide, args.PaddingSide)
		}
		opt := tokenizer.EncodeOptions{}
		if args.Padding {
			opt.Padding = tokenizer.PadLongest
		}
		be, err := tok.Call(args.Texts, opt)
		switch {
		case err != nil:
			failf("call: %v", err)
		default:
			if !reflect.DeepEqual(be.InputIDs, want.InputIDs) {
				failf("input_ids %v, want %v", be.InputIDs, want.InputIDs)
			}
			if !reflect.DeepEqual(be.AttentionMask, want.AttentionMask) {
				failf("attention_mask %v, want %v", be.AttentionMask, want.AttentionMask)
			}
		}
	case "tokenizer_batch_decode":
		var args struct {
			Sequences [][]int `json:"sequences"`
		}
		var want struct {
			True  []string `json:"skip_special_tokens_true"`
			False []string `json:"skip_special_tokens_false"`
		}
		if err := c.Get("args", &args); err != nil {
			return Fail("%v", err)
		}
		if err := c.Get("expected", &want); err != nil {
			return Fail("%v", err)
		}
		for _, skip := range []bool{true, false} {
			w := want.False
			if skip {
				w = want.True
			}
			checks++
			got, err := tok.BatchDecode(args.Sequences, skip)
			if err != nil || !reflect.DeepEqual(got, w) {
				failf("batch_decode(skip_special_tokens=%v) %q (err %v), want %q", skip, got, err, w)
			}
		}
	case "tokenizer_info":
		var want map[string]json.RawMessage
		if err := c.Get("expected", &want); err != nil {
			return Fail("%v", err)
		}
		got := map[string]any{
			"len":          tok.Len(),
			"vocab_size":   tok.VocabSize(),
			"padding_side": tok.PaddingSide,
		}
		for _, attr := range []string{"bos_token", "eos_token", "pad_token", "unk_token", "sep_token", "cls_token", "mask_token"} {
			if s, ok := tok.SpecialToken(attr); ok {
				got[attr] = s
				if id, ok := tok.SpecialTokenID(attr); ok {
					got[attr+"_id"] = id
				} else {
					got[attr+"_id"] = nil
				}
			} else {
				got[attr] = nil
				got[attr+"_id"] = nil
			}
		}
		added := map[string]string{}
		for id, a := range tok.AddedTokensDecoder() {
			added[strconv.Itoa(id)] = a.Content
		}
		got["added_tokens"] = added
		for k, raw := range want {
			checks++
			g, ok := got[k]
			if !ok {
				failf("attribute %q not checked", k)
				continue
			}
			gb, _ := json.Marshal(g)
			var a, b any
			_ = json.Unmarshal(gb, &a)
			_ = json.Unmarshal(raw, &b)
			if !reflect.DeepEqual(a, b) {
				failf("%s = %s, want %s", k, clipStr(string(gb)), clipStr(string(raw)))
			}
		}
	default:
		return Unsupported("tokenizer case %q is not known", c.ID)
	}
	if len(fails) > 0 {
		return Fail("%d checks: %v", checks, fails)
	}
	return OK("%d checks exact", checks)
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func clipStr(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
