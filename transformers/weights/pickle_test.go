package weights

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// pw writes pickle opcodes (protocol 2), enough to forge torch.save state dicts in tests.
type pw struct{ b []byte }

func (p *pw) op(b ...byte) *pw { p.b = append(p.b, b...); return p }
func (p *pw) str(s string) *pw {
	p.op('X')
	p.b = binary.LittleEndian.AppendUint32(p.b, uint32(len(s)))
	p.b = append(p.b, s...)
	return p
}
func (p *pw) int(n int64) *pw {
	if n >= 0 && n < 1<<31 {
		p.op('J')
		p.b = binary.LittleEndian.AppendUint32(p.b, uint32(n))
		return p
	}
	p.op(0x8a, 8)
	p.b = binary.LittleEndian.AppendUint64(p.b, uint64(n))
	return p
}
func (p *pw) global(mod, name string) *pw { return p.op('c').op([]byte(mod + "\n" + name + "\n")...) }
func (p *pw) ints(v ...int64) *pw {
	p.op('(')
	for _, x := range v {
		p.int(x)
	}
	return p.op('t')
}

// tensor emits _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()).
func (p *pw) tensor(storageType, key string, numel, offset int64, size, stride []int64) *pw {
	p.global("torch._utils", "_rebuild_tensor_v2").op('(')
	p.op('(').str("storage").global("torch", storageType).str(key).str("cpu").int(numel).op('t', 'Q')
	p.int(offset).ints(size...).ints(stride...).op(0x89)
	p.global("collections", "OrderedDict").op(')', 'R')
	return p.op('t', 'R')
}

type tensorSpec struct {
	name, storageType, key string
	numel, offset          int64
	size, stride           []int64
	param                  bool
}

// statePickle writes an OrderedDict state dict with a BUILD of its _metadata, as torch does.
func statePickle(ts []tensorSpec) []byte {
	p := (&pw{}).op(0x80, 2).global("collections", "OrderedDict").op(')', 'R', 'q', 0, '(')
	for _, t := range ts {
		p.str(t.name)
		if t.param {
			p.global("torch._utils", "_rebuild_parameter").op('(')
		}
		p.tensor(t.storageType, t.key, t.numel, t.offset, t.size, t.stride)
		if t.param {
			p.op(0x88).global("collections", "OrderedDict").op(')', 'R', 't', 'R')
		}
	}
	p.op('u')
	p.op('}').str("_metadata").global("collections", "OrderedDict").op(')', 'R').op('s', 'b')
	return p.op('.').b
}

// torchZip writes a torch.save archive: archive/data.pkl, archive/data/<key>, archive/byteorder.
func torchZip(t *testing.T, pkl []byte, storages map[string][]byte, method uint16, byteorder string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, b []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		require.NoError(t, err)
		_, err = w.Write(b)
		require.NoError(t, err)
	}
	add("archive/data.pkl", pkl)
	if byteorder != "" {
		add("archive/byteorder", []byte(byteorder))
	}
	for k, v := range storages {
		add("archive/data/"+k, v)
	}
	add("archive/version", []byte("3\n"))
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func f32s(n int) []byte {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i)
	}
	return f32bytes(v...)
}

