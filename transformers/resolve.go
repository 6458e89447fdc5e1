package transformers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gotransformers/gotransformers/hub"
)

// weightFileNames are the checkpoint layouts in transformers' order of preference.
func isWeightFile(name string) bool {
	for _, w := range hub.WeightFiles() {
		if name == w {
			return true
		}
	}
	return false
}

// ResolveModelDir returns the local folder holding the files of nameOrPath, as from_pretrained
// resolves pretrained_model_name_or_path: a local directory is used as it is; anything else must be a
// hub repo id ("org/name"), whose files are fetched into the Hugging Face cache (shared with Python's
// huggingface_hub) and whose snapshot folder is returned. files lists what the caller may need: the
// non-weight files the repo has are fetched, and of the weight files (model.safetensors,
// model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json) the first the repo
// has, with the shards its index names. opts may be nil (environment defaults: HF_ENDPOINT, HF_TOKEN,
// HF_HUB_CACHE / HF_HOME, HF_HUB_OFFLINE).
func ResolveModelDir(ctx context.Context, nameOrPath string, files []string, opts *LoadOptions) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if opts == nil {
		opts = &LoadOptions{}
	}
	st, err := os.Stat(nameOrPath)
	if err == nil {
		if !st.IsDir() {
			return "", fmt.Errorf("resolve %q: a file, not a model folder", nameOrPath)
		}
		return nameOrPath, nil
	}
	if looksLikePath(nameOrPath) {
		return "", fmt.Errorf("resolve %q: no such model folder: %w", nameOrPath, err)
	}
	if verr := hub.ValidateRepoID(nameOrPath); verr != nil {
		return "", fmt.Errorf("resolve %q: neither a local folder nor a hub repo id: %w", nameOrPath, verr)
	}
	hopts := hub.Options{Token: opts.Token, CacheDir: opts.CacheDir, Offline: opts.Offline, OnProgress: opts.Progress}
	client := hub.NewClient(hopts)
	var want []string
	withWeights := false
	for _, f := range files {
		if isWeightFile(f) {
			withWeights = true
		} else {
			want = append(want, f)
		}
	}
	dir, err := client.Snapshot(ctx, nameOrPath, hub.SnapshotOptions{Revision: opts.Revision, Files: want, SkipWeights: !withWeights})
	if err != nil {
		return "", fmt.Errorf("resolve %q: %w", nameOrPath, err)
	}
	return dir, nil
}

// looksLikePath reports whether s can only be meant as a file system path (not a repo id).
func looksLikePath(s string) bool {
	return filepath.IsAbs(s) || strings.HasPrefix(s, ".") || strings.HasPrefix(s, "~") ||
		strings.Count(s, "/") > 1 || strings.ContainsRune(s, filepath.Separator) && filepath.Separator != '/'
}
