package weights

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

func vec(v ...float32) *tensor.Weight { return &tensor.Weight{Shape: []int{len(v)}, F32: v} }

func TestBinder(t *testing.T) {
	emb := &tensor.Weight{Shape: []int{3, 2}, F32: []float32{1, 2, 3, 4, 5, 6}}
	sd := NewStateDict(map[string]*tensor.Weight{
		"model.embed.weight":          emb,
		"model.layers.0.fc.weight":    {Shape: []int{1, 2}, F32: []float32{1, 2}},
		"model.layers.0.fc.bias":      vec(7),
		"model.layers.1.fc.weight":    vec(1, 2, 3), // mis-shaped
		"model.layers.1.fc.bias":      vec(8),
		"model.extra":                 vec(0), // unexpected
		"model.buffer":                vec(0), // skipped
		"encoder.embed_tokens.weight": emb,
	})
	b := NewBinder(sd)
	m := b.Pp("model")
	e := m.Pp("embed").Weight("weight", 3, 2)
	require.Same(t, emb, e)
	for i := 0; i < 3; i++ {
		l := m.Pp("layers").Pp(i).Pp("fc")
		w := l.Weight("weight", 1, 2)
		bias := l.Weight("bias", 1)
		switch i {
		case 0:
			require.Equal(t, []float32{1, 2}, w.F32)
			require.Equal(t, []float32{7}, bias.F32)
		default: // mis-shaped (1) and missing (2): shape-only placeholders
			require.True(t, w.ShapeOnly())
			require.Equal(t, []int{1, 2}, w.Shape)
		}
	}
	require.Same(t, e, b.Pp("model.embed").Weight("weight", 3, 2), "asked twice: same weight")
	m.Skip("buffer")
	require.True(t, m.Has("extra"))
	require.Nil(t, m.Optional("absent", 4))
	require.Same(t, e, b.Tied("lm_head.weight", e), "absent tied key shares the parameter")
	require.Same(t, emb, b.Pp("encoder").Tied("embed_tokens.weight", e), "present tied key is bound")

	ks := b.Keys()
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = k.Name
	}
	require.Equal(t, []string{"model.embed.weight", "model.layers.0.fc.weight", "model.layers.0.fc.bias",
		"model.layers.1.fc.weight", "model.layers.1.fc.bias", "model.layers.2.fc.weight", "model.layers.2.fc.bias",
		"lm_head.weight", "encoder.embed_tokens.weight"}, names)
	require.Equal(t, "model.embed.weight", ks[7].TiedTo)
	require.False(t, ks[7].Loaded)
	require.Equal(t, "model.embed.weight", ks[8].TiedTo)
	require.True(t, ks[8].Loaded)
	require.True(t, ks[1].Loaded)
	require.False(t, ks[3].Loaded)

	err := b.Finish()
	require.ErrorIs(t, err, ErrKeys)
	var ke *KeysError
	require.ErrorAs(t, err, &ke)
	require.Equal(t, []string{"model.layers.2.fc.weight", "model.layers.2.fc.bias"}, ke.Missing)
	require.Equal(t, []SourcedKey{{Name: "model.extra"}}, ke.Unexpected)
	require.Equal(t, []MisShaped{{Name: "model.layers.1.fc.weight", Want: []int{1, 2}, Got: []int{3}}}, ke.MisShaped)
	msg := err.Error()
	require.Contains(t, msg, "missing: model.layers.2.fc.bias")
	require.Contains(t, msg, "unexpected: model.extra")
	require.Contains(t, msg, "mis-shaped: model.layers.1.fc.weight: model wants [1 2]")
}

func TestBinderFinishClean(t *testing.T) {
	sd := NewStateDict(map[string]*tensor.Weight{"a.weight": vec(1)})
	b := NewBinder(sd)
	b.Pp("a").Weight("weight", 1)
	require.NoError(t, b.Finish())
}

// Missing, unexpected and mis-shaped keys name their files.
func TestBinderNamesFiles(t *testing.T) {
	dir := shardedDir(t, `{"weight_map":{"a":"s1.safetensors","b":"s1.safetensors","c":"s2.safetensors"}}`)
	sd, err := LoadStateDict(dir)
	require.NoError(t, err)
	defer sd.Close()
	b := NewBinder(sd)
	b.Weight("a", 2)
	b.Weight("b", 2)
	b.Weight("d", 1)
	err = b.Finish()
	require.ErrorContains(t, err, dir)
	require.ErrorContains(t, err, "unexpected: c (in "+filepath.Join(dir, "s2.safetensors")+")")
	require.ErrorContains(t, err, "mis-shaped: b: model wants [2], "+filepath.Join(dir, "s1.safetensors")+" has [1]")
	require.ErrorContains(t, err, "missing: d")
}

