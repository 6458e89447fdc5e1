package transformers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestResolveModelDirFromHub resolves a repo id through a fake hub into a fresh cache and checks
// that only the needed files are fetched (the preferred weight layout, not the .bin).
func TestResolveModelDirFromHub(t *testing.T) {
	const commit = "89abcdef0123456789abcdef0123456789abcdef"
	files := map[string]string{
		"config.json":       `{"model_type": "opt"}`,
		"model.safetensors": "weights",
		"pytorch_model.bin": "not wanted",
		"README.md":         "# model",
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/models/org/tiny/revision/") {
			var sib []map[string]string
			for f := range files {
				sib = append(sib, map[string]string{"rfilename": f})
			}
			json.NewEncoder(w).Encode(map[string]any{"sha": commit, "siblings": sib})
			return
		}
		name := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		content, ok := files[name]
		if !ok || !strings.HasPrefix(r.URL.Path, "/org/tiny/resolve/") {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("X-Repo-Commit", commit)
		w.Header().Set("ETag", fmt.Sprintf(`"etag-%s"`, strings.ReplaceAll(name, ".", "-")))
		w.Header().Set("Content-Length", fmt.Sprint(len(content)))
		if r.Method == http.MethodGet {
			w.Write([]byte(content))
		}
	}))
	defer srv.Close()
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_HUB_OFFLINE", "")
	cache := t.TempDir()
	ctx := context.Background()
	dir, err := ResolveModelDir(ctx, "org/tiny", []string{"config.json", "model.safetensors", "pytorch_model.bin"}, NewLoadOptions(WithCacheDir(cache)))
	require.NoError(t, err)
	require.Equal(t, filepath.Join(cache, "models--org--tiny", "snapshots", commit), dir)
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	require.Equal(t, files["config.json"], string(b))
	require.FileExists(t, filepath.Join(dir, "model.safetensors"))
	require.NoFileExists(t, filepath.Join(dir, "pytorch_model.bin"))
	require.NoFileExists(t, filepath.Join(dir, "README.md"))

	// Offline, the cached snapshot is found without the network.
	srv.Close()
	dir2, err := ResolveModelDir(ctx, "org/tiny", []string{"config.json"}, NewLoadOptions(WithCacheDir(cache), WithOffline(true)))
	require.NoError(t, err)
	require.Equal(t, dir, dir2)
	_, err = ResolveModelDir(ctx, "org/absent", []string{"config.json"}, NewLoadOptions(WithCacheDir(cache), WithOffline(true)))
	require.Error(t, err)
}

func TestResolveModelDirLocalAndBadNames(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	got, err := ResolveModelDir(ctx, dir, nil, nil)
	require.NoError(t, err)
	require.Equal(t, dir, got)
	_, err = ResolveModelDir(ctx, filepath.Join(dir, "missing"), nil, nil)
	require.ErrorContains(t, err, "no such model folder")
	_, err = ResolveModelDir(ctx, "../escape", nil, nil)
	require.Error(t, err)
	_, err = ResolveModelDir(ctx, "bad--name/x", nil, NewLoadOptions(WithOffline(true)))
	require.ErrorContains(t, err, "neither a local folder nor a hub repo id")
}
