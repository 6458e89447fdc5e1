//go:build !unix

package blip2

import "time"

// processCPU returns -1: no process CPU time here (benchmarks then report no CPU metric).
func processCPU() time.Duration { return -1 }
