package weights

import (
	"os"
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

// A Hugging Face cache snapshot: the folder holds symbolic links into blobs/.
func TestStateDictClose(t *testing.T) {
	sd, err := LoadStateDict(filepath.Join(fixtures, "opt"))
	require.NoError(t, err)
	k := sd.Keys()[0]
	_, ok := sd.Get(k)
	require.True(t, ok)
	require.NoError(t, sd.Close())
	_, ok = sd.Get(k)
	require.False(t, ok, "no dangling views after Close")
	require.NoError(t, sd.Close(), "Close twice")
}

func TestLoadSymlinkedSnapshotAndFilePaths(t *testing.T) {
	root := t.TempDir()
	blobs := filepath.Join(root, "blobs")
	snap := filepath.Join(root, "snapshots", "abc")
	require.NoError(t, os.MkdirAll(blobs, 0o755))
	require.NoError(t, os.MkdirAll(snap, 0o755))
	for _, name := range []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", SafetensorsIndexName} {
		b, err := os.ReadFile(filepath.Join(fixtures, "opt", name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(blobs, "sha-"+name), b, 0o644))
		require.NoError(t, os.Symlink(filepath.Join("..", "..", "blobs", "sha-"+name), filepath.Join(snap, name)))
	}
	sd, err := LoadStateDict(snap)
	require.NoError(t, err)
	n := sd.Len()
	require.NotZero(t, n)
	require.NoError(t, sd.Close())

	sd, err = LoadStateDict(filepath.Join(snap, SafetensorsIndexName))
	require.NoError(t, err)
	require.Equal(t, n, sd.Len())
	require.NoError(t, sd.Close())

	sd, err = LoadStateDict(filepath.Join(fixtures, "flan-t5", PytorchName))
	require.NoError(t, err)
	_, ok := sd.Get("encoder.embed_tokens.weight")
	require.True(t, ok, "loaded the .bin, which lists the tied keys")
	require.NoError(t, sd.Close())
}

// readWhole is the reader used where mmap is unavailable (and when a file system refuses it).
func TestReadWholeFallback(t *testing.T) {
	p := filepath.Join(fixtures, "opt", "model-00002-of-00002.safetensors")
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)
	data, release, err := readWhole(f, st.Size())
	require.NoError(t, err)
	defer release()
	want, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, want, data)
	mapped, unmap, err := mapFile(f, st.Size())
	require.NoError(t, err)
	require.Equal(t, want, mapped)
	require.NoError(t, unmap())
}
