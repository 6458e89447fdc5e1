// Package image decodes image files to the RGB pixels Pillow 9.4 gives for
// Image.open(f).convert("RGB"), byte for byte, and implements transformers' BlipImageProcessor
// (Pillow's convolution resampling, rescale, normalisation) producing pixel_values tensors.
//
// Formats, all checked against Pillow 9.4 on a golden corpus (testdata/make_corpus.py):
//   - JPEG: baseline, progressive and arithmetic coding, every integral sampling factor,
//     restart markers, grayscale, RGB, CMYK and YCCK (Adobe), with libjpeg-turbo 2.1.5's
//     accurate integer IDCT, fancy upsampling and colour tables;
//   - PNG (every colour type and bit depth, interlaced), GIF (frame 0), BMP (including RLE),
//     TIFF (strips or tiles; raw, LZW, PackBits, Deflate; predictor 2);
//   - WebP: lossless (VP8L) and lossy (VP8, libwebp 1.2.4's fancy upsampling).
//
// Everything is pure Go. The package imports only transformers/tensor of this module.
package image
