package blip2

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

	"github.com/gotransformers/gotransformers/transformers"
	"github.com/stretchr/testify/require"
)

// TestProcessorFromHubRepoID loads a Blip2Processor by repo id into an empty cache through a fake
// hub serving the blip2-opt fixture folder: every tokenizer file must be fetched, not only configs.
func TestProcessorFromHubRepoID(t *testing.T) {
	const commit = "abcdefabcdefabcdefabcdefabcdefabcdefabcd"
	folder := filepath.Join("..", "..", "parity", "testdata", "blip2-opt")
	entries, err := os.ReadDir(folder)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/models/tiny/blip2-opt/revision/") {
			var sib []map[string]string
			for _, n := range names {
				sib = append(sib, map[string]string{"rfilename": n})
			}
			json.NewEncoder(w).Encode(map[string]any{"sha": commit, "siblings": sib})
			return
		}
		name := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		data, err := os.ReadFile(filepath.Join(folder, name))
		if err != nil || !strings.HasPrefix(r.URL.Path, "/tiny/blip2-opt/resolve/") {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("X-Repo-Commit", commit)
		w.Header().Set("ETag", fmt.Sprintf(`"e-%x"`, len(name)*7919+len(data)))
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		if r.Method == http.MethodGet {
			w.Write(data)
		}
	}))
	defer srv.Close()
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_HUB_OFFLINE", "")
	cache := t.TempDir()
	p, err := Blip2ProcessorFromPretrained(context.Background(), "tiny/blip2-opt", transformers.WithCacheDir(cache))
	require.NoError(t, err)
	local, err := Blip2ProcessorFromPretrained(context.Background(), folder)
	require.NoError(t, err)
	text := "Question: what is shown? Answer:"
	a, err := p.Call(nil, []string{text}, ProcessorOptions{})
	require.NoError(t, err)
	b, err := local.Call(nil, []string{text}, ProcessorOptions{})
	require.NoError(t, err)
	require.Equal(t, b.InputIDs, a.InputIDs)
	require.NoFileExists(t, filepath.Join(cache, "models--tiny--blip2-opt", "snapshots", commit, "model.safetensors"), "a processor fetches no weights")
}