func TestBinderDTypeConversion(t *testing.T) {
	src := &tensor.Weight{Shape: []int{3}, F32: []float32{1, -2.5, 3.1}}
	sd := NewStateDict(map[string]*tensor.Weight{"w": src, "keep": vec(1.1)})
	b := NewBinder(sd, WithDType(tensor.BF16))
	w := b.Weight("w", 3)
	require.Equal(t, tensor.BF16, w.DType)
	want := []uint16{tensor.F32ToBF16(1), tensor.F32ToBF16(-2.5), tensor.F32ToBF16(3.1)}
	require.Equal(t, want, w.Half)
	require.Same(t, w, b.Weight("w", 3), "converted once")
	k := b.KeepDType().Weight("keep", 1)
	require.Same(t, sd.entries["keep"].w, k)
	require.NoError(t, b.Finish())

	// bf16 checkpoint to f32 and f16.
	h := &tensor.Weight{Shape: []int{2}, DType: tensor.BF16, Half: []uint16{0x3fc0, 0xc000}} // 1.5, -2
	b = NewBinder(NewStateDict(map[string]*tensor.Weight{"h": h}))
	require.Equal(t, []float32{1.5, -2}, b.WithDType(tensor.F32).Weight("h", 2).F32)
	b = NewBinder(NewStateDict(map[string]*tensor.Weight{"h": h}), WithDType(tensor.F16))
	require.Equal(t, []uint16{0x3e00, 0xc000}, b.Weight("h", 2).Half)
}

func TestBinderApproxBF16Dot(t *testing.T) {
	bf := func() *tensor.Weight {
		return &tensor.Weight{Shape: []int{2}, DType: tensor.BF16, Half: []uint16{0x3fc0, 0xc000}}
	}
	f16 := &tensor.Weight{Shape: []int{2}, DType: tensor.F16, Half: []uint16{0x3e00, 0xc000}}
	stored, f32 := bf(), vec(1, 2)
	sd := NewStateDict(map[string]*tensor.Weight{"bf": stored, "f32": f32, "f16": f16})

	// off (the default): nothing is marked, the state dict's weights are handed out as they are
	b := NewBinder(sd)
	for _, k := range []string{"bf", "f32", "f16"} {
		w := b.Weight(k, 2)
		require.False(t, w.ApproxBF16Dot, k)
		require.Same(t, sd.entries[k].w, w, k)
	}
	require.NoError(t, b.Finish())

	// on: stored bf16 is marked on a copy of the header sharing the data; others are left alone
	b = NewBinder(sd, WithApproxBF16Dot())
	w := b.Weight("bf", 2)
	require.True(t, w.ApproxBF16Dot)
	require.Equal(t, tensor.BF16, w.DType)
	require.Same(t, &stored.Half[0], &w.Half[0], "data shared")
	require.False(t, stored.ApproxBF16Dot, "the state dict's weight is not written")
	require.Same(t, w, b.Weight("bf", 2), "bound once")
	require.Same(t, w, b.Tied("tied", w), "a tie shares the marked weight")
	require.Same(t, f32, b.Weight("f32", 2))
	require.Same(t, f16, b.Weight("f16", 2))
	require.False(t, f32.ApproxBF16Dot || f16.ApproxBF16Dot)
	require.True(t, b.Pp("x").KeepDType().approx, "children inherit the option")
	require.Nil(t, b.Optional("absent", 2))
	require.False(t, b.Weight("missing", 2).ApproxBF16Dot, "placeholders are not marked")

	// on with WithDType(BF16): converted weights are marked too, whatever their source dtype
	b = NewBinder(sd, WithDType(tensor.BF16), WithApproxBF16Dot())
	for _, k := range []string{"bf", "f32", "f16"} {
		w := b.Weight(k, 2)
		require.Equal(t, tensor.BF16, w.DType, k)
		require.True(t, w.ApproxBF16Dot, k)
	}
	require.False(t, stored.ApproxBF16Dot)
	// and a module kept in float32 is not
	b = NewBinder(sd, WithDType(tensor.BF16), WithApproxBF16Dot())
	w = b.WithDType(tensor.F32).Weight("f32", 2)
	require.Equal(t, tensor.F32, w.DType)
	require.False(t, w.ApproxBF16Dot)
}

