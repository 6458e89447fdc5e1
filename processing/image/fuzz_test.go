package image

import (
	"testing"
)

// FuzzDecodeJPEG feeds arbitrary bytes to the JPEG decoder: it may fail, never panic or hang.
// Seeds: testdata/fuzz/FuzzDecodeJPEG. Run: go test -fuzz FuzzDecodeJPEG ./processing/image
func FuzzDecodeJPEG(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF {
			return
		}
		img, err := DecodeBytes("fuzz.jpg", data, &Options{MaxPixels: 1 << 20})
		if err == nil && len(img.Pix) != img.Width*img.Height*3 {
			t.Fatalf("bad pixel buffer")
		}
	})
}

// FuzzDecode feeds arbitrary bytes to every decoder (PNG, GIF, BMP, TIFF, WebP, JPEG).
// Seeds: testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := DecodeBytes("fuzz", data, &Options{MaxPixels: 1 << 20})
		if err == nil && len(img.Pix) != img.Width*img.Height*3 {
			t.Fatalf("bad pixel buffer")
		}
	})
}
