package image

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Resampling is a resampling filter, numbered as PIL.Image.Resampling (transformers'
// PILImageResampling).
type Resampling int

// The Pillow filters, with Pillow's numbers.
const (
	Nearest  Resampling = 0
	Lanczos  Resampling = 1
	Bilinear Resampling = 2
	Bicubic  Resampling = 3
	Box      Resampling = 4
	Hamming  Resampling = 5
)

// String returns Pillow's name of the filter.
func (r Resampling) String() string {
	switch r {
	case Nearest:
		return "NEAREST"
	case Lanczos:
		return "LANCZOS"
	case Bilinear:
		return "BILINEAR"
	case Bicubic:
		return "BICUBIC"
	case Box:
		return "BOX"
	case Hamming:
		return "HAMMING"
	}
	return fmt.Sprintf("Resampling(%d)", int(r))
}

// Filters of Pillow's Resample.c, evaluated in float64 as the C code does in double.
func boxFilter(x float64) float64 {
	if x > -0.5 && x <= 0.5 {
		return 1.0
	}
	return 0.0
}

func bilinearFilter(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1.0 {
		return 1.0 - x
	}
	return 0.0
}

func hammingFilter(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x == 0.0 {
		return 1.0
	}
	if x >= 1.0 {
		return 0.0
	}
	x = x * math.Pi
	// 0.54f and 0.46f are float literals in the C source
	return math.Sin(x) / x * (float64(float32(0.54)) + float64(float32(0.46))*math.Cos(x))
}

func bicubicFilter(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1.0 {
		return float64(float64(float64((a+2.0)*x)-(a+3.0))*x*x) + 1
	}
	if x < 2.0 {
		return float64(float64(float64(float64(float64(x-5)*x)+8)*x)-4) * a
	}
	return 0.0
}

func sincFilter(x float64) float64 {
	if x == 0.0 {
		return 1.0
	}
	x = x * math.Pi
	return math.Sin(x) / x
}

func lanczosFilter(x float64) float64 {
	if -3.0 <= x && x < 3.0 {
		return sincFilter(x) * sincFilter(x/3)
	}
	return 0.0
}

type filterDef struct {
	fn      func(float64) float64
	support float64
}

func filterFor(r Resampling) (filterDef, bool) {
	switch r {
	case Box:
		return filterDef{boxFilter, 0.5}, true
	case Bilinear:
		return filterDef{bilinearFilter, 1.0}, true
	case Hamming:
		return filterDef{hammingFilter, 1.0}, true
	case Bicubic:
		return filterDef{bicubicFilter, 2.0}, true
	case Lanczos:
		return filterDef{lanczosFilter, 3.0}, true
	}
	return filterDef{}, false
}

const precisionBits = 32 - 8 - 2

// coeffs holds Pillow's precompute_coeffs + normalize_coeffs_8bpc result for one axis.
type coeffs struct {
	ksize  int
	bounds []int   // xmin, xmax per output index
	k      []int32 // ksize fixed-point coefficients per output index
}

func precomputeCoeffs(inSize, outSize int, f filterDef) coeffs {
	scale := float64(inSize) / float64(outSize)
	filterscale := scale
	if filterscale < 1.0 {
		filterscale = 1.0
	}
	support := f.support * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	c := coeffs{ksize: ksize, bounds: make([]int, 2*outSize), k: make([]int32, outSize*ksize)}
	kk := make([]float64, ksize)
	for xx := 0; xx < outSize; xx++ {
		center := 0 + (float64(xx)+0.5)*scale
		ww := 0.0
		ss := 1.0 / filterscale
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		for x := 0; x < xmax; x++ {
			w := f.fn((float64(x+xmin) - center + 0.5) * ss)
			kk[x] = w
			ww += w
		}
		for x := 0; x < xmax; x++ {
			if ww != 0.0 {
				kk[x] /= ww
			}
		}
		for x := xmax; x < ksize; x++ {
			kk[x] = 0
		}
		for x := 0; x < ksize; x++ {
			v := kk[x]
			if v < 0 {
				c.k[xx*ksize+x] = int32(-0.5 + v*(1<<precisionBits))
			} else {
				c.k[xx*ksize+x] = int32(0.5 + v*(1<<precisionBits))
			}
		}
		c.bounds[2*xx] = xmin
		c.bounds[2*xx+1] = xmax
	}
	return c
}

// clip8 is Pillow's clip8: the accumulator shifted down, clamped to 0..255.
func clip8(v int32) uint8 {
	v >>= precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// parallelRows runs fn over [0, n) split into chunks on up to GOMAXPROCS goroutines.
func parallelRows(n int, work int, fn func(lo, hi int)) {
	p := runtime.GOMAXPROCS(0)
	if p > n {
		p = n
	}
	if p <= 1 || work < 1<<16 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var caught any
	chunk := (n + p - 1) / p
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			// a panic in a worker is handed to the caller's goroutine, where the public API's
			// recover turns it into an error instead of crashing the program
			defer func() {
				if r := recover(); r != nil {
					mu.Lock()
					caught = r
					mu.Unlock()
				}
			}()
			fn(lo, hi)
		}(lo, hi)
	}
	wg.Wait()
	if caught != nil {
		panic(caught)
	}
}

