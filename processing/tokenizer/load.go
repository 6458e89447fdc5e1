package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// File names a tokenizer folder may hold.
const (
	TokenizerJSONFile    = "tokenizer.json"
	TokenizerConfigFile  = "tokenizer_config.json"
	SpecialTokensMapFile = "special_tokens_map.json"
	AddedTokensFile      = "added_tokens.json"
	VocabJSONFile        = "vocab.json"
	MergesFile           = "merges.txt"
	SentencePieceFile    = "spiece.model"
)

// MaxExtraIDs bounds tokenizer_config.json's extra_ids (T5 uses 100, ByT5 125): each one becomes an added
// token, so a forged count would make loading run out of time and memory.
const MaxExtraIDs = 1 << 12

// LoadOptions select how a tokenizer folder is read.
type LoadOptions struct {
	// UseSlow reads the slow files (vocab.json + merges.txt, spiece.model) even when
	// tokenizer.json exists (AutoTokenizer.from_pretrained(dir, use_fast=False)). By default
	// tokenizer.json is preferred when present, as transformers does.
	UseSlow bool
}

// FromPretrained is AutoTokenizer.from_pretrained(dir) for a local folder: the tokenizer class
// comes from tokenizer_config.json (tokenizer_class) or from the files present; tokenizer.json is
// used when present, else the slow files.
func FromPretrained(dir string) (*Tokenizer, error) { return LoadAuto(dir, LoadOptions{}) }

// LoadAuto is FromPretrained with options.
func LoadAuto(dir string, opt LoadOptions) (*Tokenizer, error) {
	cfg, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	class := cfg.str("tokenizer_class")
	class = strings.TrimSuffix(class, "Fast")
	has := func(name string) bool {
		st, err := os.Stat(filepath.Join(dir, name))
		return err == nil && !st.IsDir()
	}
	useJSON := has(TokenizerJSONFile) && !(opt.UseSlow && (has(VocabJSONFile) || has(SentencePieceFile)))
	if class == "" {
		switch {
		case has(SentencePieceFile):
			class = "T5Tokenizer"
		case has(VocabJSONFile):
			class = "GPT2Tokenizer"
		}
	}
	b := &builder{dir: dir, cfg: cfg, class: class}
	if useJSON {
		if err := b.loadJSONModel(); err != nil {
			return nil, err
		}
	} else {
		if err := b.loadSlowModel(); err != nil {
			return nil, err
		}
	}
	return b.finish()
}

type config struct {
	file string
	m    map[string]json.RawMessage
}

func readConfig(dir string) (*config, error) {
	c := &config{file: filepath.Join(dir, TokenizerConfigFile), m: map[string]json.RawMessage{}}
	data, err := os.ReadFile(c.file)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if err := json.Unmarshal(data, &c.m); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %v: %w", c.file, err, ErrFormat)
	}
	return c, nil
}

func (c *config) has(k string) bool {
	v, ok := c.m[k]
	return ok && string(v) != "null"
}

func (c *config) str(k string) string {
	var s string
	if v, ok := c.m[k]; ok {
		_ = json.Unmarshal(v, &s)
	}
	return s
}

func (c *config) boolean(k string, def bool) (bool, error) {
	v, ok := c.m[k]
	if !ok || string(v) == "null" {
		return def, nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		return def, formatErr(c.file, k, "want a bool, got %s", v)
	}
	return b, nil
}

func (c *config) number(k string, def float64) (float64, error) {
	v, ok := c.m[k]
	if !ok || string(v) == "null" {
		return def, nil
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil {
		return def, formatErr(c.file, k, "want a number, got %s", v)
	}
	return f, nil
}

// tokenValue reads a special-token value: a string or an AddedToken object (possibly with
// "__type": "AddedToken").
func tokenValue(raw json.RawMessage, file, field string) (AddedToken, bool, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return AddedToken{}, false, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return AddedToken{}, false, formatErr(file, field, "%v", err)
		}
		return AddedToken{Content: s, Normalized: true}, true, nil
	}
	a := AddedToken{Normalized: true}
	if err := json.Unmarshal(raw, &a); err != nil {
		return AddedToken{}, false, formatErr(file, field, "want a string or an AddedToken object: %v", err)
	}
	return a, true, nil
}

type builder struct {
	dir   string
	cfg   *config
	class string

	bpe *bpeModel
	uni *unigramModel
	// tokenizer.json data
	jsonAdded  []jsonAddedToken
	prefix     []int
	suffix     []int
	jsonPrefix bool // ByteLevel add_prefix_space
	fromJSON   bool
}

func (b *builder) path(name string) string { return filepath.Join(b.dir, name) }

