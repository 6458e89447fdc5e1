package weights

import (
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/gotransformers/gotransformers/transformers/tensor"

	"github.com/stretchr/testify/require"
)

const fixtures = "../../parity/testdata"

func TestLoadFixtures(t *testing.T) {
	for _, dir := range []string{"blip2-opt", "blip2-opt-legacy-fp16", "blip2-flan-t5", "opt", "flan-t5"} {
		t.Run(dir, func(t *testing.T) {
			sd, err := LoadStateDict(filepath.Join(fixtures, dir))
			require.NoError(t, err)
			defer sd.Close()
			require.NotZero(t, sd.Len())
			for _, k := range sd.Keys() {
				w, ok := sd.Get(k)
				require.True(t, ok)
				require.False(t, w.ShapeOnly(), k)
				require.Equal(t, w.Numel(), max(len(w.F32), len(w.Half)), k)
				if w.Numel() > 0 {
					// Files written by the reference library keep every tensor aligned: all views.
					var data []byte
					for _, f := range sd.files {
						if f.Path() == sd.Source(k) {
							data = f.(*Safetensors).data
						}
					}
					require.True(t, within(data, w), "%s is a copy", k)
				}
			}
		})
	}
}

// within reports whether a weight's storage lies inside data (a zero-copy view).
func within(data []byte, w *tensor.Weight) bool {
	var p uintptr
	switch {
	case len(w.F32) > 0:
		p = uintptr(unsafe.Pointer(&w.F32[0]))
	case len(w.Half) > 0:
		p = uintptr(unsafe.Pointer(&w.Half[0]))
	default:
		return false
	}
	lo := uintptr(unsafe.Pointer(&data[0]))
	return p >= lo && p < lo+uintptr(len(data))
}
