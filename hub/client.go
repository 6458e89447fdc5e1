package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrOffline is wrapped by errors of offline resolution when a file is not in the cache.
var ErrOffline = errors.New("offline mode (HF_HUB_OFFLINE=1) and the file is not in the cache")

// ErrNotFound is wrapped by errors for a repo, revision or file the hub does not have (HTTP 404).
var ErrNotFound = errors.New("not found on the hub")

// ErrUnauthorized is wrapped by errors for gated or private repos (HTTP 401/403).
var ErrUnauthorized = errors.New("unauthorized: the repo is gated or private; set HF_TOKEN to a token with access")

// Options configure a Client. The zero value of a field means "from the environment".
type Options struct {
	// Endpoint of the hub (HF_ENDPOINT, default https://huggingface.co).
	Endpoint string
	// Token sent as "Authorization: Bearer" (HF_TOKEN).
	Token string
	// CacheDir is the cache root (see DefaultCacheDir).
	CacheDir string
	// Offline resolves from the cache only (HF_HUB_OFFLINE=1).
	Offline bool
	// HTTPClient to use (default: a client with a 30 s header timeout and no overall timeout).
	HTTPClient *http.Client
	// Progress receives a progress bar for long downloads; nil is quiet.
	Progress io.Writer
	// OnProgress, when set, is called as downloads progress: file, bytes done, total bytes.
	OnProgress func(file string, done, total int64)
	// UserAgent sent with every request.
	UserAgent string
}

// Client talks to the hub and manages the cache. It is safe for concurrent use.
type Client struct {
	endpoint, token, userAgent string
	cache                      Cache
	offline                    bool
	http                       *http.Client
	progress                   io.Writer
	onProgress                 func(file string, done, total int64)
}

// NewClient returns a client; fields left empty in opts are read from the environment once, here.
func NewClient(opts Options) *Client {
	return newClient(opts, os.Getenv)
}

func newClient(opts Options, getenv func(string) string) *Client {
	c := &Client{endpoint: opts.Endpoint, token: opts.Token, offline: opts.Offline, http: opts.HTTPClient, progress: opts.Progress, onProgress: opts.OnProgress, userAgent: opts.UserAgent}
	if c.endpoint == "" {
		c.endpoint = getenv("HF_ENDPOINT")
	}
	if c.endpoint == "" {
		c.endpoint = DefaultEndpoint
	}
	c.endpoint = strings.TrimRight(c.endpoint, "/")
	if c.token == "" {
		c.token = getenv("HF_TOKEN")
	}
	if c.token == "" {
		c.token = getenv("HUGGING_FACE_HUB_TOKEN")
	}
	dir := opts.CacheDir
	if dir == "" {
		dir = cacheDirFromEnv(getenv)
	}
	c.cache = Cache{Dir: dir}
	if !c.offline {
		switch strings.ToLower(getenv("HF_HUB_OFFLINE")) {
		case "1", "true", "yes", "on":
			c.offline = true
		}
	}
	if c.http == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.ResponseHeaderTimeout = 30 * time.Second
		c.http = &http.Client{Transport: tr}
	}
	if c.userAgent == "" {
		c.userAgent = "gotransformers/0.1; hf_hub/0.25.2-compatible"
	}
	return c
}

// Cache returns the client's cache.
func (c *Client) Cache() Cache { return c.cache }

// Offline reports whether the client resolves from the cache only.
func (c *Client) Offline() bool { return c.offline }

