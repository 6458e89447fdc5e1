package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

func registerLMShapes(r registry) {
	r["lmshapes"] = command{
		help: "tensor.Linear at the language models' shapes: decode (1 row, GB/s) and prefill (44 rows, GFLOP/s), f32 and bf16",
		run:  runLMShapes,
	}
}

func runLMShapes(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("lmshapes", flag.ContinueOnError)
	runs := fs.Int("runs", 5, "samples per measurement (the median is reported)")
	minSample := fs.Duration("sample", 300*time.Millisecond, "minimum duration of one sample")
	rowsList := fs.String("rows", "1,44", "row counts to measure (comma separated)")
	bf16Dot := fs.Bool("bf16dot", false, "also measure bf16 with Weight.ApproxBF16Dot set (approximate, AVX512_BF16 CPUs), as BF16dot")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var rowsSet []int
	for _, f := range splitComma(*rowsList) {
		var n int
		if _, err := fmt.Sscan(f, &n); err != nil || n <= 0 {
			return fmt.Errorf("--rows: bad entry %q", f)
		}
		rowsSet = append(rowsSet, n)
	}
	machine()
	shapes := []struct {
		name string
		n, k int
	}{
		{"opt q/k/v/out 2560->2560", 2560, 2560},
		{"opt fc1 2560->10240", 10240, 2560},
		{"opt fc2 10240->2560", 2560, 10240},
		{"opt lm_head 2560->50304", 50304, 2560},
		{"t5 q/k/v/o 2048->2048", 2048, 2048},
		{"t5 wi 2048->5120", 5120, 2048},
		{"t5 wo 5120->2048", 2048, 5120},
		{"t5 lm_head 2048->32128", 32128, 2048},
	}
	r := rand.New(rand.NewPCG(5, 6))
	rows := [][]string{{"shape", "dtype", "rows", "time", "GB/s (weight)", "GFLOP/s", "CPU time", "GB/s at CPU/2", "GFLOP/s at CPU/2"}}
	res := map[string]float64{}
	for _, s := range shapes {
		wf := randSlice(r, s.n*s.k)
		for i := range wf {
			wf[i] *= 0.02
		}
		w32 := tensor.WeightFrom(tensor.From(wf, s.n, s.k))
		h := make([]uint16, len(wf))
		for i, v := range wf {
			h[i] = tensor.F32ToBF16(v)
		}
		wbf := &tensor.Weight{Shape: []int{s.n, s.k}, DType: tensor.BF16, Half: h}
		// the same bf16 data, opted into the approximate GEMV
		wdot := &tensor.Weight{Shape: wbf.Shape, DType: tensor.BF16, Half: h, ApproxBF16Dot: true}
		for _, m := range rowsSet {
			x := tensor.From(randSlice(r, m*s.k), m, s.k)
			variants := []*tensor.Weight{w32, wbf}
			if *bf16Dot && tensor.BF16DotAvailable() {
				variants = append(variants, wdot)
			}
			for _, w := range variants {
				wall, cpu, err := wallAndCPU(ctx, *runs, *minSample, func() { tensor.Linear(x, w, nil) })
				if err != nil {
					return err
				}
				name := w.DType.String()
				if w.ApproxBF16Dot {
					name = "BF16dot"
				}
				sec := wall.Seconds()
				flop := 2 * float64(m) * float64(s.n) * float64(s.k)
				// CPU/2: the wall time two uncontended cores would take at the same per-core speed
				est := cpu.Seconds() / 2
				rows = append(rows, []string{s.name, name, fmt.Sprint(m), fmt.Sprintf("%.2f ms", sec*1e3),
					fmt.Sprintf("%.1f", float64(w.Bytes())/sec/1e9), fmt.Sprintf("%.1f", flop/sec/1e9),
					fmt.Sprintf("%.2f ms", cpu.Seconds()*1e3), fmt.Sprintf("%.1f", float64(w.Bytes())/est/1e9), fmt.Sprintf("%.1f", flop/est/1e9)})
				res[fmt.Sprintf("%s/%s/%d_ms", s.name, name, m)] = sec * 1e3
				res[fmt.Sprintf("%s/%s/%d_cpu_ms", s.name, name, m)] = cpu.Seconds() * 1e3
			}
		}
	}
	table(rows)
	return emit(res)
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// wallAndCPU returns the median wall time and the median process CPU time of one call of f, each
// sample repeating f for at least minSample (after one warm-up call).
func wallAndCPU(ctx context.Context, runs int, minSample time.Duration, f func()) (time.Duration, time.Duration, error) {
	f()
	var walls, cpus []time.Duration
	for range max(runs, 1) {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		n := 0
		c0 := cpuTime()
		start := time.Now()
		for {
			f()
			n++
			if el := time.Since(start); el >= minSample {
				walls = append(walls, el/time.Duration(n))
				cpus = append(cpus, (cpuTime()-c0)/time.Duration(n))
				break
			}
		}
	}
	return median(walls), median(cpus), nil
}
