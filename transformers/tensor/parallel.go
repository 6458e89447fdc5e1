package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallelFor runs f over [0, n) in contiguous chunks of at least minChunk items on up to GOMAXPROCS
// goroutines (the caller's included) and returns when every chunk is done. The range is cut into a
// few chunks per goroutine that the goroutines take in turn, so that one goroutine slowed down by
// other load on the machine does not hold the others up.
func parallelFor(n, minChunk int, f func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if minChunk < 1 {
		minChunk = 1
	}
	workers := runtime.GOMAXPROCS(0)
	if maxW := (n + minChunk - 1) / minChunk; workers > maxW {
		workers = maxW
	}
	if workers <= 1 {
		f(0, n)
		return
	}
	chunks := min(4*workers, (n+minChunk-1)/minChunk)
	var next atomic.Int64
	run := func() {
		for {
			c := int(next.Add(1)) - 1
			if c >= chunks {
				return
			}
			f(n*c/chunks, n*(c+1)/chunks)
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run()
		}()
	}
	run()
	wg.Wait()
}
