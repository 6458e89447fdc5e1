//go:build amd64 && !purego && noavx512

package tensor

// avx512Allowed is false with -tags noavx512: the GEMM keeps to its AVX2 micro-kernels.
const avx512Allowed = false
