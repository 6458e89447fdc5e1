//go:build !linux

package main

import "time"

// memStatus is not implemented outside Linux.
func memStatus() (rss, peak int64, ok bool) { return 0, 0, false }

// resetPeak is not implemented outside Linux.
func resetPeak() bool { return false }

// cpuTime is not implemented outside Linux.
func cpuTime() time.Duration { return 0 }
