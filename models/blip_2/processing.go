package blip2

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gotransformers/gotransformers/processing/image"
	"github.com/gotransformers/gotransformers/processing/tokenizer"
	"github.com/gotransformers/gotransformers/transformers"
	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// ProcessorConfigFile is the processor's own settings file (processor_config.json).
const ProcessorConfigFile = "processor_config.json"

// ImageToken is the content of the special token Blip2Processor adds ("<image>").
const ImageToken = "<image>"

// Blip2Processor mirrors transformers.Blip2Processor (4.45): a BlipImageProcessor and a tokenizer,
// with the special token <image> added to the tokenizer and, in expanded mode (num_query_tokens
// set), NumQueryTokens <image> ids prepended to every text row.
//
// Unlike transformers 4.45, a batch of N texts with images gives N rows in expanded mode (4.45
// returns one row: it encodes the <image> prefix once and zips it with the text rows).
type Blip2Processor struct {
	ImageProcessor *image.BlipImageProcessor
	Tokenizer      *tokenizer.Tokenizer
	// NumQueryTokens is processor_config.json's num_query_tokens; nil = legacy mode (no <image>
	// ids are inserted).
	NumQueryTokens *int
	// ImageToken is the image token's content ("<image>"); ImageTokenID its id.
	ImageToken   string
	ImageTokenID int
}

// NewBlip2Processor is Blip2Processor(image_processor, tokenizer, num_query_tokens): it adds
// <image> to tok as a special token (AddedToken("<image>", normalized=False, special=True)), which
// changes tok.
func NewBlip2Processor(ip *image.BlipImageProcessor, tok *tokenizer.Tokenizer, numQueryTokens *int) (*Blip2Processor, error) {
	if ip == nil || tok == nil {
		return nil, fmt.Errorf("blip2: Blip2Processor needs an image processor and a tokenizer")
	}
	if numQueryTokens != nil && *numQueryTokens < 0 {
		return nil, fmt.Errorf("blip2: Blip2Processor: num_query_tokens %d is negative", *numQueryTokens)
	}
	tok.AddTokens([]tokenizer.AddedToken{{Content: ImageToken, Special: true}}, true)
	id, ok := tok.TokenToID(ImageToken)
	if !ok {
		return nil, fmt.Errorf("blip2: Blip2Processor: %s has no id after adding it", ImageToken)
	}
	return &Blip2Processor{ImageProcessor: ip, Tokenizer: tok, NumQueryTokens: numQueryTokens, ImageToken: ImageToken, ImageTokenID: id}, nil
}

// processorFiles lists every file a processor may read: the image processor's and processor's
// configs and the tokenizer files of both loading paths (only those the repo has are fetched).
func processorFiles() []string {
	return []string{
		"preprocessor_config.json", ProcessorConfigFile, tokenizer.TokenizerConfigFile, tokenizer.TokenizerJSONFile,
		tokenizer.SpecialTokensMapFile, tokenizer.AddedTokensFile, tokenizer.VocabJSONFile, tokenizer.MergesFile,
		tokenizer.SentencePieceFile,
	}
}

// Blip2ProcessorFromPretrained mirrors Blip2Processor.from_pretrained(nameOrPath): the image
// processor from preprocessor_config.json, the tokenizer (AutoTokenizer: tokenizer.json when
// present, else the slow files) and num_query_tokens from processor_config.json.
func Blip2ProcessorFromPretrained(ctx context.Context, nameOrPath string, opts ...transformers.Option) (*Blip2Processor, error) {
	return LoadBlip2Processor(ctx, nameOrPath, tokenizer.LoadOptions{}, opts...)
}

