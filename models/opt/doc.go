// Package opt is Meta's OPT decoder-only language model (Zhang et al. 2022, "OPT: Open
// Pre-trained Transformer Language Models"), as transformers' models/opt: OPTConfig
// (configuration.go), OPTModel and OPTForCausalLM with a KV cache, loaded from Hugging Face
// checkpoints (facebook/opt-*, the language model of Salesforce/blip2-opt-*).
// It imports transformers and its subpackages only; never models/blip_2 or models/auto.
package opt
