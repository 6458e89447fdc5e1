package tensor

import (
	"runtime"
	"sync"
)

// parallelFor splits [0, n) into contiguous chunks of at least minChunk items and runs f on them
// concurrently (at most GOMAXPROCS goroutines). It returns when every chunk is done.
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
	chunk := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			f(lo, hi)
		}(lo, hi)
	}
	f(0, min(chunk, n))
	wg.Wait()
}