func TestTorchForged(t *testing.T) {
	i64 := make([]byte, 24)
	for i := 0; i < 3; i++ {
		binary.LittleEndian.PutUint64(i64[8*i:], uint64(int64(i)-1))
	}
	half := []byte{0x80, 0x3f, 0x00, 0x40, 0x40, 0x40} // BF16 1, 2, 3
	specs := []tensorSpec{
		{name: "full", storageType: "FloatStorage", key: "0", numel: 12, size: []int64{3, 4}, stride: []int64{4, 1}},
		{name: "offset", storageType: "FloatStorage", key: "0", numel: 12, offset: 4, size: []int64{2, 4}, stride: []int64{4, 1}},
		{name: "transposed", storageType: "FloatStorage", key: "0", numel: 12, size: []int64{4, 3}, stride: []int64{1, 4}, param: true},
		{name: "column", storageType: "FloatStorage", key: "0", numel: 12, offset: 1, size: []int64{3, 1}, stride: []int64{4, 1}},
		{name: "scalar", storageType: "FloatStorage", key: "0", numel: 12, offset: 5, size: []int64{}, stride: []int64{}},
		{name: "bf16", storageType: "BFloat16Storage", key: "1", numel: 3, size: []int64{3}, stride: []int64{1}},
		{name: "ids", storageType: "LongStorage", key: "2", numel: 3, size: []int64{3}, stride: []int64{1}},
		{name: "empty", storageType: "FloatStorage", key: "0", numel: 12, size: []int64{0, 4}, stride: []int64{4, 1}},
	}
	storages := map[string][]byte{"0": f32s(12), "1": half, "2": i64}
	for _, method := range []uint16{zip.Store, zip.Deflate} {
		file := torchZip(t, statePickle(specs), storages, method, "little")
		tf, err := parseTorch("forged.bin", file)
		require.NoError(t, err)
		require.Equal(t, []string{"full", "offset", "transposed", "column", "scalar", "bf16", "ids", "empty"}, tf.Keys())
		get := func(name string) *tensor.Weight {
			w, err := tf.Weight(name)
			require.NoError(t, err, name)
			return w
		}
		require.Equal(t, []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, get("full").F32)
		require.Equal(t, []int{3, 4}, get("full").Shape)
		require.Equal(t, []float32{4, 5, 6, 7, 8, 9, 10, 11}, get("offset").F32)
		require.Equal(t, []float32{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}, get("transposed").F32)
		require.Equal(t, []float32{1, 5, 9}, get("column").F32)
		require.Equal(t, []float32{5}, get("scalar").F32)
		require.Equal(t, []int{}, get("scalar").Shape)
		require.Equal(t, []uint16{0x3f80, 0x4000, 0x4040}, get("bf16").Half)
		require.Equal(t, tensor.BF16, get("bf16").DType)
		require.False(t, get("empty").ShapeOnly())
		ids, shape, err := tf.Int64("ids")
		require.NoError(t, err)
		require.Equal(t, []int64{-1, 0, 1}, ids)
		require.Equal(t, []int{3}, shape)
		dt, _, _ := tf.Info("ids")
		require.Equal(t, "I64", dt)
		_, err = tf.Weight("ids")
		require.ErrorIs(t, err, ErrUnsupportedDType)
		if method == zip.Store {
			// Stored contiguous tensors are views of the file (the weight itself is a copy only
			// when Go's zip writer left the data unaligned; torch aligns to 64 bytes).
			raw := tf.tensors["full"].raw
			require.Same(t, &file[bytes.Index(file, f32s(12))], &raw[0])
		}
		require.False(t, within(file, get("transposed")))
	}
}

func TestTorchBadInput(t *testing.T) {
	ok := []tensorSpec{{name: "w", storageType: "FloatStorage", key: "0", numel: 4, size: []int64{4}, stride: []int64{1}}}
	st := map[string][]byte{"0": f32s(4)}
	evil := func(build func(p *pw)) []byte {
		p := (&pw{}).op(0x80, 2)
		build(p)
		return p.op('.').b
	}
	cases := []struct {
		name string
		file []byte
		want string
		is   error
	}{
		{"os.system", torchZip(t, evil(func(p *pw) { p.global("os", "system").str("echo hi").op(0x85, 'R') }), nil, zip.Store, ""), "os.system is not allowed", ErrDisallowedGlobal},
		{"builtins.eval via STACK_GLOBAL", torchZip(t, evil(func(p *pw) { p.str("builtins").str("eval").op(0x93) }), nil, zip.Store, ""), "builtins.eval is not allowed", ErrDisallowedGlobal},
		{"torch.load nested", torchZip(t, evil(func(p *pw) { p.global("torch", "load") }), nil, zip.Store, ""), "torch.load is not allowed", ErrDisallowedGlobal},
		{"storage type called", torchZip(t, evil(func(p *pw) { p.global("torch", "FloatStorage").op(')', 'R') }), nil, zip.Store, ""), "REDUCE target torch.FloatStorage", ErrDisallowedGlobal},
		{"INST opcode", torchZip(t, evil(func(p *pw) { p.op('(').op([]byte("ios\nsystem\n")...) }), nil, zip.Store, ""), "opcode 0x69", ErrFormat},
		{"NEWOBJ opcode", torchZip(t, evil(func(p *pw) { p.global("collections", "OrderedDict").op(')', 0x81) }), nil, zip.Store, ""), "opcode 0x81", ErrFormat},
		{"underflow", torchZip(t, evil(func(p *pw) { p.op('R') }), nil, zip.Store, ""), "underflow", ErrFormat},
		{"memo unset", torchZip(t, evil(func(p *pw) { p.op('h', 7) }), nil, zip.Store, ""), "memo 7", ErrFormat},
		{"truncated", torchZip(t, []byte{0x80, 2, 'X', 0xff, 0xff, 0xff, 0x7f, 'a'}, nil, zip.Store, ""), "truncated", ErrFormat},
		{"no stop", torchZip(t, []byte{0x80, 2, '}'}, nil, zip.Store, ""), "truncated", ErrFormat},
		{"not a dict", torchZip(t, evil(func(p *pw) { p.op(']') }), nil, zip.Store, ""), "holds a list", ErrFormat},
		{"non-tensor value", torchZip(t, evil(func(p *pw) { p.op('}').str("a").int(3).op('s') }), nil, zip.Store, ""), `"a" is a int64`, ErrFormat},
		{"missing storage", torchZip(t, statePickle(ok), nil, zip.Store, ""), "storage entry archive/data/0 is missing", ErrFormat},
		{"short storage", torchZip(t, statePickle(ok), map[string][]byte{"0": f32s(3)}, zip.Store, ""), "holds 12 bytes", ErrFormat},
		{"past storage", torchZip(t, statePickle([]tensorSpec{{name: "w", storageType: "FloatStorage", key: "0", numel: 4, offset: 2, size: []int64{4}, stride: []int64{1}}}), st, zip.Store, ""), "run past storage", ErrFormat},
		{"forged huge size", torchZip(t, statePickle([]tensorSpec{{name: "w", storageType: "FloatStorage", key: "0", numel: 4, size: []int64{1 << 20, 1 << 20}, stride: []int64{1 << 20, 1}}}), st, zip.Store, ""), "storage 0 holds 4", ErrFormat},
		{"overflowing size", torchZip(t, statePickle([]tensorSpec{{name: "w", storageType: "FloatStorage", key: "0", numel: 4, size: []int64{1 << 40, 1 << 40}, stride: []int64{0, 0}}}), st, zip.Store, ""), "overflows", ErrFormat},
		{"zero-size huge dim", torchZip(t, statePickle([]tensorSpec{{name: "w", storageType: "FloatStorage", key: "0", numel: 4, size: []int64{0, 1 << 62}, stride: []int64{1, 1}}}), st, zip.Store, ""), "exceeds", ErrFormat},
		{"forged numel", torchZip(t, statePickle([]tensorSpec{{name: "w", storageType: "FloatStorage", key: "0", numel: 1 << 62, size: []int64{4}, stride: []int64{1}}}), st, zip.Store, ""), "holds 16 bytes", ErrFormat},
		{"bad storage key", torchZip(t, statePickle([]tensorSpec{{name: "w", storageType: "FloatStorage", key: "../0", numel: 4, size: []int64{4}, stride: []int64{1}}}), st, zip.Store, ""), "bad persistent id", ErrFormat},
		{"unknown storage type", torchZip(t, evil(func(p *pw) { p.global("torch", "ComplexFloatStorage") }), nil, zip.Store, ""), "not allowed", ErrDisallowedGlobal},
		{"big endian", torchZip(t, statePickle(ok), st, zip.Store, "big"), "byteorder", ErrFormat},
		{"no data.pkl", torchZip(t, nil, nil, zip.Store, "")[0:0], "not a torch.save zip", ErrFormat},
		{"legacy", []byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.'}, "legacy", ErrFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseTorch("evil.bin", c.file)
			require.Error(t, err)
			require.ErrorIs(t, err, c.is)
			require.ErrorContains(t, err, "evil.bin")
			require.ErrorContains(t, err, c.want)
		})
	}
}