func (b *builder) loadSlowModel() error {
	switch {
	case strings.HasPrefix(b.class, "GPT2") || b.class == "":
		vf, mf := b.path(VocabJSONFile), b.path(MergesFile)
		vdata, err := os.ReadFile(vf)
		if err != nil {
			return fmt.Errorf("tokenizer: %s: %w", b.class, err)
		}
		vocab := map[string]int{}
		if err := json.Unmarshal(vdata, &vocab); err != nil {
			return fmt.Errorf("tokenizer: %s: %v: %w", vf, err, ErrFormat)
		}
		mdata, err := os.ReadFile(mf)
		if err != nil {
			return fmt.Errorf("tokenizer: %w", err)
		}
		merges, err := parseMergesTxt(string(mdata), mf)
		if err != nil {
			return err
		}
		unk := "<|endoftext|>"
		if a, ok, err := tokenValue(b.cfg.m["unk_token"], b.cfg.file, "unk_token"); err != nil {
			return err
		} else if ok {
			unk = a.Content
		}
		b.bpe = newBPEModel(vocab, merges, unk)
		return nil
	case strings.HasPrefix(b.class, "T5"):
		f := b.path(SentencePieceFile)
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("tokenizer: %w", err)
		}
		m, err := parseSPMModel(data, f)
		if err != nil {
			return err
		}
		b.uni, err = newUnigramModel(m, f)
		return err
	}
	return fmt.Errorf("tokenizer: %s: tokenizer_class %q is not supported (GPT2Tokenizer, T5Tokenizer): %w", b.cfg.file, b.class, ErrFormat)
}

// parseMergesTxt reads merges.txt as GPT2Tokenizer does: split("\n")[1:-1] (the first line is
// the version header, the last is the empty string after the final newline), each line split on
// whitespace; lines that are not exactly two symbols keep their rank but never match.
func parseMergesTxt(s, file string) ([][2]string, error) {
	lines := strings.Split(s, "\n")
	if len(lines) < 2 {
		return nil, formatErr(file, "merges", "no merge lines")
	}
	lines = lines[1 : len(lines)-1]
	out := make([][2]string, len(lines))
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) == 2 {
			out[i] = [2]string{f[0], f[1]}
		} else {
			// a pair that cannot occur: "\x00" is never a symbol
			out[i] = [2]string{"\x00", fmt.Sprint(i)}
		}
	}
	return out, nil
}

