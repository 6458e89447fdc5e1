package image

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// OpenAI CLIP normalisation constants (transformers' OPENAI_CLIP_MEAN / OPENAI_CLIP_STD), the
// BlipImageProcessor defaults.
var (
	openAICLIPMean = []float64{0.48145466, 0.4578275, 0.40821073}
	openAICLIPStd  = []float64{0.26862954, 0.26130258, 0.27577711}
)

// Size is transformers' size dict for BlipImageProcessor: {"height": H, "width": W}.
type Size struct {
	Height int `json:"height"`
	Width  int `json:"width"`
}

// BlipImageProcessor mirrors transformers.BlipImageProcessor (4.45): convert to RGB, resize with
// a Pillow filter, rescale, normalise, channels first. Fields are the keys of
// preprocessor_config.json; Extra keeps every other key (image_processor_type, processor_class,
// ...) so that saving round-trips.
type BlipImageProcessor struct {
	DoResize      bool       // do_resize
	Size          Size       // size
	Resample      Resampling // resample (PILImageResampling number)
	DoRescale     bool       // do_rescale
	RescaleFactor float64    // rescale_factor
	DoNormalize   bool       // do_normalize
	ImageMean     []float64  // image_mean (one value per channel)
	ImageStd      []float64  // image_std
	DoConvertRGB  bool       // do_convert_rgb
	Extra         map[string]json.RawMessage
}

// NewBlipImageProcessor returns BlipImageProcessor() with transformers' defaults: resize to
// 384x384 bicubic, rescale 1/255, CLIP mean/std, convert to RGB.
func NewBlipImageProcessor() *BlipImageProcessor {
	return &BlipImageProcessor{
		DoResize:      true,
		Size:          Size{Height: 384, Width: 384},
		Resample:      Bicubic,
		DoRescale:     true,
		RescaleFactor: 1.0 / 255,
		DoNormalize:   true,
		ImageMean:     append([]float64(nil), openAICLIPMean...),
		ImageStd:      append([]float64(nil), openAICLIPStd...),
		DoConvertRGB:  true,
		Extra:         map[string]json.RawMessage{},
	}
}

// LoadBlipImageProcessor reads preprocessor_config.json from path, a file or a model folder
// (BlipImageProcessor.from_pretrained on a local folder). Missing keys keep the defaults.
func LoadBlipImageProcessor(path string) (*BlipImageProcessor, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "preprocessor_config.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("image: load BlipImageProcessor: %w", err)
	}
	return ParseBlipImageProcessor(path, data)
}

// ParseBlipImageProcessor parses a preprocessor_config.json document; name is used in errors.
func ParseBlipImageProcessor(name string, data []byte) (*BlipImageProcessor, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("image: %s: %w", name, err)
	}
	p := NewBlipImageProcessor()
	for key, v := range raw {
		var err error
		switch key {
		case "do_resize":
			err = json.Unmarshal(v, &p.DoResize)
		case "do_rescale":
			err = json.Unmarshal(v, &p.DoRescale)
		case "do_normalize":
			err = json.Unmarshal(v, &p.DoNormalize)
		case "do_convert_rgb":
			if string(v) == "null" {
				p.DoConvertRGB = true
			} else {
				err = json.Unmarshal(v, &p.DoConvertRGB)
			}
		case "size":
			var s *Size
			s, err = parseSize(v, true)
			if err == nil && s != nil {
				p.Size = *s
			}
		case "resample":
			var r int
			if err = json.Unmarshal(v, &r); err == nil {
				if _, ok := filterFor(Resampling(r)); !ok && Resampling(r) != Nearest {
					err = fmt.Errorf("unknown PIL resampling filter %d", r)
				}
				p.Resample = Resampling(r)
			}
		case "rescale_factor":
			err = json.Unmarshal(v, &p.RescaleFactor)
		case "image_mean":
			var m []float64
			if m, err = parseFloats(v); err == nil && m != nil {
				p.ImageMean = m
			}
		case "image_std":
			var m []float64
			if m, err = parseFloats(v); err == nil && m != nil {
				p.ImageStd = m
			}
		default:
			p.Extra[key] = v
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("image: %s: field %q: %w", name, key, err)
		}
	}
	return p, nil
}

// parseSize accepts {"height", "width"} or, in a config (square true), a single int meaning a
// square (BlipImageProcessor.__init__ calls get_size_dict(size, default_to_square=True)).
func parseSize(v json.RawMessage, square bool) (*Size, error) {
	if string(v) == "null" {
		return nil, nil
	}
	var n int
	if square && json.Unmarshal(v, &n) == nil {
		if n <= 0 {
			return nil, fmt.Errorf("size %d must be positive", n)
		}
		return &Size{Height: n, Width: n}, nil
	}
	var m map[string]int
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, fmt.Errorf("want {\"height\": H, \"width\": W}: %w", err)
	}
	h, okh := m["height"]
	w, okw := m["width"]
	if !okh || !okw || len(m) != 2 {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return nil, fmt.Errorf("the size dictionary must contain the keys 'height' and 'width', got %v", keys)
	}
	if h <= 0 || w <= 0 {
		return nil, fmt.Errorf("height and width must be > 0, got %dx%d", h, w)
	}
	return &Size{Height: h, Width: w}, nil
}

