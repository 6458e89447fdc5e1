package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"strings"
	"time"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/processing/image"
	"github.com/gotransformers/gotransformers/transformers"
	"github.com/gotransformers/gotransformers/transformers/generation"
	"github.com/gotransformers/gotransformers/transformers/tensor"
)

func registerCaption(r registry) {
	r["caption"] = command{
		help: "Blip2ForConditionalGeneration.generate at real size (--config opt-2.7b | opt-6.7b | flan-t5-xl): time to first token, ms/token, peak RSS",
		run:  runCaption,
	}
}

// timingStreamer records when each Put arrives (the first Put is the prompt).
type timingStreamer struct {
	start    time.Time
	cpuStart time.Duration
	puts     []time.Duration
	cpus     []time.Duration // process CPU time since the start, at each Put
	allocs   []uint64        // bytes allocated on the Go heap so far, at each Put
}

func (s *timingStreamer) Put(tokens [][]int) error {
	s.puts = append(s.puts, time.Since(s.start))
	s.cpus = append(s.cpus, cpuTime()-s.cpuStart)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.allocs = append(s.allocs, ms.TotalAlloc)
	return nil
}

func (s *timingStreamer) End() {}

// decodeBytes is what one decode step streams: the language model's weights without the encoder
// (T5) and the position / input embeddings that are only gathered (the OPT input embedding is read
// in full as the tied lm_head).
func decodeBytes(info *ckptInfo) int64 {
	var n int64
	for k, b := range info.Sizes {
		if !strings.HasPrefix(k, "language_model.") {
			continue
		}
		switch {
		case strings.Contains(k, "embed_positions"),
			strings.HasPrefix(k, "language_model.encoder."),
			k == "language_model.shared.weight" && info.Config == "flan-t5-xl":
			continue
		}
		n += b
	}
	return n
}