// finish applies transformers' from_pretrained + __init__ logic for added and special tokens.
func (b *builder) finish() (*Tokenizer, error) {
	cfg := b.cfg
	t := &Tokenizer{
		class:        b.class,
		bpe:          b.bpe,
		uni:          b.uni,
		addedDecoder: map[int]AddedToken{},
		addedEncoder: map[string]int{},
		special:      map[string]string{},
	}
	// T5Tokenizer semantics (extra ids, </s> appended if absent) for T5 classes; other Unigram
	// tokenizer.json files get the generic template of their post-processor.
	isT5 := b.uni != nil && (strings.HasPrefix(b.class, "T5") || b.class == "")
	// class defaults
	defaults := map[string]string{}
	if isT5 {
		defaults = map[string]string{"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
	} else if b.bpe != nil && (strings.HasPrefix(b.class, "GPT2") || b.class == "") {
		defaults = map[string]string{"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}
	}
	specials := map[string]AddedToken{}
	for _, a := range specialAttrs {
		if raw, ok := cfg.m[a]; ok {
			tok, ok, err := tokenValue(raw, cfg.file, a)
			if err != nil {
				return nil, err
			}
			if ok {
				specials[a] = tok
			}
			continue
		}
		if d, ok := defaults[a]; ok {
			specials[a] = AddedToken{Content: d, Special: true}
		}
	}
	var additional []string
	inAdditional := map[string]bool{} // a set: a list of 10^5 tokens made loading quadratic
	addAdditional := func(raw json.RawMessage, file string) error {
		if len(raw) == 0 || string(raw) == "null" {
			return nil
		}
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return formatErr(file, "additional_special_tokens", "want a list: %v", err)
		}
		for i, r := range list {
			tok, ok, err := tokenValue(r, file, fmt.Sprintf("additional_special_tokens[%d]", i))
			if err != nil {
				return err
			}
			if ok && !inAdditional[tok.Content] {
				inAdditional[tok.Content] = true
				additional = append(additional, tok.Content)
			}
		}
		return nil
	}
	if err := addAdditional(cfg.m["additional_special_tokens"], cfg.file); err != nil {
		return nil, err
	}

	added := map[int]AddedToken{}
	if cfg.has("added_tokens_decoder") {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(cfg.m["added_tokens_decoder"], &m); err != nil {
			return nil, formatErr(cfg.file, "added_tokens_decoder", "%v", err)
		}
		for k, raw := range m {
			var id int
			if _, err := fmt.Sscan(k, &id); err != nil || fmt.Sprint(id) != k {
				return nil, formatErr(cfg.file, "added_tokens_decoder", "key %q is not an integer id", k)
			}
			tok, ok, err := tokenValue(raw, cfg.file, "added_tokens_decoder."+k)
			if err != nil {
				return nil, err
			}
			if ok {
				added[id] = tok
			}
		}
	} else {
		// legacy: special_tokens_map.json overrides the config's special tokens
		smf := b.path(SpecialTokensMapFile)
		if data, err := os.ReadFile(smf); err == nil {
			var sm map[string]json.RawMessage
			if err := json.Unmarshal(data, &sm); err != nil {
				return nil, fmt.Errorf("tokenizer: %s: %v: %w", smf, err, ErrFormat)
			}
			for _, a := range specialAttrs {
				raw, ok := sm[a]
				if !ok {
					continue
				}
				tok, ok, err := tokenValue(raw, smf, a)
				if err != nil {
					return nil, err
				}
				if ok {
					tok.Special = true
					specials[a] = tok
				} else {
					delete(specials, a)
				}
			}
			if err := addAdditional(sm["additional_special_tokens"], smf); err != nil {
				return nil, err
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		atf := b.path(AddedTokensFile)
		if data, err := os.ReadFile(atf); err == nil {
			var m map[string]int
			if err := json.Unmarshal(data, &m); err != nil {
				return nil, fmt.Errorf("tokenizer: %s: %v: %w", atf, err, ErrFormat)
			}
			specialSet := map[string]bool{}
			for _, s := range specials {
				specialSet[s.Content] = true
			}
			for _, s := range additional {
				specialSet[s] = true
			}
			for content, id := range m {
				sp := specialSet[content]
				added[id] = AddedToken{Content: content, Normalized: !sp, Special: sp}
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		if b.jsonAdded == nil {
			if err := b.readJSONAdded(); err != nil {
				return nil, err
			}
		}
		for _, a := range b.jsonAdded {
			added[a.ID] = a.AddedToken
		}
	}
	for a, tok := range specials {
		t.special[a] = tok.Content
	}
	if isT5 {
		extraIDs := 100
		if f, err := cfg.number("extra_ids", 100); err != nil {
			return nil, err
		} else if !(f >= 0 && f <= MaxExtraIDs) {
			return nil, formatErr(cfg.file, "extra_ids", "%v is not in [0, %d]", f, MaxExtraIDs)
		} else {
			extraIDs = int(f)
		}
		nExtra := 0
		for _, s := range additional {
			if strings.Contains(s, "<extra_id_") {
				nExtra++
			}
		}
		if nExtra == 0 {
			for i := 0; i < extraIDs; i++ {
				additional = append(additional, fmt.Sprintf("<extra_id_%d>", i))
			}
			nExtra = extraIDs
		} else if extraIDs > 0 && extraIDs != nExtra {
			return nil, formatErr(cfg.file, "additional_special_tokens", "%d extra ids given but extra_ids is %d", nExtra, extraIDs)
		}
		np := len(b.uni.spm.pieces)
		for i := 0; i < nExtra; i++ {
			t.addedDecoder[np-1+extraIDs-i] = AddedToken{Content: fmt.Sprintf("<extra_id_%d>", i), LStrip: true, RStrip: true, Special: true}
		}
		legacy, err := cfg.boolean("legacy", true)
		if err != nil {
			return nil, err
		}
		t.legacy = legacy
		t.eosIfAbsent = true
		if t.addPrefixSpace, err = cfg.boolean("add_prefix_space", true); err != nil {
			return nil, err
		}
	} else {
		var err error
		if t.addBOS, err = cfg.boolean("add_bos_token", false); err != nil {
			return nil, err
		}
		if t.addPrefixSpace, err = cfg.boolean("add_prefix_space", false); err != nil {
			return nil, err
		}
		if b.fromJSON && !strings.HasPrefix(b.class, "GPT2") {
			t.addBOS = false
			t.prefix, t.suffix = b.prefix, b.suffix
			if b.bpe != nil {
				t.addPrefixSpace = b.jsonPrefix
			} else {
				t.addPrefixSpace, t.legacy = true, true
			}
		}
	}
	for id, a := range added {
		t.addedDecoder[id] = a
	}
	for id, a := range t.addedDecoder {
		t.addedEncoder[a.Content] = id
	}
	t.additional = additional
	t.rebuildSplitter()
	// special tokens missing from the added tokens are added (special_tokens=True)
	var missing []AddedToken
	for _, s := range t.AllSpecialTokens() {
		if _, ok := t.addedEncoder[s]; !ok {
			tok := AddedToken{Content: s, Special: true}
			for _, sp := range specials {
				if sp.Content == s {
					tok = sp
					tok.Special = true
				}
			}
			missing = append(missing, tok)
		}
	}
	if len(missing) > 0 {
		t.AddTokens(missing, true)
	}

	var err error
	t.PaddingSide = "right"
	if cfg.has("padding_side") {
		t.PaddingSide = cfg.str("padding_side")
	}
	t.TruncationSide = "right"
	if cfg.has("truncation_side") {
		t.TruncationSide = cfg.str("truncation_side")
	}
	if t.PaddingSide != "left" && t.PaddingSide != "right" {
		return nil, formatErr(cfg.file, "padding_side", "%q is not \"left\" or \"right\"", t.PaddingSide)
	}
	mml, err := cfg.number("model_max_length", 1e30)
	if err != nil {
		return nil, err
	}
	t.ModelMaxLength = clampInt(mml)
	if t.CleanUpTokenizationSpaces, err = cfg.boolean("clean_up_tokenization_spaces", true); err != nil {
		return nil, err
	}
	return t, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