// parseFloats accepts a list of numbers or one number (repeated for the 3 channels, as
// transformers' normalize does).
func parseFloats(v json.RawMessage) ([]float64, error) {
	if string(v) == "null" {
		return nil, nil
	}
	var one float64
	if json.Unmarshal(v, &one) == nil {
		return []float64{one, one, one}, nil
	}
	var l []float64
	if err := json.Unmarshal(v, &l); err != nil {
		return nil, fmt.Errorf("want a number or a list of numbers: %w", err)
	}
	return l, nil
}

// MarshalJSON writes the processor as preprocessor_config.json (known keys plus Extra).
func (p *BlipImageProcessor) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	for k, v := range p.Extra {
		m[k] = v
	}
	m["do_resize"] = p.DoResize
	m["size"] = p.Size
	m["resample"] = int(p.Resample)
	m["do_rescale"] = p.DoRescale
	m["rescale_factor"] = p.RescaleFactor
	m["do_normalize"] = p.DoNormalize
	m["image_mean"] = p.ImageMean
	m["image_std"] = p.ImageStd
	m["do_convert_rgb"] = p.DoConvertRGB
	return json.Marshal(m)
}

// Overrides are call-time arguments of BlipImageProcessor.__call__/preprocess; nil fields keep
// the processor's value, like Python's None defaults.
type Overrides struct {
	DoResize      *bool
	Size          *Size
	Resample      *Resampling
	DoRescale     *bool
	RescaleFactor *float64
	DoNormalize   *bool
	ImageMean     []float64
	ImageStd      []float64
	DoConvertRGB  *bool
}

// ParseOverrides reads Python-style keyword arguments ({"size": {"height": 30, "width": 40},
// "resample": 2, ...}) as JSON. Unknown keys are an error naming the key.
func ParseOverrides(kwargs map[string]json.RawMessage) (*Overrides, error) {
	o := &Overrides{}
	for key, v := range kwargs {
		var err error
		switch key {
		case "do_resize":
			o.DoResize = new(bool)
			err = json.Unmarshal(v, o.DoResize)
		case "do_rescale":
			o.DoRescale = new(bool)
			err = json.Unmarshal(v, o.DoRescale)
		case "do_normalize":
			o.DoNormalize = new(bool)
			err = json.Unmarshal(v, o.DoNormalize)
		case "do_convert_rgb":
			o.DoConvertRGB = new(bool)
			err = json.Unmarshal(v, o.DoConvertRGB)
		case "size":
			o.Size, err = parseSize(v, false)
		case "resample":
			var r int
			if err = json.Unmarshal(v, &r); err == nil {
				rr := Resampling(r)
				o.Resample = &rr
			}
		case "rescale_factor":
			o.RescaleFactor = new(float64)
			err = json.Unmarshal(v, o.RescaleFactor)
		case "image_mean":
			o.ImageMean, err = parseFloats(v)
		case "image_std":
			o.ImageStd, err = parseFloats(v)
		default:
			err = fmt.Errorf("unknown argument")
		}
		if err != nil {
			return nil, fmt.Errorf("image: BlipImageProcessor argument %q: %w", key, err)
		}
	}
	return o, nil
}

// effective merges overrides into a copy of the processor settings.
func (p *BlipImageProcessor) effective(o *Overrides) BlipImageProcessor {
	e := *p
	if o == nil {
		return e
	}
	if o.DoResize != nil {
		e.DoResize = *o.DoResize
	}
	if o.Size != nil {
		e.Size = *o.Size
	}
	if o.Resample != nil {
		e.Resample = *o.Resample
	}
	if o.DoRescale != nil {
		e.DoRescale = *o.DoRescale
	}
	if o.RescaleFactor != nil {
		e.RescaleFactor = *o.RescaleFactor
	}
	if o.DoNormalize != nil {
		e.DoNormalize = *o.DoNormalize
	}
	if o.ImageMean != nil {
		e.ImageMean = o.ImageMean
	}
	if o.ImageStd != nil {
		e.ImageStd = o.ImageStd
	}
	if o.DoConvertRGB != nil {
		e.DoConvertRGB = *o.DoConvertRGB
	}
	return e
}

