package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/gotransformers/gotransformers/processing/image"
)

func registerPreprocess(r registry) {
	r["preprocess"] = command{
		help: "BlipImageProcessor on a 640x480 RGB image -> [1, 3, 224, 224]: ms",
		run:  runPreprocess,
	}
}

func runPreprocess(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("preprocess", flag.ContinueOnError)
	var rf runFlags
	testdata := fs.String("testdata", filepath.Join("parity", "testdata"), "folder holding real-blip2-opt-2.7b")
	width := fs.Int("width", 640, "image width")
	height := fs.Int("height", 480, "image height")
	rf.register(fs, 31)
	if err := fs.Parse(args); err != nil {
		return err
	}
	machine()
	ip, err := image.LoadBlipImageProcessor(filepath.Join(*testdata, benchConfigs["opt-2.7b"].fixture))
	if err != nil {
		return err
	}
	im := syntheticImage(*width, *height)
	var shape []int
	var cpu []time.Duration
	samples, err := timeRuns(ctx, &rf, &cpu, func() error {
		pv, err := ip.Preprocess([]*image.Image{im}, nil)
		if err != nil {
			return err
		}
		shape = pv.Shape
		return nil
	})
	if err != nil {
		return err
	}
	ms := median(samples).Seconds() * 1e3
	table([][]string{
		{"input", "output", "ours (median)", "best", "CPU use", "PyTorch", "speed-up"},
		{fmt.Sprintf("%dx%d RGB", *width, *height), fmt.Sprint(shape), fmt.Sprintf("%.2f ms", ms), fmt.Sprintf("%.2f ms", slices.Min(samples).Seconds()*1e3), utilization(cpu, samples), fmt.Sprintf("%.1f ms", torchPreprocessMS), ratio(torchPreprocessMS, ms)},
	})
	return emit(map[string]any{"ms": ms, "cpu_ms": median(cpu).Seconds() * 1e3})
}
