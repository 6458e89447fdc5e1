//go:build linux && amd64 && !purego

package tensor

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"
	"unsafe"
)

// TestNTSpeed compares the NT path with the packed GEMM it replaces, one thread, timed by the
// thread's CPU time, samples of the two interleaved (medians). The weights cycle through enough
// distinct copies to exceed the L3, as in the real models. Run with
//
//	NTBENCH=qformer|lm [NTRUNS=9] [NTM=rows] [NTF16=1] go test -run TestNTSpeed -v ./transformers/tensor
func TestNTSpeed(t *testing.T) {
	which := os.Getenv("NTBENCH")
	if which == "" {
		t.Skip("set NTBENCH=qformer or NTBENCH=lm")
	}
	runs := 9
	if s := os.Getenv("NTRUNS"); s != "" {
		fmt.Sscan(s, &runs)
	}
	type shape struct {
		name    string
		m, k, n int
	}
	var shapes []shape
	if which == "qformer" {
		shapes = []shape{{"qformer q/k/v/o 768->768", 32, 768, 768}, {"qformer fc1 768->3072", 32, 768, 3072},
			{"qformer fc2 3072->768", 32, 3072, 768}, {"language proj 768->2560", 32, 768, 2560}}
	} else {
		shapes = []shape{{"opt q/k/v/o 2560->2560", 44, 2560, 2560}, {"opt fc1 2560->10240", 44, 2560, 10240},
			{"opt fc2 10240->2560", 44, 10240, 2560}, {"opt lm_head 2560->50304", 44, 2560, 50304},
			{"t5 q/k/v/o 2048->2048", 44, 2048, 2048}, {"t5 wi 2048->5120", 44, 2048, 5120}, {"t5 wo 5120->2048", 44, 5120, 2048}}
	}
	if s := os.Getenv("NTM"); s != "" {
		// any row count, past the limits of ntFits too
		ntAnyRows = true
		defer func() { ntAnyRows = false }()
		var m int
		fmt.Sscan(s, &m)
		for i := range shapes {
			shapes[i].m = m
		}
	}
	dts := []DType{F32, BF16}
	if os.Getenv("NTF16") != "" {
		dts = append(dts, F16)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	defer func() { ntOff = false }()
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range shapes {
		for _, dt := range dts {
			base := benchWeight(r, dt, s.n, s.k)
			copies := max(1, (96<<20)/int(base.Bytes())+1)
			mis := 0 // NTMISALIGN=elements: every copy starts that many elements past a 64-byte line
			if v := os.Getenv("NTMISALIGN"); v != "" {
				fmt.Sscan(v, &mis)
			}
			var ws []*Weight
			for range copies {
				c := *base
				c.F32, c.Half = alignedCopy(base.F32, mis), alignedCopy(base.Half, mis)
				ws = append(ws, &c)
			}
			x := randT(r, s.m, s.k)
			out := make([]float32, s.m*s.n)
			next := 0
			call := func() {
				linear(out, x.Data, ws[next], nil, s.m, s.n, s.k)
				next = (next + 1) % len(ws)
			}
			var samples [2][]time.Duration
			for range runs {
				for v := range 2 {
					ntOff = v == 0
					call()
					start := threadCPU()
					n := 0
					for {
						call()
						n++
						if el := threadCPU() - start; el >= 100*time.Millisecond {
							samples[v] = append(samples[v], el/time.Duration(n))
							break
						}
					}
				}
			}
			flop := 2 * float64(s.m) * float64(s.n) * float64(s.k)
			var g [2]float64
			for v := range 2 {
				slices.Sort(samples[v])
				g[v] = flop / samples[v][len(samples[v])/2].Seconds() / 1e9
			}
			t.Logf("%-26s %-4s m=%d  GEMM %6.1f  NT %6.1f GFLOP/s per core-second  (x%.2f, %d weight copies)", s.name, dt, s.m, g[0], g[1], g[1]/g[0], len(ws))
			ws = nil
			runtime.GC()
		}
	}
}

// alignedCopy returns a copy of src whose first element lies off elements past a 64-byte
// boundary (nil for nil).
func alignedCopy[T float32 | uint16](src []T, off int) []T {
	if src == nil {
		return nil
	}
	var z T
	esz := int(unsafe.Sizeof(z))
	buf := make([]T, len(src)+128/esz+off)
	skip := (64 - int(uintptr(unsafe.Pointer(&buf[0]))%64)) % 64 / esz
	dst := buf[skip+off:][:len(src)]
	copy(dst, src)
	return dst
}
