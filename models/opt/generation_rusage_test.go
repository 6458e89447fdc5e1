//go:build unix

package opt

import (
	"syscall"
	"time"
)

// On unix the decode benchmark also reports CPU time per token (user + system of the whole
// process), which other processes on a busy machine do not inflate as they do wall time.
func init() {
	cpuNow = func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return 0
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
}
