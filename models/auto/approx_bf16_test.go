package auto

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/transformers"
	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// modelWeights collects every *tensor.Weight reachable from v through exported fields, once each.
func modelWeights(v reflect.Value, seen map[uintptr]bool, out *[]*tensor.Weight) {
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			modelWeights(v.Elem(), seen, out)
		}
	case reflect.Pointer:
		if v.IsNil() || seen[v.Pointer()] {
			return
		}
		seen[v.Pointer()] = true
		if w, ok := v.Interface().(*tensor.Weight); ok {
			*out = append(*out, w)
			return
		}
		modelWeights(v.Elem(), seen, out)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				modelWeights(v.Field(i), seen, out)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			modelWeights(v.Index(i), seen, out)
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			modelWeights(it.Value(), seen, out)
		}
	}
}

// TestWithApproxBF16Dot loads every model kind with and without transformers.WithApproxBF16Dot:
// with it, every bf16 weight (stored as bf16, or converted by WithDType) carries
// Weight.ApproxBF16Dot and no other weight does; without it, no weight does.
func TestWithApproxBF16Dot(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join("..", "..", "parity", "testdata")
	bf16 := transformers.WithDType(tensor.BF16)
	cases := []struct {
		name     string
		dir      string
		opts     []transformers.Option
		wantBF16 bool // the loaded model has bf16 weights
		vision   bool // load with blip2.VisionModelFromPretrained
	}{
		{"blip2-flan-t5 stored bf16", "blip2-flan-t5", nil, true, false},
		{"blip2-opt f32 to bf16", "blip2-opt", []transformers.Option{bf16}, true, false},
		{"blip2-opt f32", "blip2-opt", nil, false, false},
		{"blip2-opt-legacy-fp16 f16", "blip2-opt-legacy-fp16", nil, false, false},
		{"blip2 vision f32 to bf16", "blip2-opt", []transformers.Option{bf16}, true, true},
		{"opt f32 to bf16", "opt", []transformers.Option{bf16}, true, false},
		{"flan-t5 f32 to bf16", "flan-t5", []transformers.Option{bf16}, true, false},
	}
	load := func(dir string, vision bool, opts []transformers.Option) Model {
		var m Model
		var err error
		if vision {
			m, err = blip2.VisionModelFromPretrained(ctx, filepath.Join(root, dir), opts...)
		} else {
			m, err = ModelFromPretrained(ctx, filepath.Join(root, dir), opts...)
		}
		require.NoError(t, err, dir)
		return m
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			off := load(c.dir, c.vision, c.opts)
			defer off.Close()
			var offW []*tensor.Weight
			modelWeights(reflect.ValueOf(off), map[uintptr]bool{}, &offW)
			require.NotEmpty(t, offW)
			nBF16 := 0
			for _, w := range offW {
				require.False(t, w.ApproxBF16Dot, "off: a %s weight %v is marked", w.DType, w.Shape)
				if w.DType == tensor.BF16 && !w.ShapeOnly() {
					nBF16++
				}
			}
			require.Equal(t, c.wantBF16, nBF16 > 0, "bf16 weights without the option")

			on := load(c.dir, c.vision, append(append([]transformers.Option(nil), c.opts...), transformers.WithApproxBF16Dot()))
			defer on.Close()
			var onW []*tensor.Weight
			modelWeights(reflect.ValueOf(on), map[uintptr]bool{}, &onW)
			require.Len(t, onW, len(offW), "same weights with the option")
			marked := 0
			for i, w := range onW {
				require.Equal(t, w.DType == tensor.BF16 && !w.ShapeOnly(), w.ApproxBF16Dot, "on: a %s weight %v", w.DType, w.Shape)
				if w.ApproxBF16Dot {
					marked++
				}
				// the same weights otherwise: dtype, shape, data
				o := offW[i]
				require.Equal(t, o.DType, w.DType)
				require.Equal(t, o.Shape, w.Shape)
				require.Equal(t, o.Half, w.Half)
				require.Equal(t, o.F32, w.F32)
			}
			require.Equal(t, nBF16, marked)
			// the option did not reach the weights of the model loaded without it
			for _, w := range offW {
				require.False(t, w.ApproxBF16Dot)
			}
		})
	}
}
