package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"time"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/transformers/tensor"
)

func registerQFormer(r registry) {
	r["qformer"] = command{
		help: "Q-Former + language projection at real size, given image embeddings [1, 257, 1408]: ms",
		run:  runQFormer,
	}
}

func runQFormer(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("qformer", flag.ContinueOnError)
	var cf ckptFlags
	var rf runFlags
	cf.register(fs, "opt-2.7b", "float32")
	rf.register(fs, 11)
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
	vc := m.Config.VisionConfig
	tokens := (vc.ImageSize/vc.PatchSize)*(vc.ImageSize/vc.PatchSize) + 1
	r := rand.New(rand.NewPCG(3, 4))
	img := tensor.New(1, tokens, vc.HiddenSize) // image_embeds (post-layernorm scale)
	for i := range img.Data {
		img.Data[i] = float32(r.NormFloat64())
	}
	nq, qd := m.QueryTokens.Shape[1], m.QueryTokens.Shape[2]
	var out *tensor.Tensor
	var cpu []time.Duration
	samples, err := timeRuns(ctx, &rf, &cpu, func() error {
		query := tensor.New(1, nq, qd) // query_tokens.expand(1, -1, -1)
		m.QueryTokens.WidenTo(query.Data, 0)
		qf, err := m.Qformer.Forward(ctx, &blip2.QFormerInput{QueryEmbeds: query, EncoderHiddenStates: img})
		if err != nil {
			return err
		}
		out = m.LanguageProjection.Forward(qf.LastHiddenState)
		return nil
	})
	if err != nil {
		return err
	}
	if !finite(out) {
		return fmt.Errorf("qformer: non-finite output")
	}
	ms := median(samples).Seconds() * 1e3
	table([][]string{
		{"checkpoint", "output", "ours (median)", "samples (ms)", "CPU use", "PyTorch f32", "speed-up"},
		{cf.config + " " + dtypeName(info.DType), fmt.Sprint(out.Shape), fmt.Sprintf("%.1f ms", ms), fmtSamples(samples, true), utilization(cpu, samples), fmt.Sprintf("%.0f ms", float64(torchQFormerMS)), ratio(torchQFormerMS, ms)},
	})
	return emit(map[string]any{"config": cf.config, "dtype": dtypeName(info.DType), "ms": ms, "cpu_ms": median(cpu).Seconds() * 1e3})
}
