package tokenizer

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
)

// AddedToken mirrors transformers' AddedToken (tokenization_utils_base.AddedToken): a token that
// is split out of the text before the model runs.
type AddedToken struct {
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// Padding is the padding strategy (transformers' PaddingStrategy).
type Padding int

const (
	// DoNotPad leaves every row at its own length (padding=False).
	DoNotPad Padding = iota
	// PadLongest pads to the longest row of the batch (padding=True / "longest").
	PadLongest
	// PadMaxLength pads to EncodeOptions.MaxLength (padding="max_length").
	PadMaxLength
)

// Special-token attribute names, in transformers' SPECIAL_TOKENS_ATTRIBUTES order.
var specialAttrs = []string{"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}

// Tokenizer is a loaded tokenizer with the behaviour of transformers' slow PreTrainedTokenizer
// subclasses GPT2Tokenizer (byte-level BPE) and T5Tokenizer (SentencePiece Unigram). Encoding
// and decoding are safe for concurrent use; AddTokens must not run concurrently with them.
type Tokenizer struct {
	class string // tokenizer_class, e.g. "GPT2Tokenizer", "T5Tokenizer"
	bpe   *bpeModel
	uni   *unigramModel

	addedDecoder map[int]AddedToken
	addedEncoder map[string]int
	splitter     *pieceTrie

	special    map[string]string // attribute -> content
	additional []string          // additional_special_tokens

	addBOS         bool  // GPT2Tokenizer add_bos_token
	eosIfAbsent    bool  // T5Tokenizer._add_eos_if_not_present
	prefix, suffix []int // other classes: the tokenizer.json template
	addPrefixSpace bool
	legacy         bool

	// PaddingSide is "right" or "left" (tokenizer_config.json padding_side).
	PaddingSide string
	// TruncationSide is "right" or "left" (truncation_side).
	TruncationSide string
	// ModelMaxLength is model_max_length (clamped to the int range).
	ModelMaxLength int
	// CleanUpTokenizationSpaces is the decode default (clean_up_tokenization_spaces).
	CleanUpTokenizationSpaces bool

	lenOnce sync.Once
	length  int

	setsOnce sync.Once
	sets     *decodeSets
}

// decodeSets caches what decoding looks up, recomputed after AddTokens.
type decodeSets struct {
	specialIDs  map[int]bool    // all_special_ids
	special     map[string]bool // all_special_tokens
	legacyAdded map[string]bool // added tokens decoded apart (see DecodeWith)
}

func (t *Tokenizer) decodeSets() *decodeSets {
	t.setsOnce.Do(func() {
		d := &decodeSets{specialIDs: map[int]bool{}, special: map[string]bool{}, legacyAdded: map[string]bool{}}
		for _, s := range t.AllSpecialTokens() {
			d.special[s] = true
		}
		for _, id := range t.AllSpecialIDs() {
			d.specialIDs[id] = true
		}
		vs := t.VocabSize()
		for k := range t.addedEncoder {
			if !d.special[k] {
				d.legacyAdded[k] = true
			}
		}
		for _, s := range t.additional {
			if id, ok := t.TokenToID(s); ok && id >= vs {
				d.legacyAdded[s] = true
			}
		}
		t.sets = d
	})
	return t.sets
}

// Class returns the tokenizer class name the tokenizer emulates (tokenizer_class).
func (t *Tokenizer) Class() string { return t.class }

// VocabSize is tokenizer.vocab_size: the model vocabulary without added tokens.
func (t *Tokenizer) VocabSize() int {
	if t.bpe != nil {
		return t.bpe.size
	}
	return len(t.uni.spm.pieces)
}

// Len is len(tokenizer): the number of distinct strings of get_vocab() (model vocabulary plus
// added tokens).
func (t *Tokenizer) Len() int {
	t.lenOnce.Do(func() {
		seen := make(map[string]struct{}, t.VocabSize()+len(t.addedEncoder))
		if t.bpe != nil {
			for k := range t.bpe.vocab {
				seen[k] = struct{}{}
			}
		} else {
			for i, p := range t.uni.spm.pieces {
				if a, ok := t.addedDecoder[i]; ok {
					p = a.Content
				}
				seen[p] = struct{}{}
			}
		}
		for k := range t.addedEncoder {
			seen[k] = struct{}{}
		}
		t.length = len(seen)
	})
	return t.length
}

// AddedTokensDecoder returns a copy of added_tokens_decoder (id -> AddedToken).
func (t *Tokenizer) AddedTokensDecoder() map[int]AddedToken {
	out := make(map[int]AddedToken, len(t.addedDecoder))
	for k, v := range t.addedDecoder {
		out[k] = v
	}
	return out
}

// SpecialToken returns the content of a special-token attribute ("bos_token", "eos_token",
// "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"), as tokenizer.bos_token etc.
func (t *Tokenizer) SpecialToken(attr string) (string, bool) {
	s, ok := t.special[attr]
	return s, ok
}

// SpecialTokenID returns the id of a special-token attribute (tokenizer.bos_token_id etc.).
func (t *Tokenizer) SpecialTokenID(attr string) (int, bool) {
	s, ok := t.special[attr]
	if !ok {
		return 0, false
	}
	return t.TokenToID(s)
}

// BOSTokenID is tokenizer.bos_token_id.
func (t *Tokenizer) BOSTokenID() (int, bool) { return t.SpecialTokenID("bos_token") }

// EOSTokenID is tokenizer.eos_token_id.
func (t *Tokenizer) EOSTokenID() (int, bool) { return t.SpecialTokenID("eos_token") }

// PadTokenID is tokenizer.pad_token_id.
func (t *Tokenizer) PadTokenID() (int, bool) { return t.SpecialTokenID("pad_token") }

// UnkTokenID is tokenizer.unk_token_id.
func (t *Tokenizer) UnkTokenID() (int, bool) { return t.SpecialTokenID("unk_token") }

// AdditionalSpecialTokens is tokenizer.additional_special_tokens.
func (t *Tokenizer) AdditionalSpecialTokens() []string {
	return append([]string(nil), t.additional...)
}

// AllSpecialTokens is tokenizer.all_special_tokens: the special-token attributes then the
// additional special tokens, without repeats.
func (t *Tokenizer) AllSpecialTokens() []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range specialAttrs {
		if s, ok := t.special[a]; ok && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, s := range t.additional {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// AllSpecialIDs is tokenizer.all_special_ids.
func (t *Tokenizer) AllSpecialIDs() []int {
	var out []int
	for _, s := range t.AllSpecialTokens() {
		if id, ok := t.TokenToID(s); ok {
			out = append(out, id)
		}
	}
	return out
}

// TokenToID is convert_tokens_to_ids for one token: added tokens first, then the model
// vocabulary, falling back to the unk id as the slow tokenizers do. ok is false when there is no
// id at all.
func (t *Tokenizer) TokenToID(tok string) (int, bool) {
	if id, ok := t.addedEncoder[tok]; ok {
		return id, true
	}
	if t.bpe != nil {
		if id, ok := t.bpe.vocab[tok]; ok {
			return id, true
		}
		if unk, ok := t.special["unk_token"]; ok {
			if id, ok := t.bpe.vocab[unk]; ok {
				return id, true
			}
		}
		return 0, false
	}
	return t.uni.pieceToID(tok), true
}

// ConvertTokensToIDs is convert_tokens_to_ids; tokens without an id map to -1.
func (t *Tokenizer) ConvertTokensToIDs(tokens []string) []int {
	out := make([]int, len(tokens))
	for i, s := range tokens {
		id, ok := t.TokenToID(s)
		if !ok {
			id = -1
		}
		out[i] = id
	}
	return out
}

// idToToken is convert_ids_to_tokens for one id.
func (t *Tokenizer) idToToken(id int) (string, error) {
	if a, ok := t.addedDecoder[id]; ok {
		return a.Content, nil
	}
	if t.bpe != nil {
		if s, ok := t.bpe.decoder[id]; ok {
			return s, nil
		}
	} else if id >= 0 && id < len(t.uni.spm.pieces) {
		return t.uni.spm.pieces[id], nil
	}
	return "", fmt.Errorf("tokenizer: id %d (len(tokenizer) = %d): %w", id, t.Len(), ErrUnknownID)
}

// ConvertIDsToTokens is convert_ids_to_tokens(ids, skip_special_tokens).
func (t *Tokenizer) ConvertIDsToTokens(ids []int, skipSpecialTokens bool) ([]string, error) {
	var skip map[int]bool
	if skipSpecialTokens {
		skip = t.decodeSets().specialIDs
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if skip[id] {
			continue
		}
		s, err := t.idToToken(id)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (t *Tokenizer) rebuildSplitter() {
	keys := make(map[string]int32, len(t.addedEncoder))
	for k, id := range t.addedEncoder {
		if k != "" {
			keys[k] = int32(id)
		}
	}
	t.splitter = buildPieceTrie(keys)
}

// splitAdded is Trie.split over the added tokens: leftmost-longest matches cut the text; empty
// pieces are dropped.
func (t *Tokenizer) splitAdded(text string) []string {
	var out []string
	last := 0
	tr := t.splitter
	for i := 0; i < len(text); {
		if tr.root[text[i]].key == 0 {
			i++
			continue
		}
		node, best := int32(0), 0
		for k := i; k < len(text); k++ {
			node = tr.child(node, text[k])
			if node == 0 {
				break
			}
			if tr.value[node] >= 0 {
				best = k + 1 - i
			}
		}
		if best == 0 {
			i++
			continue
		}
		if i > last {
			out = append(out, text[last:i])
		}
		out = append(out, text[i:i+best])
		i += best
		last = i
	}
	if last < len(text) {
		out = append(out, text[last:])
	}
	return out
}

// Tokenize is tokenizer.tokenize(text): the token strings, added tokens included.
func (t *Tokenizer) Tokenize(text string) ([]string, error) {
	var toks []string
	_, err := t.encodeText(text, nil, &toks)
	return toks, err
}

// prepare applies prepare_for_tokenization and cleans invalid UTF-8 (a Python str cannot hold it).
func (t *Tokenizer) prepare(text string) string {
	text = strings.ToValidUTF8(text, "\uFFFD")
	if t.bpe != nil && t.addPrefixSpace {
		text = " " + text
	}
	return text
}

// encodeText is tokenize + convert_tokens_to_ids without special tokens.
func (t *Tokenizer) encodeText(text string, ids []int, toks *[]string) ([]int, error) {
	text = t.prepare(text)
	if t.uni != nil && !t.legacy && text != "" {
		// T5Tokenizer.tokenize with legacy=False
		text = strings.ReplaceAll(text, spaceSymbol, " ")
		if t.addPrefixSpace {
			text = spaceSymbol + text
		}
		var all []string
		start := len(ids)
		ids, err := t.encodeParts(text, ids, &all)
		if err != nil {
			return nil, err
		}
		if len(all) > 1 && all[0] == spaceSymbol && contains(t.AllSpecialTokens(), all[1]) {
			ids = append(ids[:start], ids[start+1:]...)
			all = all[1:]
		}
		if toks != nil {
			*toks = append(*toks, all...)
		}
		return ids, nil
	}
	return t.encodeParts(text, ids, toks)
}

// encodeParts is PreTrainedTokenizer.tokenize + convert_tokens_to_ids: added tokens are split
// out (with their lstrip/rstrip/single_word rules) and the rest goes through the model.
func (t *Tokenizer) encodeParts(text string, ids []int, toks *[]string) ([]int, error) {
	parts := t.splitAdded(text)
	for i, p := range parts {
		id, ok := t.addedEncoder[p]
		if !ok {
			continue
		}
		a := t.addedDecoder[id]
		if a.RStrip && i+1 < len(parts) && parts[i+1] != "" {
			parts[i+1] = pyLStrip(parts[i+1])
		}
		if a.LStrip && i > 0 && parts[i-1] != "" {
			parts[i-1] = pyRStrip(parts[i-1])
		}
		if a.SingleWord && i > 0 && parts[i-1] != "" && !strings.HasSuffix(parts[i-1], " ") {
			parts[i-1] += p
			parts[i] = ""
		} else if a.SingleWord && i+1 < len(parts) && parts[i+1] != "" && !strings.HasPrefix(parts[i+1], " ") {
			parts[i] += parts[i+1]
			parts[i+1] = ""
		}
	}
	var err error
	for _, p := range parts {
		if p == "" {
			continue
		}
		if id, ok := t.addedEncoder[p]; ok {
			ids = append(ids, id)
			if toks != nil {
				*toks = append(*toks, p)
			}
			continue
		}
		if t.bpe != nil {
			ids, err = t.bpe.encode(p, ids, toks, t.addedEncoder)
			if err != nil {
				return nil, err
			}
			continue
		}
		var buf [64]spPiece
		var pieces []spPiece
		switch {
		case t.legacy:
			pieces = t.uni.encode(p, buf[:0])
		case strings.HasPrefix(p, spaceSymbol) || strings.HasPrefix(p, " "):
			// T5Tokenizer._tokenize (legacy=False): encode unk_token + text without the dummy
			// prefix and drop the unk token's pieces
			unk := t.special["unk_token"]
			nUnk := len(t.uni.encodeNormalized(t.uni.normalizeOpt(unk, false), nil))
			pieces = t.uni.encodeNormalized(t.uni.normalizeOpt(unk+p, false), buf[:0])
			if len(pieces) >= nUnk {
				pieces = pieces[nUnk:]
			}
		default:
			pieces = t.uni.encodeNormalized(t.uni.normalizeOpt(p, false), buf[:0])
		}
		for _, sp := range pieces {
			id := sp.id
			if aid, ok := t.addedEncoder[sp.piece]; ok {
				id = aid
			}
			ids = append(ids, id)
			if toks != nil {
				*toks = append(*toks, sp.piece)
			}
		}
	}
	return ids, nil
}

// buildInputs is build_inputs_with_special_tokens for one sequence.
func (t *Tokenizer) buildInputs(ids []int) []int {
	switch {
	case t.addBOS:
		if bos, ok := t.BOSTokenID(); ok {
			return append([]int{bos}, ids...)
		}
	case t.eosIfAbsent:
		if eos, ok := t.EOSTokenID(); ok {
			if len(ids) > 0 && ids[len(ids)-1] == eos {
				return ids
			}
			return append(ids, eos)
		}
	case len(t.prefix)+len(t.suffix) > 0:
		out := append(append(append([]int{}, t.prefix...), ids...), t.suffix...)
		return out
	}
	return ids
}

// numSpecialToAdd is num_special_tokens_to_add(pair=False).
func (t *Tokenizer) numSpecialToAdd() int { return len(t.buildInputs(nil)) }

// Encode is tokenizer.encode(text, add_special_tokens=addSpecialTokens) without truncation.
func (t *Tokenizer) Encode(text string, addSpecialTokens bool) ([]int, error) {
	ids, err := t.encodeText(text, nil, nil)
	if err != nil {
		return nil, err
	}
	if addSpecialTokens {
		ids = t.buildInputs(ids)
	}
	return ids, nil
}

// EncodeOptions are the keyword arguments of tokenizer(texts, ...).
type EncodeOptions struct {
	// NoSpecialTokens is add_special_tokens=False.
	NoSpecialTokens bool
	// Padding is the padding strategy.
	Padding Padding
	// Truncation truncates each row to MaxLength (or ModelMaxLength when MaxLength is 0).
	Truncation bool
	// MaxLength is max_length (0 = unset).
	MaxLength int
	// PadToMultipleOf is pad_to_multiple_of (0 = unset).
	PadToMultipleOf int
	// PaddingSide overrides the tokenizer's padding side ("left" or "right") when not empty.
	PaddingSide string
}

// BatchEncoding is the result of tokenizer(texts): input_ids and attention_mask per row.
type BatchEncoding struct {
	InputIDs      [][]int
	AttentionMask [][]int
}

// Call is tokenizer(texts, **kwargs) (batch_encode_plus): tokenizes each text, adds special
// tokens, truncates and pads as the options say.
func (t *Tokenizer) Call(texts []string, opt EncodeOptions) (*BatchEncoding, error) {
	maxLen := opt.MaxLength
	if maxLen < 0 {
		return nil, fmt.Errorf("tokenizer: max_length %d is negative", maxLen)
	}
	truncate, padding := opt.Truncation, opt.Padding
	if maxLen == 0 {
		// _get_padding_truncation_strategies: without max_length, model_max_length is used,
		// unless the model has none (the 1e30 default), which turns padding to max_length and
		// truncation off.
		noLimit := t.ModelMaxLength >= math.MaxInt/2 || t.ModelMaxLength <= 0
		if padding == PadMaxLength && noLimit {
			padding = DoNotPad
		}
		if truncate && noLimit {
			truncate = false
		}
		if !noLimit {
			maxLen = t.ModelMaxLength
		}
	}
	if padding != DoNotPad {
		if _, ok := t.PadTokenID(); !ok {
			return nil, fmt.Errorf("tokenizer: asking to pad but the tokenizer has no pad_token")
		}
	}
	side := t.PaddingSide
	if opt.PaddingSide != "" {
		side = opt.PaddingSide
	}
	if side != "left" && side != "right" {
		return nil, fmt.Errorf("tokenizer: padding_side %q is not \"left\" or \"right\"", side)
	}
	be := &BatchEncoding{}
	for _, text := range texts {
		ids, err := t.encodeText(text, nil, nil)
		if err != nil {
			return nil, err
		}
		nSpecial := 0
		if !opt.NoSpecialTokens {
			nSpecial = t.numSpecialToAdd()
		}
		if truncate && maxLen > 0 && len(ids)+nSpecial > maxLen {
			keep := max(maxLen-nSpecial, 0)
			if t.TruncationSide == "left" {
				ids = ids[len(ids)-keep:]
			} else {
				ids = ids[:keep]
			}
		}
		if !opt.NoSpecialTokens {
			ids = t.buildInputs(ids)
		}
		be.InputIDs = append(be.InputIDs, ids)
	}
	target := 0
	switch padding {
	case PadLongest:
		for _, r := range be.InputIDs {
			target = max(target, len(r))
		}
	case PadMaxLength:
		target = maxLen
	}
	if padding != DoNotPad && opt.PadToMultipleOf > 0 && target%opt.PadToMultipleOf != 0 {
		target = (target/opt.PadToMultipleOf + 1) * opt.PadToMultipleOf
	}
	pad, _ := t.PadTokenID()
	for i, r := range be.InputIDs {
		mask := make([]int, len(r), max(len(r), target))
		for j := range mask {
			mask[j] = 1
		}
		if padding != DoNotPad && len(r) < target {
			n := target - len(r)
			pads := make([]int, n)
			zeros := make([]int, n)
			for j := range pads {
				pads[j] = pad
			}
			if side == "left" {
				r = append(pads, r...)
				mask = append(zeros, mask...)
			} else {
				r = append(r, pads...)
				mask = append(mask, zeros...)
			}
		}
		be.InputIDs[i] = r
		be.AttentionMask = append(be.AttentionMask, mask)
	}
	return be, nil
}

// DecodeOptions are the keyword arguments of decode.
type DecodeOptions struct {
	// SkipSpecialTokens is skip_special_tokens.
	SkipSpecialTokens bool
	// CleanUpTokenizationSpaces overrides the tokenizer's default when not nil.
	CleanUpTokenizationSpaces *bool
	// NoSpacesBetweenSpecialTokens is spaces_between_special_tokens=False.
	NoSpacesBetweenSpecialTokens bool
}

// Decode is tokenizer.decode(ids, skip_special_tokens=skipSpecialTokens) with the tokenizer's
// clean_up_tokenization_spaces default. Ids that are neither vocabulary nor added tokens give an
// error wrapping ErrUnknownID (Python raises there too).
func (t *Tokenizer) Decode(ids []int, skipSpecialTokens bool) (string, error) {
	return t.DecodeWith(ids, DecodeOptions{SkipSpecialTokens: skipSpecialTokens})
}

// BatchDecode is tokenizer.batch_decode(sequences, skip_special_tokens=skipSpecialTokens).
func (t *Tokenizer) BatchDecode(seqs [][]int, skipSpecialTokens bool) ([]string, error) {
	out := make([]string, len(seqs))
	for i, s := range seqs {
		var err error
		if out[i], err = t.Decode(s, skipSpecialTokens); err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
	}
	return out, nil
}

// DecodeWith is PreTrainedTokenizer._decode: tokens are converted to text in runs; added
// tokens that are not special (and additional special tokens outside the model vocabulary) are
// kept apart and joined with spaces, as the slow tokenizers do.
func (t *Tokenizer) DecodeWith(ids []int, opt DecodeOptions) (string, error) {
	tokens, err := t.ConvertIDsToTokens(ids, opt.SkipSpecialTokens)
	if err != nil {
		return "", err
	}
	sets := t.decodeSets()
	specialSet, legacyAdded := sets.special, sets.legacyAdded
	var subTexts []string
	var cur []string
	for _, tok := range tokens {
		if legacyAdded[tok] {
			if len(cur) > 0 {
				s, err := t.tokensToString(cur, specialSet)
				if err != nil {
					return "", err
				}
				if s != "" {
					subTexts = append(subTexts, s)
				}
				cur = nil
			}
			subTexts = append(subTexts, tok)
		} else {
			cur = append(cur, tok)
		}
	}
	if len(cur) > 0 {
		s, err := t.tokensToString(cur, specialSet)
		if err != nil {
			return "", err
		}
		subTexts = append(subTexts, s)
	}
	sep := " "
	if opt.NoSpacesBetweenSpecialTokens {
		sep = ""
	}
	text := strings.Join(subTexts, sep)
	clean := t.CleanUpTokenizationSpaces
	if opt.CleanUpTokenizationSpaces != nil {
		clean = *opt.CleanUpTokenizationSpaces
	}
	if clean {
		text = CleanUpTokenization(text)
	}
	return text, nil
}

// CleanUpTokenization is PreTrainedTokenizerBase.clean_up_tokenization.
func CleanUpTokenization(s string) string {
	for _, r := range [][2]string{
		{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
		{" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
	} {
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}

// ConvertTokensToString is convert_tokens_to_string.
func (t *Tokenizer) ConvertTokensToString(tokens []string) (string, error) {
	return t.tokensToString(append([]string(nil), tokens...), t.decodeSets().special)
}

func (t *Tokenizer) tokensToString(tokens []string, specialSet map[string]bool) (string, error) {
	if t.bpe != nil {
		return t.bpe.tokensToString(tokens)
	}
	// T5Tokenizer.convert_tokens_to_string
	if len(tokens) > 0 && strings.HasPrefix(tokens[0], spaceSymbol) && t.addPrefixSpace {
		tokens = append([]string{tokens[0][len(spaceSymbol):]}, tokens[1:]...)
	}
	var sb strings.Builder
	var sub []string
	prevSpecial := false
	for _, tok := range tokens {
		if specialSet[tok] {
			if !prevSpecial {
				sb.WriteByte(' ')
			}
			sb.WriteString(t.uni.decodePieces(sub))
			sb.WriteString(tok)
			prevSpecial = true
			sub = sub[:0]
		} else {
			sub = append(sub, tok)
			prevSpecial = false
		}
	}
	sb.WriteString(t.uni.decodePieces(sub))
	return pyStrip(sb.String()), nil
}

// AddTokens is tokenizer.add_tokens(tokens, special_tokens=special) (_add_tokens): tokens not yet
// in the vocabulary get the next ids (len(tokenizer), ...); special tokens not yet special are
// appended to additional_special_tokens. It returns the number of new ids.
func (t *Tokenizer) AddTokens(tokens []AddedToken, special bool) int {
	n := t.Len()
	added := 0
	allSpecial := map[string]bool{}
	for _, s := range t.AllSpecialTokens() {
		allSpecial[s] = true
	}
	for _, tok := range tokens {
		if tok.Content == "" {
			continue
		}
		if special {
			tok.Special = true
		}
		idx, ok := t.vocabID(tok.Content)
		if !ok {
			idx = n + added
			added++
		}
		if tok.Special && !allSpecial[tok.Content] {
			t.additional = append(t.additional, tok.Content)
			allSpecial[tok.Content] = true
		}
		t.addedDecoder[idx] = tok
		t.addedEncoder[tok.Content] = idx
	}
	t.rebuildSplitter()
	t.lenOnce = sync.Once{}
	t.setsOnce = sync.Once{}
	return added
}

// vocabID looks content up in get_vocab() (added tokens, then the model vocabulary as listed by
// convert_ids_to_tokens(range(vocab_size))).
func (t *Tokenizer) vocabID(content string) (int, bool) {
	if id, ok := t.addedEncoder[content]; ok {
		return id, true
	}
	if t.bpe != nil {
		id, ok := t.bpe.vocab[content]
		return id, ok
	}
	id, ok := t.uni.pieceIndex[content]
	if ok {
		if a, isAdded := t.addedDecoder[id]; isAdded && a.Content != content {
			return 0, false
		}
	}
	return id, ok
}

// sortedAddedIDs lists the added-token ids in ascending order.
func (t *Tokenizer) sortedAddedIDs() []int {
	ids := make([]int, 0, len(t.addedDecoder))
	for id := range t.addedDecoder {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

func clampInt(f float64) int {
	if f >= math.MaxInt64 || math.IsInf(f, 1) {
		return math.MaxInt
	}
	if f <= math.MinInt64 {
		return math.MinInt
	}
	return int(f)
}

func itoa(i int) string { return fmt.Sprint(i) }

// AddSpecialTokens is tokenizer.add_special_tokens(special_tokens_dict): attrs sets special-token
// attributes ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token",
// "mask_token") to the given tokens, additional becomes additional_special_tokens (appended to the
// existing ones unless replaceAdditional), and every token not yet in the vocabulary is added. It
// returns the number of new ids.
func (t *Tokenizer) AddSpecialTokens(attrs map[string]AddedToken, additional []AddedToken, replaceAdditional bool) (int, error) {
	var toAdd []AddedToken
	for _, a := range specialAttrs {
		tok, ok := attrs[a]
		if !ok {
			continue
		}
		if tok.Content == "" {
			return 0, fmt.Errorf("tokenizer: add_special_tokens: %s is empty", a)
		}
		t.special[a] = tok.Content
		toAdd = append(toAdd, tok)
	}
	for k := range attrs {
		if !contains(specialAttrs, k) {
			return 0, fmt.Errorf("tokenizer: add_special_tokens: %q is not a special-token attribute", k)
		}
	}
	if replaceAdditional && len(additional) > 0 {
		t.additional = nil
	}
	for _, tok := range additional {
		if tok.Content == "" {
			continue
		}
		if !contains(t.additional, tok.Content) {
			t.additional = append(t.additional, tok.Content)
		}
		toAdd = append(toAdd, tok)
	}
	return t.AddTokens(toAdd, true), nil
}
