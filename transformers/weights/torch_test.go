package weights

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The flan-t5 fixture holds the same weights as model.safetensors and pytorch_model.bin.
func TestTorchMatchesSafetensors(t *testing.T) {
	dir := filepath.Join(fixtures, "flan-t5")
	st, err := OpenSafetensors(filepath.Join(dir, SafetensorsName))
	require.NoError(t, err)
	defer st.Close()
	pt, err := OpenTorch(filepath.Join(dir, PytorchName))
	require.NoError(t, err)
	defer pt.Close()
	// The .bin lists the tied embed_tokens under their own names (sharing shared.weight's storage);
	// safetensors drops them, as save_pretrained does.
	require.ElementsMatch(t, append(st.Keys(), "encoder.embed_tokens.weight", "decoder.embed_tokens.weight"), pt.Keys())
	shared, err := pt.Weight("shared.weight")
	require.NoError(t, err)
	for _, k := range []string{"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"} {
		w, err := pt.Weight(k)
		require.NoError(t, err)
		require.Equal(t, shared.Shape, w.Shape)
		require.Same(t, &shared.F32[0], &w.F32[0], k)
	}
	for _, k := range st.Keys() {
		dt1, s1, _ := st.Info(k)
		dt2, s2, ok := pt.Info(k)
		require.True(t, ok, k)
		require.Equal(t, dt1, dt2, k)
		require.Equal(t, s1, s2, k)
		w1, err := st.Weight(k)
		require.NoError(t, err)
		w2, err := pt.Weight(k)
		require.NoError(t, err)
		require.Equal(t, w1.F32, w2.F32, k)
		require.Equal(t, w1.Half, w2.Half, k)
	}
	// The torch file's views alias its mapping (stored entries, 64-byte aligned by torch).
	w, err := pt.Weight("shared.weight")
	require.NoError(t, err)
	require.NotNil(t, w.F32)
	require.True(t, within(pt.data, w), "shared.weight is not a view of the mapping")
}
