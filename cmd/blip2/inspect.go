package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gotransformers/gotransformers/hub"
	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/processing/tokenizer"
	"github.com/gotransformers/gotransformers/transformers"
	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// Part names, in state_dict order.
var partNames = []string{"vision", "qformer", "projection", "language_model"}

// partOf returns the part a checkpoint key belongs to (the Q-Former includes query_tokens).
func partOf(key string) string {
	switch {
	case strings.HasPrefix(key, "vision_model."):
		return "vision"
	case strings.HasPrefix(key, "qformer.") || key == "query_tokens":
		return "qformer"
	case strings.HasPrefix(key, "language_projection."):
		return "projection"
	}
	return "language_model"
}

// partReport is the size of one part.
type partReport struct {
	Name       string           `json:"name"`
	Parameters int64            `json:"parameters"`
	Bytes      map[string]int64 `json:"bytes"` // per stored dtype ("float32", "bfloat16", ...)
}

// coverageReport says whether one weight source (the weight files, or one index file) holds exactly
// the module tree's keys.
type coverageReport struct {
	Source     string   `json:"source"`
	Keys       int      `json:"keys"`
	Exact      bool     `json:"exact"`
	TiedFilled []string `json:"tied_filled,omitempty"` // tree keys absent from the source, filled from their tie group
	Missing    []string `json:"missing,omitempty"`
	Unexpected []string `json:"unexpected,omitempty"`
	MisShaped  []string `json:"mis_shaped,omitempty"`
	// TotalSize is an index's metadata.total_size (bytes; -1 when absent); BytesPerParam is it
	// divided by the parameters its keys hold at the config's shapes.
	TotalSize     int64   `json:"total_size,omitempty"`
	BytesPerParam float64 `json:"bytes_per_parameter,omitempty"`
}

// inspectReport is what "blip2 inspect" prints.
type inspectReport struct {
	Model          string           `json:"model"`
	Dir            string           `json:"dir"`
	ModelType      string           `json:"model_type"`
	Architectures  []string         `json:"architectures,omitempty"`
	TextModelType  string           `json:"text_model_type"`
	EncoderDecoder bool             `json:"encoder_decoder"`
	ImageTokenMode string           `json:"image_token_mode"` // "expanded" or "legacy"
	ImageTokenNote string           `json:"image_token_note"`
	NumQueryTokens int              `json:"num_query_tokens"`
	Tokenizer      string           `json:"tokenizer"`
	TokenizerFile  string           `json:"tokenizer_files"`
	TokenizerLen   int              `json:"tokenizer_len"`
	ImageTokenID   int              `json:"image_token_id"`
	StoredDType    string           `json:"stored_dtype"`
	DTypeSource    string           `json:"dtype_source"`
	WeightsPresent bool             `json:"weights_present"`
	Parts          []partReport     `json:"parts"`
	Total          partReport       `json:"total"`
	Coverage       []coverageReport `json:"coverage"`
}

// runInspect is "blip2 inspect": the module tree is built shape-only from config.json (no weight
// memory), then sizes per part, the stored dtype, the image-token mode, the tokenizer and the
// coverage of the weight files (when present) and of the index files are reported.
func runInspect(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "inspect", "[--model M] [--revision R] [--offline] [--json]")
	var c commonFlags
	c.register(fs)
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("inspect takes no arguments (got %q)", rest)
	}
	if c.dtype != "" {
		return usagef("--dtype has no meaning for inspect (it reports the stored dtype)")
	}
	opts, err := c.loadOptions(e)
	if err != nil {
		return err
	}
	r, err := inspect(ctx, &c, opts)
	if err != nil {
		return err
	}
	if c.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetEscapeHTML(false)
		return enc.Encode(r)
	}
	return printInspect(e.stdout, r)
}

