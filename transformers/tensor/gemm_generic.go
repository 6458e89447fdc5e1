//go:build !amd64 || purego

package tensor

const (
	hasAVX2       = false
	hasAVX512     = false
	hasAVX512BF16 = false
)

func kernRows(rows, k int, a, b, c []float32, ldc int, acc bool) bool { return false }

func widenHalf(dst []float32, src []uint16, dt DType) { widenHalfGo(dst, src, dt) }

func gemv4asm(k8 int, x0, x1 []float32, w *Weight, j0, step, nx int, res *[8]float32) {
	panic("tensor: no assembly GEMV in this build")
}

func packNT16(p []float32, b matB, j0, pc, kc, head int) (lo, hi int) { return 0, 0 }

func expSubSum(x []float32, m float32) float64 { return expSubSumGo(x, m) }

func geluSlice(x []float32) { geluGo(x) }

func gemv8asm(kv int, x []float32, w *Weight, j0, step int, res *[8]float32, kern gemvKernel) {
	panic("tensor: no assembly GEMV in this build")
}

func rowMax(x []float32) float32 { return rowMaxGo(x) }

func scaleSlice(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

func axpy(y, x []float32, a float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}

func packA6(p, src []float32, lda, kc int) int { return 0 }

func kernRows32(rows, k int, a, b, c []float32, ldc int, acc bool) bool { return false }

func sigmoidMul(x []float32, gelu bool) { sigmoidMulGo(x, gelu) }

func prefetchRowsT1(p uintptr, ld int, rows int, lines int) {}
