package tensor

import "math"

// exp32 returns e^x for float32 x, within 1 ulp (range reduction by ln 2 and a degree-7 polynomial
// evaluated in float64). It is several times faster than math.Exp and matches the float32
// precision of torch's vectorized exp.
func exp32(x float32) float32 {
	switch {
	case x != x:
		return x
	case x > 88.72284:
		return float32(math.Inf(1))
	case x < -103.97208:
		return 0
	}
	const (
		log2e = 1.4426950408889634
		ln2hi = 6.93147180369123816490e-01
		ln2lo = 1.90821492927058770002e-10
	)
	f := float64(x)
	n := math.Floor(f*log2e + 0.5)
	r := f - n*ln2hi - n*ln2lo
	// e^r for |r| <= ln2/2: Taylor to r^7 (relative error < 5e-9)
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	return float32(p * math.Float64frombits(uint64(int64(n)+1023)<<52))
}

// erf32 is torch's vectorized float32 erf (Abramowitz and Stegun 7.1.26, absolute error below
// 1.5e-7): sign(x)·(1 - t·r(t)·e^(-x²)) with t = 1/(1+0.3275911|x|).
func erf32(x float32) float32 {
	a := x
	if a < 0 {
		a = -a
	}
	t := 1 / (0.3275911*a + 1)
	r := (((1.061405429*t-1.453152027)*t+1.421413741)*t-0.284496736)*t + 0.254829592
	y := 1 - r*t*exp32(-a*a)
	if x < 0 {
		return -y
	}
	return y
}

// expSubSumGo sets x[i] = e^(x[i]-m) and returns the sum of the new values.
func expSubSumGo(x []float32, m float32) float64 {
	var s float64
	for i, v := range x {
		e := exp32(v - m)
		x[i] = e
		s += float64(e)
	}
	return s
}

// geluGo applies x*0.5*(1+erf(x*sqrt(1/2))) in place with torch's float32 erf formula.
func geluGo(x []float32) {
	const sqrtHalf = float32(0.70710678118654752440)
	for i, v := range x {
		x[i] = v * 0.5 * (1 + erf32(v*sqrtHalf))
	}
}

// rowMaxGo returns the largest entry of x (-Inf when empty; NaN entries are skipped).
func rowMaxGo(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

func max32(a, b float32) float32 {
	if b > a {
		return b
	}
	return a
}

// sigmoidMulGo sets x[i] = x[i]*sigmoid(u) with u = x (SiLU) or, for gelu, u =
// 2*sqrt(2/pi)*(x+0.044715x^3), since 0.5*(1+tanh(v)) = sigmoid(2v) (no cancellation near -1).
func sigmoidMulGo(x []float32, gelu bool) {
	const c = 1.5957691216057308 // 2*sqrt(2/pi)
	for i, v := range x {
		f := float64(v)
		u := f
		if gelu {
			u = c * (f + 0.044715*f*f*f)
		}
		x[i] = float32(f / (1 + math.Exp(-u)))
	}
}