func (c *Client) resolveURL(repoID, revision, filename string) string {
	return fmt.Sprintf("%s/%s/resolve/%s/%s", c.endpoint, repoID, url.PathEscape(revision), escapePath(filename))
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

func (c *Client) newRequest(ctx context.Context, method, u string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != "" && sameHost(u, c.endpoint) {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

func sameHost(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Host == ub.Host
}

// fileMeta is what a HEAD on the resolve URL tells.
type fileMeta struct {
	commit, etag, location string
	size                   int64
}

// statusError turns a non-2xx response into an error that names the repo, revision and file.
func statusError(resp *http.Response, what string) error {
	code := resp.Header.Get("X-Error-Code")
	msg := resp.Header.Get("X-Error-Message")
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		if code == "RepoNotFound" {
			return fmt.Errorf("hub: %s: repository not found (or private: set HF_TOKEN): %w", what, ErrNotFound)
		}
		return fmt.Errorf("hub: %s: HTTP %d: %w", what, resp.StatusCode, ErrUnauthorized)
	case resp.StatusCode == http.StatusNotFound:
		switch code {
		case "RepoNotFound":
			return fmt.Errorf("hub: %s: repository not found: %w", what, ErrNotFound)
		case "RevisionNotFound":
			return fmt.Errorf("hub: %s: revision not found: %w", what, ErrNotFound)
		case "EntryNotFound":
			return fmt.Errorf("hub: %s: file not found in the repository: %w", what, ErrNotFound)
		}
		return fmt.Errorf("hub: %s: HTTP 404 %s: %w", what, msg, ErrNotFound)
	}
	return fmt.Errorf("hub: %s: HTTP %d %s", what, resp.StatusCode, msg)
}

// head resolves a file's metadata: HEAD on the resolve URL without following redirects, except
// relative ones (a renamed repo), as huggingface_hub does.
func (c *Client) head(ctx context.Context, repoID, revision, filename string) (*fileMeta, error) {
	what := fmt.Sprintf("%s@%s/%s", repoID, revision, filename)
	u := c.resolveURL(repoID, revision, filename)
	client := *c.http
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for hops := 0; hops < 10; hops++ {
		req, err := c.newRequest(ctx, http.MethodHead, u)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept-Encoding", "identity")
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("hub: %s: %w", what, err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc := resp.Header.Get("Location")
			lu, err := url.Parse(loc)
			if err != nil || loc == "" {
				return nil, fmt.Errorf("hub: %s: redirect without a valid Location", what)
			}
			if lu.Host == "" { // relative redirect (renamed repo): follow it
				base, _ := url.Parse(u)
				u = base.ResolveReference(lu).String()
				continue
			}
			return metaFrom(resp, loc, what)
		}
		if resp.StatusCode/100 != 2 {
			return nil, statusError(resp, what)
		}
		return metaFrom(resp, "", what)
	}
	return nil, fmt.Errorf("hub: %s: too many redirects", what)
}

func metaFrom(resp *http.Response, location, what string) (*fileMeta, error) {
	m := &fileMeta{location: location}
	m.commit = resp.Header.Get("X-Repo-Commit")
	m.etag = cleanEtag(resp.Header.Get("X-Linked-Etag"))
	if m.etag == "" {
		m.etag = cleanEtag(resp.Header.Get("ETag"))
	}
	size := resp.Header.Get("X-Linked-Size")
	if size == "" {
		size = resp.Header.Get("Content-Length")
	}
	if size != "" {
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("hub: %s: bad size header %q", what, size)
		}
		m.size = n
	} else {
		m.size = -1
	}
	if !IsCommitHash(m.commit) {
		return nil, fmt.Errorf("hub: %s: the server sent no valid X-Repo-Commit header (%q)", what, m.commit)
	}
	if !validEtag(m.etag) {
		return nil, fmt.Errorf("hub: %s: the server sent no usable ETag (%q)", what, m.etag)
	}
	return m, nil
}

// Download returns the local path of filename at revision of repoID (hf_hub_download): from the cache
// when it is there for the resolved commit, else downloaded into it. Offline, it resolves from the
// cache only.
func (c *Client) Download(ctx context.Context, repoID, revision, filename string) (string, error) {
	if revision == "" {
		revision = "main"
	}
	if err := ValidateRepoID(repoID); err != nil {
		return "", err
	}
	if err := ValidateRevision(revision); err != nil {
		return "", err
	}
	if err := ValidateFilename(filename); err != nil {
		return "", err
	}
	if c.offline {
		p, err := c.cache.CachedFile(repoID, revision, filename)
		if err != nil {
			return "", fmt.Errorf("hub: %s@%s/%s: %w (%v)", repoID, revision, filename, ErrOffline, err)
		}
		return p, nil
	}
	meta, err := c.head(ctx, repoID, revision, filename)
	if err != nil {
		// Network trouble (not a definite answer from the hub): fall back to the cache.
		if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrUnauthorized) && ctx.Err() == nil {
			if p, cerr := c.cache.CachedFile(repoID, revision, filename); cerr == nil {
				return p, nil
			}
		}
		return "", err
	}
	if err := c.cache.writeRef(repoID, revision, meta.commit); err != nil {
		return "", err
	}
	if p, err := c.cache.CachedFile(repoID, meta.commit, filename); err == nil {
		return p, nil
	}
	blob, err := c.cache.inside(RepoFolderName(repoID), "blobs", meta.etag)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(blob); err != nil {
		src := meta.location
		if src == "" {
			src = c.resolveURL(repoID, meta.commit, filename)
		}
		if err := c.fetchBlob(ctx, src, blob, meta, fmt.Sprintf("%s@%s/%s", repoID, revision, filename)); err != nil {
			return "", err
		}
	}
	return c.cache.linkSnapshot(repoID, meta.commit, filename, meta.etag)
}

var sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// fetchBlob downloads src into blob under a lock: to blob.incomplete (resumed with Range when a
// partial file exists), verified (size; sha256 when the etag is one), then renamed into place.
func (c *Client) fetchBlob(ctx context.Context, src, blob string, meta *fileMeta, what string) error {
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	lockDir, err := c.cache.inside(".locks", filepath.Base(filepath.Dir(filepath.Dir(blob))))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(lockDir, meta.etag+".lock"))
	if err != nil {
		return fmt.Errorf("hub: lock %s: %w", what, err)
	}
	defer unlock()
	if _, err := os.Stat(blob); err == nil { // another process finished it while we waited
		return nil
	}
	tmp := blob + ".incomplete"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return fmt.Errorf("hub: %w", err)
	}
	if meta.size >= 0 && have > meta.size { // garbage from elsewhere: start over
		if err := f.Truncate(0); err != nil {
			f.Close()
			return fmt.Errorf("hub: %w", err)
		}
		have, _ = f.Seek(0, io.SeekStart)
	}
	err = c.get(ctx, src, f, have, meta.size, what)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err // the partial file stays for a later resume, never under the final name
	}
	if err := verifyBlob(tmp, meta, what); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, blob); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	return nil
}

