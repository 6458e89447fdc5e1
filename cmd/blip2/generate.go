package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/processing/image"
	"github.com/gotransformers/gotransformers/transformers/generation"
)

// VQAPrompt is the prompt template of the vqa command (the BLIP-2 model card's).
const VQAPrompt = "Question: %s Answer:"

// DefaultMaxNewTokens is the --max-new-tokens default of caption and vqa. A bare generate() uses
// the language model's max_length (20), which counts the prompt embeddings: with the 32 <image>
// tokens of expanded-mode checkpoints such as Salesforce/blip2-opt-2.7b the prompt alone is
// longer, and transformers 4.45 (like this port) then raises "Input length of input_ids is 0, but
// max_length is set to -13". 30 is LAVIS's caption length.
const DefaultMaxNewTokens = 30

// generateResult is one --json line of caption / vqa.
type generateResult struct {
	Image      string  `json:"image"`
	Prompt     string  `json:"prompt"`
	Text       string  `json:"text"`
	IDs        []int   `json:"ids"`
	PreprocMS  float64 `json:"preprocess_ms"`
	GenerateMS float64 `json:"generate_ms"`
	TotalMS    float64 `json:"total_ms"`
}

// runGenerate is "blip2 caption" and "blip2 vqa": Blip2Processor(images=img, text=prompt) ->
// Blip2ForConditionalGeneration.generate -> batch_decode(skip_special_tokens=True)[0].strip(), one
// line per image.
func runGenerate(ctx context.Context, e *env, cmd string, args []string) error {
	synopsis := "[--model M] [--prompt P] [--max-new-tokens N] [--num-beams K] [--dtype float32|bfloat16] [--revision R] [--offline] [--json] IMAGE..."
	if cmd == "vqa" {
		synopsis = "--question Q [--model M] [--max-new-tokens N] [--num-beams K] [--dtype float32|bfloat16] [--revision R] [--offline] [--json] IMAGE..."
	}
	fs := newFlagSet(e, cmd, synopsis)
	var c commonFlags
	c.register(fs)
	var prompt, question string
	var maxNew, beams int
	if cmd == "caption" {
		fs.StringVar(&prompt, "prompt", "", "text the caption continues (default none)")
	} else {
		fs.StringVar(&question, "question", "", `the question (prompt "Question: Q Answer:")`)
	}
	fs.IntVar(&maxNew, "max-new-tokens", DefaultMaxNewTokens, "max_new_tokens; 0 uses the model's generation defaults (max_length, as a bare generate() call)")
	fs.IntVar(&beams, "num-beams", 0, "num_beams (default: the model's, 1 = greedy)")
	imgArgs, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if cmd == "vqa" {
		if question == "" {
			return usagef("--question is required")
		}
		prompt = fmt.Sprintf(VQAPrompt, question)
	}
	if len(imgArgs) == 0 {
		return usagef("no IMAGE given (a file path, or - for stdin)")
	}
	set := setFlags(fs)
	if maxNew < 0 {
		return usagef("--max-new-tokens %d: want 0 (model defaults) or more", maxNew)
	}
	if set["num-beams"] && beams < 1 {
		return usagef("--num-beams %d: want at least 1", beams)
	}
	var genOpts []generation.Option
	if maxNew > 0 {
		genOpts = append(genOpts, generation.WithMaxNewTokens(maxNew))
	}
	if beams > 0 {
		genOpts = append(genOpts, generation.WithNumBeams(beams))
	}
	opts, err := c.loadOptions(e)
	if err != nil {
		return err
	}
	// Decode every image first: a bad file fails before the (slow) model load.
	imgs, err := loadImages(e, imgArgs)
	if err != nil {
		return err
	}
	dir, err := resolveModel(ctx, &c, true, opts)
	if err != nil {
		return err
	}
	proc, err := blip2.Blip2ProcessorFromPretrained(ctx, dir, opts...)
	if err != nil {
		return fmt.Errorf("model %s: processor: %w", c.model, err)
	}
	model, err := blip2.FromPretrained(ctx, dir, opts...)
	if err != nil {
		return fmt.Errorf("model %s: %w", c.model, err)
	}
	defer model.Close()
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	for i, img := range imgs {
		r, err := generateOne(ctx, proc, model, img, prompt, genOpts)
		if err != nil {
			return fmt.Errorf("image %s: %w", displayName(imgArgs[i]), err)
		}
		r.Image = displayName(imgArgs[i])
		if c.json {
			if err := enc.Encode(r); err != nil {
				return err
			}
		} else if _, err := fmt.Fprintln(e.stdout, r.Text); err != nil {
			return err
		}
	}
	return nil
}

// generateOne runs the processor, generate and decode for one image.
func generateOne(ctx context.Context, proc *blip2.Blip2Processor, model *blip2.Blip2ForConditionalGeneration, img *image.Image, prompt string, genOpts []generation.Option) (*generateResult, error) {
	t0 := time.Now()
	in, err := proc.Call([]*image.Image{img}, []string{prompt}, blip2.ProcessorOptions{})
	if err != nil {
		return nil, fmt.Errorf("processor: %w", err)
	}
	t1 := time.Now()
	out, err := model.Generate(ctx, &blip2.GenerateInput{PixelValues: in.PixelValues, InputIDs: in.InputIDs, AttentionMask: in.AttentionMask}, genOpts...)
	if err != nil {
		return nil, err
	}
	t2 := time.Now()
	if len(out.Sequences) != 1 {
		return nil, fmt.Errorf("generate returned %d sequences, want 1", len(out.Sequences))
	}
	texts, err := proc.BatchDecode(out.Sequences, true)
	if err != nil {
		return nil, fmt.Errorf("decode %v: %w", out.Sequences[0], err)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return &generateResult{
		Prompt: prompt, Text: pyStrip(texts[0]), IDs: out.Sequences[0],
		PreprocMS: ms(t1.Sub(t0)), GenerateMS: ms(t2.Sub(t1)), TotalMS: ms(time.Since(t0)),
	}, nil
}
