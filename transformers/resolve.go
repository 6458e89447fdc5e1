package transformers

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// ErrHubNotWired is returned by ResolveModelDir for a name that is not a local folder while hub
// downloads are not wired in.
var ErrHubNotWired = errors.New("hub downloads are not wired yet")

// ResolveModelDir returns the local folder holding files for nameOrPath: the folder itself when
// nameOrPath is a local directory. (Placeholder until the hub resolver lands: hub repo ids give
// ErrHubNotWired.) files lists the files the caller needs; opts may be nil.
func ResolveModelDir(ctx context.Context, nameOrPath string, files []string, opts *LoadOptions) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	st, err := os.Stat(nameOrPath)
	if err == nil && st.IsDir() {
		return nameOrPath, nil
	}
	return "", fmt.Errorf("resolve %q: not a local folder and %w", nameOrPath, ErrHubNotWired)
}