// LoadBlip2Processor is Blip2ProcessorFromPretrained with tokenizer load options
// (tokenizer.LoadOptions{UseSlow: true} is from_pretrained(..., use_fast=False)).
func LoadBlip2Processor(ctx context.Context, nameOrPath string, tokOpt tokenizer.LoadOptions, opts ...transformers.Option) (*Blip2Processor, error) {
	dir, err := transformers.ResolveModelDir(ctx, nameOrPath, processorFiles(), transformers.NewLoadOptions(opts...))
	if err != nil {
		return nil, fmt.Errorf("blip2: %w", err)
	}
	ip, err := image.LoadBlipImageProcessor(dir)
	if err != nil {
		return nil, fmt.Errorf("blip2: %w", err)
	}
	tok, err := tokenizer.LoadAuto(dir, tokOpt)
	if err != nil {
		return nil, fmt.Errorf("blip2: %w", err)
	}
	nq, err := readNumQueryTokens(filepath.Join(dir, ProcessorConfigFile))
	if err != nil {
		return nil, err
	}
	return NewBlip2Processor(ip, tok, nq)
}

func readNumQueryTokens(path string) (*int, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("blip2: %w", err)
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("blip2: %s: %w", path, err)
	}
	raw, ok := cfg["num_query_tokens"]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil || n < 0 || n > transformers.MaxConfigSize {
		return nil, fmt.Errorf("blip2: %s: field \"num_query_tokens\": want an integer in [0, %d], got %s", path, transformers.MaxConfigSize, raw)
	}
	return &n, nil
}

// ProcessorOptions are the keyword arguments of Blip2Processor.__call__.
type ProcessorOptions struct {
	// Text are the tokenizer's arguments (padding, truncation, max_length, ...).
	Text tokenizer.EncodeOptions
	// Images are call-time overrides of the image processor (nil keeps the config).
	Images *image.Overrides
}

// Blip2Inputs is the processor output (a BatchFeature): pixel_values [N, 3, H, W] when images
// were given, input_ids and attention_mask (one row per text) when texts were given.
type Blip2Inputs struct {
	PixelValues   *tensor.Tensor
	InputIDs      [][]int
	AttentionMask [][]int
}

// Call is Blip2Processor(images=images, text=texts, **kwargs). texts == nil means text=None;
// images == nil means images=None. In expanded mode (NumQueryTokens set) with images, each text
// row gets NumQueryTokens <image> ids (attention 1) in front, before BOS and before any left
// padding.
func (p *Blip2Processor) Call(images []*image.Image, texts []string, opt ProcessorOptions) (*Blip2Inputs, error) {
	if images == nil && texts == nil {
		return nil, fmt.Errorf("blip2: Blip2Processor: you have to specify either images or text")
	}
	out := &Blip2Inputs{}
	if texts != nil {
		enc, err := p.Tokenizer.Call(texts, opt.Text)
		if err != nil {
			return nil, fmt.Errorf("blip2: Blip2Processor: %w", err)
		}
		if p.NumQueryTokens != nil && images != nil {
			prefix, err := p.Tokenizer.Encode(strings.Repeat(p.ImageToken, *p.NumQueryTokens), false)
			if err != nil {
				return nil, fmt.Errorf("blip2: Blip2Processor: %w", err)
			}
			for i := range enc.InputIDs {
				ids := append(append(make([]int, 0, len(prefix)+len(enc.InputIDs[i])), prefix...), enc.InputIDs[i]...)
				mask := make([]int, len(prefix), len(prefix)+len(enc.AttentionMask[i]))
				for j := range mask {
					mask[j] = 1
				}
				enc.InputIDs[i] = ids
				enc.AttentionMask[i] = append(mask, enc.AttentionMask[i]...)
			}
		}
		out.InputIDs, out.AttentionMask = enc.InputIDs, enc.AttentionMask
	}
	if images != nil {
		pv, err := p.ImageProcessor.Preprocess(images, opt.Images)
		if err != nil {
			return nil, fmt.Errorf("blip2: Blip2Processor: %w", err)
		}
		out.PixelValues = pv
	}
	return out, nil
}

// Decode is Blip2Processor.decode (the tokenizer's decode).
func (p *Blip2Processor) Decode(ids []int, skipSpecialTokens bool) (string, error) {
	return p.Tokenizer.Decode(ids, skipSpecialTokens)
}

// BatchDecode is Blip2Processor.batch_decode (the tokenizer's batch_decode).
func (p *Blip2Processor) BatchDecode(seqs [][]int, skipSpecialTokens bool) ([]string, error) {
	return p.Tokenizer.BatchDecode(seqs, skipSpecialTokens)
}
