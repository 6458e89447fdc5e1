// Package t5 is Google's T5 encoder-decoder (Raffel et al. 2020) and Flan-T5 (gated-gelu), as
// transformers' models/t5: T5Config (configuration.go), T5ForConditionalGeneration with relative
// position buckets, RMS layer norms and a decoder KV cache, loaded from Hugging Face checkpoints
// (google/flan-t5-*, the language model of Salesforce/blip2-flan-t5-*).
// It imports transformers and its subpackages only; never models/blip_2 or models/auto.
package t5
