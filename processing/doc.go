// Package processing groups the input pipelines that turn user data into model inputs, the Go
// counterpart of transformers' image processors and tokenizers. It holds no code itself:
//
//   - processing/image decodes image files exactly as Pillow 9.4 does (JPEG, PNG, GIF, BMP, TIFF,
//     WebP), converts them to RGB and runs BlipImageProcessor (Pillow-exact resampling, rescale,
//     normalisation) into pixel_values tensors;
//   - processing/tokenizer holds the byte-level BPE and SentencePiece Unigram tokenizers.
//
// The subpackages import only transformers/tensor of this module, never the models.
package processing
