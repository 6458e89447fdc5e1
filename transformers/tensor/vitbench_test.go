//go:build unix

package tensor

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// cpuNow returns the CPU time of the calling thread (thread) or of the process.
func cpuNow(thread bool) time.Duration {
	var ru syscall.Rusage
	who := syscall.RUSAGE_SELF
	if thread {
		who = 1 // RUSAGE_THREAD
	}
	_ = syscall.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type vitLayer struct{ qkv, out, fc1, fc2 *Weight }

func randWeight(r *rand.Rand, dt DType, n, k, misalign int) *Weight {
	w := &Weight{Shape: []int{n, k}, DType: dt}
	if dt == F32 {
		w.F32 = make([]float32, n*k+16)[misalign:][:n*k]
		for i := range w.F32 {
			w.F32[i] = float32(int32(r.Uint32())) * (1.0 / (1 << 31)) * 0.05
		}
		return w
	}
	w.Half = make([]uint16, n*k+32)[misalign:][:n*k]
	for i := range w.Half {
		w.Half[i] = F32ToBF16(float32(int32(r.Uint32())) * (1.0 / (1 << 31)) * 0.05)
	}
	return w
}

// TestViTGemmBench times the four Linear products of a ViT-g layer (x [257, 1408]) over 8 distinct
// weight copies (B streams from DRAM as in the 39-layer model), by CPU time (the thread's with
// GOMAXPROCS=1, else the process'): float32 weights aligned and misaligned, bfloat16. Samples are one
// layer copy per case, the cases alternating copy by copy in rotating order; ratios are paired.
// GOTR_VITBENCH=1 enables it, GOTR_VITBENCH_RUNS sets the passes over the copies (default 4).
func TestViTGemmBench(t *testing.T) {
	if os.Getenv("GOTR_VITBENCH") == "" {
		t.Skip("GOTR_VITBENCH not set")
	}
	const m, d, f, copies = 257, 1408, 6144, 8
	r := rand.New(rand.NewPCG(1, 2))
	// cases: float32 weights aligned (Go allocations), float32 misaligned by 4 elements (16 bytes,
	// as a safetensors view may be), bfloat16
	type wcase struct {
		name     string
		dt       DType
		misalign int
	}
	cases := []wcase{{"F32", F32, 0}, {"F32+16B", F32, 4}, {"BF16", BF16, 0}}
	layers := make([][]vitLayer, len(cases))
	for i, c := range cases {
		for range copies {
			layers[i] = append(layers[i], vitLayer{randWeight(r, c.dt, 3*d, d, c.misalign), randWeight(r, c.dt, d, d, c.misalign),
				randWeight(r, c.dt, f, d, c.misalign), randWeight(r, c.dt, d, f, c.misalign)})
		}
	}
	x := New(m, d)
	h := New(m, f)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	for i := range h.Data {
		h.Data[i] = float32(r.NormFloat64())
	}
	flops := 2.0 * m * float64(3*d*d+d*d+2*d*f) * copies
	threads := runtime.GOMAXPROCS(0)
	if threads == 1 {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	// samples: one layer copy (its four products) per variant, the variants in rotating order and
	// alternating copy by copy, so that neighbouring samples see the same machine load; the ratio of
	// each variant to the first is taken per copy (paired), then the median.
	runs := 4
	if e := os.Getenv("GOTR_VITBENCH_RUNS"); e != "" {
		runs, _ = strconv.Atoi(e)
	}
	lflops := flops / copies
	cpu := make([][]float64, len(cases))
	ratio := make([][]float64, len(cases))
	for it := range runs + 1 {
		for ci := range copies {
			got := make([]float64, len(cases))
			for o := range cases {
				j := (o + it + ci) % len(cases)
				l := layers[j][ci]
				c0 := cpuNow(threads == 1)
				Linear(x, l.qkv, nil)
				Linear(x, l.out, nil)
				Linear(x, l.fc1, nil)
				Linear(h, l.fc2, nil)
				got[j] = lflops / (cpuNow(threads == 1) - c0).Seconds() / 1e9
			}
			if it == 0 {
				continue
			}
			for j := range cases {
				cpu[j] = append(cpu[j], got[j])
				ratio[j] = append(ratio[j], got[j]/got[0])
			}
		}
	}
	for i, v := range cases {
		slices.Sort(cpu[i])
		slices.Sort(ratio[i])
		n := len(cpu[i])
		fmt.Printf("%-10s threads=%d  GFLOP/s per CPU-second median %.1f (quartiles %.1f..%.1f)  paired ratio to F32: median %.3f (quartiles %.3f..%.3f)\n",
			v.name, threads, cpu[i][n/2], cpu[i][n/4], cpu[i][3*n/4], ratio[i][n/2], ratio[i][n/4], ratio[i][3*n/4])
	}
}
