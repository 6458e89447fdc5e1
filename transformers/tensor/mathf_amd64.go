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
