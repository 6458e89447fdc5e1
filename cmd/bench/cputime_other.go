//go:build !linux

package main

import (
	"errors"
	"time"
)

// threadCPUTime is only available on Linux.
func threadCPUTime() (time.Duration, error) {
	return 0, errors.New("-threadcpu needs Linux (getrusage RUSAGE_THREAD)")
}
