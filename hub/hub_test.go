package hub

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const testCommit = "0123456789abcdef0123456789abcdef01234567"

// fakeHub speaks the subset of the hub protocol huggingface_hub uses: HEAD/GET on
// /{repo}/resolve/{rev}/{file} (LFS files redirect to a CDN path with X-Linked-Etag/X-Linked-Size),
// /api/models/{repo}/revision/{rev}, 401 for a gated repo without a token, 404 with X-Error-Code.
type fakeHub struct {
	files       map[string][]byte // file -> content
	lfs         map[string]bool
	gated       bool
	interrupt   atomic.Int32 // number of GETs to cut off half way
	gets        atomic.Int32
	rangeGets   atomic.Int32
	sawAuth     atomic.Bool
	wrongSHA    bool
	renamedFrom string
}

func etagOf(content []byte, lfs bool) string {
	if lfs {
		s := sha256.Sum256(content)
		return hex.EncodeToString(s[:])
	}
	s := sha1.Sum(content)
	return hex.EncodeToString(s[:])
}

func (f *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") == "Bearer secret" {
		f.sawAuth.Store(true)
	}
	p := r.URL.Path
	if f.gated && r.Header.Get("Authorization") != "Bearer secret" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if strings.HasPrefix(p, "/api/models/org/model/revision/") {
		rev := strings.TrimPrefix(p, "/api/models/org/model/revision/")
		if rev != "main" && rev != testCommit {
			w.Header().Set("X-Error-Code", "RevisionNotFound")
			w.WriteHeader(http.StatusNotFound)
			return
		}
		var sib []map[string]string
		for name := range f.files {
			sib = append(sib, map[string]string{"rfilename": name})
		}
		json.NewEncoder(w).Encode(map[string]any{"sha": testCommit, "siblings": sib})
		return
	}
	if strings.HasPrefix(p, "/cdn/") {
		name := strings.TrimPrefix(p, "/cdn/")
		f.serveContent(w, r, name)
		return
	}
	if f.renamedFrom != "" && strings.HasPrefix(p, "/"+f.renamedFrom+"/") {
		w.Header().Set("Location", "/org/model/"+strings.TrimPrefix(p, "/"+f.renamedFrom+"/"))
		w.WriteHeader(http.StatusMovedPermanently)
		return
	}
	if !strings.HasPrefix(p, "/org/model/resolve/") {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	rest := strings.TrimPrefix(p, "/org/model/resolve/")
	rev, name, _ := strings.Cut(rest, "/")
	if rev != "main" && rev != testCommit {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	content, ok := f.files[name]
	if !ok {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("X-Repo-Commit", testCommit)
	if f.lfs[name] {
		etag := etagOf(content, true)
		if f.wrongSHA {
			etag = strings.Repeat("a", 64)
		}
		w.Header().Set("X-Linked-Etag", `"`+etag+`"`)
		w.Header().Set("X-Linked-Size", fmt.Sprint(len(content)))
		w.Header().Set("ETag", `"cdn-etag"`)
		w.Header().Set("Location", "http://"+r.Host+"/cdn/"+name)
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `W/"`+etagOf(content, false)+`"`)
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Length", fmt.Sprint(len(content)))
		return
	}
	f.serveContent(w, r, name)
}

func (f *fakeHub) serveContent(w http.ResponseWriter, r *http.Request, name string) {
	content := f.files[name]
	if r.Method == http.MethodGet {
		f.gets.Add(1)
		if r.Header.Get("Range") != "" {
			f.rangeGets.Add(1)
		}
		if f.interrupt.Load() > 0 && r.Header.Get("Range") == "" {
			f.interrupt.Add(-1)
			// Announce everything, send half, then drop the connection.
			w.Header().Set("Content-Length", fmt.Sprint(len(content)))
			w.WriteHeader(http.StatusOK)
			w.Write(content[:len(content)/2])
			if hj, ok := w.(http.Hijacker); ok {
				conn, _, _ := hj.Hijack()
				conn.Close()
			}
			return
		}
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(content))
}

func newFakeHub(t *testing.T) (*fakeHub, *httptest.Server) {
	big := bytes.Repeat([]byte("weights!"), 1<<12)
	f := &fakeHub{
		files: map[string][]byte{
			"config.json":                      []byte(`{"model_type": "opt"}`),
			"tokenizer_config.json":            []byte(`{}`),
			"model.safetensors.index.json":     []byte(`{"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}`),
			"model-00001-of-00002.safetensors": big,
			"model-00002-of-00002.safetensors": append([]byte("second"), big...),
			"pytorch_model.bin":                []byte("should not be fetched"),
		},
		lfs: map[string]bool{"model-00001-of-00002.safetensors": true, "model-00002-of-00002.safetensors": true, "pytorch_model.bin": true},
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func testClient(srv *httptest.Server, cache string, mod func(*Options)) *Client {
	o := Options{Endpoint: srv.URL, CacheDir: cache}
	if mod != nil {
		mod(&o)
	}
	return newClient(o, func(string) string { return "" })
}

func TestDownloadLayoutMatchesHuggingFaceHub(t *testing.T) {
	f, srv := newFakeHub(t)
	cache := t.TempDir()
	c := testClient(srv, cache, nil)
	p, err := c.Download(context.Background(), "org/model", "main", "config.json")
	require.NoError(t, err)
	repo := filepath.Join(cache, "models--org--model")
	require.Equal(t, filepath.Join(repo, "snapshots", testCommit, "config.json"), p)
	ref, err := os.ReadFile(filepath.Join(repo, "refs", "main"))
	require.NoError(t, err)
	require.Equal(t, testCommit, string(ref))
	link, err := os.Readlink(p)
	require.NoError(t, err)
	require.Equal(t, filepath.Join("..", "..", "blobs", etagOf(f.files["config.json"], false)), link)
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, f.files["config.json"], got)

	// LFS file through the CDN redirect: blob named by the sha256.
	p, err = c.Download(context.Background(), "org/model", "main", "model-00001-of-00002.safetensors")
	require.NoError(t, err)
	got, err = os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, f.files["model-00001-of-00002.safetensors"], got)
	_, err = os.Stat(filepath.Join(repo, "blobs", etagOf(got, true)))
	require.NoError(t, err)

	// A second call is served from the cache (no new GET).
	before := f.gets.Load()
	_, err = c.Download(context.Background(), "org/model", "main", "config.json")
	require.NoError(t, err)
	require.Equal(t, before, f.gets.Load())
}

func TestResumeAfterInterruption(t *testing.T) {
	f, srv := newFakeHub(t)
	f.interrupt.Store(1)
	c := testClient(srv, t.TempDir(), nil)
	p, err := c.Download(context.Background(), "org/model", "main", "model-00002-of-00002.safetensors")
	require.NoError(t, err)
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, f.files["model-00002-of-00002.safetensors"], got)
	require.GreaterOrEqual(t, f.rangeGets.Load(), int32(1), "the second request resumes with Range")
}

