package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"time"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/processing/image"
	"github.com/gotransformers/gotransformers/transformers/tensor"
)

func registerVision(r registry) {
	r["vision"] = command{
		help: "Blip2VisionModel (ViT-g, 39 layers) at real size, batch 1 and 4: seconds and GFLOP/s",
		run:  runVision,
	}
}

// visionFLOPs counts the multiply-adds (x2) of one image through the vision model: patch embedding,
// per layer qkv, projection, MLP and the two attention products.
func visionFLOPs(c *blip2.Blip2VisionConfig) float64 {
	d, f := float64(c.HiddenSize), float64(c.IntermediateSize)
	p := float64((c.ImageSize / c.PatchSize) * (c.ImageSize / c.PatchSize))
	t := p + 1
	patch := 2 * p * d * 3 * float64(c.PatchSize*c.PatchSize)
	layer := 2*t*(4*d*d+2*d*f) + 4*t*t*d
	return patch + float64(c.NumHiddenLayers)*layer
}

// pixelBatch preprocesses the synthetic image and repeats it n times: [n, 3, H, W].
func pixelBatch(dir string, n int) (*tensor.Tensor, error) {
	ip, err := image.LoadBlipImageProcessor(dir)
	if err != nil {
		return nil, err
	}
	pv, err := ip.Preprocess([]*image.Image{syntheticImage(640, 480)}, nil)
	if err != nil {
		return nil, err
	}
	out := tensor.New(append([]int{n}, pv.Shape[1:]...)...)
	for i := range n {
		copy(out.Data[i*len(pv.Data):], pv.Data)
	}
	return out, nil
}

func finite(t *tensor.Tensor) bool {
	for _, v := range t.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}

func runVision(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("vision", flag.ContinueOnError)
	var cf ckptFlags
	var rf runFlags
	cf.register(fs, "opt-2.7b", "float32")
	rf.register(fs, 3)
	runs4 := fs.Int("runs4", 3, "timed runs at batch 4 (0 skips batch 4)")
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
	vm, err := blip2.VisionModelFromPretrained(ctx, info.Dir)
	if err != nil {
		return err
	}
	defer vm.Close()
	cfg, err := blip2.Blip2VisionConfigFromPretrained(ctx, info.Dir)
	if err != nil {
		return err
	}
	flops := visionFLOPs(cfg)
	res := map[string]any{"config": cf.config, "dtype": dtypeName(info.DType)}
	rows := [][]string{{"batch", "ours (median)", "samples (s)", "CPU use", "GFLOP/s", "PyTorch f32", "speed-up", "CPU time", "CPU/2 vs PyTorch"}}
	for _, bs := range []int{1, 4} {
		rr := rf
		if bs == 4 {
			if *runs4 <= 0 {
				continue
			}
			rr.runs, rr.warmup = *runs4, 0 // batch 1 warmed the weights and pools
		}
		if bs == 4 && rf.cpuprofile != "" {
			rr.cpuprofile = rf.cpuprofile + ".batch4" // batch 1's profile is the file named
		}
		pv, err := pixelBatch(info.Dir, bs)
		if err != nil {
			return err
		}
		var out *blip2.VisionOutput
		var cpu []time.Duration
		samples, err := timeRuns(ctx, &rr, &cpu, func() error {
			o, err := vm.Forward(ctx, pv, blip2.VisionOptions{})
			out = o
			return err
		})
		if err != nil {
			return err
		}
		if !finite(out.LastHiddenState) {
			return fmt.Errorf("vision: batch %d: non-finite output (bad random weights?)", bs)
		}
		s := median(samples).Seconds()
		gf := flops * float64(bs) / s / 1e9
		torch := torchVisionB1S
		if bs == 4 {
			torch = torchVisionB4S
		}
		rows = append(rows, []string{fmt.Sprint(bs), fmt.Sprintf("%.2f s", s), fmtSamples(samples, false), utilization(cpu, samples), fmt.Sprintf("%.1f", gf), fmt.Sprintf("%.2f s", torch), ratio(torch, s),
			fmt.Sprintf("%.2f s", median(cpu).Seconds()), ratio(torch, median(cpu).Seconds()/2)})
		res[fmt.Sprintf("batch%d_s", bs)] = s
		res[fmt.Sprintf("batch%d_cpu_s", bs)] = median(cpu).Seconds()
		if bs == 1 {
			res["gflops"] = gf
		}
	}
	fmt.Printf("%.1f GFLOP per image; machine FMA peak ~196 GFLOP/s (floor ~3.1 s per image)\n", flops/1e9)
	if info.DType == tensor.BF16 {
		fmt.Printf("PyTorch bfloat16 on this CPU: %.0f s per image\n", torchVisionBF16S)
	}
	table(rows)
	return emit(res)
}
