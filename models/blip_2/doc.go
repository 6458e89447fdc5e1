// Package blip2 is BLIP-2 (Li et al. 2023, "BLIP-2: Bootstrapping Language-Image Pre-training
// with Frozen Image Encoders and Large Language Models"), as transformers' models/blip_2:
// Blip2Config with its vision, Q-Former and text (OPT or T5) sub-configs, the EVA-ViT vision
// model, the Q-Former, Blip2Model and Blip2ForConditionalGeneration (Salesforce/blip2-*).
// It imports models/opt, models/t5 and transformers/...; never models/auto.
package blip2
