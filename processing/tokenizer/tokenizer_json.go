package tokenizer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"regexp"
	"strings"
)

type jsonAddedToken struct {
	ID int `json:"id"`
	AddedToken
}

type jsonTokenizer struct {
	AddedTokens   []jsonAddedToken `json:"added_tokens"`
	Normalizer    json.RawMessage  `json:"normalizer"`
	PreTokenizer  json.RawMessage  `json:"pre_tokenizer"`
	PostProcessor json.RawMessage  `json:"post_processor"`
	Decoder       json.RawMessage  `json:"decoder"`
	Model         json.RawMessage  `json:"model"`
}

type jsonModel struct {
	Type         string          `json:"type"`
	Vocab        json.RawMessage `json:"vocab"`
	Merges       json.RawMessage `json:"merges"`
	UnkID        *int            `json:"unk_id"`
	UnkToken     *string         `json:"unk_token"`
	ByteFallback bool            `json:"byte_fallback"`
	Dropout      *float64        `json:"dropout"`
	ContPrefix   string          `json:"continuing_subword_prefix"`
	EndSuffix    string          `json:"end_of_word_suffix"`
}

type jsonComponent struct {
	Type           string            `json:"type"`
	Normalizers    []json.RawMessage `json:"normalizers"`
	PreTokenizers  []json.RawMessage `json:"pretokenizers"`
	Processors     []json.RawMessage `json:"processors"`
	Charsmap       *string           `json:"precompiled_charsmap"`
	Pattern        json.RawMessage   `json:"pattern"`
	Content        *string           `json:"content"`
	Replacement    string            `json:"replacement"`
	AddPrefixSpace *bool             `json:"add_prefix_space"`
	PrependScheme  string            `json:"prepend_scheme"`
	Single         []json.RawMessage `json:"single"`
	SpecialTokens  map[string]struct {
		IDs []int `json:"ids"`
	} `json:"special_tokens"`
}

func parseComponent(raw json.RawMessage, file, field string) (*jsonComponent, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	c := &jsonComponent{}
	if err := json.Unmarshal(raw, c); err != nil {
		return nil, formatErr(file, field, "%v", err)
	}
	return c, nil
}

func (b *builder) readJSON() (*jsonTokenizer, error) {
	f := b.path(TokenizerJSONFile)
	data, err := os.ReadFile(f)
	if err != nil {
		return nil, err
	}
	return parseTokenizerJSON(data, f)
}

func parseTokenizerJSON(data []byte, f string) (*jsonTokenizer, error) {
	j := &jsonTokenizer{}
	if err := json.Unmarshal(data, j); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %v: %w", f, err, ErrFormat)
	}
	for i, a := range j.AddedTokens {
		if a.ID < 0 || a.Content == "" {
			return nil, formatErr(f, fmt.Sprintf("added_tokens[%d]", i), "id %d, content %q", a.ID, a.Content)
		}
	}
	return j, nil
}

// readJSONAdded reads tokenizer.json's added_tokens (the slow tokenizers' legacy path does too).
func (b *builder) readJSONAdded() error {
	j, err := b.readJSON()
	if errors.Is(err, fs.ErrNotExist) {
		b.jsonAdded = []jsonAddedToken{}
		return nil
	}
	if err != nil {
		return err
	}
	b.jsonAdded = j.AddedTokens
	return nil
}

// loadJSONModel builds the model from tokenizer.json. The pipeline is read into the same model
// types the slow files give (ByteLevel BPE, or a SentencePiece-style Unigram whose normalizer is
// the Precompiled charsmap plus Metaspace), so both paths tokenize alike.
func (b *builder) loadJSONModel() error {
	f := b.path(TokenizerJSONFile)
	j, err := b.readJSON()
	if err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	return b.modelFromJSON(j, f)
}

// modelFromJSON builds the model of a parsed tokenizer.json (f names the file in errors).
func (b *builder) modelFromJSON(j *jsonTokenizer, f string) error {
	b.jsonAdded = j.AddedTokens
	b.fromJSON = true
	var m jsonModel
	if err := json.Unmarshal(j.Model, &m); err != nil {
		return formatErr(f, "model", "%v", err)
	}
	switch m.Type {
	case "BPE", "":
		if m.Type == "" && len(m.Merges) == 0 {
			return formatErr(f, "model.type", "missing")
		}
		return b.jsonBPE(j, &m, f)
	case "Unigram":
		return b.jsonUnigram(j, &m, f)
	}
	return formatErr(f, "model.type", "%q is not supported (BPE, Unigram)", m.Type)
}

