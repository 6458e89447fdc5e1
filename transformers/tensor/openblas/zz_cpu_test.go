//go:build openblas

package openblas

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru) // RUSAGE_THREAD
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func cpuMedian2(f, g func(), reps int) (time.Duration, time.Duration) {
	var s, u []time.Duration
	for range 11 {
		t0 := threadCPU()
		for range reps {
			f()
		}
		s = append(s, (threadCPU()-t0)/time.Duration(reps))
		t0 = threadCPU()
		for range reps {
			g()
		}
		u = append(u, (threadCPU()-t0)/time.Duration(reps))
	}
	sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
	sort.Slice(u, func(a, b int) bool { return u[a] < u[b] })
	return s[len(s)/2], u[len(u)/2]
}

func TestCPUCompare(t *testing.T) {
	runtime.GOMAXPROCS(1)
	runtime.LockOSThread()
	SetThreads(1)
	r := rand.New(rand.NewPCG(1, 2))
	rs := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(r.NormFloat64())
		}
		return s
	}
	for _, s := range [][3]int{{257, 1408, 6144}, {32, 768, 3072}, {1024, 1024, 1024}, {5, 2560, 2560}, {1, 2560, 10240}} {
		m, k, n := s[0], s[1], s[2]
		x := tensor.From(rs(m*k), m, k)
		w := tensor.WeightFrom(tensor.From(rs(n*k), n, k))
		c := make([]float32, m*n)
		reps := max(1, int(2e8/float64(2*m*n*k)))
		ours, ref := cpuMedian2(func() { tensor.Linear(x, w, nil) }, func() {
			if m == 1 {
				Sgemv(c, w.F32, x.Data, n, k)
			} else {
				SgemmNT(c, x.Data, w.F32, m, n, k)
			}
		}, reps)
		fl := 2 * float64(m*n*k)
		fmt.Printf("%v ours %.1f GFLOP/s-cpu  openblas %.1f  ratio %.2f\n", s, fl/ours.Seconds()/1e9, fl/ref.Seconds()/1e9, ref.Seconds()/ours.Seconds())
	}
}
