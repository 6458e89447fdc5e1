package image

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	stdimage "image"
	"image/jpeg"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func randomImage(w, h int, seed int64) *Image {
	r := rand.New(rand.NewSource(seed))
	img := NewImage(w, h)
	r.Read(img.Pix)
	return img
}

// Tiny images (1..3 px sides) go through every filter; transformers 4.45 raises for 1x1
// (FORMAT.md note 7), we return the natural result: a 1x1 image resized to any size is uniform.
func TestTinyImages(t *testing.T) {
	p := NewBlipImageProcessor()
	p.Size = Size{Height: 5, Width: 4}
	for _, f := range []Resampling{Nearest, Lanczos, Bilinear, Bicubic, Box, Hamming} {
		for _, wh := range [][2]int{{1, 1}, {1, 3}, {3, 1}, {2, 2}, {3, 3}} {
			img := randomImage(wh[0], wh[1], 1)
			rs := f
			pix, err := p.Preprocess([]*Image{img}, &Overrides{Resample: &rs})
			require.NoError(t, err)
			require.Equal(t, []int{1, 3, 5, 4}, pix.Shape)
			if wh == [2]int{1, 1} {
				for c := 0; c < 3; c++ {
					plane := pix.Data[c*20 : (c+1)*20]
					for _, v := range plane {
						require.Equal(t, plane[0], v, "filter %v channel %d", f, c)
					}
				}
			}
		}
	}
	// pixel_1x1.png decodes and processes (transformers raises)
	pix, err := p.PreprocessFiles([]string{filepath.Join(fixtureRoot, "inputs", "pixel_1x1.png")}, nil, nil)
	require.NoError(t, err)
	require.Equal(t, []int{1, 3, 5, 4}, pix.Shape)
}

// Rescale and normalise as transformers does: float64 multiply, float32 cast, float32 (x-m)/s.
func TestRescaleNormalizeArithmetic(t *testing.T) {
	img := NewImage(256, 1)
	for i := 0; i < 256; i++ {
		img.Pix[3*i], img.Pix[3*i+1], img.Pix[3*i+2] = uint8(i), uint8(i), uint8(i)
	}
	p := NewBlipImageProcessor()
	f := false
	pix, err := p.Preprocess([]*Image{img}, &Overrides{DoResize: &f})
	require.NoError(t, err)
	for i := 0; i < 256; i++ {
		x := float32(float64(i) * (1.0 / 255))
		want := (x - float32(0.48145466)) / float32(0.26862954)
		require.Equal(t, want, pix.Data[i])
	}
}

func TestProcessorConfigErrors(t *testing.T) {
	_, err := ParseBlipImageProcessor("cfg.json", []byte(`{"size": {"shortest_edge": 3}}`))
	require.ErrorContains(t, err, `field "size"`)
	_, err = ParseBlipImageProcessor("cfg.json", []byte(`{"resample": 9}`))
	require.ErrorContains(t, err, `field "resample"`)
	_, err = ParseBlipImageProcessor("cfg.json", []byte(`{"image_mean": "x"}`))
	require.ErrorContains(t, err, `field "image_mean"`)
	_, err = ParseBlipImageProcessor("cfg.json", []byte(`{"do_resize": 3}`))
	require.ErrorContains(t, err, `cfg.json`)
	p, err := ParseBlipImageProcessor("cfg.json", []byte(`{"size": 32, "foo": [1, 2], "image_std": 0.5}`))
	require.NoError(t, err)
	require.Equal(t, Size{32, 32}, p.Size)
	require.Equal(t, []float64{0.5, 0.5, 0.5}, p.ImageStd)
	require.Contains(t, p.Extra, "foo")
	_, err = ParseOverrides(map[string]json.RawMessage{"bogus": []byte("1")})
	require.ErrorContains(t, err, "bogus")
	o, err := ParseOverrides(map[string]json.RawMessage{"size": []byte(`{"height": 3, "width": 4}`), "resample": []byte("2")})
	require.NoError(t, err)
	require.Equal(t, Size{3, 4}, *o.Size)
	require.Equal(t, Bilinear, *o.Resample)
	_, err = p.Preprocess([]*Image{NewImage(4, 4)}, &Overrides{ImageMean: []float64{1}})
	require.ErrorContains(t, err, "image_mean")
	_, err = p.Preprocess([]*Image{NewImage(4, 4), NewImage(5, 4)}, &Overrides{DoResize: new(bool)})
	require.Error(t, err)
}

