package parity

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWeightKeysDiffCatchesDifferences(t *testing.T) {
	require.Empty(t, wkDiff("x", []any{"a", []any{1.0, 2.0}}, []any{"a", []any{1.0, 2.0}}))
	require.NotEmpty(t, wkDiff("x", []any{"a", []any{1.0, 2.0}}, []any{"a", []any{1.0, 3.0}}))
	require.NotEmpty(t, wkDiff("x", []any{"a"}, []any{"a", "b"}))
	require.NotEmpty(t, wkDiff("x", map[string]any{"k": 1.0}, map[string]any{"k": 1.0, "j": 2.0}))
	require.NotEmpty(t, wkDiff("x", map[string]any{"k": 1.0}, map[string]any{}))
	require.NotEmpty(t, wkDiff("x", "float32", "float16"))
	require.Empty(t, wkDiff("x", 4.0, 4.0+1e-15))
}
