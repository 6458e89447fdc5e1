package weights

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// BenchmarkOpenSafetensors256MB opens and closes a 256 MB file of 64 tensors (mmap + header check).
func BenchmarkOpenSafetensors256MB(b *testing.B) {
	dir := b.TempDir()
	p := filepath.Join(dir, "big.safetensors")
	ts := map[string]*tensor.Weight{}
	data := make([]float32, 1<<20) // 4 MB, shared by every tensor
	for i := 0; i < 64; i++ {
		ts["layers."+strconv.Itoa(i)+".weight"] = &tensor.Weight{Shape: []int{1024, 1024}, F32: data}
	}
	require.NoError(b, SaveSafetensors(p, ts, nil))
	b.ResetTimer()
	for b.Loop() {
		st, err := OpenSafetensors(p)
		if err != nil {
			b.Fatal(err)
		}
		for _, k := range st.Keys() {
			if _, err := st.Weight(k); err != nil {
				b.Fatal(err)
			}
		}
		st.Close()
	}
}

func BenchmarkSaveSafetensors64MB(b *testing.B) {
	dir := b.TempDir()
	ts := map[string]*tensor.Weight{"w": {Shape: []int{4096, 4096}, F32: make([]float32, 4096*4096)}}
	b.SetBytes(4096 * 4096 * 4)
	for b.Loop() {
		require.NoError(b, SaveSafetensors(filepath.Join(dir, "m.safetensors"), ts, nil))
	}
	os.RemoveAll(dir)
}

func BenchmarkOpenTorchFlanT5(b *testing.B) {
	p := filepath.Join(fixtures, "flan-t5", PytorchName)
	for b.Loop() {
		tf, err := OpenTorch(p)
		if err != nil {
			b.Fatal(err)
		}
		tf.Close()
	}
}

func BenchmarkLoadStateDictBlip2FlanT5Sharded(b *testing.B) {
	dir := filepath.Join(fixtures, "blip2-flan-t5")
	for b.Loop() {
		sd, err := LoadStateDict(dir)
		if err != nil {
			b.Fatal(err)
		}
		sd.Close()
	}
}
