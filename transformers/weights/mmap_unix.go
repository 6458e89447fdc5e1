//go:build unix

package weights

import (
	"fmt"
	"os"
	"syscall"
)

// mapFile maps a whole file read-only. The returned release function unmaps it.
func mapFile(f *os.File, size int64) ([]byte, func() error, error) {
	if size == 0 {
		return []byte{}, func() error { return nil }, nil
	}
	if int64(int(size)) != size {
		return nil, nil, fmt.Errorf("file of %d bytes does not fit the address space", size)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		// Some file systems refuse mmap; fall back to reading the file.
		return readWhole(f, size)
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}
