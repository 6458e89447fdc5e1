package tensor

// linear computes out[m, n] = x[m, k] . w[n, k] + bias[n] (simple version).
func linear(out, x []float32, w *Weight, bias []float32, m, n, k int) {
	const nb = 16
	parallelFor((n+nb-1)/nb, 1, func(lo, hi int) {
		buf := make([]float32, nb*k)
		for blk := lo; blk < hi; blk++ {
			n0 := blk * nb
			n1 := min(n0+nb, n)
			wb := buf[:(n1-n0)*k]
			w.WidenTo(wb, n0*k)
			for i := range m {
				xr := x[i*k : (i+1)*k]
				or := out[i*n : (i+1)*n]
				for j := n0; j < n1; j++ {
					s := dot(xr, wb[(j-n0)*k:(j-n0+1)*k])
					if bias != nil {
						s += bias[j]
					}
					or[j] = s
				}
			}
		}
	})
}

func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// batchedGemm computes batch products out[b] = a[b] @ B (B = b[b] or b if !bBatched), B [k, n] or
// [n, k] when transB.
func batchedGemm(out, a, b []float32, batch, m, n, k int, bBatched, transB bool) {
	parallelFor(batch*m, max(1, 4096/max(1, n*k/64)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			bi := r / m
			ar := a[r*k : (r+1)*k]
			or := out[r*n : (r+1)*n]
			bm := b
			if bBatched {
				bm = b[bi*k*n : (bi+1)*k*n]
			}
			if transB {
				for j := range n {
					or[j] = dot(ar, bm[j*k:(j+1)*k])
				}
				continue
			}
			for j := range or {
				or[j] = 0
			}
			for p, av := range ar {
				br := bm[p*n : (p+1)*n]
				for j := range or {
					or[j] += av * br[j]
				}
			}
		}
	})
}
