package parity

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

const testdata = "testdata"

// TestEveryFormatKindHasHandler checks that the runner knows every case kind FORMAT.md lists.
func TestEveryFormatKindHasHandler(t *testing.T) {
	kinds, err := KindsInFormat(filepath.Join(testdata, "FORMAT.md"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(kinds), 11)
	h := Handlers()
	for _, k := range kinds {
		require.Contains(t, h, k, "FORMAT.md lists kind %q but the runner has no handler", k)
	}
	require.ElementsMatch(t, kinds, SupportedKinds(), "every kind FORMAT.md lists is in the supported set")
}

// TestEveryCaseKindKnown checks that every case of the fixtures has a handler (an unknown kind fails).
func TestEveryCaseKindKnown(t *testing.T) {
	models, err := LoadIndex(testdata)
	require.NoError(t, err)
	h := Handlers()
	for _, m := range models {
		f, err := LoadCases(filepath.Join(testdata, m.ModelDir))
		require.NoError(t, err)
		require.Len(t, f.Cases, m.Cases, "%s: index.json case count", m.ModelDir)
		for _, c := range f.Cases {
			require.Contains(t, h, c.Kind, "%s %s", m.ModelDir, c.ID)
		}
	}
}

// TestSupportedKinds runs every case of the supported kinds and requires each to pass.
func TestSupportedKinds(t *testing.T) {
	kinds := SupportedKinds()
	if len(kinds) == 0 {
		t.Log("no supported kinds declared yet")
		return
	}
	sum, err := Run(context.Background(), testdata, Options{Kinds: kinds})
	require.NoError(t, err)
	models, err := LoadIndex(testdata)
	require.NoError(t, err)
	total := 0
	for _, m := range models {
		total += m.Cases
	}
	require.Len(t, sum.Cases, total, "every case of every folder ran")
	for _, c := range sum.Cases {
		if c.Status != StatusOK && c.Status != StatusDiverged {
			t.Errorf("%s %s %s: %s %s", c.Model, c.Kind, c.ID, c.Status, c.Msg)
		}
	}
	t.Logf("%d passed, %d failed, %d diverged", sum.Passed, sum.Failed, sum.Diverged)
}
