package image_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gotransformers/gotransformers/processing/image"
)

// One fuzz target per container format, each seeded with the small files of that format from the
// decoder corpus (testdata/corpus), the seed corpus of FuzzDecode and the parity inputs, so that the
// fuzzer's time is spread over every decoder (FuzzDecode mixes them). The property: DecodeBytes
// never panics (it recovers as a last line of defence, so an error naming an internal error is a
// decoder bug and fails the target), a decoded image has a consistent pixel buffer within the pixel
// limit, and the processor chain (resize, BlipImageProcessor) accepts it.

const fuzzMaxPixels = 1 << 20

// formatSeeds returns up to 48 of the smallest seed files whose content starts with one of magic.
func formatSeeds(f *testing.F, magic ...string) {
	type seed struct {
		name string
		data []byte
	}
	var seeds []seed
	for _, pattern := range []string{"testdata/corpus/*", "testdata/fuzz/FuzzDecode/*", "testdata/fuzz/FuzzDecodeJPEG/*", "../../parity/testdata/inputs/*"} {
		files, _ := filepath.Glob(pattern)
		for _, p := range files {
			data, err := os.ReadFile(p)
			if err != nil || len(data) > 8<<10 {
				continue
			}
			if strings.Contains(p, "testdata/fuzz/") {
				data = corpusBytes(data)
			}
			for _, m := range magic {
				if bytes.HasPrefix(data, []byte(m)) {
					seeds = append(seeds, seed{p, data})
					break
				}
			}
		}
	}
	sort.Slice(seeds, func(i, j int) bool { return len(seeds[i].data) < len(seeds[j].data) })
	for i, s := range seeds {
		if i == 48 {
			break
		}
		f.Add(s.data)
	}
}

// corpusBytes extracts the []byte of a "go test fuzz v1" file (nil if it is not one).
func corpusBytes(file []byte) []byte {
	lines := strings.SplitN(string(file), "\n", 3)
	if len(lines) < 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
		return nil
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		return nil
	}
	return []byte(s)
}

func checkDecode(t *testing.T, data []byte) {
	img, err := image.DecodeBytes("fuzz", data, &image.Options{MaxPixels: fuzzMaxPixels})
	if err != nil {
		if strings.Contains(err.Error(), "internal error") {
			t.Fatalf("decoder bug caught by the recover guard: %v", err)
		}
		return
	}
	if img.Width <= 0 || img.Height <= 0 || int64(img.Width)*int64(img.Height) > 2*fuzzMaxPixels || len(img.Pix) != img.Width*img.Height*3 {
		t.Fatalf("decoded %dx%d with %d bytes of pixels", img.Width, img.Height, len(img.Pix))
	}
	if img.Width*img.Height > 1<<16 {
		return // the rest is about odd sizes, not big ones
	}
	for _, filter := range []image.Resampling{image.Bicubic, image.Nearest} {
		if _, err := image.Resize(img, 5, 3, filter); err != nil {
			t.Fatalf("resize: %v", err)
		}
	}
	ip := image.NewBlipImageProcessor()
	ip.Size = image.Size{Height: 8, Width: 8}
	pv, err := ip.Preprocess([]*image.Image{img}, nil)
	if err != nil {
		t.Fatalf("preprocess: %v", err)
	}
	if len(pv.Data) != 3*8*8 {
		t.Fatalf("pixel_values of %d values", len(pv.Data))
	}
}

func FuzzDecodePNG(f *testing.F) {
	formatSeeds(f, "\x89PNG\r\n\x1a\n")
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data) })
}

func FuzzDecodeGIF(f *testing.F) {
	formatSeeds(f, "GIF87a", "GIF89a")
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data) })
}

func FuzzDecodeBMP(f *testing.F) {
	formatSeeds(f, "BM")
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data) })
}

func FuzzDecodeTIFF(f *testing.F) {
	formatSeeds(f, "II*\x00", "MM\x00*")
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data) })
}

func FuzzDecodeWebP(f *testing.F) {
	formatSeeds(f, "RIFF")
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data) })
}

// FuzzDecodeJPEGChain is FuzzDecodeJPEG with the internal-error and processor checks.
func FuzzDecodeJPEGChain(f *testing.F) {
	formatSeeds(f, "\xff\xd8\xff")
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data) })
}
