// Package hub resolves Hugging Face hub repo ids to local files through the cache layout that Python's
// huggingface_hub uses, so a model downloaded by either is found by the other:
//
//	{cache}/models--{org}--{name}/blobs/{etag}
//	{cache}/models--{org}--{name}/refs/{revision}          (holds the commit hash)
//	{cache}/models--{org}--{name}/snapshots/{commit}/{file} (relative symlink to the blob)
//
// It downloads with resume, verifies sizes and LFS sha256 checksums, renames into place atomically,
// locks against concurrent downloads, honours HF_ENDPOINT, HF_TOKEN, HF_HOME, HF_HUB_CACHE and
// HF_HUB_OFFLINE, and never writes outside its cache root. It imports nothing of this module.
package hub

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// DefaultEndpoint is the hub's address when HF_ENDPOINT is not set.
const DefaultEndpoint = "https://huggingface.co"

// DefaultCacheDir returns the cache root as huggingface_hub computes it: HF_HUB_CACHE, else
// HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
func DefaultCacheDir() string {
	return cacheDirFromEnv(os.Getenv)
}

func cacheDirFromEnv(getenv func(string) string) string {
	if v := getenv("HF_HUB_CACHE"); v != "" {
		return expandHome(v, getenv)
	}
	if v := getenv("HF_HOME"); v != "" {
		return filepath.Join(expandHome(v, getenv), "hub")
	}
	if v := getenv("XDG_CACHE_HOME"); v != "" {
		return filepath.Join(expandHome(v, getenv), "huggingface", "hub")
	}
	home := getenv("HOME")
	if home == "" {
		if h, err := os.UserHomeDir(); err == nil {
			home = h
		}
	}
	return filepath.Join(home, ".cache", "huggingface", "hub")
}

