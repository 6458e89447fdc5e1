package parity

import (
	"context"
	"encoding/json"
	"path/filepath"

	"github.com/gotransformers/gotransformers/processing/image"
)

// tinyImageNote explains the deliberate divergence of FORMAT.md note 7 (docs/parity.md).
const tinyImageNote = "1x1 image processed (transformers 4.45 mistakes its (1,1,3) array for channels-first and raises; we do the natural thing)"

// runImageProcessor runs a `image_processor` case (FORMAT.md, "Case kinds"): BlipImageProcessor
// from the folder's preprocessor_config.json on the input image(s) with the case's call-time
// kwargs -> pixel_values, compared with the case's tolerance (pixel_values@gather for the
// snapshot folders is handled by CompareOutputs).
func runImageProcessor(ctx context.Context, env *Env, c *Case) Result {
	v, err := env.Cache("image.BlipImageProcessor", func() (any, error) {
		return image.LoadBlipImageProcessor(env.Dir)
	})
	if err != nil {
		return Fail("load image processor: %v", err)
	}
	proc := v.(*image.BlipImageProcessor)

	var files []string
	if c.HasInput("image") {
		var f string
		if err := c.Input("image", &f); err != nil {
			return Fail("%v", err)
		}
		files = []string{f}
	} else if err := c.Input("images", &files); err != nil {
		return Fail("%v", err)
	}
	var kwargs map[string]json.RawMessage
	if c.HasInput("kwargs") {
		if err := c.Input("kwargs", &kwargs); err != nil {
			return Fail("%v", err)
		}
	}
	over, err := image.ParseOverrides(kwargs)
	if err != nil {
		return Fail("%v", err)
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = filepath.Join(env.Inputs, f)
	}
	if err := ctx.Err(); err != nil {
		return Fail("%v", err)
	}
	pix, err := proc.PreprocessFiles(paths, over, nil)
	if c.ExpectError != "" {
		note := ""
		if err == nil && isTiny(paths) {
			note = tinyImageNote
		}
		return ErrorCase(c, err, note)
	}
	if err != nil {
		return Fail("%v", err)
	}
	return env.CompareOutputs(c, map[string]any{"pixel_values": pix})
}

// isTiny reports whether one of the images has a 1-pixel side (the case transformers rejects).
func isTiny(paths []string) bool {
	for _, p := range paths {
		img, err := image.DecodeFile(p, nil)
		if err != nil {
			return false
		}
		if img.Width == 1 && img.Height == 1 {
			return true
		}
	}
	return false
}
