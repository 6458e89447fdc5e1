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
// GEMVSTREAM=1 go test -run GEMVStreamRate -v ./transformers/tensor/ (about a minute); add
// GEMVTHREADS=2 for two threads, each over half the rows (Linear left out).
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
	// rows [lo, hi) of a weight, as a weight
	sub := func(w *Weight, lo, hi int) *Weight {
		v := &Weight{Shape: []int{hi - lo, k}, DType: w.DType}
		if w.DType == F32 {
			v.F32 = w.F32[lo*k : hi*k]
		} else {
			v.Half = w.Half[lo*k : hi*k]
		}
		return v
	}
	old := func(w *Weight) func(lo, hi int) {
		return func(lo, hi int) {
			xs := x.Data
			if w.DType == BF16 {
				xs = make([]float32, k)
				deinterleave(xs, x.Data, 16)
			}
			var half [8]float32
			for j0 := lo; j0 < hi; j0 += 16 {
				for par := range 2 {
					gemv8asm(k, xs, w, j0+par, 2, &half, false)
					for t, v := range half {
						out[j0+par+2*t] = v
					}
				}
			}
		}
	}
	one := func(w *Weight, z bool) func(lo, hi int) {
		return func(lo, hi int) {
			g := 0
			if w.DType == BF16 {
				g = 16
				if z {
					g = 32
				}
			}
			gemvOneRow(out[lo:hi], x.Data, sub(w, lo, hi), nil, hi-lo, k, k, g, z)
		}
	}
	linear := func(w *Weight) func(lo, hi int) {
		return func(lo, hi int) {
			copy(out[lo:hi], Linear(x, sub(w, lo, hi), nil).Data)
		}
	}
	type variant struct {
		name string
		w    *Weight
		run  func(lo, hi int)
	}
	vs := []variant{
		{"old f32", w32, old(w32)}, {"old bf16", wbf, old(wbf)},
		{"avx2 f32", w32, one(w32, false)}, {"avx2 bf16", wbf, one(wbf, false)},
	}
	if hasAVX512 {
		vs = append(vs, variant{"avx512 f32", w32, one(w32, true)}, variant{"avx512 bf16", wbf, one(wbf, true)})
	}
	if os.Getenv("GEMVTHREADS") != "2" { // Linear would run goroutines of its own
		vs = append(vs, variant{"Linear f32", w32, linear(w32)}, variant{"Linear bf16", wbf, linear(wbf)})
	}
	want := naiveMatMul(x.Data, wt.Data, 1, 1, 256, k, false, true)
	for _, v := range vs {
		clear(out)
		v.run(0, n)
		assertClose(t, v.name, out[:256], want, 1e-4*k)
	}
	// GEMVTHREADS=2: two locked threads, each over half the rows (n/2 is a multiple of 128); the
	// time of a pass is the larger of the two threads' CPU times.
	threads := 1
	if os.Getenv("GEMVTHREADS") == "2" {
		threads = 2
		runtime.GOMAXPROCS(2)
		fmt.Println("2 threads, each over half the rows")
	}
	pass := func(v variant) float64 {
		var cpu [2]time.Duration
		done := make(chan int)
		for th := 1; th < threads; th++ {
			go func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				c0 := threadCPU()
				v.run(n*th/threads, n*(th+1)/threads)
				cpu[th] = threadCPU() - c0
				done <- th
			}()
		}
		c0 := threadCPU()
		v.run(0, n/threads)
		cpu[0] = threadCPU() - c0
		for th := 1; th < threads; th++ {
			<-done
		}
		return max(cpu[0], cpu[1]).Seconds()
	}
	const rounds, passes = 9, 3
	times := make([][]float64, len(vs))
	for range rounds {
		for i, v := range vs {
			var sum float64
			for range passes {
				sum += pass(v)
			}
			times[i] = append(times[i], sum/passes)
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
