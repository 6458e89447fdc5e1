//go:build !amd64 || purego

package tensor

// ntMaxRows, ntMaxRowsF32, ntMinK, ntMaxRowsHalf, ntMaxKHalf: see linear_small.go.
const ntMaxRows, ntMaxRowsF32, ntMinK = 64, 96, 256
const ntMaxRowsHalf, ntMaxKHalf = 96, 2560

// ntLinear is the AVX-512 no-pack path of linear (see linear_small.go); elsewhere it never applies.
func ntLinear(out, x []float32, w *Weight, b *Weight, m, n, k int) bool { return false }

// ntTakes reports whether ntLinear takes a product: never without the AVX-512 kernels.
func ntTakes(m, n, k int, dt DType) bool { return false }