func (b *builder) jsonBPE(j *jsonTokenizer, m *jsonModel, f string) error {
	if m.ContPrefix != "" || m.EndSuffix != "" {
		return formatErr(f, "model", "continuing_subword_prefix/end_of_word_suffix are not supported")
	}
	pre, err := parseComponent(j.PreTokenizer, f, "pre_tokenizer")
	if err != nil {
		return err
	}
	if pre == nil || pre.Type != "ByteLevel" {
		t := "null"
		if pre != nil {
			t = pre.Type
		}
		return formatErr(f, "pre_tokenizer.type", "%s: only ByteLevel BPE is supported", t)
	}
	vocab := map[string]int{}
	if err := json.Unmarshal(m.Vocab, &vocab); err != nil {
		return formatErr(f, "model.vocab", "%v", err)
	}
	var mergesRaw []json.RawMessage
	if err := json.Unmarshal(m.Merges, &mergesRaw); err != nil {
		return formatErr(f, "model.merges", "%v", err)
	}
	merges := make([][2]string, len(mergesRaw))
	for i, r := range mergesRaw {
		var s string
		if err := json.Unmarshal(r, &s); err == nil {
			parts := strings.Split(s, " ")
			if len(parts) != 2 {
				return formatErr(f, fmt.Sprintf("model.merges[%d]", i), "%q is not two symbols", s)
			}
			merges[i] = [2]string{parts[0], parts[1]}
			continue
		}
		var pair []string
		if err := json.Unmarshal(r, &pair); err != nil || len(pair) != 2 {
			return formatErr(f, fmt.Sprintf("model.merges[%d]", i), "want \"a b\" or [a, b], got %s", r)
		}
		merges[i] = [2]string{pair[0], pair[1]}
	}
	unk := ""
	if m.UnkToken != nil {
		unk = *m.UnkToken
	}
	if a, ok, err := tokenValue(b.cfg.m["unk_token"], b.cfg.file, "unk_token"); err != nil {
		return err
	} else if ok {
		unk = a.Content
	}
	b.bpe = newBPEModel(vocab, merges, unk)
	if pre.AddPrefixSpace != nil {
		b.jsonPrefix = *pre.AddPrefixSpace
	}
	return b.jsonTemplate(j, f)
}

// jsonTemplate reads a TemplateProcessing post-processor's single-sequence template.
func (b *builder) jsonTemplate(j *jsonTokenizer, f string) error {
	pp, err := parseComponent(j.PostProcessor, f, "post_processor")
	if err != nil || pp == nil || pp.Type != "TemplateProcessing" {
		return err
	}
	seenSeq := false
	for i, raw := range pp.Single {
		var item struct {
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
			Sequence *struct{} `json:"Sequence"`
		}
		if err := json.Unmarshal(raw, &item); err != nil {
			return formatErr(f, fmt.Sprintf("post_processor.single[%d]", i), "%v", err)
		}
		switch {
		case item.Sequence != nil:
			seenSeq = true
		case item.SpecialToken != nil:
			st, ok := pp.SpecialTokens[item.SpecialToken.ID]
			if !ok {
				return formatErr(f, "post_processor.special_tokens", "%q missing", item.SpecialToken.ID)
			}
			if seenSeq {
				b.suffix = append(b.suffix, st.IDs...)
			} else {
				b.prefix = append(b.prefix, st.IDs...)
			}
		}
	}
	return nil
}

var extraIDRe = regexp.MustCompile(`^<extra_id_\d+>$`)

