package weights

import (
	"archive/zip"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// TestWriteFuzzSeeds regenerates testdata/fuzz/*/seed-* (run with GT_WRITE_FUZZ_SEEDS=1). The seeds
// are committed; the fuzzer's own finds go to the same folders under other names.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("GT_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set GT_WRITE_FUZZ_SEEDS=1 to rewrite the seed corpora")
	}
	write := func(target, name string, data []byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(body), 0o644))
	}

	// safetensors: a valid multi-dtype file written by SaveSafetensors, and one per bad-input class.
	p := filepath.Join(t.TempDir(), "s.safetensors")
	require.NoError(t, SaveSafetensors(p, map[string]*tensor.Weight{
		"a.weight": {Shape: []int{2, 2}, F32: []float32{1, 2, 3, 4}},
		"b":        {Shape: []int{3}, DType: tensor.BF16, Half: []uint16{1, 2, 3}},
		"c":        {Shape: []int{0}, DType: tensor.F16, Half: []uint16{}},
	}, map[string]string{"format": "pt"}))
	valid, err := os.ReadFile(p)
	require.NoError(t, err)
	write("FuzzSafetensorsHeader", "valid", valid)
	write("FuzzSafetensorsHeader", "i64", stFile(`{"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"u":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}`, make([]byte, 11)))
	write("FuzzSafetensorsHeader", "overlap", stFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)))
	write("FuzzSafetensorsHeader", "forged-1tb", stFile(`{"w":{"dtype":"F32","shape":[262144,262144,4],"data_offsets":[0,1099511627776]}}`, make([]byte, 8)))
	write("FuzzSafetensorsHeader", "overflow", stFile(`{"w":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}}`, nil))
	write("FuzzSafetensorsHeader", "truncated", valid[:len(valid)/2])

	// index files
	opt, err := os.ReadFile(filepath.Join(fixtures, "opt", SafetensorsIndexName))
	require.NoError(t, err)
	write("FuzzIndex", "opt", opt)
	write("FuzzIndex", "dotdot", []byte(`{"weight_map":{"a":"../x.safetensors"}}`))
	write("FuzzIndex", "float-total", []byte(`{"metadata":{"total_size":1.5e3},"weight_map":{"a":"x"}}`))

	// pickles: the real flan-t5 data.pkl, a forged OrderedDict with a parameter and a transposed
	// view, and a disallowed global.
	tf, err := OpenTorch(filepath.Join(fixtures, "flan-t5", PytorchName))
	require.NoError(t, err)
	defer tf.Close()
	zr, err := zip.OpenReader(filepath.Join(fixtures, "flan-t5", PytorchName))
	require.NoError(t, err)
	defer zr.Close()
	for _, zf := range zr.File {
		if filepath.Base(zf.Name) == "data.pkl" {
			b, err := tf.entryBytes(zf, int64(zf.UncompressedSize64))
			require.NoError(t, err)
			write("FuzzUnpickle", "flan-t5", b)
		}
	}
	specs := []tensorSpec{
		{name: "w", storageType: "FloatStorage", key: "0", numel: 6, size: []int64{2, 3}, stride: []int64{3, 1}, param: true},
		{name: "t", storageType: "FloatStorage", key: "0", numel: 6, size: []int64{3, 2}, stride: []int64{1, 3}},
		{name: "h", storageType: "HalfStorage", key: "1", numel: 2, offset: 1, size: []int64{1}, stride: []int64{1}},
	}
	pkl := statePickle(specs)
	write("FuzzUnpickle", "forged", pkl)
	write("FuzzUnpickle", "os-system", (&pw{}).op(0x80, 2).global("os", "system").str("true").op(0x85, 'R', '.').b)
	storages := map[string][]byte{"0": f32s(6), "1": {0, 0x3c, 0, 0x40}}
	write("FuzzTorchZip", "stored", torchZip(t, pkl, storages, zip.Store, "little"))
	write("FuzzTorchZip", "deflate", torchZip(t, pkl, storages, zip.Deflate, ""))
}
