//go:build openblas

package main

import (
	"time"

	"github.com/gotransformers/gotransformers/transformers/tensor/openblas"
)

type openBLAS struct{}

func (openBLAS) Name() string { return "OpenBLAS" }
func (openBLAS) SgemmNT(c, a, b []float32, m, n, k int) error {
	return openblas.SgemmNT(c, a, b, m, n, k)
}
func (openBLAS) SgemmNN(c, a, b []float32, m, n, k int) error {
	return openblas.SgemmNN(c, a, b, m, n, k)
}
func (openBLAS) Sgemv(y, w, x []float32, n, k int) error { return openblas.Sgemv(y, w, x, n, k) }

// newYardstick returns OpenBLAS limited to the given number of threads.
func newYardstick(threads int) yardstick {
	openblas.SetThreads(threads)
	return openBLAS{}
}

// Settle covers OpenBLAS's default thread timeout (2^28 cycles, about 0.1 s).
func (openBLAS) Settle() time.Duration { return 250 * time.Millisecond }
