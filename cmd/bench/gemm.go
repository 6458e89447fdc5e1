package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

func registerGemm(r registry) {
	r["gemm"] = command{
		help: "GEMM / GEMV kernels: GFLOP/s and GB/s, ours (and OpenBLAS with -tags openblas)",
		run:  runGemm,
	}
}

// yardstick is a reference BLAS (OpenBLAS with -tags openblas, else absent).
type yardstick interface {
	Name() string
	SgemmNT(c, a, b []float32, m, n, k int) error
	SgemmNN(c, a, b []float32, m, n, k int) error
	Sgemv(y, w, x []float32, n, k int) error
	// Settle is how long its worker threads keep spinning after a call (they would steal cores from
	// the next measurement).
	Settle() time.Duration
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func runGemm(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gemm", flag.ContinueOnError)
	runs := fs.Int("runs", 5, "samples per measurement (the median is reported)")
	minSample := fs.Duration("sample", 200*time.Millisecond, "minimum duration of one sample")
	only := fs.String("only", "", "run only the GEMM shapes whose name contains this (\"gemv\" for the GEMVs alone)")
	single := fs.Bool("threadcpu", false, "one thread each (GOMAXPROCS=1, OpenBLAS 1 thread), timed by the thread's CPU "+
		"time: per-core speed that holds on a loaded machine (Linux)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	settle := time.Duration(0)
	var measure func(fs ...func()) ([]time.Duration, error)
	if *single {
		prev := runtime.GOMAXPROCS(1)
		defer runtime.GOMAXPROCS(prev)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if _, err := threadCPUTime(); err != nil {
			return err
		}
		measure = func(fs ...func()) ([]time.Duration, error) {
			return medianCPUTimes(ctx, *runs, *minSample, fs...)
		}
		fmt.Println("timing: thread CPU time, one thread")
	}
	ys := newYardstick(runtime.GOMAXPROCS(0))
	fmt.Printf("GOMAXPROCS=%d\n", runtime.GOMAXPROCS(0))
	if ys != nil {
		fmt.Printf("yardstick: %s\n", ys.Name())
	}
	r := rand.New(rand.NewPCG(1, 2))
	if ys != nil && !*single {
		settle = ys.Settle()
	}
	if measure == nil {
		measure = func(fs ...func()) ([]time.Duration, error) {
			return medianTimes(ctx, *runs, *minSample, settle, fs...)
		}
	}

	gemmRatioMin := math.Inf(1)
	shapes := []struct {
		name    string
		m, k, n int
		nt      bool
	}{
		{"linear (257x1408)·(1408x6144)", 257, 1408, 6144, true},
		{"linear (32x768)·(768x3072)", 32, 768, 3072, true},
		{"linear 1024^3", 1024, 1024, 1024, true},
		{"matmul 1024^3", 1024, 1024, 1024, false},
	}
	for _, s := range shapes {
		if *only != "" && !strings.Contains(s.name, *only) {
			continue
		}
		x := tensor.From(randSlice(r, s.m*s.k), s.m, s.k)
		flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
		var bdata []float32
		var oursF func()
		if s.nt {
			w := tensor.WeightFrom(tensor.From(randSlice(r, s.n*s.k), s.n, s.k))
			bdata = w.F32
			oursF = func() { tensor.Linear(x, w, nil) }
		} else {
			b := tensor.From(randSlice(r, s.k*s.n), s.k, s.n)
			bdata = b.Data
			oursF = func() { tensor.MatMul(x, b) }
		}
		fns := []func(){oursF}
		var refErr error
		if ys != nil {
			c := make([]float32, s.m*s.n)
			fns = append(fns, func() {
				if s.nt {
					refErr = ys.SgemmNT(c, x.Data, bdata, s.m, s.n, s.k)
				} else {
					refErr = ys.SgemmNN(c, x.Data, bdata, s.m, s.n, s.k)
				}
			})
		}
		ts, err := measure(fns...)
		if err != nil {
			return err
		}
		if refErr != nil {
			return refErr
		}
		line := fmt.Sprintf("%-32s ours %7.1f GFLOP/s", s.name, flops/ts[0].Seconds()/1e9)
		if ys != nil {
			ratio := ts[1].Seconds() / ts[0].Seconds()
			gemmRatioMin = min(gemmRatioMin, ratio)
			line += fmt.Sprintf("   %s %7.1f GFLOP/s   ratio %.2f", ys.Name(), flops/ts[1].Seconds()/1e9, ratio)
		}
		fmt.Println(line)
	}

	if *only != "" && !strings.Contains("gemv", *only) {
		if ys != nil && !math.IsInf(gemmRatioMin, 1) {
			return json.NewEncoder(os.Stdout).Encode(map[string]float64{"gemm_ratio_min": gemmRatioMin})
		}
		return nil
	}
	// GEMV: one row through a [10240, 2560] weight (decode-time OPT-2.7b MLP shape).
	const gn, gk = 10240, 2560
	wf := randSlice(r, gn*gk)
	x := tensor.From(randSlice(r, gk), 1, gk)
	w32 := tensor.WeightFrom(tensor.From(wf, gn, gk))
	half := func(dt tensor.DType) *tensor.Weight {
		h := make([]uint16, len(wf))
		for i, v := range wf {
			if dt == tensor.BF16 {
				h[i] = tensor.F32ToBF16(v)
			} else {
				h[i] = tensor.F32ToF16(v)
			}
		}
		return &tensor.Weight{Shape: []int{gn, gk}, DType: dt, Half: h}
	}
	res := map[string]float64{}
	wbf, wf16 := half(tensor.BF16), half(tensor.F16)
	fns := []func(){
		func() { tensor.Linear(x, w32, nil) },
		func() { tensor.Linear(x, wbf, nil) },
		func() { tensor.Linear(x, wf16, nil) },
	}
	var refErr error
	if ys != nil {
		y := make([]float32, gn)
		fns = append(fns, func() { refErr = ys.Sgemv(y, wf, x.Data, gn, gk) })
	}
	ts, err := measure(fns...)
	if err != nil {
		return err
	}
	if refErr != nil {
		return refErr
	}
	for i, w := range []*tensor.Weight{w32, wbf, wf16} {
		gbs := float64(w.Bytes()) / ts[i].Seconds() / 1e9
		line := fmt.Sprintf("gemv 1x%d · [%d,%d] %-4s  ours %6.1f GB/s (%.2f ms)", gk, gn, gk, w.DType, gbs, ts[i].Seconds()*1e3)
		switch w.DType {
		case tensor.F32:
			if ys != nil {
				res["gemv_ratio"] = ts[3].Seconds() / ts[0].Seconds()
				line += fmt.Sprintf("   %s %6.1f GB/s   ratio %.2f", ys.Name(), float64(w.Bytes())/ts[3].Seconds()/1e9, res["gemv_ratio"])
			}
		default:
			speedup := ts[0].Seconds() / ts[i].Seconds()
			if w.DType == tensor.BF16 {
				res["bf16_gemv_speedup"] = speedup
			}
			line += fmt.Sprintf("   %.2fx faster than f32", speedup)
		}
		fmt.Println(line)
	}
	if ys != nil && !math.IsInf(gemmRatioMin, 1) {
		res["gemm_ratio_min"] = gemmRatioMin
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// medianCPUTimes is medianTimes on the calling thread's CPU time (the caller locks the thread and
// runs everything on it).
func medianCPUTimes(ctx context.Context, runs int, minSample time.Duration, fs ...func()) ([]time.Duration, error) {
	samples := make([][]time.Duration, len(fs))
	for _, f := range fs {
		f()
	}
	for range runs {
		for i, f := range fs {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			start, err := threadCPUTime()
			if err != nil {
				return nil, err
			}
			for n := 1; ; n++ {
				f()
				now, _ := threadCPUTime()
				if el := now - start; el >= minSample {
					samples[i] = append(samples[i], el/time.Duration(n))
					break
				}
			}
		}
	}
	out := make([]time.Duration, len(fs))
	for i, s := range samples {
		slices.Sort(s)
		out[i] = s[len(s)/2]
	}
	return out, nil
}