func TestShapeBinder(t *testing.T) {
	b := NewShapeBinder(WithDType(tensor.BF16))
	require.True(t, b.ShapeOnly())
	w := b.Pp("x").Pp(0).Weight("weight", 10, 20)
	require.True(t, w.ShapeOnly())
	require.Equal(t, tensor.BF16, w.DType)
	require.Same(t, w, b.Tied("y", w))
	require.NoError(t, b.Finish())
	require.Equal(t, []KeyInfo{
		{Name: "x.0.weight", Shape: []int{10, 20}, DType: tensor.BF16},
		{Name: "y", Shape: []int{10, 20}, DType: tensor.BF16, TiedTo: "x.0.weight"},
	}, b.Keys())
	b.Weight("x.0.weight", 3)
	require.ErrorContains(t, b.Finish(), "asked twice")
}

// A 15 GB-sized tree (BLIP-2 OPT-2.7b: about 1000 tensors, largest 50304x2560) needs no weight
// memory in shape-only mode.
func TestShapeBinderBigTreeNoMemory(t *testing.T) {
	idx, err := ReadIndex(filepath.Join(fixtures, "real-blip2-opt-2.7b", SafetensorsIndexName))
	require.NoError(t, err)
	b := NewBinder(NewIndexStateDict(idx))
	var total int64
	for _, k := range idx.Keys() {
		w := b.Weight(k, 2560, 2560)
		total += w.Bytes()
	}
	require.Greater(t, total, int64(2<<30))
	require.NoError(t, b.Finish())
}

func BenchmarkShapeBinderOPT27(bm *testing.B) {
	idx, err := ReadIndex(filepath.Join(fixtures, "real-blip2-opt-2.7b", SafetensorsIndexName))
	require.NoError(bm, err)
	keys := idx.Keys()
	for bm.Loop() {
		b := NewBinder(NewIndexStateDict(idx))
		for i, k := range keys {
			b.Pp(fmt.Sprint(i%3)).Weight(k[len(k)-1:], 2560, 2560)
		}
	}
}

// Non-floating tensors are listed, readable with Int64, reported as unexpected unless skipped and
// as mis-typed when bound as weights.
func TestStateDictNonFloat(t *testing.T) {
	dir := t.TempDir()
	hdr := `{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},"pos":{"dtype":"I64","shape":[1],"data_offsets":[16,24]},"w":{"dtype":"F32","shape":[1],"data_offsets":[24,28]}}`
	for len(hdr)%8 != 0 {
		hdr += " "
	}
	data := make([]byte, 28)
	data[0], data[8], data[16] = 5, 6, 7
	require.NoError(t, os.WriteFile(filepath.Join(dir, SafetensorsName), stFile(hdr, data), 0o644))
	sd, err := LoadStateDict(dir)
	require.NoError(t, err)
	defer sd.Close()
	require.Equal(t, []string{"ids", "pos", "w"}, sd.Keys())
	_, ok := sd.Get("ids")
	require.False(t, ok)
	require.True(t, sd.Has("ids"))
	dt, shape, ok := sd.Info("ids")
	require.True(t, ok)
	require.Equal(t, "I64", dt)
	require.Equal(t, []int{2}, shape)
	v, _, err := sd.Int64("ids")
	require.NoError(t, err)
	require.Equal(t, []int64{5, 6}, v)
	dt, _, _ = sd.Info("w")
	require.Equal(t, "F32", dt)

	b := NewBinder(sd)
	b.Weight("w", 1)
	b.Weight("ids", 2)
	err = b.Finish()
	require.ErrorContains(t, err, "mis-typed: ids: model wants a float weight [2], "+filepath.Join(dir, SafetensorsName)+" has I64 [2]")
	require.ErrorContains(t, err, "unexpected: pos")
	b.Skip("pos")
	var ke *KeysError
	require.ErrorAs(t, b.Finish(), &ke)
	require.Empty(t, ke.Unexpected)
}

// Large conversions run in parallel chunks; every element must match the scalar conversion.
func TestConvertWeightLarge(t *testing.T) {
	n := 300007
	src := &tensor.Weight{Shape: []int{n}, F32: make([]float32, n)}
	for i := range src.F32 {
		src.F32[i] = float32(i)*0.37 - 5000
	}
	bf := convertWeight(src, tensor.BF16)
	f16 := convertWeight(src, tensor.F16)
	back := convertWeight(bf, tensor.F32)
	wantBF, wantF16, wantBack := make([]uint16, n), make([]uint16, n), make([]float32, n)
	for i, v := range src.F32 {
		wantBF[i], wantF16[i] = tensor.F32ToBF16(v), tensor.F32ToF16(v)
		wantBack[i] = tensor.BF16ToF32(wantBF[i])
	}
	require.Equal(t, wantBF, bf.Half)
	require.Equal(t, wantF16, f16.Half)
	require.Equal(t, wantBack, back.F32)
}
