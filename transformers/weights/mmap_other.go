//go:build !unix

package weights

import "os"

// mapFile reads the whole file on platforms without syscall.Mmap.
func mapFile(f *os.File, size int64) ([]byte, func() error, error) {
	return readWhole(f, size)
}
