package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/gotransformers/gotransformers/processing/image"
)

// Shared helpers of the real-size benchmarks (vision, qformer, caption, load, preprocess).

// PyTorch baselines on the reference machine (transformers 4.45, torch 1.13.1, 2 threads, float32,
// random weights at real size, medians).
const (
	torchPreprocessMS   = 9.4
	torchVisionB1S      = 5.37
	torchVisionB4S      = 21.2
	torchQFormerMS      = 160.0
	torchOPTTTFTS       = 8.07
	torchOPTDecodeMS    = 1095.0
	torchT5TTFTS        = 7.28
	torchT5DecodeMS     = 630.0
	torchOPTPeakRSSGiB  = 14.3
	torchVisionBF16S    = 379.0
	torchOPTDecodeBF16M = 3952.0
)

// runFlags are the measurement flags every real-size benchmark shares.
type runFlags struct {
	runs       int
	warmup     int
	cpuprofile string
	memprofile string
}

func (r *runFlags) register(fs *flag.FlagSet, defRuns int) {
	fs.IntVar(&r.runs, "runs", defRuns, "timed runs (the median is reported)")
	fs.IntVar(&r.warmup, "warmup", 1, "untimed runs before the timed ones")
	fs.StringVar(&r.cpuprofile, "cpuprofile", "", "write a CPU profile of the timed runs to this file (vision: batch 4 to this name + \".batch4\")")
	fs.StringVar(&r.memprofile, "memprofile", "", "write an allocation profile (every allocation sampled) after the timed runs to this file")
}

// startProfile starts a CPU profile when asked; the returned function stops it.
func (r *runFlags) startProfile() (func(), error) {
	if r.cpuprofile == "" {
		return func() {}, nil
	}
	f, err := os.Create(r.cpuprofile)
	if err != nil {
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// writeMemProfile writes the allocation profile when asked (errors are reported, not fatal).
func (r *runFlags) writeMemProfile() {
	if r.memprofile == "" {
		return
	}
	f, err := os.Create(r.memprofile)
	if err == nil {
		err = pprof.Lookup("allocs").WriteTo(f, 0)
		f.Close()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "memprofile: %v\n", err)
	}
}

// timeRuns runs f warmup times untimed, then runs times timed, and returns the wall-clock
// samples (in run order). When cpu is not nil it receives the process CPU time (user+system) of
// each timed run: on a shared machine wall time / CPU time shows how much of the two cores we got.
func timeRuns(ctx context.Context, rf *runFlags, cpu *[]time.Duration, f func() error) ([]time.Duration, error) {
	for range rf.warmup {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := f(); err != nil {
			return nil, err
		}
	}
	if rf.memprofile != "" {
		runtime.MemProfileRate = 1
	}
	stop, err := rf.startProfile()
	if err != nil {
		return nil, err
	}
	defer stop()
	defer rf.writeMemProfile()
	var s []time.Duration
	for range max(rf.runs, 1) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c0 := cpuTime()
		start := time.Now()
		if err := f(); err != nil {
			return nil, err
		}
		s = append(s, time.Since(start))
		if cpu != nil {
			*cpu = append(*cpu, cpuTime()-c0)
		}
	}
	return s, nil
}

// utilization formats the median CPU time over the median wall time (2.00 = both cores busy).
func utilization(cpu, wall []time.Duration) string {
	if len(cpu) == 0 || median(cpu) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f cores", median(cpu).Seconds()/median(wall).Seconds())
}

func median(s []time.Duration) time.Duration {
	c := slices.Clone(s)
	slices.Sort(c)
	return c[len(c)/2]
}

func medianF(s []float64) float64 {
	c := slices.Clone(s)
	slices.Sort(c)
	return c[len(c)/2]
}

// fmtSamples lists samples in seconds or milliseconds.
func fmtSamples(s []time.Duration, ms bool) string {
	parts := make([]string, len(s))
	for i, d := range s {
		if ms {
			parts[i] = fmt.Sprintf("%.1f", d.Seconds()*1e3)
		} else {
			parts[i] = fmt.Sprintf("%.2f", d.Seconds())
		}
	}
	return strings.Join(parts, " ")
}

// table prints rows of cells aligned in columns.
func table(rows [][]string) {
	widths := map[int]int{}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			fmt.Fprintf(&b, "%-*s", widths[i], c)
		}
		fmt.Println(strings.TrimRight(b.String(), " "))
	}
}

// ratio formats how many times faster than PyTorch we are (torch time / our time).
func ratio(torch, ours float64) string {
	if ours <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", torch/ours)
}

// emit prints the final JSON line.
func emit(v any) error {
	return json.NewEncoder(os.Stdout).Encode(v)
}

// machine prints one line about where the benchmark runs.
func machine() {
	fmt.Printf("GOMAXPROCS=%d  GOOS/GOARCH=%s/%s  %s\n", runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// syntheticImage returns a deterministic w x h RGB photo-like image (smooth gradients and texture).
func syntheticImage(w, h int) *image.Image {
	im := image.NewImage(w, h)
	seed := uint32(12345)
	for y := range h {
		for x := range w {
			seed = seed*1664525 + 1013904223
			noise := int(seed>>27) - 16
			i := (y*w + x) * 3
			im.Pix[i] = clamp8(x*255/max(w-1, 1) + noise)
			im.Pix[i+1] = clamp8(y*255/max(h-1, 1) + noise)
			im.Pix[i+2] = clamp8(((x/16+y/16)%2)*128 + 64 + noise)
		}
	}
	return im
}

func clamp8(v int) uint8 {
	return uint8(min(max(v, 0), 255))
}

const gib = 1 << 30