func runCaption(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("caption", flag.ContinueOnError)
	var cf ckptFlags
	var rf runFlags
	cf.register(fs, "opt-2.7b", "bfloat16")
	rf.register(fs, 3)
	newTokens := fs.Int("new-tokens", 20, "tokens to generate (greedy; EOS suppressed until then)")
	prompt := fs.String("prompt", "Question: what is shown in this picture? Answer:", "text prompt")
	bf16Dot := fs.Bool("bf16dot", false, "approximate bf16 decode GEMV (transformers.WithApproxBF16Dot: input rounded to bf16, VDPBF16PS; AVX512_BF16 CPUs)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var loadOpts []transformers.Option
	if *bf16Dot {
		if !tensor.BF16DotAvailable() {
			return fmt.Errorf("--bf16dot: this CPU or build has no AVX512_BF16 kernel")
		}
		loadOpts = append(loadOpts, transformers.WithApproxBF16Dot())
	}
	if *newTokens < 2 {
		return fmt.Errorf("--new-tokens must be at least 2")
	}
	info, err := ensureCheckpoint(ctx, &cf)
	if err != nil {
		return err
	}
	machine()
	if err := warmCheckpoint(info, cf.warm); err != nil {
		return err
	}
	resetPeak()
	loadStart := time.Now()
	m, err := blip2.FromPretrained(ctx, info.Dir, loadOpts...)
	if err != nil {
		return err
	}
	defer m.Close()
	loadS := time.Since(loadStart).Seconds()
	proc, err := blip2.Blip2ProcessorFromPretrained(ctx, info.Dir)
	if err != nil {
		return err
	}
	in, err := proc.Call([]*image.Image{syntheticImage(640, 480)}, []string{*prompt}, blip2.ProcessorOptions{})
	if err != nil {
		return err
	}
	textTokens := len(in.InputIDs[0]) - m.Config.NumQueryTokens

	var ttft, decode, ttftCPU, decodeCPU []time.Duration
	var stepAlloc []float64 // heap bytes allocated per decode step
	var last []int
	var cpu []time.Duration
	wall, err := timeRuns(ctx, &rf, &cpu, func() error {
		st := &timingStreamer{start: time.Now(), cpuStart: cpuTime()}
		out, err := m.Generate(ctx, &blip2.GenerateInput{PixelValues: in.PixelValues, InputIDs: in.InputIDs, AttentionMask: in.AttentionMask},
			generation.WithMaxNewTokens(*newTokens), generation.WithMinNewTokens(*newTokens), generation.WithStreamer(st))
		if err != nil {
			return err
		}
		total := time.Since(st.start)
		totalCPU := cpuTime() - st.cpuStart
		if len(st.puts) < 3 {
			return fmt.Errorf("caption: streamer saw %d puts, want the prompt and %d tokens", len(st.puts), *newTokens)
		}
		ttft = append(ttft, st.puts[1])
		decode = append(decode, (total-st.puts[1])/time.Duration(len(st.puts)-2))
		ttftCPU = append(ttftCPU, st.cpus[1])
		stepAlloc = append(stepAlloc, float64(st.allocs[len(st.allocs)-1]-st.allocs[1])/float64(len(st.allocs)-2))
		decodeCPU = append(decodeCPU, (totalCPU-st.cpus[1])/time.Duration(len(st.puts)-2))
		last = out.Sequences[0]
		return nil
	})
	if err != nil {
		return err
	}
	// the warm-up runs are the first calls after loading: they also fault the mapped weights in
	for i := range rf.warmup {
		fmt.Printf("warm-up run %d (first use of the mapped weights): time to first token %.2f s, decode %.0f ms/token\n",
			i+1, ttft[i].Seconds(), decode[i].Seconds()*1e3)
	}
	ttft, decode = ttft[rf.warmup:], decode[rf.warmup:]
	ttftCPU, decodeCPU = ttftCPU[rf.warmup:], decodeCPU[rf.warmup:]
	// the image half of the time to first token: vision model, Q-Former, projection (median of runs)
	var imgCPU []time.Duration
	img, err := timeRuns(ctx, &runFlags{runs: rf.runs}, &imgCPU, func() error {
		_, err := m.ImageFeatures(ctx, &blip2.ImageInput{PixelValues: in.PixelValues})
		return err
	})
	if err != nil {
		return err
	}
	imgS, imgCPUS := median(img).Seconds(), median(imgCPU).Seconds()
	_, peak, _ := memStatus()
	ttftS := median(ttft).Seconds()
	decMS := median(decode).Seconds() * 1e3
	ttftCPUS := median(ttftCPU).Seconds()
	decCPUMS := median(decodeCPU).Seconds() * 1e3
	db := decodeBytes(info)
	gbps := float64(db) / (decMS / 1e3) / 1e9
	wg := float64(info.Bytes) / gib
	// PyTorch figures exist for opt-2.7b and flan-t5-xl only (0: none; the RSS one is opt-2.7b f32)
	torchTTFT, torchDec, torchRSS := torchOPTTTFTS, float64(torchOPTDecodeMS), torchOPTPeakRSSGiB
	floor := 320 * float64(info.DType.Size()) / float64(tensor.F32.Size())
	switch cf.config {
	case "flan-t5-xl":
		torchTTFT, torchDec = torchT5TTFTS, torchT5DecodeMS
		floor = 170 * float64(info.DType.Size()) / float64(tensor.F32.Size())
	case "opt-6.7b":
		torchTTFT, torchDec, torchRSS = 0, 0, 0
		// opt-2.7b's ~320 ms f32 floor is its decode bytes at ~33 GB/s; the same rate here
		floor = float64(db) / 33e9 * 1e3
	}
	torchCell := func(v float64, unit string) string {
		if v == 0 {
			return "-"
		}
		return fmt.Sprintf(unit, v)
	}
	torchRatio := func(torch, ours float64) string {
		if torch == 0 {
			return "-"
		}
		return ratio(torch, ours)
	}
	if info.Derived {
		fmt.Printf("%s: config derived from blip2-opt-2.7b's (no real file in the repository); no PyTorch figures for it\n", cf.config)
	}
	fmt.Printf("generate wall %s s, CPU use %s\n", fmtSamples(wall, false), utilization(cpu, wall))
	fmt.Printf("%s %s: load %.2f s; prompt %d text tokens + %d query tokens; %d new tokens: %v\n",
		cf.config, dtypeName(info.DType), loadS, textTokens, m.Config.NumQueryTokens, *newTokens, last)
	fmt.Printf("of which image features (vision, Q-Former, projection): %.2f s wall, %.2f s CPU; language-model prefill and first token: ~%.2f s wall, ~%.2f s CPU\n",
		imgS, imgCPUS, ttftS-imgS, ttftCPUS-imgCPUS)
	table([][]string{
		{"figure", "ours (median)", "samples", "PyTorch f32", "speed-up", "CPU time (median)", "CPU/2 vs PyTorch"},
		{"time to first token", fmt.Sprintf("%.2f s", ttftS), fmtSamples(ttft, false) + " s", torchCell(torchTTFT, "%.2f s"), torchRatio(torchTTFT, ttftS),
			fmt.Sprintf("%.2f s", ttftCPUS), torchRatio(torchTTFT, ttftCPUS/2)},
		{"decode", fmt.Sprintf("%.0f ms/token", decMS), fmtSamples(decode, true) + " ms", torchCell(torchDec, "%.0f ms/token"), torchRatio(torchDec, decMS),
			fmt.Sprintf("%.0f ms/token", decCPUMS), torchRatio(torchDec, decCPUMS/2)},
		{"decode bandwidth", fmt.Sprintf("%.1f GB/s", gbps), fmt.Sprintf("%.2f GB per token", float64(db)/1e9), "", fmt.Sprintf("floor ~%.0f ms/token", floor)},
		{"heap allocated per decode step", fmt.Sprintf("%.2f MiB", medianF(stepAlloc)/(1<<20)), "", "", ""},
		{"peak RSS", fmt.Sprintf("%.2f GiB", float64(peak)/gib), fmt.Sprintf("weights %.2f GiB", wg), torchCell(torchRSS, "%.1f GiB"), fmt.Sprintf("target <= %.2f GiB", wg*1.1+1)},
	})
	if cf.config == "opt-2.7b" && info.DType == tensor.BF16 {
		fmt.Printf("PyTorch bfloat16 OPT decode on this CPU: %.0f ms/token (%s)\n", float64(torchOPTDecodeBF16M), ratio(torchOPTDecodeBF16M, decMS))
	}
	return emit(map[string]any{
		"config": cf.config, "dtype": dtypeName(info.DType), "params": info.Params, "derived_config": info.Derived,
		"sequence": last,
		"ttft_s":   ttftS, "decode_ms_per_token": decMS, "decode_gbps": gbps,
		"peak_rss_gib": float64(peak) / gib, "weight_gib": wg, "peak_rss_target_gib": wg*1.1 + 1,
		"ttft_cpu_s": ttftCPUS, "decode_cpu_ms_per_token": decCPUMS,
		"image_features_s": imgS, "image_features_cpu_s": imgCPUS,
		"decode_alloc_mib_per_token": medianF(stepAlloc) / (1 << 20),
	})
}
