package hub

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzCachePaths gives the cache names that come from outside (repo id and revision from the user or
// a config, file names from an index or the hub's listing, ETags from the server's headers). Whatever
// the validators accept, writing the ref, linking the snapshot and reading the file back must stay
// inside the cache root: the root's parent folder must hold nothing but the root afterwards.
func FuzzCachePaths(f *testing.F) {
	for _, s := range [][4]string{
		{"Salesforce/blip2-opt-2.7b", "main", "config.json", `"a1b2c3"`},
		{"gpt2", "refs/pr/1", "sub/dir/model.safetensors", `W/"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"`},
		{"org/..", "../../etc", "../passwd", ".."},
		{"a/b", "main", "/abs/file", "x/../y"},
		{"a--b", "v1.0", `..\x`, "."},
		{"a/b.git", "main/../..", "a//b", `"`},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	parent := f.TempDir()
	const commit = "0123456789abcdef0123456789abcdef01234567"
	f.Fuzz(func(t *testing.T, repoID, revision, filename, etagHeader string) {
		root := filepath.Join(parent, "cache")
		defer os.RemoveAll(root)
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		c := Cache{Dir: root}
		etag := cleanEtag(etagHeader)
		if ValidateRepoID(repoID) != nil || ValidateRevision(revision) != nil || ValidateFilename(filename) != nil || !validEtag(etag) {
			// rejected names may still reach the readers: they must refuse them
			if p, err := c.CachedFile(repoID, revision, filename); err == nil {
				t.Fatalf("CachedFile(%q, %q, %q) = %s for a rejected name", repoID, revision, filename, p)
			}
			return
		}
		blob, err := c.inside(RepoFolderName(repoID), "blobs", etag)
		if err != nil {
			return
		}
		if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(blob, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := c.writeRef(repoID, revision, commit); err != nil {
			t.Logf("writeRef: %v", err) // a ref that is also a folder, e.g. "a" then "a/b": an error is fine
		}
		p, lerr := c.linkSnapshot(repoID, commit, filename, etag)
		if lerr == nil {
			mustInside(t, root, p)
			got, err := c.CachedFile(repoID, commit, filename)
			if err != nil {
				t.Fatalf("CachedFile after linkSnapshot: %v", err)
			}
			mustInside(t, root, got)
		}
		if got, err := c.CachedFile(repoID, revision, filename); err == nil {
			mustInside(t, root, got)
		}
		ents, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.Name() != "cache" {
				t.Fatalf("%q appeared outside the cache root (repo %q, revision %q, file %q, etag %q)", e.Name(), repoID, revision, filename, etag)
			}
		}
	})
}

func mustInside(t *testing.T, root, p string) {
	t.Helper()
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		t.Fatalf("%s is outside the cache root %s", p, root)
	}
}

// FuzzShardFiles: every shard name ShardFiles returns from an index is a plain relative name.
func FuzzShardFiles(f *testing.F) {
	f.Add([]byte(`{"metadata":{"total_size":8},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}`))
	f.Add([]byte(`{"weight_map":{"a":"../../../etc/passwd"}}`))
	f.Add([]byte(`{"weight_map":{"a":"sub/x.bin","b":"C:\\x","c":"/abs"}}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "model.safetensors.index.json")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		names, err := ShardFiles(p)
		if err != nil {
			return
		}
		for _, n := range names {
			if ValidateFilename(n) != nil {
				t.Fatalf("unsafe shard name %q returned", n)
			}
			mustInside(t, dir, filepath.Join(dir, filepath.FromSlash(n)))
		}
	})
}

// inProcess is an http.RoundTripper that serves every request with a handler in the same process
// (no network: absolute redirects to other hosts land there too).
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	res := rec.Result()
	res.Request = r
	return res, nil
}

// FuzzHostileHub plays a hub (or an HF_ENDPOINT mirror) that answers with fuzzed headers, redirects,
// listings and bodies. Whatever it sends, Download and Snapshot return a path inside the cache root
// or an error, and nothing is written outside the root.
func FuzzHostileHub(f *testing.F) {
	const good = "0123456789abcdef0123456789abcdef01234567"
	f.Add(uint16(200), good, `"abc123"`, "", "", []byte(`{"siblings":[{"rfilename":"config.json"}],"sha":"`+good+`"}`), []byte("{}"))
	f.Add(uint16(302), good, `"aaaa"`, "5", "https://cdn.example/x", []byte(`{"siblings":[{"rfilename":"../../x"}],"sha":"../.."}`), []byte("hello"))
	f.Add(uint16(307), "../../../../tmp", `W/"../../../x"`, "-1", "/org/model/resolve/main/../../../x", []byte(`{"siblings":[{"rfilename":"model.safetensors.index.json"}]}`), []byte(`{"weight_map":{"a":"../../evil.bin"}}`))
	f.Add(uint16(200), good, `"`+strings.Repeat("a", 64)+`"`, "3", "", []byte(`{}`), []byte("abc"))
	parent := f.TempDir()
	f.Fuzz(func(t *testing.T, status uint16, commit, etag, size, location string, listing, body []byte) {
		root := filepath.Join(parent, "cache")
		defer os.RemoveAll(root)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/api/") {
				w.Header().Set("Content-Type", "application/json")
				w.Write(listing)
				return
			}
			w.Header().Set("X-Repo-Commit", commit)
			w.Header().Set("ETag", etag)
			if size != "" {
				w.Header().Set("X-Linked-Size", size)
			}
			st := int(status)
			if st < 100 || st > 599 || r.Method == http.MethodGet && st/100 == 3 {
				st = 200
			}
			if st/100 == 3 {
				w.Header().Set("Location", location)
			}
			w.WriteHeader(st)
			if r.Method == http.MethodGet {
				w.Write(body)
			}
		})
		c := NewClient(Options{Endpoint: "https://hub.example", CacheDir: root, HTTPClient: &http.Client{Transport: inProcess{h}}})
		ctx := context.Background()
		if p, err := c.Download(ctx, "org/model", "main", "config.json"); err == nil {
			mustInside(t, root, p)
		}
		if p, err := c.Snapshot(ctx, "org/model", SnapshotOptions{}); err == nil {
			mustInside(t, root, p)
		}
		ents, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.Name() != "cache" {
				t.Fatalf("%q appeared outside the cache root", e.Name())
			}
		}
	})
}
