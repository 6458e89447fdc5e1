//go:build amd64 && !purego

package tensor

import "unsafe"

//go:noescape
func expSubSumAVX2(x *float32, n int, m float32) float32

//go:noescape
func geluAVX2(x *float32, n int)

// expSubSum sets x[i] = e^(x[i]-m) and returns the sum of the new values.
func expSubSum(x []float32, m float32) float64 {
	var s float64
	if n8 := len(x) &^ 7; hasAVX2 && n8 > 0 {
		s = float64(expSubSumAVX2(unsafe.SliceData(x), n8, m))
		x = x[n8:]
	}
	return s + expSubSumGo(x, m)
}

// geluSlice applies the exact-erf GELU in place.
func geluSlice(x []float32) {
	if n8 := len(x) &^ 7; hasAVX2 && n8 > 0 {
		geluAVX2(unsafe.SliceData(x), n8)
		x = x[n8:]
	}
	geluGo(x)
}

//go:noescape
func maxAVX2(x *float32, n int) float32

//go:noescape
func scaleAVX2(x *float32, n int, s float32)

//go:noescape
func axpyAVX2(y, x *float32, n int, a float32)

// rowMax returns the largest entry of x (-Inf for an empty x; NaN entries are skipped).
func rowMax(x []float32) float32 {
	if n8 := len(x) &^ 7; hasAVX2 && n8 > 0 {
		m := maxAVX2(unsafe.SliceData(x), n8)
		return max32(m, rowMaxGo(x[n8:]))
	}
	return rowMaxGo(x)
}

// scaleSlice multiplies x by s in place.
func scaleSlice(x []float32, s float32) {
	if n8 := len(x) &^ 7; hasAVX2 && n8 > 0 {
		scaleAVX2(unsafe.SliceData(x), n8, s)
		x = x[n8:]
	}
	for i := range x {
		x[i] *= s
	}
}

// axpy does y += a*x.
func axpy(y, x []float32, a float32) {
	x = x[:len(y)]
	if n8 := len(y) &^ 7; hasAVX2 && n8 > 0 {
		axpyAVX2(unsafe.SliceData(y), unsafe.SliceData(x), n8, a)
		y, x = y[n8:], x[n8:]
	}
	for i := range y {
		y[i] += a * x[i]
	}
}

//go:noescape
func sigmoidMulAVX2(x *float32, n int, gelu int)

// sigmoidMul sets x[i] = x[i]*sigmoid(u(x[i])) with u(x) = x (SiLU) or, for gelu, the tanh-GELU
// argument 2*sqrt(2/pi)*(x+0.044715x^3).
func sigmoidMul(x []float32, gelu bool) {
	if n8 := len(x) &^ 7; hasAVX2 && n8 > 0 {
		sigmoidMulAVX2(unsafe.SliceData(x), n8, boolInt(gelu))
		x = x[n8:]
	}
	sigmoidMulGo(x, gelu)
}
