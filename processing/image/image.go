package image

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// DefaultMaxPixels is Pillow's Image.MAX_IMAGE_PIXELS (int(1024 * 1024 * 1024 // 4 // 3)).
const DefaultMaxPixels = 89478485

// ErrDecompressionBomb is wrapped by the error returned for an image with more than twice
// Options.MaxPixels pixels (Pillow's DecompressionBombError).
var ErrDecompressionBomb = errors.New("image: decompression bomb")

// ErrFormat is wrapped by the error returned for data in no supported format
// (Pillow's UnidentifiedImageError).
var ErrFormat = errors.New("image: unknown format")

// ErrUnsupported is wrapped by errors for valid but unsupported files (arithmetic-coded JPEG,
// 12-bit JPEG, lossy WebP, ...).
var ErrUnsupported = errors.New("image: unsupported feature")

// Options control decoding.
type Options struct {
	// MaxPixels mirrors PIL.Image.MAX_IMAGE_PIXELS: images with more than 2*MaxPixels pixels are
	// refused from their header, before any pixel memory is allocated. 0 means DefaultMaxPixels;
	// a negative value disables the check.
	MaxPixels int64
}

func (o *Options) maxPixels() int64 {
	if o == nil || o.MaxPixels == 0 {
		return DefaultMaxPixels
	}
	return o.MaxPixels
}

// Image is a decoded picture after Pillow's convert("RGB"): Pix holds Width*Height*3 bytes, row
// after row, R G B per pixel. Mode and Format say what Pillow's Image.open reported before the
// conversion ("RGB", "L", "P", "RGBA", "LA", "I", "CMYK", "1"; "JPEG", "PNG", ...).
type Image struct {
	Width, Height int
	Pix           []uint8
	Mode          string
	Format        string
}

// NewImage returns a black RGB image of the given size (mode "RGB").
func NewImage(width, height int) *Image {
	return &Image{Width: width, Height: height, Pix: make([]uint8, width*height*3), Mode: "RGB"}
}

// At returns the RGB value at (x, y).
func (m *Image) At(x, y int) (r, g, b uint8) {
	i := (y*m.Width + x) * 3
	return m.Pix[i], m.Pix[i+1], m.Pix[i+2]
}

// checkSize applies the decompression-bomb limit to header dimensions.
func checkSize(w, h int, o *Options) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: image size %dx%d", errCorrupt, w, h)
	}
	if w > 1<<24 || h > 1<<24 {
		return fmt.Errorf("%w: image size %dx%d too large", ErrDecompressionBomb, w, h)
	}
	max := o.maxPixels()
	if max < 0 {
		return nil
	}
	if int64(w)*int64(h) > 2*max {
		return fmt.Errorf("%w: image size (%d pixels) exceeds limit of %d pixels", ErrDecompressionBomb, int64(w)*int64(h), 2*max)
	}
	return nil
}

// ErrCorrupt is wrapped by every error about malformed or truncated data (Pillow raises
// OSError / SyntaxError for these).
var ErrCorrupt = errors.New("corrupt image data")

// errCorrupt is the package-internal name of ErrCorrupt.
var errCorrupt = ErrCorrupt

// DecodeFile reads and decodes the file at path (Image.open(path).convert("RGB")).
func DecodeFile(path string, opts *Options) (*Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	return DecodeBytes(path, data, opts)
}

// Decode reads all of r and decodes it; name is used in error messages (e.g. "<stdin>").
func Decode(name string, r io.Reader, opts *Options) (*Image, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("image: read %s: %w", name, err)
	}
	return DecodeBytes(name, data, opts)
}

// DecodeBytes decodes an image file held in memory; the format is sniffed from the data as
// Pillow's Image.open does. name is used in error messages.
func DecodeBytes(name string, data []byte, opts *Options) (img *Image, err error) {
	defer func() {
		// Decoders check their inputs; this is a last line of defence so that no panic crosses the
		// public API on hostile input.
		if r := recover(); r != nil {
			img = nil
			err = fmt.Errorf("image: decode %s: %w: internal error: %v", name, errCorrupt, r)
		}
	}()
	var format string
	switch {
	case len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF:
		format = "JPEG"
		img, err = decodeJPEG(data, opts)
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		format = "PNG"
		img, err = decodePNG(data, opts)
	case bytes.HasPrefix(data, []byte("GIF87a")) || bytes.HasPrefix(data, []byte("GIF89a")):
		format = "GIF"
		img, err = decodeGIF(data, opts)
	case bytes.HasPrefix(data, []byte("BM")):
		format = "BMP"
		img, err = decodeBMP(data, opts)
	case bytes.HasPrefix(data, []byte("II*\x00")) || bytes.HasPrefix(data, []byte("MM\x00*")):
		format = "TIFF"
		img, err = decodeTIFF(data, opts)
	case len(data) >= 12 && string(data[0:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		format = "WEBP"
		img, err = decodeWebP(data, opts)
	default:
		return nil, fmt.Errorf("image: decode %s: %w", name, ErrFormat)
	}
	if err != nil {
		return nil, fmt.Errorf("image: decode %s (%s): %w", name, format, err)
	}
	img.Format = format
	return img, nil
}

// muldiv255 is Pillow's MULDIV255 macro.
func muldiv255(a, b int) int {
	t := a*b + 128
	return (t + (t >> 8)) >> 8
}

// cmykToRGB converts Pillow CMYK samples to RGB as Pillow's convert("RGB") (cmyk2rgb) does.
func cmykToRGB(c, m, y, k uint8) (uint8, uint8, uint8) {
	nk := 255 - int(k)
	return uint8(nk - muldiv255(int(c), nk)), uint8(nk - muldiv255(int(m), nk)), uint8(nk - muldiv255(int(y), nk))
}
