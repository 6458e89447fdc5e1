package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gotransformers/gotransformers/hub"
	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/processing/image"
	"github.com/gotransformers/gotransformers/transformers"
)

// resolveModel returns the local folder of --model (a folder as it is; a hub repo id through the
// cache, with the weights when withWeights) and checks that its config.json is a BLIP-2 config.
func resolveModel(ctx context.Context, c *commonFlags, withWeights bool, opts []transformers.Option) (string, error) {
	if c.model == "" {
		return "", usagef("--model is empty")
	}
	// Every non-weight file the repo has (configs, tokenizer, processor), then the weights: the
	// library loaders below then find everything in the one snapshot folder.
	files := hub.ModelFiles()
	if withWeights {
		files = append(files, hub.WeightFiles()...)
	}
	dir, err := transformers.ResolveModelDir(ctx, c.model, files, transformers.NewLoadOptions(opts...))
	if err != nil {
		return "", fmt.Errorf("model %s: %w", c.model, err)
	}
	m, path, err := transformers.LoadConfigDict(ctx, dir, transformers.ConfigName)
	if err != nil {
		return "", fmt.Errorf("model %s: %w", c.model, err)
	}
	mt, _ := m["model_type"].(string)
	if mt != blip2.ModelType {
		if mt == "" {
			return "", fmt.Errorf("model %s: %s has no model_type; want %q (a Blip2ForConditionalGeneration checkpoint)", c.model, path, blip2.ModelType)
		}
		return "", fmt.Errorf("model %s: %s: unknown model type %q; want %q (a Blip2ForConditionalGeneration checkpoint)", c.model, path, mt, blip2.ModelType)
	}
	return dir, nil
}

// loadImages decodes the IMAGE arguments ("-" reads stdin, at most once) as Pillow's
// Image.open(f).convert("RGB") does.
func loadImages(e *env, args []string) ([]*image.Image, error) {
	n := 0
	for _, a := range args {
		if a == "-" {
			n++
		}
	}
	if n > 1 {
		return nil, usagef(`"-" (stdin) given more than once`)
	}
	imgs := make([]*image.Image, 0, len(args))
	stdinUsed := false
	for _, a := range args {
		img, err := loadImage(e, a, &stdinUsed)
		if err != nil {
			return nil, err
		}
		imgs = append(imgs, img)
	}
	return imgs, nil
}

// loadImage decodes one IMAGE argument.
func loadImage(e *env, arg string, stdinUsed *bool) (*image.Image, error) {
	if arg == "-" {
		if *stdinUsed {
			return nil, usagef(`"-" (stdin) given more than once`)
		}
		*stdinUsed = true
		data, err := io.ReadAll(e.stdin)
		if err != nil {
			return nil, fmt.Errorf("image <stdin>: %w", err)
		}
		if len(data) == 0 {
			return nil, fmt.Errorf("image <stdin>: no data")
		}
		img, err := image.DecodeBytes("<stdin>", data, nil)
		if err != nil {
			return nil, fmt.Errorf("image <stdin>: %w", err)
		}
		return img, nil
	}
	st, err := os.Stat(arg)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", arg, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("image %s: is a directory, not an image file", arg)
	}
	img, err := image.DecodeFile(arg, nil)
	if err != nil {
		return nil, fmt.Errorf("image %s: cannot decode: %w", arg, err)
	}
	return img, nil
}

// displayName is the name an IMAGE argument is reported under.
func displayName(arg string) string {
	if arg == "-" {
		return "<stdin>"
	}
	return filepath.ToSlash(arg)
}
