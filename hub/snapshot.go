package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// ModelFiles returns the non-weight files a model folder may need (config, generation, tokenizer and
// processor files), fetched when the repo has them.
func ModelFiles() []string {
	return []string{
		"config.json", "generation_config.json", "preprocessor_config.json", "processor_config.json",
		"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
		"vocab.json", "merges.txt", "spiece.model", "chat_template.json",
	}
}

// WeightFiles lists the weight layouts in transformers' order of preference.
func WeightFiles() []string {
	return []string{"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"}
}

// SnapshotOptions select what Snapshot downloads.
type SnapshotOptions struct {
	// Revision (branch, tag or commit; default "main").
	Revision string
	// Files to fetch when the repo has them (default ModelFiles()).
	Files []string
	// SkipWeights leaves the weights out (configs and tokenizers only).
	SkipWeights bool
}

// Snapshot makes the files a model needs available in the cache and returns the snapshot folder:
// the listed files the repo has, and the weights in transformers' order of preference (a single
// safetensors file, or the shards named by model.safetensors.index.json, else the .bin files).
// Offline, it returns the cached snapshot after checking that config.json is there.
func (c *Client) Snapshot(ctx context.Context, repoID string, opts SnapshotOptions) (string, error) {
	rev := opts.Revision
	if rev == "" {
		rev = "main"
	}
	files := opts.Files
	if files == nil {
		files = ModelFiles()
	}
	if c.offline {
		p, err := c.cache.CachedFile(repoID, rev, "config.json")
		if err != nil {
			return "", fmt.Errorf("hub: %s@%s: %w (%v)", repoID, rev, ErrOffline, err)
		}
		return filepath.Dir(p), nil
	}
	info, err := c.Info(ctx, repoID, rev)
	if err != nil {
		return "", err
	}
	have := map[string]bool{}
	for _, f := range info.Files {
		have[f] = true
	}
	var want []string
	for _, f := range files {
		if have[f] {
			want = append(want, f)
		}
	}
	if !opts.SkipWeights {
		for _, w := range WeightFiles() {
			if have[w] {
				want = append(want, w)
				break
			}
		}
	}
	commit := info.SHA
	if !IsCommitHash(commit) {
		return "", fmt.Errorf("hub: %s@%s: the model API sent no commit hash", repoID, rev)
	}
	if len(want) == 0 {
		return "", fmt.Errorf("hub: %s@%s: the repo has none of the model files: %w", repoID, rev, ErrNotFound)
	}
	for _, f := range want {
		p, err := c.Download(ctx, repoID, commit, f)
		if err != nil {
			return "", err
		}
		if f == "model.safetensors.index.json" || f == "pytorch_model.bin.index.json" {
			shards, err := ShardFiles(p)
			if err != nil {
				return "", err
			}
			for _, s := range shards {
				if _, err := c.Download(ctx, repoID, commit, s); err != nil {
					return "", err
				}
			}
		}
	}
	if rev != commit {
		if err := c.cache.writeRef(repoID, rev, commit); err != nil {
			return "", err
		}
	}
	return c.cache.SnapshotDir(repoID, commit)
}

// ShardFiles reads a sharded checkpoint index and returns its shard file names, sorted, each checked
// to be a plain relative name (no '..', absolute paths or backslashes).
func ShardFiles(indexPath string) ([]string, error) {
	b, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("hub: %s: %w", indexPath, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("hub: %s: field \"weight_map\" is missing or empty", indexPath)
	}
	seen := map[string]bool{}
	var out []string
	for key, f := range idx.WeightMap {
		if err := ValidateFilename(f); err != nil {
			return nil, fmt.Errorf("hub: %s: weight_map[%q]: %w", indexPath, key, err)
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out, nil
}

// IsNotFound reports whether err says the hub or the cache does not have the thing asked for.
func IsNotFound(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrOffline)
}
