package image_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"strings"
	"testing"

	"github.com/gotransformers/gotransformers/processing/image"

	"github.com/gotransformers/gotransformers/internal/heapstat"
)

// Headers that claim absurd image dimensions, one per format: each is refused from the header with
// ErrDecompressionBomb (Pillow's DecompressionBombError past 2*MAX_IMAGE_PIXELS), before any pixel
// memory is allocated.

func pngChunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(append(b, typ...), data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(append([]byte(typ), data...)))
}

func bombPNG(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0) // 8-bit RGB
	b := append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr)...)
	b = append(b, pngChunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(b, pngChunk("IEND", nil)...)
}

func bombGIF(w, h uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	b = append(b, 0x80, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff) // global table of 2 colours
	b = append(b, ',', 0, 0, 0, 0)
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	b = append(b, 0, 2, 2, 0x4c, 0x01, 0, ';')
	return b
}

func bombBMP(w, h int32, bpp uint16) []byte {
	b := []byte("BM")
	b = binary.LittleEndian.AppendUint32(b, 54+4)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 54)
	b = binary.LittleEndian.AppendUint32(b, 40)
	b = binary.LittleEndian.AppendUint32(b, uint32(w))
	b = binary.LittleEndian.AppendUint32(b, uint32(h))
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, bpp)
	b = append(b, make([]byte, 24)...)
	return append(b, 0, 0, 0, 0)
}

func bombJPEG(w, h uint16) []byte {
	b := []byte{0xff, 0xd8}
	// DQT, table 0 all ones
	b = append(b, 0xff, 0xdb, 0, 67, 0)
	b = append(b, bytes.Repeat([]byte{1}, 64)...)
	// SOF0: 8-bit, h x w, 1 component
	b = append(b, 0xff, 0xc0, 0, 11, 8)
	b = binary.BigEndian.AppendUint16(b, h)
	b = binary.BigEndian.AppendUint16(b, w)
	b = append(b, 1, 1, 0x11, 0)
	return append(b, 0xff, 0xd9)
}

func bombTIFF(w, h uint32) []byte {
	b := []byte("II*\x00")
	b = binary.LittleEndian.AppendUint32(b, 8)
	type entry struct {
		tag, typ uint16
		val      uint32
	}
	entries := []entry{{256, 4, w}, {257, 4, h}, {258, 3, 8}, {259, 3, 1}, {262, 3, 1}, {273, 4, 200}, {277, 3, 1}, {278, 4, h}, {279, 4, 4}}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(entries)))
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.typ)
		b = binary.LittleEndian.AppendUint32(b, 1)
		b = binary.LittleEndian.AppendUint32(b, e.val)
	}
	b = binary.LittleEndian.AppendUint32(b, 0)
	for len(b) < 204 {
		b = append(b, 0)
	}
	return b
}

func bombWebPLossless(w, h uint32) []byte {
	// VP8L: signature 0x2f, 14-bit width-1 and height-1, alpha 0, version 0
	bits := (w - 1) | (h-1)<<14
	payload := append([]byte{0x2f}, binary.LittleEndian.AppendUint32(nil, bits)...)
	payload = append(payload, 0, 0, 0, 0)
	return riff("VP8L", payload)
}

func bombWebPExtended(w, h uint32) []byte {
	vp8x := []byte{0, 0, 0, 0}
	vp8x = append(vp8x, byte(w-1), byte((w-1)>>8), byte((w-1)>>16), byte(h-1), byte((h-1)>>8), byte((h-1)>>16))
	b := riff("VP8X", vp8x)
	return b
}

func riff(chunk string, payload []byte) []byte {
	c := append([]byte(chunk), binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))...)
	c = append(c, payload...)
	if len(payload)%2 == 1 {
		c = append(c, 0)
	}
	b := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(4+len(c)))...)
	return append(append(b, "WEBP"...), c...)
}

func TestAbsurdImageDimensions(t *testing.T) {
	cases := map[string][]byte{
		"PNG 100000x100000":        bombPNG(100000, 100000),
		"PNG 2^31-1 x 1":           bombPNG(1<<31-1, 1),
		"PNG 20000x20000":          bombPNG(20000, 20000),
		"GIF 65535x65535":          bombGIF(65535, 65535),
		"BMP 100000x100000":        bombBMP(100000, 100000, 24),
		"BMP top-down 2^31-1 wide": bombBMP(1<<31-1, -1, 24),
		"BMP 30000x30000 1-bit":    bombBMP(30000, 30000, 1),
		"JPEG 65535x65535":         bombJPEG(65535, 65535),
		"TIFF 100000x100000":       bombTIFF(100000, 100000),
		"TIFF 2^32-1 x 2^32-1":     bombTIFF(1<<32-1, 1<<32-1),
		"WebP lossless 16384^2":    bombWebPLossless(16384, 16384),
		"WebP extended 2^24^2":     bombWebPExtended(1<<24, 1<<24),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if len(data) > 512 {
				t.Fatalf("test file of %d bytes", len(data))
			}
			var err error
			n := heapstat.Allocated(func() { _, err = image.DecodeBytes(name, data, nil) })
			if !errors.Is(err, image.ErrDecompressionBomb) {
				t.Fatalf("err %v, want ErrDecompressionBomb", err)
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error does not name the input: %v", err)
			}
			if n > 1<<20 {
				t.Errorf("refusing a %d-byte header allocated %d bytes", len(data), n)
			}
		})
	}
}

// TestMaxPixelsOption: the limit is Pillow's by default and can be lowered (or raised) per call.
func TestMaxPixelsOption(t *testing.T) {
	data, err := os.ReadFile("../../parity/testdata/inputs/bmp24_33x29.bmp") // 957 pixels
	if err != nil {
		t.Fatal(err)
	}
	if _, err := image.DecodeBytes("a.bmp", data, nil); err != nil {
		t.Fatal(err)
	}
	// over 2*MaxPixels is refused, as Pillow does
	if _, err := image.DecodeBytes("a.bmp", data, &image.Options{MaxPixels: 478}); !errors.Is(err, image.ErrDecompressionBomb) {
		t.Fatalf("MaxPixels 478: %v, want ErrDecompressionBomb", err)
	}
	if _, err := image.DecodeBytes("a.bmp", data, &image.Options{MaxPixels: 479}); err != nil {
		t.Fatalf("MaxPixels 479: %v", err)
	}
}

// TestAbsurdProcessorSize: a preprocessor_config.json asking for a gigantic output is refused
// before the pixel_values tensor is allocated.
func TestAbsurdProcessorSize(t *testing.T) {
	for _, cfg := range []string{`{"size": 46341}`, `{"size": {"height": 100000, "width": 100000}}`, `{"size": {"height": 1, "width": 200000000}}`} {
		p, err := image.ParseBlipImageProcessor("preprocessor_config.json", []byte(cfg))
		if err != nil {
			continue // refused at load: fine too
		}
		var perr error
		n := heapstat.Allocated(func() { _, perr = p.Preprocess([]*image.Image{image.NewImage(2, 2)}, nil) })
		if !errors.Is(perr, image.ErrDecompressionBomb) || n > 1<<20 {
			t.Errorf("%s: err %v after allocating %d bytes, want ErrDecompressionBomb", cfg, perr, n)
		}
	}
}