func expandHome(p string, getenv func(string) string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home := getenv("HOME"); home != "" {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

var repoIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$`)

// ValidateRepoID checks a repo id ("name" or "org/name") as huggingface_hub's validate_repo_id does,
// plus the rules that keep cache paths inside the cache root.
func ValidateRepoID(repoID string) error {
	if len(repoID) == 0 || len(repoID) > 96 {
		return fmt.Errorf("hub: repo id %q: must be 1 to 96 characters", repoID)
	}
	if !repoIDPattern.MatchString(repoID) {
		return fmt.Errorf("hub: repo id %q: must be 'name' or 'org/name' of letters, digits, '-', '_' and '.'", repoID)
	}
	if strings.Contains(repoID, "--") || strings.Contains(repoID, "..") {
		return fmt.Errorf("hub: repo id %q: cannot contain '--' or '..'", repoID)
	}
	if strings.HasSuffix(repoID, ".git") {
		return fmt.Errorf("hub: repo id %q: cannot end with .git", repoID)
	}
	return nil
}

// ValidateFilename checks a file name of a repo (a relative path with '/' separators): no absolute
// paths, no backslashes, no '.' or '..' components, no empty components.
func ValidateFilename(name string) error {
	if name == "" {
		return errors.New("hub: empty file name")
	}
	if strings.ContainsRune(name, '\\') || strings.ContainsRune(name, 0) {
		return fmt.Errorf("hub: file name %q: backslashes and NUL are not allowed", name)
	}
	if strings.HasPrefix(name, "/") || filepath.IsAbs(name) || (len(name) > 1 && name[1] == ':') {
		return fmt.Errorf("hub: file name %q: absolute paths are not allowed", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("hub: file name %q: empty, '.' and '..' components are not allowed", name)
		}
	}
	return nil
}

// ValidateRevision checks a revision (branch, tag, commit or "refs/pr/N").
func ValidateRevision(rev string) error {
	if rev == "" {
		return errors.New("hub: empty revision")
	}
	if err := ValidateFilename(rev); err != nil {
		return fmt.Errorf("hub: revision %q: %w", rev, err)
	}
	return nil
}

var commitPattern = regexp.MustCompile(`^[0-9a-f]{40}$`)

// IsCommitHash reports whether rev is a full 40-hex commit hash.
func IsCommitHash(rev string) bool { return commitPattern.MatchString(rev) }

// RepoFolderName returns the cache folder of a model repo: "models--org--name".
func RepoFolderName(repoID string) string {
	return "models--" + strings.ReplaceAll(repoID, "/", "--")
}

// Cache is a Hugging Face hub cache root.
type Cache struct {
	// Dir is the cache root (e.g. ~/.cache/huggingface/hub).
	Dir string
}

// repoDir returns the folder of a repo inside the cache.
func (c Cache) repoDir(repoID string) string {
	return filepath.Join(c.Dir, RepoFolderName(repoID))
}

// inside joins parts under the cache root and checks that the result stays inside it.
func (c Cache) inside(parts ...string) (string, error) {
	root, err := filepath.Abs(c.Dir)
	if err != nil {
		return "", fmt.Errorf("hub: cache dir %q: %w", c.Dir, err)
	}
	p := filepath.Join(append([]string{root}, parts...)...)
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("hub: path %q would leave the cache root %q", p, root)
	}
	return p, nil
}

// ReadRef returns the commit hash a revision points to in the cache ("" when unknown). A commit hash
// resolves to itself.
func (c Cache) ReadRef(repoID, revision string) (string, error) {
	if err := ValidateRepoID(repoID); err != nil {
		return "", err
	}
	if err := ValidateRevision(revision); err != nil {
		return "", err
	}
	if IsCommitHash(revision) {
		return revision, nil
	}
	p, err := c.inside(RepoFolderName(repoID), "refs", filepath.FromSlash(revision))
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("hub: read ref %s: %w", p, err)
	}
	commit := strings.TrimSpace(string(b))
	if !IsCommitHash(commit) {
		return "", fmt.Errorf("hub: ref file %s: %q is not a commit hash", p, commit)
	}
	return commit, nil
}

// CachedFile returns the path of filename in the snapshot of revision, or an error wrapping
// os.ErrNotExist when the cache does not hold it. The file (after following its symlink) must lie
// inside the cache root.
func (c Cache) CachedFile(repoID, revision, filename string) (string, error) {
	if err := ValidateFilename(filename); err != nil {
		return "", err
	}
	commit, err := c.ReadRef(repoID, revision)
	if err != nil {
		return "", err
	}
	if commit == "" {
		return "", fmt.Errorf("hub: %s@%s is not in the cache %s: %w", repoID, revision, c.Dir, os.ErrNotExist)
	}
	p, err := c.inside(RepoFolderName(repoID), "snapshots", commit, filepath.FromSlash(filename))
	if err != nil {
		return "", err
	}
	if err := c.checkTarget(p); err != nil {
		return "", err
	}
	return p, nil
}

// checkTarget checks that p exists and that, with symlinks followed, it is a regular file inside the
// cache root.
func (c Cache) checkTarget(p string) error {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("hub: %s is not in the cache: %w", p, os.ErrNotExist)
		}
		return fmt.Errorf("hub: %s: %w", p, err)
	}
	root, err := filepath.EvalSymlinks(c.Dir)
	if err != nil {
		return fmt.Errorf("hub: cache dir %s: %w", c.Dir, err)
	}
	rel, err := filepath.Rel(root, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("hub: %s points to %s, outside the cache root %s", p, real, root)
	}
	st, err := os.Stat(real)
	if err != nil {
		return fmt.Errorf("hub: %s: %w", p, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("hub: %s is not a regular file", p)
	}
	return nil
}

// SnapshotDir returns the snapshot folder of a commit.
func (c Cache) SnapshotDir(repoID, commit string) (string, error) {
	if !IsCommitHash(commit) {
		return "", fmt.Errorf("hub: %q is not a commit hash", commit)
	}
	return c.inside(RepoFolderName(repoID), "snapshots", commit)
}

// linkSnapshot points snapshots/{commit}/{filename} at blobs/{etag} with a relative symlink (a copy
// where links are impossible).
func (c Cache) linkSnapshot(repoID, commit, filename, etag string) (string, error) {
	blob, err := c.inside(RepoFolderName(repoID), "blobs", etag)
	if err != nil {
		return "", err
	}
	p, err := c.inside(RepoFolderName(repoID), "snapshots", commit, filepath.FromSlash(filename))
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", fmt.Errorf("hub: %w", err)
	}
	rel, err := filepath.Rel(filepath.Dir(p), blob)
	if err != nil {
		return "", fmt.Errorf("hub: %w", err)
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", fmt.Errorf("hub: %w", err)
	}
	tmp := p + ".tmplink-" + hex.EncodeToString(rnd[:])
	if err := os.Symlink(rel, tmp); err == nil {
		if err := os.Rename(tmp, p); err != nil {
			os.Remove(tmp)
			return "", fmt.Errorf("hub: link %s: %w", p, err)
		}
		return p, nil
	}
	// No symlinks (some file systems): copy the blob.
	if err := copyFileAtomic(blob, p); err != nil {
		return "", err
	}
	return p, nil
}

// writeRef records that revision points to commit.
func (c Cache) writeRef(repoID, revision, commit string) error {
	if revision == commit {
		return nil
	}
	p, err := c.inside(RepoFolderName(repoID), "refs", filepath.FromSlash(revision))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	return writeFileAtomic(p, []byte(commit))
}

func writeFileAtomic(p string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp*")
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("hub: write %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("hub: write %s: %w", p, err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("hub: write %s: %w", p, err)
	}
	return nil
}

func copyFileAtomic(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("hub: copy %s: %w", src, err)
	}
	return writeFileAtomic(dst, data)
}

// cleanEtag removes quotes and the weak-validator prefix from an ETag header value.
func cleanEtag(etag string) string {
	etag = strings.TrimSpace(etag)
	etag = strings.TrimPrefix(etag, "W/")
	return strings.Trim(etag, `"`)
}

var etagPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// validEtag checks that an etag can serve as a blob file name.
func validEtag(etag string) bool {
	return etagPattern.MatchString(etag) && etag != "." && etag != ".." && path.Base(etag) == etag
}