// inspect builds the report.
func inspect(ctx context.Context, c *commonFlags, opts []transformers.Option) (*inspectReport, error) {
	dir, err := resolveModel(ctx, c, false, opts)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(c.model); err != nil || !st.IsDir() {
		fetchIndexes(ctx, c, opts)
	}
	cfg, err := blip2.Blip2ConfigFromPretrained(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", c.model, err)
	}
	shape, err := blip2.NewShapeOnly(cfg)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", c.model, err)
	}
	r := &inspectReport{
		Model: c.model, Dir: dir, ModelType: cfg.ModelType(), Architectures: cfg.Architectures,
		TextModelType: cfg.TextConfig.ModelType(), EncoderDecoder: shape.LanguageModel.IsEncoderDecoder(),
		NumQueryTokens: cfg.NumQueryTokens,
	}
	keys := shape.StateDictKeys()
	shapeOf := map[string][]int{}
	for _, k := range keys {
		shapeOf[k.Name] = k.Shape
	}

	// Weight files present: bind them (mmap, nothing read) for the stored dtypes and the coverage.
	dtypeOf := map[string]string{}
	if sd := openWeights(dir); sd != nil {
		defer sd.Close()
		r.WeightsPresent = true
		b := weights.NewBinder(sd)
		m, err := blip2.NewBlip2ForConditionalGeneration(cfg, b)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", c.model, err)
		}
		r.Coverage = append(r.Coverage, coverage(weightSourceName(dir, sd), len(sd.Keys()), sd.Has, m.StateDictKeys(), b.Finish()))
		for _, k := range m.StateDictKeys() {
			if dt, _, ok := sd.Info(k.Name); ok {
				dtypeOf[k.Name] = dtypeName(dt)
			}
		}
		r.DTypeSource = "weight files"
	}
	var indexRatio float64
	for _, name := range []string{weights.SafetensorsIndexName, weights.PytorchIndexName} {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		idx, err := weights.ReadIndex(path)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", c.model, err)
		}
		b := weights.NewBinder(weights.NewIndexStateDict(idx))
		m, err := blip2.NewBlip2ForConditionalGeneration(cfg, b)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", c.model, err)
		}
		inIndex := func(k string) bool { _, ok := idx.WeightMap[k]; return ok }
		cov := coverage(name, len(idx.WeightMap), inIndex, m.StateDictKeys(), b.Finish())
		cov.TotalSize = idx.TotalSize
		var numel int64
		for k := range idx.WeightMap {
			if s, ok := shapeOf[k]; ok {
				numel += numelOf(s)
			}
		}
		if idx.TotalSize > 0 && numel > 0 {
			cov.BytesPerParam = float64(idx.TotalSize) / float64(numel)
			if indexRatio == 0 {
				indexRatio = cov.BytesPerParam
			}
		}
		r.Coverage = append(r.Coverage, cov)
	}

	// Stored dtype when no weight files: the index's bytes per parameter, else config torch_dtype.
	fallback := "float32"
	if td := cfg.TorchDType; td != nil && *td != "" {
		fallback = *td
	}
	switch {
	case r.WeightsPresent:
	case indexRatio > 3.9 && indexRatio < 4.1:
		fallback, r.DTypeSource = "float32", fmt.Sprintf("index total_size / parameters = %.4f", indexRatio)
	case indexRatio > 1.9 && indexRatio < 2.1:
		if fallback != "float16" && fallback != "bfloat16" {
			fallback = "float16"
		}
		r.DTypeSource = fmt.Sprintf("index total_size / parameters = %.4f, config torch_dtype", indexRatio)
	default:
		r.DTypeSource = "config torch_dtype"
	}

	parts := map[string]*partReport{}
	for _, p := range partNames {
		parts[p] = &partReport{Name: p, Bytes: map[string]int64{}}
	}
	r.Total = partReport{Name: "total", Bytes: map[string]int64{}}
	dtypes := map[string]bool{}
	for _, k := range keys {
		if k.TiedTo != "" && k.TiedTo != k.Name {
			continue
		}
		n := numelOf(k.Shape)
		dt, ok := dtypeOf[k.Name]
		if !ok {
			dt = fallback
		}
		dtypes[dt] = true
		p := parts[partOf(k.Name)]
		p.Parameters += n
		p.Bytes[dt] += n * int64(dtypeSize(dt))
		r.Total.Parameters += n
		r.Total.Bytes[dt] += n * int64(dtypeSize(dt))
	}
	for _, p := range partNames {
		r.Parts = append(r.Parts, *parts[p])
	}
	r.StoredDType = strings.Join(sortedKeys(dtypes), "+")
	if got, want := r.Total.Parameters, shape.ParameterCounts().Total; got != want {
		return nil, fmt.Errorf("model %s: internal error: %d parameters by part, ParameterCounts says %d", c.model, got, want)
	}

	// Processor: tokenizer and image-token mode.
	proc, err := blip2.Blip2ProcessorFromPretrained(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("model %s: processor: %w", c.model, err)
	}
	r.Tokenizer = proc.Tokenizer.Class()
	r.TokenizerFile = "slow files"
	if _, err := os.Stat(filepath.Join(dir, tokenizer.TokenizerJSONFile)); err == nil {
		r.TokenizerFile = tokenizer.TokenizerJSONFile
	}
	r.TokenizerLen = proc.Tokenizer.Len()
	r.ImageTokenID = proc.ImageTokenID
	r.ImageTokenMode, r.ImageTokenNote = imageTokenMode(cfg, proc)
	return r, nil
}

