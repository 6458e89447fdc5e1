// Package tokenizer ports the Hugging Face transformers tokenizers used by the BLIP-2 family:
// byte-level BPE (GPT2Tokenizer, used by OPT) and SentencePiece Unigram (T5Tokenizer), loaded from
// tokenizer.json or from the "slow" files (vocab.json + merges.txt, spiece.model) plus
// tokenizer_config.json, special_tokens_map.json and added_tokens.json. Encoding, added/special
// tokens, padding, truncation and decoding follow the slow (pure-Python) tokenizers of transformers
// 4.45 token for token, whichever files are loaded; sentencepiece 0.1.97 for the Unigram model.
// It imports only the standard library; no cgo, no global mutable state.
//
// Entry points: FromPretrained / LoadAuto (AutoTokenizer.from_pretrained on a folder),
// (*Tokenizer).Encode, Call (tokenizer(texts, padding=..., truncation=...)), Decode, BatchDecode,
// ConvertIDsToTokens, Tokenize, AddTokens, AddSpecialTokens, Len, VocabSize.
//
// Differences from transformers: a tokenizer loaded from tokenizer.json behaves like the slow
// tokenizer of its tokenizer_class (the fast tokenizers of transformers may decode special
// tokens differently and T5TokenizerFast appends </s> even when present); invalid UTF-8 in a Go
// string is replaced by U+FFFD before tokenizing (a Python str cannot hold it).
package tokenizer