// Header-declared sizes beyond 2*MaxPixels are refused before decoding (DecompressionBombError).
func TestDecompressionBomb(t *testing.T) {
	// a PNG header claiming 100000 x 100000 pixels
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 100000)
	binary.BigEndian.PutUint32(ihdr[4:], 100000)
	ihdr[8], ihdr[9] = 8, 2
	writeChunk(&b, "IHDR", ihdr)
	_, err := DecodeBytes("bomb.png", b.Bytes(), nil)
	require.True(t, errors.Is(err, ErrDecompressionBomb), "%v", err)
	require.ErrorContains(t, err, "bomb.png")
	// a configurable limit
	data, err := os.ReadFile(filepath.Join(fixtureRoot, "inputs", "coffee.jpg"))
	require.NoError(t, err)
	_, err = DecodeBytes("coffee.jpg", data, &Options{MaxPixels: 1000})
	require.True(t, errors.Is(err, ErrDecompressionBomb), "%v", err)
	_, err = DecodeBytes("coffee.jpg", data, &Options{MaxPixels: -1})
	require.NoError(t, err)
}

func writeChunk(b *bytes.Buffer, typ string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	b.Write(n[:])
	b.WriteString(typ)
	b.Write(data)
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	binary.BigEndian.PutUint32(n[:], crc.Sum32())
	b.Write(n[:])
}

// Truncated and corrupted files give errors naming the file, never panics.
func TestCorruptInputs(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(fixtureRoot, "inputs", "*.*"))
	r := rand.New(rand.NewSource(7))
	for _, f := range files {
		if strings.HasSuffix(f, ".json") {
			continue
		}
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, cut := range []int{len(data) / 3, len(data) / 2, len(data) - 3} {
			_, err := DecodeBytes(filepath.Base(f), data[:cut], nil)
			if err != nil {
				require.Contains(t, err.Error(), filepath.Base(f))
			}
		}
		for i := 0; i < 20; i++ {
			c := append([]byte(nil), data...)
			for j := 0; j < 1+r.Intn(8); j++ {
				c[r.Intn(len(c))] = byte(r.Intn(256))
			}
			DecodeBytes(filepath.Base(f), c, nil) // must not panic
		}
	}
	_, err := DecodeBytes("x.bin", []byte("hello"), nil)
	require.True(t, errors.Is(err, ErrFormat))
}

