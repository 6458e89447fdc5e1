package tensor

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Every index is visited exactly once, whatever the sizes, also from many goroutines at once
// (run under -race: the helpers are shared by all of them).
func TestParallelForCoversOnce(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 200 {
				n, minChunk := r.IntN(300), r.IntN(20)
				seen := make([]atomic.Int32, n)
				parallelForN(n, minChunk, 1+r.IntN(16), func(lo, hi int) {
					for i := lo; i < hi; i++ {
						seen[i].Add(1)
					}
				})
				for i := range seen {
					if c := seen[i].Load(); c != 1 {
						errs <- fmt.Errorf("n %d minChunk %d: index %d visited %d times", n, minChunk, i, c)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A region started inside another region's chunk (nested parallelism) completes: callers never
// wait for a helper that has not started, so busy helpers cannot deadlock it.
func TestParallelForNested(t *testing.T) {
	var total atomic.Int64
	parallelForN(16, 1, 4, func(lo, hi int) {
		for range hi - lo {
			parallelForN(64, 1, 4, func(lo, hi int) { total.Add(int64(hi - lo)) })
		}
	})
	if got := total.Load(); got != 16*64 {
		t.Fatalf("nested regions visited %d items, want %d", got, 16*64)
	}
}

// A chunk that panics, on the caller or on a helper, panics on the caller (never crashes the
// process from a helper goroutine), and the helpers go on serving later regions.
func TestParallelForPanicReachesCaller(t *testing.T) {
	for round := range 20 {
		func() {
			defer func() {
				if p := recover(); p != "chunk failed" {
					t.Fatalf("round %d: recovered %v, want the chunk's panic", round, p)
				}
			}()
			parallelForN(64, 1, 32, func(lo, hi int) {
				time.Sleep(50 * time.Microsecond)
				if lo >= 32+round%16 {
					panic("chunk failed")
				}
			})
			t.Fatalf("round %d: no panic", round)
		}()
	}
	var seen atomic.Int64
	parallelFor(1000, 1, func(lo, hi int) { seen.Add(int64(hi - lo)) })
	if seen.Load() != 1000 {
		t.Fatalf("after the panics: %d items, want 1000", seen.Load())
	}
}

// The helpers exit once idle: no goroutine is left behind in an idle process.
func TestHelpersExitWhenIdle(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one P: no helpers")
	}
	parallelFor(1000, 1, func(lo, hi int) {})
	deadline := time.Now().Add(5 * time.Second)
	for helpers.live.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := helpers.live.Load(); n != 0 {
		t.Fatalf("%d helpers alive %v after the last region (idle exit after %v)", n, 5*time.Second, helperIdle)
	}
	// and they come back when needed
	var seen atomic.Int64
	parallelFor(1000, 1, func(lo, hi int) { seen.Add(int64(hi - lo)) })
	if seen.Load() != 1000 {
		t.Fatalf("after the helpers exited: %d items, want 1000", seen.Load())
	}
}

// LinearGroup gives exactly what Linear gives for each weight: one row (one GEMV region), a few
// rows and 40 (each on its own path), 100 (one shared-A GEMM region), f32/bf16/f16 weights, with
// and without bias.
func TestLinearGroupMatchesLinear(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, dt := range []DType{F32, BF16, F16} {
		for _, rows := range []int{1, 3, 40, 100} {
			for _, k := range []int{256, 1000} {
				x := randT(r, rows, k)
				var ws, bs []*Weight
				for _, n := range []int{1024, 300, 2056} {
					ws = append(ws, weightAs(randT(r, n, k), dt))
					bs = append(bs, weightAs(randT(r, n), dt))
				}
				if rows == 100 && runtime.GOMAXPROCS(0) > 1 && !gemmGroupFits(ws, rows, k) {
					t.Fatalf("%v k %d: 100 rows do not take the shared-A group GEMM: the test misses it", dt, k)
				}
				for _, withBias := range []bool{false, true} {
					b := bs
					if !withBias {
						b = nil
					}
					got := LinearGroup(x, ws, b)
					for i, w := range ws {
						var bi *Weight
						if withBias {
							bi = bs[i]
						}
						want := Linear(x, w, bi)
						for j := range want.Data {
							if got[i].Data[j] != want.Data[j] {
								t.Fatalf("%v rows %d k %d bias %v weight %d: element %d %v, Linear %v", dt, rows, k, withBias, i, j, got[i].Data[j], want.Data[j])
							}
						}
						if fmt.Sprint(got[i].Shape) != fmt.Sprint(want.Shape) {
							t.Fatalf("shape %v, Linear %v", got[i].Shape, want.Shape)
						}
					}
				}
			}
		}
	}
}

// BenchmarkParallelForShort runs back-to-back regions of two ~15 µs chunks (a decode step runs
// hundreds of such regions in a row) against the same work on one goroutine: the speed-up is what
// the helpers buy: 1.76-1.81x on the 2-core reference VM, where starting a goroutine per region
// (before the helpers) gave 0.92x for the same work: the second core joined too late to take a chunk.
func BenchmarkParallelForShort(b *testing.B) {
	x := make([]float32, 1<<14)
	for i := range x {
		x[i] = float32(i%7) * 0.5
	}
	work := func(reps int) float32 {
		var s float32
		for range reps {
			s += dot(x, x)
		}
		return s
	}
	var sink [2]float32
	var par, seq time.Duration
	for range b.N {
		t0 := time.Now()
		parallelForN(2, 1, 1, func(lo, hi int) { sink[lo] = work(4) })
		par += time.Since(t0)
		t0 = time.Now()
		sink[0] = work(4)
		sink[1] = work(4)
		seq += time.Since(t0)
	}
	b.ReportMetric(float64(seq)/float64(par), "speedup")
	b.ReportMetric(float64(par.Microseconds())/float64(b.N), "µs/region")
}
