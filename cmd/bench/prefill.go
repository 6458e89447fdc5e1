package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"time"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/models/opt"
	"github.com/gotransformers/gotransformers/models/t5"
	"github.com/gotransformers/gotransformers/transformers/tensor"
)

func registerPrefill(r registry) {
	r["prefill"] = command{
		help: "the language model's prompt pass alone (OPT prefill / T5 encoder + first decoder step) on 44 embeddings: s and GFLOP/s",
		run:  runPrefill,
	}
}

func runPrefill(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("prefill", flag.ContinueOnError)
	var cf ckptFlags
	var rf runFlags
	cf.register(fs, "opt-2.7b", "bfloat16")
	rf.register(fs, 5)
	positions := fs.Int("positions", 44, "prompt positions (32 query tokens + the text)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	info, err := ensureCheckpoint(ctx, &cf)
	if err != nil {
		return err
	}
	machine()
	if err := warmCheckpoint(info, cf.warm); err != nil {
		return err
	}
	m, err := blip2.FromPretrained(ctx, info.Dir)
	if err != nil {
		return err
	}
	defer m.Close()
	d := m.LanguageModel.HiddenSize()
	r := rand.New(rand.NewPCG(7, 8))
	emb := tensor.New(1, *positions, d)
	for i := range emb.Data {
		emb.Data[i] = float32(r.NormFloat64() * 0.02)
	}
	var params float64 // the weights every position multiplies (for GFLOP/s)
	var run func() error
	switch lm := m.LanguageModel.Unwrap().(type) {
	case *opt.OPTForCausalLM:
		for k, b := range info.Sizes {
			if len(k) > len("language_model.model.decoder.layers.") && k[:len("language_model.model.decoder.layers.")] == "language_model.model.decoder.layers." {
				params += float64(b) / float64(info.DType.Size())
			}
		}
		run = func() error {
			_, err := lm.Forward(ctx, &opt.Input{InputsEmbeds: emb, Cache: opt.NewCache(), LogitsToKeep: 1})
			return err
		}
	case *t5.T5ForConditionalGeneration:
		for k, b := range info.Sizes {
			if len(k) > len("language_model.encoder.block.") && k[:len("language_model.encoder.block.")] == "language_model.encoder.block." {
				params += float64(b) / float64(info.DType.Size())
			}
		}
		run = func() error {
			enc, err := lm.Encode(ctx, &t5.Input{InputsEmbeds: emb})
			if err != nil {
				return err
			}
			_, err = lm.Forward(ctx, &t5.Input{EncoderOutputs: enc, DecoderInputIDs: [][]int{{0}}, Cache: t5.NewCache(), LogitsToKeep: 1})
			return err
		}
	default:
		return fmt.Errorf("prefill: unsupported language model %T", lm)
	}
	var cpu []time.Duration
	samples, err := timeRuns(ctx, &rf, &cpu, run)
	if err != nil {
		return err
	}
	s, c := median(samples).Seconds(), median(cpu).Seconds()
	flop := 2 * params * float64(*positions)
	table([][]string{
		{"checkpoint", "positions", "ours (median)", "samples (s)", "CPU use", "CPU time", "GFLOP/s (layers)", "GFLOP/s at CPU/2"},
		{cf.config + " " + dtypeName(info.DType), fmt.Sprint(*positions), fmt.Sprintf("%.3f s", s), fmtSamples(samples, false), utilization(cpu, samples),
			fmt.Sprintf("%.3f s", c), fmt.Sprintf("%.1f", flop/s/1e9), fmt.Sprintf("%.1f", flop/(c/2)/1e9)},
	})
	return emit(map[string]any{"config": cf.config, "dtype": dtypeName(info.DType), "prefill_s": s, "prefill_cpu_s": c})
}
