package image_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/gotransformers/gotransformers/processing/image"
)

// FuzzPreprocessorConfig loads preprocessor_config.json documents from the fuzzer: what loads must
// write back (MarshalJSON) and load again, and preprocessing a small image with it must return
// pixel_values of the configured size or an error, never panic. Sizes over 64x64 are only loaded
// (large outputs are legitimate, merely slow). Seeds: the fixtures' preprocessor_config.json files
// and the cases below.
func FuzzPreprocessorConfig(f *testing.F) {
	for _, s := range []string{
		`{"size":{"height":7,"width":5},"resample":2,"do_rescale":true,"rescale_factor":0.5,"image_mean":0.5,"image_std":[1,2,3]}`,
		`{"size":9,"resample":0,"do_normalize":false,"do_convert_rgb":null,"crop_size":{"height":3}}`,
		`{"size":{"height":4,"width":4},"resample":3,"image_mean":[0,0,0],"image_std":[0,0,0]}`,
		`{"do_resize":false,"rescale_factor":1e308,"image_mean":null}`,
		`{"size":{"height":4,"width":4},"resample":1}`,
	} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob("../../parity/testdata/*/preprocessor_config.json")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	imgs := []*image.Image{testImage(3, 2), testImage(1, 1)}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := image.ParseBlipImageProcessor("preprocessor_config.json", data)
		if err != nil {
			return
		}
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if _, err := image.ParseBlipImageProcessor("saved", out); err != nil {
			t.Fatalf("saved config does not load: %v\n%s", err, out)
		}
		preprocessSmall(t, p, imgs[:1], nil)
	})
}

// FuzzImageOverrides feeds call-time keyword arguments (BlipImageProcessor.__call__'s) as JSON.
func FuzzImageOverrides(f *testing.F) {
	for _, s := range []string{
		`{"size":{"height":3,"width":5},"resample":1}`, `{"do_resize":false,"do_normalize":true,"image_std":[0.1,0.2]}`,
		`{"image_mean":[1,2,3],"image_std":4,"rescale_factor":-1,"do_convert_rgb":false}`, `{"size":3}`, `{"bogus":1}`,
	} {
		f.Add([]byte(s))
	}
	imgs := []*image.Image{testImage(4, 3), testImage(4, 3)}
	base := image.NewBlipImageProcessor()
	base.Size = image.Size{Height: 6, Width: 6}
	f.Fuzz(func(t *testing.T, data []byte) {
		var kw map[string]json.RawMessage
		if json.Unmarshal(data, &kw) != nil {
			return
		}
		o, err := image.ParseOverrides(kw)
		if err != nil {
			return
		}
		preprocessSmall(t, base, imgs, o)
	})
}

func preprocessSmall(t *testing.T, p *image.BlipImageProcessor, imgs []*image.Image, o *image.Overrides) {
	size := p.Size
	doResize := p.DoResize
	if o != nil {
		if o.Size != nil {
			size = *o.Size
		}
		if o.DoResize != nil {
			doResize = *o.DoResize
		}
	}
	if doResize && int64(size.Height)*int64(size.Width) > 64*64 {
		return
	}
	pv, err := p.Preprocess(imgs, o)
	if err != nil {
		return
	}
	h, w := imgs[0].Height, imgs[0].Width
	if doResize {
		h, w = size.Height, size.Width
	}
	if len(pv.Shape) != 4 || pv.Shape[0] != len(imgs) || pv.Shape[1] != 3 || pv.Shape[2] != h || pv.Shape[3] != w || len(pv.Data) != len(imgs)*3*h*w {
		t.Fatalf("pixel_values shape %v with %d values, want [%d 3 %d %d]", pv.Shape, len(pv.Data), len(imgs), h, w)
	}
}

func testImage(w, h int) *image.Image {
	img := image.NewImage(w, h)
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 37)
	}
	return img
}
