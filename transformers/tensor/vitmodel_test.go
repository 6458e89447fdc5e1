//go:build unix

package tensor_test

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// misalign offsets every weight by this many elements from its (page-aligned) allocation, as the
// tensors viewed in a safetensors file are aligned to their element size only
// (GOTR_VITMODEL_MISALIGN).
var misalign, _ = strconv.Atoi(os.Getenv("GOTR_VITMODEL_MISALIGN"))

// randomize gives every shape-only weight reachable from v random data of dtype dt (xorshift,
// |w| < 0.03).
func randomize(v reflect.Value, seen map[uintptr]bool, s *uint64, dt tensor.DType) {
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			randomize(v.Elem(), seen, s, dt)
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
			next := func() float32 {
				*s ^= *s << 13
				*s ^= *s >> 7
				*s ^= *s << 17
				return float32(int64(*s>>40)-(1<<23)) / float32(1<<23) * 0.03
			}
			// only the big matrices take dt; vectors stay float32
			if dt == tensor.F32 || len(w.Shape) != 2 {
				w.DType, w.F32 = tensor.F32, make([]float32, w.Numel()+16)[misalign:][:w.Numel()]
				for i := range w.F32 {
					w.F32[i] = next()
				}
				return
			}
			w.DType, w.Half = dt, make([]uint16, w.Numel()+16)[misalign:][:w.Numel()]
			for i := range w.Half {
				w.Half[i] = tensor.F32ToBF16(next())
			}
			return
		}
		randomize(v.Elem(), seen, s, dt)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				randomize(v.Field(i), seen, s, dt)
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			randomize(v.Index(i), seen, s, dt)
		}
	}
}

func procCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestViTgModelBench runs the real-size ViT-g vision tower (39 layers, batch 1) with random
// in-memory weights (float32, and bfloat16 matrices interleaved with GOTR_VITMODEL_BF16=1; nothing
// is written to disk) and prints GFLOP per CPU-second of the process and wall seconds.
// GOTR_VITMODEL=<runs> enables it.
func TestViTgModelBench(t *testing.T) {
	var runs int
	if _, err := fmt.Sscan(os.Getenv("GOTR_VITMODEL"), &runs); err != nil || runs <= 0 {
		t.Skip("GOTR_VITMODEL not set")
	}
	cfg := blip2.NewBlip2VisionConfig()
	dts := []tensor.DType{tensor.F32}
	if os.Getenv("GOTR_VITMODEL_BF16") != "" {
		dts = append(dts, tensor.BF16)
	}
	models := map[tensor.DType]*blip2.Blip2VisionModel{}
	for _, dt := range dts {
		m, err := blip2.NewBlip2VisionModel(cfg, weights.NewShapeBinder())
		if err != nil {
			t.Fatal(err)
		}
		s := uint64(88172645463325252)
		randomize(reflect.ValueOf(m), map[uintptr]bool{}, &s, dt)
		models[dt] = m
	}
	d, f := float64(cfg.HiddenSize), float64(cfg.IntermediateSize)
	p := float64((cfg.ImageSize / cfg.PatchSize) * (cfg.ImageSize / cfg.PatchSize))
	tk := p + 1
	flops := 2*p*d*3*float64(cfg.PatchSize*cfg.PatchSize) + float64(cfg.NumHiddenLayers)*(2*tk*(4*d*d+2*d*f)+4*tk*tk*d)
	x := tensor.New(1, 3, cfg.ImageSize, cfg.ImageSize)
	for i := range x.Data {
		x.Data[i] = float32(i%251)/251 - 0.5
	}
	cpu, wall := map[tensor.DType][]float64{}, map[tensor.DType][]float64{}
	ctx := context.Background()
	for it := range runs + 1 {
		for _, dt := range dts {
			w0, c0 := time.Now(), procCPU()
			if _, err := models[dt].Forward(ctx, x, blip2.VisionOptions{}); err != nil {
				t.Fatal(err)
			}
			c, w := procCPU()-c0, time.Since(w0)
			if it > 0 {
				cpu[dt] = append(cpu[dt], flops/c.Seconds()/1e9)
				wall[dt] = append(wall[dt], w.Seconds())
			}
		}
	}
	fmt.Printf("%.1f GFLOP per image, GOMAXPROCS=%d, weights misaligned by %d elements\n", flops/1e9, runtime.GOMAXPROCS(0), misalign)
	for _, dt := range dts {
		slices.Sort(cpu[dt])
		slices.Sort(wall[dt])
		fmt.Printf("%-5s GFLOP/s per CPU-second median %.1f (%.1f..%.1f), x%d = %.1f; wall median %.2f s (%.2f..%.2f)\n",
			dt, cpu[dt][runs/2], cpu[dt][0], cpu[dt][runs-1], runtime.GOMAXPROCS(0), cpu[dt][runs/2]*float64(runtime.GOMAXPROCS(0)), wall[dt][runs/2], wall[dt][0], wall[dt][runs-1])
	}
}