func TestChecksumMismatchLeavesNoFile(t *testing.T) {
	f, srv := newFakeHub(t)
	f.wrongSHA = true
	cache := t.TempDir()
	c := testClient(srv, cache, nil)
	_, err := c.Download(context.Background(), "org/model", "main", "model-00001-of-00002.safetensors")
	require.ErrorContains(t, err, "sha256")
	blob := filepath.Join(cache, "models--org--model", "blobs", strings.Repeat("a", 64))
	_, err = os.Stat(blob)
	require.True(t, errors.Is(err, os.ErrNotExist), "no file under the final name")
	_, err = os.Stat(blob + ".incomplete")
	require.True(t, errors.Is(err, os.ErrNotExist), "the corrupt partial file is removed")
}

func TestErrors(t *testing.T) {
	f, srv := newFakeHub(t)
	c := testClient(srv, t.TempDir(), nil)
	ctx := context.Background()
	_, err := c.Download(ctx, "org/model", "main", "missing.json")
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorContains(t, err, "file not found")
	_, err = c.Download(ctx, "org/model", "nope", "config.json")
	require.ErrorContains(t, err, "revision not found")
	_, err = c.Download(ctx, "org/other", "main", "config.json")
	require.ErrorContains(t, err, "repository not found")

	f.gated = true
	_, err = c.Download(ctx, "org/model", "main", "config.json")
	require.ErrorIs(t, err, ErrUnauthorized)
	require.ErrorContains(t, err, "HF_TOKEN")
	c2 := testClient(srv, t.TempDir(), func(o *Options) { o.Token = "secret" })
	_, err = c2.Download(ctx, "org/model", "main", "config.json")
	require.NoError(t, err)
	require.True(t, f.sawAuth.Load())
}

func TestRenamedRepoFollowsRelativeRedirect(t *testing.T) {
	f, srv := newFakeHub(t)
	f.renamedFrom = "org/old"
	c := testClient(srv, t.TempDir(), nil)
	p, err := c.Download(context.Background(), "org/old", "main", "config.json")
	require.NoError(t, err)
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, f.files["config.json"], got)
}

