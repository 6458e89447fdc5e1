//go:build amd64 && !purego && linux

package tensor

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"
)

// threadCPU returns the CPU time the calling OS thread has used (RUSAGE_THREAD).
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestGEMVStreamRate measures the single-row GEMV on one thread over a [50304, 2560] weight (515 MB
// float32, 257 MB bf16: DRAM, not L3), timed by the thread's CPU time (holds on a loaded machine),
// the variants interleaved round by round, medians. "old" is the previous traversal (AVX2 kernels,
// 8 rows two apart in blocks of 16, input de-interleaved into a new slice per call); "avx2" and
// "avx512" are gemvOneRow with either kernel; "Linear" is the exported path. Run with
// GEMVSTREAM=1 go test -run GEMVStreamRate -v ./transformers/tensor/ (about a minute).
func TestGEMVStreamRate(t *testing.T) {
	if os.Getenv("GEMVSTREAM") == "" {
		t.Skip("GEMVSTREAM not set")
	}
	if !hasAVX2 {
		t.Skip("no AVX2")
	}
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const n, k = 50304, 2560
	r := rand.New(rand.NewPCG(9, 9))
	x := randT(r, 1, k)
	wt := New(n, k)
	for i := range wt.Data {
		wt.Data[i] = float32(r.NormFloat64()) * 0.02
	}
	wbf := weightAs(wt, BF16) // rounds wt to bf16 values too
	w32 := WeightFrom(wt)
	out := make([]float32, n)
	old := func(w *Weight) func() {
		return func() {
			xs := x.Data
			if w.DType == BF16 {
				xs = make([]float32, k)
				deinterleave(xs, x.Data, 16)
			}
			var half [8]float32
			for j0 := 0; j0 < n; j0 += 16 {
				for par := range 2 {
					gemv8asm(k, xs, w, j0+par, 2, &half, false)
					for t, v := range half {
						out[j0+par+2*t] = v
					}
				}
			}
		}
	}
	one := func(w *Weight, z bool) func() {
		return func() {
			g := 0
			if w.DType == BF16 {
				g = 16
				if z {
					g = 32
				}
			}
			gemvOneRow(out, x.Data, w, nil, n, k, k, g, z)
		}
	}
	type variant struct {
		name string
		w    *Weight
		run  func()
	}
	vs := []variant{
		{"old f32", w32, old(w32)}, {"old bf16", wbf, old(wbf)},
		{"avx2 f32", w32, one(w32, false)}, {"avx2 bf16", wbf, one(wbf, false)},
	}
	if hasAVX512 {
		vs = append(vs, variant{"avx512 f32", w32, one(w32, true)}, variant{"avx512 bf16", wbf, one(wbf, true)})
	}
	vs = append(vs, variant{"Linear f32", w32, func() { Linear(x, w32, nil) }}, variant{"Linear bf16", wbf, func() { Linear(x, wbf, nil) }})
	want := naiveMatMul(x.Data, wt.Data, 1, 1, 256, k, false, true)
	for _, v := range vs {
		clear(out)
		v.run()
		if v.name[:6] == "Linear" {
			continue
		}
		assertClose(t, v.name, out[:256], want, 1e-4*k)
	}
	const rounds, passes = 9, 3
	times := make([][]float64, len(vs))
	for range rounds {
		for i, v := range vs {
			c0 := threadCPU()
			for range passes {
				v.run()
			}
			times[i] = append(times[i], (threadCPU()-c0).Seconds()/passes)
		}
	}
	med := make([]float64, len(vs))
	for i, v := range vs {
		slices.Sort(times[i])
		med[i] = times[i][rounds/2]
		fmt.Printf("%-12s %7.2f ms  %5.1f GB/s\n", v.name, med[i]*1e3, float64(v.w.Bytes())/med[i]/1e9)
	}
	for i := 0; i+1 < len(vs); i += 2 {
		fmt.Printf("%-12s bf16 %.2fx faster than f32;  vs old: f32 %.2fx, bf16 %.2fx\n", vs[i].name[:len(vs[i].name)-4], med[i]/med[i+1], med[0]/med[i], med[1]/med[i+1])
	}
}