func (b *builder) jsonUnigram(j *jsonTokenizer, m *jsonModel, f string) error {
	var vocab [][2]json.RawMessage
	if err := json.Unmarshal(m.Vocab, &vocab); err != nil {
		return formatErr(f, "model.vocab", "want [[piece, score], ...]: %v", err)
	}
	if len(vocab) == 0 {
		return formatErr(f, "model.vocab", "empty")
	}
	if m.UnkID == nil || *m.UnkID < 0 || *m.UnkID >= len(vocab) {
		return formatErr(f, "model.unk_id", "missing or out of range")
	}
	special := map[string]bool{}
	for _, a := range j.AddedTokens {
		if a.Special {
			special[a.Content] = true
		}
	}
	sp := &spmModel{modelType: 1, unkID: *m.UnkID, bosID: -1, eosID: -1, padID: -1, byteFallback: m.ByteFallback}
	for i, e := range vocab {
		var piece string
		var score float64
		if err := json.Unmarshal(e[0], &piece); err != nil {
			return formatErr(f, fmt.Sprintf("model.vocab[%d]", i), "piece: %v", err)
		}
		if err := json.Unmarshal(e[1], &score); err != nil {
			return formatErr(f, fmt.Sprintf("model.vocab[%d]", i), "score: %v", err)
		}
		typ := int8(pieceNormal)
		switch {
		case i == *m.UnkID:
			typ = pieceUnknown
		case special[piece]:
			typ = pieceControl
		case m.ByteFallback && len(piece) == 6 && strings.HasPrefix(piece, "<0x") && piece[5] == '>':
			typ = pieceByte
		}
		sp.pieces = append(sp.pieces, piece)
		sp.scores = append(sp.scores, float32(score))
		sp.types = append(sp.types, typ)
	}
	// T5: the slow vocabulary (spiece.model) does not hold the trailing <extra_id_k> entries;
	// T5Tokenizer appends them itself as added tokens.
	if strings.HasPrefix(b.class, "T5") {
		for len(sp.pieces) > 1 && extraIDRe.MatchString(sp.pieces[len(sp.pieces)-1]) {
			n := len(sp.pieces) - 1
			sp.pieces, sp.scores, sp.types = sp.pieces[:n], sp.scores[:n], sp.types[:n]
		}
		if sp.unkID >= len(sp.pieces) {
			return formatErr(f, "model.unk_id", "points at an extra id")
		}
	}
	sp.addDummyPrefix, sp.escapeWhitespaces = true, true
	norm, err := parseComponent(j.Normalizer, f, "normalizer")
	if err != nil {
		return err
	}
	var norms []*jsonComponent
	if norm != nil {
		if norm.Type == "Sequence" {
			for i, r := range norm.Normalizers {
				c, err := parseComponent(r, f, fmt.Sprintf("normalizer.normalizers[%d]", i))
				if err != nil {
					return err
				}
				if c != nil {
					norms = append(norms, c)
				}
			}
		} else {
			norms = append(norms, norm)
		}
	}
	for _, c := range norms {
		switch c.Type {
		case "Precompiled":
			if c.Charsmap == nil {
				return formatErr(f, "normalizer.precompiled_charsmap", "missing")
			}
			blob, err := base64.StdEncoding.DecodeString(*c.Charsmap)
			if err != nil {
				return formatErr(f, "normalizer.precompiled_charsmap", "base64: %v", err)
			}
			sp.charsMap = blob
		case "Replace":
			var pat struct {
				Regex  *string `json:"Regex"`
				String *string `json:"String"`
			}
			_ = json.Unmarshal(c.Pattern, &pat)
			if pat.Regex != nil && *pat.Regex == " {2,}" && c.Content != nil && *c.Content == " " {
				sp.removeExtraSpaces = true
				continue
			}
			return formatErr(f, "normalizer", "Replace %s is not supported", c.Pattern)
		case "Strip", "StripAccents", "NFKC", "NFC", "NFD", "NFKD", "Lowercase", "Prepend":
			return formatErr(f, "normalizer", "%s is not supported for Unigram models", c.Type)
		}
	}
	pre, err := parseComponent(j.PreTokenizer, f, "pre_tokenizer")
	if err != nil {
		return err
	}
	var pres []*jsonComponent
	if pre != nil {
		if pre.Type == "Sequence" {
			for i, r := range pre.PreTokenizers {
				c, err := parseComponent(r, f, fmt.Sprintf("pre_tokenizer.pretokenizers[%d]", i))
				if err != nil {
					return err
				}
				if c != nil {
					pres = append(pres, c)
				}
			}
		} else {
			pres = append(pres, pre)
		}
	}
	for _, c := range pres {
		switch c.Type {
		case "Metaspace":
			if c.Replacement != "" && c.Replacement != spaceSymbol {
				return formatErr(f, "pre_tokenizer.replacement", "%q is not \u2581", c.Replacement)
			}
			switch {
			case c.PrependScheme == "never":
				sp.addDummyPrefix = false
			case c.PrependScheme != "":
				sp.addDummyPrefix = true
			case c.AddPrefixSpace != nil:
				sp.addDummyPrefix = *c.AddPrefixSpace
			}
		case "WhitespaceSplit":
			sp.removeExtraSpaces = true
		default:
			return formatErr(f, "pre_tokenizer", "%s is not supported for Unigram models", c.Type)
		}
	}
	if math.IsNaN(float64(sp.scores[0])) {
		return formatErr(f, "model.vocab", "NaN score")
	}
	b.uni, err = newUnigramModel(sp, f)
	if err != nil {
		return err
	}
	return b.jsonTemplate(j, f)
}