// A side effect the allow-list must block: nothing runs, no file appears.
func TestTorchNeverExecutes(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "pwned")
	p := (&pw{}).op(0x80, 2).global("os", "system").str("touch "+marker).op(0x85, 'R', '.')
	path := filepath.Join(dir, "pytorch_model.bin")
	require.NoError(t, os.WriteFile(path, torchZip(t, p.b, nil, zip.Store, ""), 0o644))
	_, err := LoadStateDict(dir)
	require.ErrorIs(t, err, ErrDisallowedGlobal)
	_, err = os.Stat(marker)
	require.True(t, os.IsNotExist(err))
}

func TestTorchShardedIndex(t *testing.T) {
	dir := t.TempDir()
	s1 := []tensorSpec{{name: "a", storageType: "FloatStorage", key: "0", numel: 4, size: []int64{2, 2}, stride: []int64{2, 1}}}
	s2 := []tensorSpec{{name: "b", storageType: "HalfStorage", key: "0", numel: 2, size: []int64{2}, stride: []int64{1}}}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pytorch_model-00001-of-00002.bin"), torchZip(t, statePickle(s1), map[string][]byte{"0": f32s(4)}, zip.Store, "little"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pytorch_model-00002-of-00002.bin"), torchZip(t, statePickle(s2), map[string][]byte{"0": {0, 0x3c, 0, 0xc0}}, zip.Store, "little"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, PytorchIndexName), []byte(`{"metadata":{"total_size":20},"weight_map":{"a":"pytorch_model-00001-of-00002.bin","b":"pytorch_model-00002-of-00002.bin"}}`), 0o644))
	sd, err := LoadStateDict(dir)
	require.NoError(t, err)
	defer sd.Close()
	require.Equal(t, []string{"a", "b"}, sd.Keys())
	b, _ := sd.Get("b")
	require.Equal(t, float32(-2), b.At(1))
	require.Equal(t, tensor.F16, b.DType)
	a, _ := sd.Get("a")
	require.Equal(t, []float32{0, 1, 2, 3}, a.F32)
	require.Equal(t, float32(math.Inf(1)), tensor.F16ToF32(0x7c00))
}