// BenchmarkPreprocess640x480 is the speed target: a decoded 640x480 RGB image ->
// pixel_values [1, 3, 224, 224] (bicubic) in <= 5 ms.
func BenchmarkPreprocess640x480(b *testing.B) {
	img := randomImage(640, 480, 3)
	p := NewBlipImageProcessor()
	p.Size = Size{Height: 224, Width: 224}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Preprocess([]*Image{img}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeJPEG(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(fixtureRoot, "inputs", "coffee.jpg"))
	if err != nil {
		b.Skip()
	}
	for i := 0; i < b.N; i++ {
		if _, err := DecodeBytes("coffee.jpg", data, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeJPEG640 decodes a 640x480 4:2:0 baseline JPEG (made in memory with Go's encoder).
func BenchmarkDecodeJPEG640(b *testing.B) {
	src := stdimage.NewRGBA(stdimage.Rect(0, 0, 640, 480))
	for y := 0; y < 480; y++ {
		for x := 0; x < 640; x++ {
			i := src.PixOffset(x, y)
			src.Pix[i], src.Pix[i+1], src.Pix[i+2], src.Pix[i+3] = uint8(x*y>>6), uint8(x+3*y), uint8(x^y), 255
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := DecodeBytes("bench.jpg", data, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// preprocessor_config.json round-trips: known keys and unknown ones (image_processor_type,
// processor_class) survive MarshalJSON.
func TestProcessorConfigRoundTrip(t *testing.T) {
	p, err := LoadBlipImageProcessor(filepath.Join(fixtureRoot, "real-blip2-opt-2.7b"))
	require.NoError(t, err)
	require.Equal(t, Size{Height: 224, Width: 224}, p.Size)
	require.Equal(t, Bicubic, p.Resample)
	require.InDelta(t, 1.0/255, p.RescaleFactor, 1e-15)
	require.Contains(t, p.Extra, "processor_class")
	data, err := json.Marshal(p)
	require.NoError(t, err)
	q, err := ParseBlipImageProcessor("roundtrip", data)
	require.NoError(t, err)
	require.Equal(t, p, q)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	require.Equal(t, "BlipImageProcessor", m["image_processor_type"])
}

// Decode reads from any io.Reader (stdin in the CLI) with the same result as DecodeFile.
func TestDecodeReader(t *testing.T) {
	path := filepath.Join(fixtureRoot, "inputs", "jpeg420_prog_q90_64x48.jpg")
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	a, err := Decode("<stdin>", f, nil)
	require.NoError(t, err)
	b, err := DecodeFile(path, nil)
	require.NoError(t, err)
	require.Equal(t, b.Pix, a.Pix)
	require.Equal(t, "JPEG", a.Format)
	require.Equal(t, "RGB", a.Mode)
}

func TestStdConversions(t *testing.T) {
	img, err := DecodeFile(filepath.Join(fixtureRoot, "inputs", "sprite_rgba.png"), nil)
	require.NoError(t, err)
	back := FromStd(img.ToStd())
	require.Equal(t, img.Pix, back.Pix)
	n := stdimage.NewNRGBA(stdimage.Rect(0, 0, 2, 1))
	copy(n.Pix, []uint8{10, 20, 30, 0, 40, 50, 60, 128})
	require.Equal(t, []uint8{10, 20, 30, 40, 50, 60}, FromStd(n).Pix)
}

// A batch of files gives [N, 3, H, W] with each image's own values.
func TestPreprocessFilesBatch(t *testing.T) {
	p := NewBlipImageProcessor()
	p.Size = Size{Height: 16, Width: 24}
	names := []string{"coffee.jpg", "cat.png", "webp_lossy_q80_51x37.webp", "gif_anim_40x36.gif"}
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = filepath.Join(fixtureRoot, "inputs", n)
	}
	batch, err := p.PreprocessFiles(paths, nil, nil)
	require.NoError(t, err)
	require.Equal(t, []int{4, 3, 16, 24}, batch.Shape)
	for i, path := range paths {
		one, err := p.PreprocessFiles([]string{path}, nil, nil)
		require.NoError(t, err)
		require.Equal(t, one.Data, batch.Data[i*3*16*24:(i+1)*3*16*24])
	}
	_, err = p.PreprocessFiles([]string{paths[0], "missing.jpg"}, nil, nil)
	require.ErrorContains(t, err, "missing.jpg")
}

// A JPEG header claiming far more blocks than its data can code is refused before the
// coefficient buffers are allocated; truncation errors wrap ErrCorrupt.
func TestJPEGTooShortForSize(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(fixtureRoot, "inputs", "jpeggray_q75_47x61.jpg"))
	require.NoError(t, err)
	// patch the SOF0 height/width to 8000x8000
	c := append([]byte(nil), data...)
	for i := 0; i+9 < len(c); i++ {
		if c[i] == 0xFF && c[i+1] == 0xC0 {
			c[i+5], c[i+6], c[i+7], c[i+8] = 0x1F, 0x40, 0x1F, 0x40
			break
		}
	}
	_, err = DecodeBytes("big.jpg", c, nil)
	require.True(t, errors.Is(err, ErrCorrupt), "%v", err)
	_, err = DecodeBytes("cut.jpg", data[:len(data)/2], nil)
	require.True(t, errors.Is(err, ErrCorrupt), "%v", err)
}