// Resize returns img resized to width x height with Pillow 9.4's Image.resize(size, resample)
// on an RGB image (reducing_gap None, whole-image box): the two-pass convolution of Resample.c
// (horizontal first, 22-bit fixed-point coefficients) or, for Nearest, ImagingScaleAffine.
// The result has mode "RGB"; img is not modified.
func Resize(img *Image, width, height int, filter Resampling) (out *Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("image: resize: internal error: %v", r)
		}
	}()
	if img == nil || img.Width <= 0 || img.Height <= 0 || len(img.Pix) != img.Width*img.Height*3 {
		return nil, fmt.Errorf("image: resize: invalid source image")
	}
	if width <= 0 || height <= 0 {
		return nil, fmt.Errorf("image: resize: height and width must be > 0, got %dx%d", width, height)
	}
	if int64(width)*int64(height) > 1<<31 {
		return nil, fmt.Errorf("image: resize: %dx%d: %w", width, height, ErrDecompressionBomb)
	}
	if filter == Nearest {
		return resizeNearest(img, width, height), nil
	}
	f, ok := filterFor(filter)
	if !ok {
		return nil, fmt.Errorf("image: resize: unsupported resampling filter %d", int(filter))
	}
	if width == img.Width && height == img.Height {
		out := *img
		out.Pix = append([]uint8(nil), img.Pix...)
		out.Mode = "RGB"
		return &out, nil
	}
	needH := width != img.Width
	needV := height != img.Height
	vert := precomputeCoeffs(img.Height, height, f)
	yfirst := vert.bounds[0]
	ylast := vert.bounds[2*height-2] + vert.bounds[2*height-1]
	src := img.Pix
	srcW := img.Width
	if needH {
		hor := precomputeCoeffs(img.Width, width, f)
		for i := 0; i < height; i++ {
			vert.bounds[2*i] -= yfirst
		}
		rows := ylast - yfirst
		tmp := make([]uint8, width*rows*3)
		parallelRows((rows+1)/2, width*rows*hor.ksize, func(lo, hi int) {
			// two source rows at a time share the coefficient loads
			for pr := lo; pr < hi; pr++ {
				yy := 2 * pr
				in0 := src[(yy+yfirst)*srcW*3 : (yy+yfirst+1)*srcW*3]
				out0 := tmp[yy*width*3 : (yy+1)*width*3]
				if yy+1 >= rows {
					horizontalRow(in0, out0, &hor, width)
					continue
				}
				in1 := src[(yy+yfirst+1)*srcW*3 : (yy+yfirst+2)*srcW*3]
				out1 := tmp[(yy+1)*width*3 : (yy+2)*width*3]
				for xx := 0; xx < width; xx++ {
					xmin, xmax := hor.bounds[2*xx], hor.bounds[2*xx+1]
					k := hor.k[xx*hor.ksize : xx*hor.ksize+xmax]
					p0 := in0[xmin*3 : (xmin+xmax)*3]
					p1 := in1[xmin*3 : (xmin+xmax)*3]
					const half = int32(1 << (precisionBits - 1))
					a0, a1, a2, b0, b1, b2 := half, half, half, half, half, half
					for x, kv := range k {
						q := p0[3*x : 3*x+3 : 3*x+3]
						r := p1[3*x : 3*x+3 : 3*x+3]
						a0 += int32(q[0]) * kv
						a1 += int32(q[1]) * kv
						a2 += int32(q[2]) * kv
						b0 += int32(r[0]) * kv
						b1 += int32(r[1]) * kv
						b2 += int32(r[2]) * kv
					}
					out0[3*xx], out0[3*xx+1], out0[3*xx+2] = clip8(a0), clip8(a1), clip8(a2)
					out1[3*xx], out1[3*xx+1], out1[3*xx+2] = clip8(b0), clip8(b1), clip8(b2)
				}
			}
		})
		src, srcW = tmp, width
	}
	if !needV {
		return &Image{Width: width, Height: height, Pix: src, Mode: "RGB"}, nil
	}
	dst := make([]uint8, width*height*3)
	parallelRows(height, width*height*vert.ksize, func(lo, hi int) {
		acc := make([]int32, srcW*3)
		for yy := lo; yy < hi; yy++ {
			ymin, ymax := vert.bounds[2*yy], vert.bounds[2*yy+1]
			k := vert.k[yy*vert.ksize : yy*vert.ksize+ymax]
			for i := range acc {
				acc[i] = 1 << (precisionBits - 1)
			}
			for y, kv := range k {
				row := src[(y+ymin)*srcW*3 : (y+ymin+1)*srcW*3]
				a := acc[:len(row)]
				for i, v := range row {
					a[i] += int32(v) * kv
				}
			}
			o := dst[yy*width*3 : (yy+1)*width*3]
			for i := range o {
				o[i] = clip8(acc[i])
			}
		}
	})
	return &Image{Width: width, Height: height, Pix: dst, Mode: "RGB"}, nil
}

