package blip2

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"runtime/pprof"
	"testing"

	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// fillRandom gives every shape-only weight reachable from v (exported fields) deterministic
// pseudo-random float32 data (xorshift, |w| < 0.03): real-size models for benchmarks without a
// checkpoint.
func fillRandom(v reflect.Value, seen map[uintptr]bool, state *uint64) {
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			fillRandom(v.Elem(), seen, state)
		}
	case reflect.Pointer:
		if v.IsNil() || seen[v.Pointer()] {
			return
		}
		seen[v.Pointer()] = true
		if w, ok := v.Interface().(*tensor.Weight); ok {
			if !w.ShapeOnly() {
				return
			}
			w.DType = tensor.F32
			w.F32 = make([]float32, w.Numel())
			s := *state
			for i := range w.F32 {
				s ^= s << 13
				s ^= s >> 7
				s ^= s << 17
				w.F32[i] = float32(int64(s>>40)-(1<<23)) / float32(1<<23) * 0.03
			}
			*state = s
			return
		}
		fillRandom(v.Elem(), seen, state)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillRandom(v.Field(i), seen, state)
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			fillRandom(v.Index(i), seen, state)
		}
	}
}

// randomized builds a model with build (given a shape-only binder) and gives its weights
// deterministic random float32 values (fillRandom).
func randomized[M any](tb testing.TB, seed uint64, build func(*weights.Binder) (M, error)) M {
	tb.Helper()
	m, err := build(weights.NewShapeBinder())
	if err != nil {
		tb.Fatal(err)
	}
	fillRandom(reflect.ValueOf(m), map[uintptr]bool{}, &seed)
	return m
}

// randomVision is a vision model of cfg with random weights.
func randomVision(tb testing.TB, cfg *Blip2VisionConfig, seed uint64) *Blip2VisionModel {
	return randomized(tb, seed, func(b *weights.Binder) (*Blip2VisionModel, error) { return NewBlip2VisionModel(cfg, b) })
}

// randomQFormer is a Q-Former of cfg with random weights.
func randomQFormer(tb testing.TB, cfg *Blip2QFormerConfig, seed uint64) *Blip2QFormerModel {
	return randomized(tb, seed, func(b *weights.Binder) (*Blip2QFormerModel, error) { return NewBlip2QFormerModel(cfg, b) })
}

// ramp returns a tensor of the shape holding (i % p) / p - 0.5 at flat index i.
func ramp(p int, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(i%p)/float32(p) - 0.5
	}
	return t
}

// BenchmarkVisionModelViTg runs the default (ViT-g/14, 1408 wide, 39 layers, 257 tokens) vision
// model on one 224x224 image with random float32 weights (4 GB). Measured on an otherwise idle
// 2-thread Xeon (AVX2 GEMM): about 7.2 s per image (70 GFLOP/s over the weight GEMMs).
func BenchmarkVisionModelViTg(b *testing.B) { benchVisionViTg(b, 1) }

// BenchmarkVisionModelViTgBatch4 is BenchmarkVisionModelViTg on a batch of four images.
func BenchmarkVisionModelViTgBatch4(b *testing.B) { benchVisionViTg(b, 4) }

func benchVisionViTg(b *testing.B, n int) {
	m := randomVision(b, NewBlip2VisionConfig(), 88172645463325252)
	x := ramp(251, n, 3, 224, 224)
	ctx := context.Background()
	if _, err := m.Forward(ctx, x, VisionOptions{}); err != nil { // warm-up: pools, page faults
		b.Fatal(err)
	}
	if f := os.Getenv("GOTR_VISION_PROFILE"); f != "" { // the timed forwards only
		out, err := os.Create(fmt.Sprintf("%s.b%d", f, n))
		if err != nil {
			b.Fatal(err)
		}
		defer out.Close()
		if err := pprof.StartCPUProfile(out); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	cpu0 := processCPU()
	b.ResetTimer()
	for range b.N {
		if _, err := m.Forward(ctx, x, VisionOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if cpu0 >= 0 {
		b.ReportMetric((processCPU()-cpu0).Seconds()/float64(b.N*n), "cpu-s/image")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e9/float64(b.N*n), "s/image")
}

// BenchmarkQFormerBlip2 runs the default Q-Former (12 layers, 768 wide, 32 queries) against random
// ViT-g image features of one image.
func BenchmarkQFormerBlip2(b *testing.B) {
	m := randomQFormer(b, NewBlip2QFormerConfig(), 88172645463325252)
	q, img := tensor.New(1, 32, 768), ramp(97, 1, 257, 1408)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		if _, err := m.Forward(ctx, &QFormerInput{QueryEmbeds: q, EncoderHiddenStates: img}); err != nil {
			b.Fatal(err)
		}
	}
}
