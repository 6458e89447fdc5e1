// Package image decodes image files to the RGB pixels Pillow 9.4 gives for
// Image.open(f).convert("RGB"), byte for byte, and implements transformers' BlipImageProcessor
// (Pillow's convolution resampling, rescale, normalisation) producing pixel_values tensors.
//
// Formats: JPEG (baseline and progressive Huffman, every sampling factor, grayscale, RGB, CMYK,
// YCCK; libjpeg-turbo 2.1.5's islow IDCT, fancy upsampling and colour tables), PNG, GIF (first
// frame), BMP, TIFF (uncompressed, LZW, PackBits) and lossless WebP. Everything is pure Go; the
// package imports only transformers/tensor of this module.
package image
