package weights

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// stFile assembles a safetensors file from a raw header and data.
func stFile(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

func f32bytes(vs ...float32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func TestSafetensorsRead(t *testing.T) {
	data := append(f32bytes(1, 2, 3, 4, 5, 6), 0x00, 0x3c, 0x00, 0xc0) // F16 1, -2
	ids := make([]byte, 16)
	binary.LittleEndian.PutUint64(ids, 7)
	binary.LittleEndian.PutUint64(ids[8:], uint64(math.MaxUint64)) // -1
	data = append(data, ids...)
	hdr := `{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},` +
		`"h":{"dtype":"F16","shape":[2],"data_offsets":[24,28]},"i":{"dtype":"I64","shape":[2],"data_offsets":[28,44]}}`
	for len(hdr)%8 != 0 {
		hdr += " "
	}
	p := writeTemp(t, "a.safetensors", stFile(hdr, data))
	st, err := OpenSafetensors(p)
	require.NoError(t, err)
	defer st.Close()
	require.Equal(t, []string{"w", "h", "i"}, st.Keys())
	require.Equal(t, map[string]string{"format": "pt"}, st.Metadata())
	dt, shape, ok := st.Info("w")
	require.True(t, ok)
	require.Equal(t, "F32", dt)
	require.Equal(t, []int{2, 3}, shape)
	w, err := st.Weight("w")
	require.NoError(t, err)
	require.Equal(t, []float32{1, 2, 3, 4, 5, 6}, w.F32)
	require.True(t, within(st.data, w), "aligned F32 must be a view")
	h, err := st.Float32("h")
	require.NoError(t, err)
	require.Equal(t, []float32{1, -2}, h.Data)
	// I64 at data offset 28 (+8+len(hdr)) is generally unaligned: read either way.
	v, s, err := st.Int64("i")
	require.NoError(t, err)
	require.Equal(t, []int64{7, -1}, v)
	require.Equal(t, []int{2}, s)

	_, err = st.Weight("i")
	require.ErrorIs(t, err, ErrUnsupportedDType)
	require.ErrorContains(t, err, p)
	require.ErrorContains(t, err, `"i"`)
	require.ErrorContains(t, err, "I64")
	_, _, err = st.Int64("w")
	require.ErrorIs(t, err, ErrUnsupportedDType)
	_, err = st.Weight("nope")
	require.ErrorIs(t, err, ErrNotFound)
	require.NoError(t, st.Close())
	_, err = st.Weight("w")
	require.Error(t, err)
}

// A tensor whose data offset is not aligned for its dtype is copied, with the right values.
func TestSafetensorsUnaligned(t *testing.T) {
	for pad := 0; pad < 8; pad++ {
		hdr := fmt.Sprintf(`{"b":{"dtype":"U8","shape":[%d],"data_offsets":[0,%d]},"w":{"dtype":"F32","shape":[3],"data_offsets":[%d,%d]}}`, pad, pad, pad, pad+12)
		for len(hdr)%8 != 0 {
			hdr += " "
		}
		file := stFile(hdr, append(make([]byte, pad), f32bytes(1.5, -2, 3)...))
		h, err := parseSafetensors("mem", file)
		require.NoError(t, err, hdr)
		s := &Safetensors{path: "mem", data: file, h: h}
		w, err := s.Weight("w")
		require.NoError(t, err)
		require.Equal(t, []float32{1.5, -2, 3}, w.F32)
		require.Equal(t, pad%4 == 0, within(file, w), "pad %d", pad)
	}
}

func TestSafetensorsBadInput(t *testing.T) {
	ok := `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	cases := []struct {
		name, want string
		file       []byte
	}{
		{"empty", "too short", nil},
		{"truncated length", "too short", []byte{1, 2, 3}},
		{"header past end", "exceeds the file size", stFile(ok, nil)[:20]},
		{"huge header length", "exceeds the", func() []byte {
			b := make([]byte, 100)
			binary.LittleEndian.PutUint64(b, 1<<40)
			return b
		}()},
		{"truncated data", "run past the data region", stFile(ok, make([]byte, 4))},
		{"trailing data", "cover 8", stFile(ok, make([]byte, 12))},
		{"bad json", "not JSON", stFile(`{"w":{"dtype":"F32",`, make([]byte, 8))},
		{"not an object", "not a JSON object", stFile(`[1,2]`, nil)},
		{"trailing json", "trailing data", stFile(ok+`{}`, make([]byte, 8))},
		{"duplicate key", "appears twice", stFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8))},
		{"unknown dtype", "unknown dtype", stFile(`{"w":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8))},
		{"missing field", "needs dtype", stFile(`{"w":{"dtype":"F32","shape":[2]}}`, make([]byte, 8))},
		{"negative dim", "bad entry", stFile(`{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, make([]byte, 8))},
		{"float dim", "bad entry", stFile(`{"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}`, make([]byte, 8))},
		{"three offsets", "2 numbers", stFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8,9]}}`, make([]byte, 8))},
		{"reversed offsets", "end before", stFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}`, make([]byte, 8))},
		{"shape/length mismatch", "does not fit", stFile(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8))},
		{"overlap", "overlap", stFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12))},
		{"hole", "hole", stFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12))},
		{"metadata not strings", "__metadata__", stFile(`{"__metadata__":{"a":1}}`, nil)},
		{"forged 1 TB", "does not fit", stFile(`{"w":{"dtype":"F32","shape":[262144,262144,4],"data_offsets":[0,8]}}`, make([]byte, 8))},
		{"forged 1 TB offsets", "run past", stFile(`{"w":{"dtype":"F32","shape":[262144,262144,4],"data_offsets":[0,1099511627776]}}`, make([]byte, 8))},
		{"overflowing shape", "does not fit", stFile(`{"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,0]}}`, nil)},
		{"overflow to zero", "does not fit", stFile(`{"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil)},
		{"offset overflow", "bad entry", stFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551617]}}`, make([]byte, 8))},
		{"zero-size huge dim", "exceeds", stFile(`{"w":{"dtype":"F32","shape":[0,9223372036854775808],"data_offsets":[0,0]}}`, nil)},
		{"bad utf8", "UTF-8", stFile("{\"\xff\":{}}", nil)},
		{"rank", "rank", stFile(`{"w":{"dtype":"F32","shape":[`+strings.Repeat("1,", 64)+`1],"data_offsets":[0,4]}}`, make([]byte, 4))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseSafetensors("x.safetensors", c.file)
			require.Error(t, err)
			require.ErrorIs(t, err, ErrFormat)
			require.ErrorContains(t, err, "x.safetensors")
			require.ErrorContains(t, err, c.want)
			// The same through the file API.
			p := writeTemp(t, "x.safetensors", c.file)
			_, err = OpenSafetensors(p)
			require.ErrorIs(t, err, ErrFormat)
		})
	}
	_, err := OpenSafetensors(filepath.Join(t.TempDir(), "missing.safetensors"))
	require.True(t, errors.Is(err, os.ErrNotExist))
	_, err = OpenSafetensors(t.TempDir())
	require.ErrorIs(t, err, ErrFormat)
}

