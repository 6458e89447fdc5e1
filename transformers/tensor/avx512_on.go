//go:build amd64 && !purego && !noavx512

package tensor

// avx512Allowed lets the GEMM use its AVX-512 micro-kernels where the CPU has them; build with
// -tags noavx512 to keep to the AVX2 ones.
const avx512Allowed = true
