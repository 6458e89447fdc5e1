package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/processing/tokenizer"
	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ", ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// namedTensor is one output of the features command, in output order.
type namedTensor struct {
	Name string
	T    *tensor.Tensor
}

// tensorSummary is the short description printed for a tensor.
type tensorSummary struct {
	Shape []int     `json:"shape"`
	Mean  float64   `json:"mean"`
	Std   float64   `json:"std"`
	Min   float64   `json:"min"`
	Max   float64   `json:"max"`
	First []float32 `json:"first"`
}

// featuresResult is the --json line of the features command.
type featuresResult struct {
	Kind    string                   `json:"kind"`
	Images  []string                 `json:"images,omitempty"`
	Texts   []string                 `json:"texts,omitempty"`
	IDs     [][]int                  `json:"ids,omitempty"`
	Outputs map[string]tensorSummary `json:"outputs"`
	Out     string                   `json:"out,omitempty"`
	TotalMS float64                  `json:"total_ms"`
}

// runFeatures is "blip2 features": Blip2Model.get_image_features (kind image: the vision model's
// last_hidden_state and pooler_output), get_qformer_features (kind qformer) or get_text_features
// (kind text: the language model's logits on --text), printed as shapes and a summary or written
// to --out as safetensors.
func runFeatures(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "features", "--kind image|qformer|text [--text T]... [--out F.safetensors] [--model M] [--dtype float32|bfloat16] [--json] [IMAGE...]")
	var c commonFlags
	c.register(fs)
	var kind, out string
	var texts stringList
	fs.StringVar(&kind, "kind", "image", "image (vision model output), qformer (Q-Former output) or text (language model logits)")
	fs.Var(&texts, "text", "text for --kind text (repeatable: one row each)")
	fs.StringVar(&out, "out", "", "write the tensors to this safetensors file instead of printing a summary")
	imgArgs, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch kind {
	case "image", "qformer":
		if len(imgArgs) == 0 {
			return usagef("--kind %s: no IMAGE given (a file path, or - for stdin)", kind)
		}
		if len(texts) > 0 {
			return usagef("--text is only used with --kind text")
		}
	case "text":
		if len(texts) == 0 {
			return usagef("--kind text: give at least one --text")
		}
		if len(imgArgs) > 0 {
			return usagef("--kind text takes no IMAGE (got %d)", len(imgArgs))
		}
	default:
		return usagef("--kind %q: want image, qformer or text", kind)
	}
	if out != "" && !strings.HasSuffix(out, ".safetensors") {
		return usagef("--out %s: the file name must end in .safetensors", out)
	}
	opts, err := c.loadOptions(e)
	if err != nil {
		return err
	}
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
	model, err := blip2.Blip2ModelFromPretrained(ctx, dir, opts...)
	if err != nil {
		return fmt.Errorf("model %s: %w", c.model, err)
	}
	defer model.Close()
	t0 := time.Now()
	res := &featuresResult{Kind: kind, Outputs: map[string]tensorSummary{}}
	var outs []namedTensor
	switch kind {
	case "image", "qformer":
		for _, a := range imgArgs {
			res.Images = append(res.Images, displayName(a))
		}
		in, err := proc.Call(imgs, nil, blip2.ProcessorOptions{})
		if err != nil {
			return fmt.Errorf("processor: %w", err)
		}
		if kind == "image" {
			o, err := model.GetImageFeatures(ctx, &blip2.ImageInput{PixelValues: in.PixelValues})
			if err != nil {
				return err
			}
			outs = []namedTensor{{"last_hidden_state", o.LastHiddenState}, {"pooler_output", o.PoolerOutput}}
		} else {
			o, err := model.GetQFormerFeatures(ctx, &blip2.ImageInput{PixelValues: in.PixelValues})
			if err != nil {
				return err
			}
			outs = []namedTensor{{"last_hidden_state", o.LastHiddenState}, {"pooler_output", o.PoolerOutput}}
		}
	case "text":
		res.Texts = texts
		in, err := proc.Call(nil, texts, blip2.ProcessorOptions{Text: tokenizer.EncodeOptions{Padding: tokenizer.PadLongest}})
		if err != nil {
			return fmt.Errorf("tokenizer: %w", err)
		}
		res.IDs = in.InputIDs
		ti := &blip2.TextInput{InputIDs: in.InputIDs, AttentionMask: in.AttentionMask}
		if model.LanguageModel.IsEncoderDecoder() {
			// T5 needs decoder inputs: one decoder_start_token_id per row (the first decoding step).
			start := 0
			if s := model.Config.TextConfig.Base().DecoderStartTokenID; s != nil {
				start = *s
			}
			for range in.InputIDs {
				ti.DecoderInputIDs = append(ti.DecoderInputIDs, []int{start})
			}
		}
		o, err := model.GetTextFeatures(ctx, ti)
		if err != nil {
			return err
		}
		outs = []namedTensor{{"logits", o.Logits}}
	}
	for _, o := range outs {
		res.Outputs[o.Name] = summarize(o.T)
	}
	if out != "" {
		tw := map[string]*tensor.Weight{}
		for _, o := range outs {
			tw[o.Name] = tensor.WeightFrom(o.T)
		}
		meta := map[string]string{"format": "pt", "model": c.model, "kind": kind}
		if len(res.Images) > 0 {
			meta["images"] = strings.Join(res.Images, "\n")
		}
		if len(texts) > 0 {
			b, _ := json.Marshal([]string(texts))
			meta["texts"] = string(b)
		}
		if err := weights.SaveSafetensors(out, tw, meta); err != nil {
			return fmt.Errorf("--out %s: %w", out, err)
		}
		res.Out = out
	}
	res.TotalMS = float64(time.Since(t0).Microseconds()) / 1000
	if c.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetEscapeHTML(false)
		return enc.Encode(res)
	}
	for _, o := range outs {
		s := res.Outputs[o.Name]
		fmt.Fprintf(e.stdout, "%s %v mean=%.6g std=%.6g min=%.6g max=%.6g first=%v\n", o.Name, s.Shape, s.Mean, s.Std, s.Min, s.Max, s.First)
	}
	if out != "" {
		fmt.Fprintf(e.stdout, "wrote %s\n", out)
	}
	return nil
}

// summarize returns the shape, moments, range and first values of t.
func summarize(t *tensor.Tensor) tensorSummary {
	s := tensorSummary{Shape: append([]int(nil), t.Shape...)}
	if len(t.Data) == 0 {
		return s
	}
	var sum, sq float64
	s.Min, s.Max = math.Inf(1), math.Inf(-1)
	for _, v := range t.Data {
		f := float64(v)
		sum += f
		sq += f * f
		s.Min = math.Min(s.Min, f)
		s.Max = math.Max(s.Max, f)
	}
	n := float64(len(t.Data))
	s.Mean = sum / n
	s.Std = math.Sqrt(math.Max(0, sq/n-s.Mean*s.Mean))
	s.First = append([]float32(nil), t.Data[:min(4, len(t.Data))]...)
	return s
}