// get streams src into f from offset have, retrying with Range after interruptions.
func (c *Client) get(ctx context.Context, src string, f *os.File, have, size int64, what string) error {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if size >= 0 && have >= size {
			return nil
		}
		req, err := c.newRequest(ctx, http.MethodGet, src)
		if err != nil {
			return err
		}
		req.Header.Set("Accept-Encoding", "identity")
		if have > 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
		}
		resp, err := c.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("hub: %s: %w", what, ctx.Err())
			}
			lastErr = err
			continue
		}
		switch {
		case resp.StatusCode == http.StatusPartialContent && have > 0:
		case resp.StatusCode == http.StatusOK:
			if have > 0 { // server ignored Range: start over
				if err := f.Truncate(0); err != nil {
					resp.Body.Close()
					return fmt.Errorf("hub: %w", err)
				}
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					resp.Body.Close()
					return fmt.Errorf("hub: %w", err)
				}
				have = 0
			}
		case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && size >= 0 && have >= size:
			resp.Body.Close()
			return nil
		default:
			err := statusError(resp, what)
			resp.Body.Close()
			return err
		}
		var w io.Writer = f
		if c.onProgress != nil || (c.progress != nil && size > 10<<20) {
			w = &progressWriter{w: f, out: c.progress, fn: c.onProgress, done: have, total: size, name: what}
		}
		n, err := io.Copy(w, resp.Body)
		resp.Body.Close()
		have += n
		if err == nil && (size < 0 || have >= size) {
			if pw, ok := w.(*progressWriter); ok {
				pw.finish()
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("hub: %s: %w", what, ctx.Err())
		}
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		lastErr = err
	}
	return fmt.Errorf("hub: %s: download failed after retries: %w", what, lastErr)
}

func verifyBlob(p string, meta *fileMeta, what string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("hub: %s: %w", what, err)
	}
	if meta.size >= 0 && n != meta.size {
		return fmt.Errorf("hub: %s: downloaded %d bytes, the hub announced %d", what, n, meta.size)
	}
	if sha256Pattern.MatchString(meta.etag) {
		if got := hex.EncodeToString(h.Sum(nil)); got != meta.etag {
			return fmt.Errorf("hub: %s: sha256 %s does not match the ETag %s", what, got, meta.etag)
		}
	}
	return nil
}

// RepoInfo is what the hub's model API tells about a revision.
type RepoInfo struct {
	// SHA is the commit the revision resolves to.
	SHA string
	// Files lists the repository's files.
	Files []string
}

// Info lists the files of a revision: GET {endpoint}/api/models/{repo}/revision/{revision}.
func (c *Client) Info(ctx context.Context, repoID, revision string) (*RepoInfo, error) {
	if revision == "" {
		revision = "main"
	}
	if err := ValidateRepoID(repoID); err != nil {
		return nil, err
	}
	if err := ValidateRevision(revision); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("%s@%s", repoID, revision)
	if c.offline {
		return nil, fmt.Errorf("hub: %s: cannot list files: %w", what, ErrOffline)
	}
	u := fmt.Sprintf("%s/api/models/%s/revision/%s", c.endpoint, repoID, url.PathEscape(revision))
	req, err := c.newRequest(ctx, http.MethodGet, u)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("hub: %s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, statusError(resp, what)
	}
	var body struct {
		SHA      string `json:"sha"`
		Siblings []struct {
			Rfilename string `json:"rfilename"`
		} `json:"siblings"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("hub: %s: model info: %w", what, err)
	}
	info := &RepoInfo{SHA: body.SHA}
	for _, s := range body.Siblings {
		if ValidateFilename(s.Rfilename) == nil {
			info.Files = append(info.Files, s.Rfilename)
		}
	}
	return info, nil
}

// progressWriter draws a one-line progress bar.
type progressWriter struct {
	w           io.Writer
	out         io.Writer
	done, total int64
	name        string
	last        time.Time
	fn          func(file string, done, total int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	if time.Since(p.last) > 200*time.Millisecond {
		p.last = time.Now()
		p.draw()
	}
	return n, err
}

func (p *progressWriter) draw() {
	if p.fn != nil {
		p.fn(p.name, p.done, p.total)
	}
	if p.out == nil {
		return
	}
	pct := float64(p.done) / float64(max(p.total, 1)) * 100
	fmt.Fprintf(p.out, "\r%s: %5.1f%% (%d / %d MB)", p.name, pct, p.done>>20, p.total>>20)
}

func (p *progressWriter) finish() {
	p.draw()
	if p.out != nil {
		fmt.Fprintln(p.out)
	}
}

// IsTerminal reports whether f is a character device (a terminal), for deciding on progress bars.
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