func TestOffline(t *testing.T) {
	_, srv := newFakeHub(t)
	cache := t.TempDir()
	ctx := context.Background()
	on := testClient(srv, cache, nil)
	_, err := on.Download(ctx, "org/model", "main", "config.json")
	require.NoError(t, err)
	srv.Close()
	off := newClient(Options{Endpoint: "http://127.0.0.1:1", CacheDir: cache}, func(k string) string {
		if k == "HF_HUB_OFFLINE" {
			return "1"
		}
		return ""
	})
	require.True(t, off.Offline())
	p, err := off.Download(ctx, "org/model", "main", "config.json")
	require.NoError(t, err)
	require.FileExists(t, p)
	_, err = off.Download(ctx, "org/model", "main", "tokenizer_config.json")
	require.ErrorIs(t, err, ErrOffline)
	require.ErrorContains(t, err, "tokenizer_config.json")
	// Online but unreachable: falls back to the cache for what it has.
	down := testClient(srv, cache, nil)
	p2, err := down.Download(ctx, "org/model", "main", "config.json")
	require.NoError(t, err)
	require.Equal(t, p, p2)
}

func TestSnapshotFetchesShardsNotBin(t *testing.T) {
	f, srv := newFakeHub(t)
	c := testClient(srv, t.TempDir(), nil)
	dir, err := c.Snapshot(context.Background(), "org/model", SnapshotOptions{})
	require.NoError(t, err)
	for _, name := range []string{"config.json", "tokenizer_config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err, name)
		require.Equal(t, f.files[name], got, name)
	}
	require.NoFileExists(t, filepath.Join(dir, "pytorch_model.bin"))
}

func TestShardNamesCannotEscape(t *testing.T) {
	for _, bad := range []string{"../evil.safetensors", "/etc/passwd", `a\b.safetensors`, "a/../../b", ""} {
		dir := t.TempDir()
		idx := filepath.Join(dir, "model.safetensors.index.json")
		b, _ := json.Marshal(map[string]any{"weight_map": map[string]string{"k": bad}})
		require.NoError(t, os.WriteFile(idx, b, 0o644))
		_, err := ShardFiles(idx)
		require.Error(t, err, bad)
	}
}

func TestValidation(t *testing.T) {
	for _, bad := range []string{"", "a/b/c", "../x", "a--b/c", "org/..", "/abs", `a\b`, "x.git"} {
		require.Error(t, ValidateRepoID(bad), bad)
	}
	for _, good := range []string{"gpt2", "Salesforce/blip2-opt-2.7b", "org/model.v2"} {
		require.NoError(t, ValidateRepoID(good), good)
	}
	for _, bad := range []string{"../x", "a/../b", "/abs", `a\b`, "a//b", "."} {
		require.Error(t, ValidateFilename(bad), bad)
	}
	require.NoError(t, ValidateFilename("sub/dir/file.json"))
	c := Cache{Dir: t.TempDir()}
	_, err := c.CachedFile("org/model", "../../etc", "passwd")
	require.Error(t, err)
}

func TestCachedSymlinkOutsideRootRejected(t *testing.T) {
	cache := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(outside, []byte("x"), 0o644))
	snap := filepath.Join(cache, "models--org--model", "snapshots", testCommit)
	require.NoError(t, os.MkdirAll(snap, 0o755))
	require.NoError(t, os.Symlink(outside, filepath.Join(snap, "config.json")))
	_, err := Cache{Dir: cache}.CachedFile("org/model", testCommit, "config.json")
	require.ErrorContains(t, err, "outside the cache root")
}

func TestConcurrentDownloadsShareOneBlob(t *testing.T) {
	f, srv := newFakeHub(t)
	cache := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := testClient(srv, cache, nil)
			p, err := c.Download(context.Background(), "org/model", "main", "model-00001-of-00002.safetensors")
			if err == nil {
				var got []byte
				got, err = os.ReadFile(p)
				if err == nil && !bytes.Equal(got, f.files["model-00001-of-00002.safetensors"]) {
					err = errors.New("corrupt content")
				}
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	entries, err := os.ReadDir(filepath.Join(cache, "models--org--model", "blobs"))
	require.NoError(t, err)
	require.Len(t, entries, 1, "one blob, no leftovers")
}

func TestCacheDirFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	require.Equal(t, "/c", cacheDirFromEnv(env(map[string]string{"HF_HUB_CACHE": "/c", "HF_HOME": "/h"})))
	require.Equal(t, filepath.Join("/h", "hub"), cacheDirFromEnv(env(map[string]string{"HF_HOME": "/h"})))
	require.Equal(t, filepath.Join("/home/u", ".cache", "huggingface", "hub"), cacheDirFromEnv(env(map[string]string{"HOME": "/home/u"})))
}
