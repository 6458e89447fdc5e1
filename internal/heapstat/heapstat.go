// Package heapstat measures Go heap allocation, for tests that bound what an operation allocates.
package heapstat

import (
	"runtime"
	"runtime/debug"
)

// Allocated runs fn after a GC and returns the bytes the Go heap allocated meanwhile
// (runtime.MemStats.TotalAlloc grows with every allocation, so it bounds the peak from above).
func Allocated(fn func()) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Steady runs fn twice with the GC off and returns the bytes the second run allocated: what a
// warmed-up call costs, since no GC empties the sync.Pools the first run filled.
func Steady(fn func()) uint64 {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	fn()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
