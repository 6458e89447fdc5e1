// Package tokenizer ports the Hugging Face transformers tokenizers used by the BLIP-2 family:
// byte-level BPE (GPT2Tokenizer, used by OPT) and SentencePiece Unigram (T5Tokenizer), loaded from
// tokenizer.json or from the "slow" files (vocab.json + merges.txt, spiece.model) plus
// tokenizer_config.json, special_tokens_map.json and added_tokens.json. Encoding, added/special
// tokens, padding, truncation and decoding follow the slow (pure-Python) tokenizers of transformers
// 4.45 token for token. It imports only the standard library; no cgo, no global mutable state.
package tokenizer
