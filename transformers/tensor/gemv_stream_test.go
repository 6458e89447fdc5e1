//go:build amd64 && !purego && linux

package tensor

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
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
// 8 rows two apart in blocks of 16, input de-interleaved into a new slice per call); "avx2" is
// gemvOneRow with the AVX2 kernels (what -tags noavx512 runs), "new" with the default
// ones (AVX-512 where the CPU has it), "dot bf16" the opt-in VDPBF16PS kernel (Weight.ApproxBF16Dot; "dot
// f32" repeats new f32 next to it); "Linear" is the exported path. Run with
// GEMVSTREAM=1 go test -run GEMVStreamRate -v ./transformers/tensor/ (about a minute); add
// GEMVTHREADS=2 for two threads, each over half the rows (Linear left out), GEMVONLY=bf16 to run
// only the variants whose name contains bf16 (21 rounds), GEMVROWS=5 to measure the 5-row path
// (beam search) with the previous (consecutive weight rows) and the step-16 traversal instead.
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
					gemv8asm(k, xs, w, j0+par, 2, &half, gemvAVX2)
					for t, v := range half {
						out[j0+par+2*t] = v
					}
				}
			}
		}
	}
	one := func(w *Weight, kern gemvKernel) func(lo, hi int) {
		return func(lo, hi int) {
			g := 0
			if w.DType == BF16 {
				g = 16
			}
			gemvOneRow(out[lo:hi], x.Data, sub(w, lo, hi), nil, hi-lo, k, k, g, kern)
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
		{"avx2 f32", w32, one(w32, gemvAVX2)}, {"avx2 bf16", wbf, one(wbf, gemvAVX2)},
	}
	if hasAVX512 { // the exact bf16 kernel is AVX2 either way
		vs = append(vs, variant{"new f32", w32, one(w32, gemvAVX512)}, variant{"new bf16", wbf, one(wbf, gemvAVX2)})
	}
	if hasAVX512BF16 { // the opt-in approximate kernel (Weight.ApproxBF16Dot), against the exact f32 one
		vs = append(vs, variant{"dot f32", w32, one(w32, gemvAVX512)}, variant{"dot bf16", wbf, one(wbf, gemvDot)})
	}
	if os.Getenv("GEMVTHREADS") != "2" { // Linear would run goroutines of its own
		vs = append(vs, variant{"Linear f32", w32, linear(w32)}, variant{"Linear bf16", wbf, linear(wbf)})
	}
	mr, _ := strconv.Atoi(os.Getenv("GEMVROWS"))
	rowsMode := mr >= 2 && mr <= gemvMx && os.Getenv("GEMVTHREADS") != "2"
	if rowsMode {
		// GEMVROWS=m: the m-row path (gemvRows, 4 weight rows x 2 input rows per call), weight rows
		// consecutive (maxStep 1: the previous traversal) against step 16
		xm := randT(r, mr, k)
		outm := make([]float32, mr*n)
		rows := func(w *Weight, maxStep int) func(lo, hi int) {
			return func(lo, hi int) {
				xs, ldx := xm.Data, k
				if w.DType == BF16 {
					xs, ldx = make([]float32, mr*k), k
					for i := range mr {
						deinterleave(xs[i*k:(i+1)*k], xm.Data[i*k:(i+1)*k], 16)
					}
				}
				gemvRows(outm, xm.Data, xs, w, nil, mr, n, k, k, ldx, maxStep)
			}
		}
		vs = []variant{
			{fmt.Sprintf("%d rows step1 f32", mr), w32, rows(w32, 1)}, {fmt.Sprintf("%d rows step1 bf16", mr), wbf, rows(wbf, 1)},
			{fmt.Sprintf("%d rows step16 f32", mr), w32, rows(w32, 16)}, {fmt.Sprintf("%d rows step16 bf16", mr), wbf, rows(wbf, 16)},
		}
		for _, v := range vs {
			v.run(0, n)
			got := make([]float32, 256)
			for j := range got {
				got[j] = outm[(mr-1)*n+j]
			}
			assertClose(t, v.name, got, naiveMatMul(xm.Data[(mr-1)*k:], wt.Data, 1, 1, 256, k, false, true), 1e-4*k)
		}
	}
	if only := os.Getenv("GEMVONLY"); only != "" { // e.g. GEMVONLY=bf16: the variants named so
		vs = slices.DeleteFunc(vs, func(v variant) bool { return !strings.Contains(v.name, only) })
	}
	want := naiveMatMul(x.Data, wt.Data, 1, 1, 256, k, false, true)
	for _, v := range vs {
		if rowsMode {
			break // checked above
		}
		clear(out)
		v.run(0, n)
		tol := 1e-4 * k
		if strings.HasPrefix(v.name, "dot") {
			tol = 1e-2 * k // the input rounded to bf16
		}
		assertClose(t, v.name, out[:256], want, tol)
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
	rounds, passes := 9, 3
	if os.Getenv("GEMVONLY") != "" {
		rounds = 21
	}
	times := make([][]float64, len(vs))
	for range rounds {
		for i, v := range vs {
			var sum float64
			for range passes {
				sum += pass(v)
			}
			times[i] = append(times[i], sum/float64(passes))
		}
	}
	med := make([]float64, len(vs))
	for i, v := range vs {
		slices.Sort(times[i])
		med[i] = times[i][rounds/2]
		fmt.Printf("%-12s %7.2f ms  %5.1f GB/s\n", v.name, med[i]*1e3, float64(v.w.Bytes())/med[i]/1e9)
	}
	for i := 0; i+1 < len(vs) && os.Getenv("GEMVONLY") == ""; i += 2 {
		fmt.Printf("%-12s bf16 %.2fx faster than f32;  vs old: f32 %.2fx, bf16 %.2fx\n", vs[i].name[:len(vs[i].name)-4], med[i]/med[i+1], med[0]/med[i], med[1]/med[i+1])
	}
}