// imageTokenMode describes how images enter the prompt.
func imageTokenMode(cfg *blip2.Blip2Config, proc *blip2.Blip2Processor) (string, string) {
	switch {
	case cfg.ImageTokenIndex != nil && proc.NumQueryTokens != nil:
		return "expanded", fmt.Sprintf("the processor inserts %d %s ids (id %d); their embeddings are replaced by the projected query outputs (config image_token_index %d)",
			*proc.NumQueryTokens, blip2.ImageToken, proc.ImageTokenID, *cfg.ImageTokenIndex)
	case cfg.ImageTokenIndex != nil:
		return "expanded", fmt.Sprintf("config image_token_index %d, but %s has no num_query_tokens: prompts must carry %d %s tokens themselves",
			*cfg.ImageTokenIndex, blip2.ProcessorConfigFile, cfg.NumQueryTokens, blip2.ImageToken)
	case proc.NumQueryTokens != nil:
		return "legacy", fmt.Sprintf("config.json has no image_token_index, while %s has num_query_tokens %d: the projected query outputs are concatenated in front of the prompt, whose %d %s ids (id %d) stay as text tokens (as transformers 4.45 and later do)",
			blip2.ProcessorConfigFile, *proc.NumQueryTokens, *proc.NumQueryTokens, blip2.ImageToken, proc.ImageTokenID)
	}
	return "legacy", fmt.Sprintf("the %d projected query outputs are concatenated in front of the prompt embeddings", cfg.NumQueryTokens)
}

// fetchIndexes downloads the index files of a hub repo into the cache (inspect needs no shard);
// repos without them are fine.
func fetchIndexes(ctx context.Context, c *commonFlags, opts []transformers.Option) {
	lo := transformers.NewLoadOptions(opts...)
	cl := hub.NewClient(hub.Options{Token: lo.Token, CacheDir: lo.CacheDir, Offline: lo.Offline, OnProgress: lo.Progress})
	for _, f := range []string{weights.SafetensorsIndexName, weights.PytorchIndexName} {
		_, _ = cl.Download(ctx, c.model, lo.Revision, f)
	}
}

