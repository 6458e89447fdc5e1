package main

import (
	"syscall"
	"time"
)

// threadCPUTime returns the CPU time (user + system) the calling OS thread has used.
func threadCPUTime() (time.Duration, error) {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