// A zero-element tensor is data, not a shape-only weight.
func TestSafetensorsEmptyTensor(t *testing.T) {
	st, err := parseSafetensors("m", stFile(`{"e":{"dtype":"BF16","shape":[0,5],"data_offsets":[0,0]}}`, nil))
	require.NoError(t, err)
	s := &Safetensors{path: "m", data: stFile(`{"e":{"dtype":"BF16","shape":[0,5],"data_offsets":[0,0]}}`, nil), h: st}
	w, err := s.Weight("e")
	require.NoError(t, err)
	require.False(t, w.ShapeOnly())
	require.Equal(t, []int{0, 5}, w.Shape)
}

func TestSaveSafetensorsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "model.safetensors")
	in := map[string]*tensor.Weight{
		"a.weight": {Shape: []int{2, 3}, DType: tensor.F32, F32: []float32{1, -2, 3.5, 0, float32(math.Inf(1)), 6}},
		"b":        {Shape: []int{3}, DType: tensor.BF16, Half: []uint16{0x3f80, 0xbf80, 0x7fc0}},
		"c":        {Shape: []int{}, DType: tensor.F16, Half: []uint16{0x3c00}},
		"empty":    {Shape: []int{0}, DType: tensor.F32, F32: []float32{}},
	}
	require.NoError(t, SaveSafetensors(p, in, map[string]string{"format": "pt"}))
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	n := binary.LittleEndian.Uint64(raw)
	require.Zero(t, n%8, "header padded to 8 bytes")
	st, err := OpenSafetensors(p)
	require.NoError(t, err)
	defer st.Close()
	require.Equal(t, map[string]string{"format": "pt"}, st.Metadata())
	require.ElementsMatch(t, []string{"a.weight", "b", "c", "empty"}, st.Keys())
	for k, want := range in {
		got, err := st.Weight(k)
		require.NoError(t, err, k)
		require.Equal(t, want.Shape, got.Shape, k)
		require.Equal(t, want.DType, got.DType, k)
		require.Equal(t, want.F32, got.F32, k)
		require.Equal(t, want.Half, got.Half, k)
	}
	// Only the final file is left behind.
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, ents, 1)
}

func TestSaveSafetensorsErrorsLeaveNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "model.safetensors")
	err := SaveSafetensors(p, map[string]*tensor.Weight{"x": {Shape: []int{4}}}, nil)
	require.ErrorIs(t, err, ErrFormat)
	err = SaveSafetensors(p, map[string]*tensor.Weight{"x": {Shape: []int{4}, F32: []float32{1}}}, nil)
	require.ErrorContains(t, err, `"x"`)
	err = SaveSafetensors(filepath.Join(dir, "no", "such", "dir.safetensors"), map[string]*tensor.Weight{}, nil)
	require.Error(t, err)
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, ents)
}