// openWeights opens the folder's weight files when they are all there (nil otherwise).
func openWeights(dir string) *weights.StateDict {
	has := func(name string) bool { _, err := os.Stat(filepath.Join(dir, name)); return err == nil }
	present := has(weights.SafetensorsName) || has(weights.PytorchName)
	for _, name := range []string{weights.SafetensorsIndexName, weights.PytorchIndexName} {
		if present || !has(name) {
			continue
		}
		idx, err := weights.ReadIndex(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		all := true
		for _, s := range idx.Shards() {
			all = all && has(s)
		}
		present = all
	}
	if !present {
		return nil
	}
	sd, err := weights.LoadStateDict(dir)
	if err != nil {
		return nil
	}
	return sd
}

// weightSourceName names the files a state dict was opened from.
func weightSourceName(dir string, sd *weights.StateDict) string {
	if idx := sd.Index(); idx != nil {
		return filepath.Base(idx.Path) + " + " + fmt.Sprint(len(idx.Shards())) + " shards"
	}
	var names []string
	for _, f := range sd.Files() {
		names = append(names, filepath.Base(f.Path()))
	}
	return strings.Join(names, ", ")
}

// coverage turns a binder's Finish result into a report.
// has reports whether the source holds a key.
func coverage(source string, n int, has func(string) bool, keys []weights.KeyInfo, finish error) coverageReport {
	cov := coverageReport{Source: source, Keys: n, Exact: finish == nil}
	for _, k := range keys {
		if k.TiedTo != "" && k.TiedTo != k.Name && !has(k.Name) {
			cov.TiedFilled = append(cov.TiedFilled, k.Name+" <- "+k.TiedTo)
		}
	}
	var ke *weights.KeysError
	if errors.As(finish, &ke) {
		cov.Missing = ke.Missing
		for _, u := range ke.Unexpected {
			cov.Unexpected = append(cov.Unexpected, u.Name+" ("+u.Source+")")
		}
		for _, m := range ke.MisShaped {
			got := fmt.Sprint(m.Got)
			if m.GotDType != "" {
				got += " " + m.GotDType
			}
			cov.MisShaped = append(cov.MisShaped, fmt.Sprintf("%s: want %v, got %s (%s)", m.Name, m.Want, got, m.Source))
		}
	} else if finish != nil {
		cov.Missing = []string{finish.Error()}
	}
	return cov
}

func printInspect(w io.Writer, r *inspectReport) error {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("model:          %s (%s)\n", r.Model, r.Dir)
	kind := "decoder-only"
	if r.EncoderDecoder {
		kind = "encoder-decoder"
	}
	p("model type:     %s %v, language model %s (%s)\n", r.ModelType, r.Architectures, r.TextModelType, kind)
	p("image tokens:   %s: %s\n", r.ImageTokenMode, r.ImageTokenNote)
	p("tokenizer:      %s from %s, %d tokens with %s (id %d)\n", r.Tokenizer, r.TokenizerFile, r.TokenizerLen, blip2.ImageToken, r.ImageTokenID)
	p("stored dtype:   %s (%s)\n", r.StoredDType, r.DTypeSource)
	p("parameters (tied counted once; the Q-Former includes the %d query tokens):\n", r.NumQueryTokens)
	for _, part := range append(append([]partReport(nil), r.Parts...), r.Total) {
		p("  %-15s %15s  %9s  %s\n", part.Name, commas(part.Parameters), humanCount(part.Parameters), bytesText(part.Bytes))
	}
	if !r.WeightsPresent {
		p("weights:        none in the folder (sizes from config.json)\n")
	}
	if len(r.Coverage) == 0 {
		p("coverage:       no weight or index files\n")
	}
	for _, cv := range r.Coverage {
		status := "covers the module tree exactly"
		if !cv.Exact {
			status = fmt.Sprintf("does NOT cover the module tree: %d missing, %d unexpected, %d mis-shaped", len(cv.Missing), len(cv.Unexpected), len(cv.MisShaped))
		}
		p("coverage:       %s (%d keys): %s", cv.Source, cv.Keys, status)
		if len(cv.TiedFilled) > 0 {
			p("; tied, filled from their group: %s", strings.Join(cv.TiedFilled, ", "))
		}
		if cv.BytesPerParam > 0 {
			p("; total_size %d = %.4f bytes per parameter", cv.TotalSize, cv.BytesPerParam)
		}
		p("\n")
		for _, l := range [][]string{cv.Missing, cv.Unexpected, cv.MisShaped} {
			for i, s := range l {
				if i == 10 {
					p("    ... %d more\n", len(l)-10)
					break
				}
				p("    %s\n", s)
			}
		}
	}
	return nil
}

// bytesText prints bytes per dtype ("14.98 GB float32").
func bytesText(m map[string]int64) string {
	var parts []string
	for _, dt := range sortedKeys(m) {
		parts = append(parts, humanBytes(m[dt])+" "+dt)
	}
	return strings.Join(parts, " + ")
}

// humanBytes prints a byte count in decimal units ("14.98 GB", "3.48 MB", "512 bytes").
func humanBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.2f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d bytes", n)
}

// humanCount prints a parameter count in billions (from 0.1 B on, three digits: "3.74 B",
// "0.986 B", "0.105 B"), millions or thousands.
func humanCount(n int64) string {
	switch {
	case n >= 1e8:
		return fmt.Sprintf("%.3g B", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f M", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f K", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// commas prints n with thousands separators.
func commas(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	return b.String()
}

func numelOf(shape []int) int64 {
	n := int64(1)
	for _, s := range shape {
		n *= int64(s)
	}
	return n
}

// dtypeName maps a checkpoint dtype ("F32", "BF16", ...) to torch's name.
func dtypeName(dt string) string {
	switch dt {
	case "F32":
		return "float32"
	case "F16":
		return "float16"
	case "BF16":
		return "bfloat16"
	case "F64":
		return "float64"
	}
	return strings.ToLower(dt)
}

// dtypeSize is the bytes per element of a torch dtype name.
func dtypeSize(dt string) int {
	switch dt {
	case "float16", "bfloat16":
		return tensor.F16.Size()
	case "float64", "int64":
		return 8
	}
	return tensor.F32.Size()
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