// Preprocess mirrors BlipImageProcessor.preprocess(images, return_tensors="pt", **overrides):
// every image is resized (Pillow Image.resize to Size with Resample), rescaled
// (float64 multiply, then float32) and normalised in float32 ((x - mean) / std), then stacked
// channels-first into pixel_values [N, 3, H, W]. Images must be decoded (and thus already
// converted to RGB, which is what do_convert_rgb does); do_convert_rgb=false is accepted only for
// images whose original mode was RGB. Unlike transformers 4.45, 1x1 images work (FORMAT.md note 7).
func (p *BlipImageProcessor) Preprocess(images []*Image, o *Overrides) (pixelValues *tensor.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			pixelValues, err = nil, fmt.Errorf("image: BlipImageProcessor: internal error: %v", r)
		}
	}()
	e := p.effective(o)
	if len(images) == 0 {
		return nil, fmt.Errorf("image: BlipImageProcessor: no images")
	}
	if e.DoResize {
		if e.Size.Height <= 0 || e.Size.Width <= 0 {
			return nil, fmt.Errorf("image: BlipImageProcessor: field \"size\": height and width must be > 0, got %dx%d", e.Size.Height, e.Size.Width)
		}
		if int64(e.Size.Height)*int64(e.Size.Width) > 2*DefaultMaxPixels {
			return nil, fmt.Errorf("image: BlipImageProcessor: field \"size\": %dx%d is over the %d-pixel limit: %w", e.Size.Width, e.Size.Height, 2*DefaultMaxPixels, ErrDecompressionBomb)
		}
		if e.Resample != Nearest {
			if _, ok := filterFor(e.Resample); !ok {
				return nil, fmt.Errorf("image: BlipImageProcessor: field \"resample\": unknown PIL resampling filter %d", int(e.Resample))
			}
		}
	}
	if e.DoRescale && (math.IsNaN(e.RescaleFactor) || math.IsInf(e.RescaleFactor, 0)) {
		return nil, fmt.Errorf("image: BlipImageProcessor: field \"rescale_factor\": %v", e.RescaleFactor)
	}
	var mean, std [3]float32
	if e.DoNormalize {
		if len(e.ImageMean) != 3 {
			return nil, fmt.Errorf("image: BlipImageProcessor: field \"image_mean\": mean must have 3 elements, got %d", len(e.ImageMean))
		}
		if len(e.ImageStd) != 3 {
			return nil, fmt.Errorf("image: BlipImageProcessor: field \"image_std\": std must have 3 elements, got %d", len(e.ImageStd))
		}
		for c := 0; c < 3; c++ {
			mean[c] = float32(e.ImageMean[c])
			std[c] = float32(e.ImageStd[c])
		}
	}
	var out *tensor.Tensor
	var H, W int
	for n, img := range images {
		if img == nil || img.Width <= 0 || img.Height <= 0 || len(img.Pix) != img.Width*img.Height*3 {
			return nil, fmt.Errorf("image: BlipImageProcessor: image %d is invalid", n)
		}
		if !e.DoConvertRGB && img.Mode != "" && img.Mode != "RGB" {
			return nil, fmt.Errorf("image: BlipImageProcessor: image %d has mode %s and do_convert_rgb is false: only RGB images are supported then", n, img.Mode)
		}
		im := img
		if e.DoResize {
			var err error
			im, err = Resize(img, e.Size.Width, e.Size.Height, e.Resample)
			if err != nil {
				return nil, fmt.Errorf("image: BlipImageProcessor: image %d: %w", n, err)
			}
		}
		if out == nil {
			H, W = im.Height, im.Width
			out = tensor.New(len(images), 3, H, W)
		} else if im.Height != H || im.Width != W {
			return nil, fmt.Errorf("image: BlipImageProcessor: image %d is %dx%d, image 0 is %dx%d: cannot stack pixel_values (resize them or pass do_resize)", n, im.Width, im.Height, W, H)
		}
		plane := H * W
		dst := out.Data[n*3*plane : (n+1)*3*plane]
		var lut [3][256]float32
		for c := 0; c < 3; c++ {
			for v := 0; v < 256; v++ {
				x := float32(v)
				if e.DoRescale {
					x = float32(float64(v) * e.RescaleFactor)
				}
				if e.DoNormalize {
					x = (x - mean[c]) / std[c]
				}
				lut[c][v] = x
			}
		}
		pix := im.Pix
		r, g, b := dst[:plane], dst[plane:2*plane], dst[2*plane:]
		for i := 0; i < plane; i++ {
			r[i] = lut[0][pix[3*i]]
			g[i] = lut[1][pix[3*i+1]]
			b[i] = lut[2][pix[3*i+2]]
		}
	}
	return out, nil
}

// PreprocessFiles decodes the files (Image.open(path) for each) and runs Preprocess on them.
// Files are decoded concurrently; the error of the first failing file (in order) is returned.
func (p *BlipImageProcessor) PreprocessFiles(paths []string, o *Overrides, opts *Options) (*tensor.Tensor, error) {
	imgs := make([]*Image, len(paths))
	errs := make([]error, len(paths))
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	for i, path := range paths {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, path string) {
			defer wg.Done()
			defer func() { <-sem }()
			imgs[i], errs[i] = DecodeFile(path, opts)
		}(i, path)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return p.Preprocess(imgs, o)
}