// horizontalRow is one row of ImagingResampleHorizontal_8bpc for 3 bands.
func horizontalRow(in, out []uint8, hor *coeffs, width int) {
	for xx := 0; xx < width; xx++ {
		xmin, xmax := hor.bounds[2*xx], hor.bounds[2*xx+1]
		k := hor.k[xx*hor.ksize : xx*hor.ksize+xmax]
		p := in[xmin*3 : (xmin+xmax)*3]
		const half = int32(1 << (precisionBits - 1))
		s0, s1, s2 := half, half, half
		for x, kv := range k {
			q := p[3*x : 3*x+3 : 3*x+3]
			s0 += int32(q[0]) * kv
			s1 += int32(q[1]) * kv
			s2 += int32(q[2]) * kv
		}
		out[3*xx], out[3*xx+1], out[3*xx+2] = clip8(s0), clip8(s1), clip8(s2)
	}
}

// resizeNearest is Pillow's ImagingScaleAffine (nearest-neighbour scaling with accumulated
// double-precision source coordinates).
func resizeNearest(img *Image, width, height int) *Image {
	if width == img.Width && height == img.Height {
		out := *img
		out.Pix = append([]uint8(nil), img.Pix...)
		out.Mode = "RGB"
		return &out
	}
	a0 := float64(img.Width) / float64(width)
	a4 := float64(img.Height) / float64(height)
	coord := func(v float64) int {
		if v < 0 {
			return -1
		}
		return int(v)
	}
	xin := make([]int, width)
	xo := a0 * 0.5
	for x := 0; x < width; x++ {
		xin[x] = coord(xo)
		xo += a0
	}
	out := &Image{Width: width, Height: height, Pix: make([]uint8, width*height*3), Mode: "RGB"}
	yo := a4 * 0.5
	for y := 0; y < height; y++ {
		yi := coord(yo)
		yo += a4
		if yi < 0 || yi >= img.Height {
			continue
		}
		in := img.Pix[yi*img.Width*3:]
		o := out.Pix[y*width*3:]
		for x, xi := range xin {
			if xi >= 0 && xi < img.Width {
				o[3*x], o[3*x+1], o[3*x+2] = in[3*xi], in[3*xi+1], in[3*xi+2]
			}
		}
	}
	return out
}
