//go:build amd64 && !purego

package tensor

import "unsafe"

//go:noescape
func kern1x16AVX2(k int, a, b, c *float32, ldc int, acc int)

//go:noescape
func kern2x16AVX2(k int, a, b, c *float32, ldc int, acc int)

//go:noescape
func kern3x16AVX2(k int, a, b, c *float32, ldc int, acc int)

//go:noescape
func kern4x16AVX2(k int, a, b, c *float32, ldc int, acc int)

//go:noescape
func kern5x16AVX2(k int, a, b, c *float32, ldc int, acc int)

//go:noescape
func kern6x16AVX2(k int, a, b, c *float32, ldc int, acc int)

//go:noescape
func widenBF16AVX2(dst *float32, src *uint16, n int)

//go:noescape
func widenF16AVX2(dst *float32, src *uint16, n int)

// kernRows computes rows (1..6) rows x 16 columns of c (+)= a·b from packed panels (a: 6-wide
// panels, len >= 6k; b: 16-wide, len >= 16k; c rows of stride ldc). It reports false when no
// assembly kernel exists (the caller then uses kern6x16Go through a scratch tile).
func kernRows(rows, k int, a, b, c []float32, ldc int, acc bool) bool {
	if !hasAVX2 {
		return false
	}
	if k > 0 {
		_ = a[6*k-1]
		_ = b[16*k-1]
	}
	_ = c[(rows-1)*ldc+15]
	pa, pb, pc, ac := unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), boolInt(acc)
	switch rows {
	case 6:
		kern6x16AVX2(k, pa, pb, pc, ldc, ac)
	case 5:
		kern5x16AVX2(k, pa, pb, pc, ldc, ac)
	case 4:
		kern4x16AVX2(k, pa, pb, pc, ldc, ac)
	case 3:
		kern3x16AVX2(k, pa, pb, pc, ldc, ac)
	case 2:
		kern2x16AVX2(k, pa, pb, pc, ldc, ac)
	default:
		kern1x16AVX2(k, pa, pb, pc, ldc, ac)
	}
	return true
}

// widenHalf widens src (F16 or BF16 bits) into dst.
func widenHalf(dst []float32, src []uint16, dt DType) {
	n := min(len(dst), len(src))
	if hasAVX2 && n >= 8 {
		n8 := n &^ 7
		if dt == BF16 {
			widenBF16AVX2(unsafe.SliceData(dst), unsafe.SliceData(src), n8)
		} else {
			widenF16AVX2(unsafe.SliceData(dst), unsafe.SliceData(src), n8)
		}
		dst, src = dst[n8:n], src[n8:n]
	}
	widenHalfGo(dst, src, dt)
}

//go:noescape
func gemv4x1F32(k int, x0, x1 *float32, w unsafe.Pointer, ldw int, out *float32)

//go:noescape
func gemv4x2F32(k int, x0, x1 *float32, w unsafe.Pointer, ldw int, out *float32)

//go:noescape
func gemv4x1BF16(k int, x0, x1 *float32, w unsafe.Pointer, ldw int, out *float32)

//go:noescape
func gemv4x2BF16(k int, x0, x1 *float32, w unsafe.Pointer, ldw int, out *float32)

//go:noescape
func gemv4x1F16(k int, x0, x1 *float32, w unsafe.Pointer, ldw int, out *float32)

//go:noescape
func gemv4x2F16(k int, x0, x1 *float32, w unsafe.Pointer, ldw int, out *float32)

// gemv4asm runs the assembly GEMV kernel on the first k8 (a multiple of 8, > 0) columns of the 4
// weight rows j0, j0+step, j0+2*step, j0+3*step.
func gemv4asm(k8 int, x0, x1 []float32, w *Weight, j0, step, nx int, res *[8]float32) {
	k := w.Shape[1]
	ldw := k * step
	last := (j0+3*step)*k + k8 - 1
	_ = x0[k8-1]
	_ = x1[k8-1]
	px0, px1 := unsafe.SliceData(x0), unsafe.SliceData(x1)
	if w.DType == F32 {
		_ = w.F32[last]
		pw := unsafe.Pointer(&w.F32[j0*k])
		if nx == 2 {
			gemv4x2F32(k8, px0, px1, pw, ldw, &res[0])
		} else {
			gemv4x1F32(k8, px0, px1, pw, ldw, &res[0])
		}
		return
	}
	_ = w.Half[last]
	pw := unsafe.Pointer(&w.Half[j0*k])
	switch {
	case w.DType == BF16 && nx == 2:
		gemv4x2BF16(k8, px0, px1, pw, ldw, &res[0])
	case w.DType == BF16:
		gemv4x1BF16(k8, px0, px1, pw, ldw, &res[0])
	case nx == 2:
		gemv4x2F16(k8, px0, px1, pw, ldw, &res[0])
	default:
		gemv4x1F16(k8, px0, px1, pw, ldw, &res[0])
	}
}

//go:noescape
func packNT8F32(dst *float32, src unsafe.Pointer, ld int, k8 int)

//go:noescape
func packNT8BF16(dst *float32, src unsafe.Pointer, ld int, k8 int)

//go:noescape
func packNT8F16(dst *float32, src unsafe.Pointer, ld int, k8 int)

// packNT16 packs 16 full rows j0..j0+15 of a transposed B, columns [pc, pc+kc), into p (kc x 16,
// k-major) with the assembly kernels, from column pc+head on (head < 8: the columns before the
// first aligned one, see matB.alignShift). It returns the range [lo, hi) of columns it packed (hi-lo
// a multiple of 8); the caller packs the rest.
func packNT16(p []float32, b matB, j0, pc, kc, head int) (lo, hi int) {
	k8 := (kc - head) &^ 7
	if !hasAVX2 || k8 <= 0 {
		return 0, 0
	}
	_ = p[kc*nr-1]
	for h := 0; h < 16; h += 8 {
		off := (j0+h)*b.ld + pc + head
		last := off + 7*b.ld + k8 - 1
		dst := &p[head*nr+h]
		switch b.dt {
		case F32:
			_ = b.f32[last]
			packNT8F32(dst, unsafe.Pointer(&b.f32[off]), b.ld, k8)
		case BF16:
			_ = b.half[last]
			packNT8BF16(dst, unsafe.Pointer(&b.half[off]), b.ld, k8)
		default:
			_ = b.half[last]
			packNT8F16(dst, unsafe.Pointer(&b.half[off]), b.ld, k8)
		}
	}
	return head, head + k8
}

// prefetchRowsT1 prefetches into L2 the first lines cache lines of rows rows from address p, ld
// bytes apart (see genPrefetchRows in internal/asmgen).
func prefetchRowsT1(p uintptr, ld int, rows int, lines int)

//go:noescape
func gemv8x1F32(k int, x *float32, w unsafe.Pointer, ldw int, out *float32)

//go:noescape
func gemv8x1BF16(k int, x *float32, w unsafe.Pointer, ldw int, out *float32)

//go:noescape
func gemv8x1F16(k int, x *float32, w unsafe.Pointer, ldw int, out *float32)

//go:noescape
func gemv8x1F32AVX512(k int, x *float32, w unsafe.Pointer, ldw int, out *float32)

//go:noescape
func gemv8x1BF16Dot(k int, x *uint16, w unsafe.Pointer, ldw int, out *float32)

// gemv8asm computes res[t] = x · w[j0+t*step][:kv] for 8 weight rows step rows apart with the
// assembly kernel kern (kv > 0 and kern as given by gemv1Cols; for BF16, x de-interleaved, or for
// gemvDot holding the row rounded to bf16, two per float32 slot).
func gemv8asm(kv int, x []float32, w *Weight, j0, step int, res *[8]float32, kern gemvKernel) {
	k := w.Shape[1]
	if kern == gemvDot {
		_ = x[kv/2-1]
	} else {
		_ = x[kv-1]
	}
	px := unsafe.SliceData(x)
	last := (j0+7*step)*k + kv - 1
	if w.DType == F32 {
		_ = w.F32[last]
		pw := unsafe.Pointer(&w.F32[j0*k])
		if kern == gemvAVX512 {
			gemv8x1F32AVX512(kv, px, pw, k*step, &res[0])
		} else {
			gemv8x1F32(kv, px, pw, k*step, &res[0])
		}
		return
	}
	_ = w.Half[last]
	pw := unsafe.Pointer(&w.Half[j0*k])
	switch {
	case w.DType == BF16 && kern == gemvDot:
		gemv8x1BF16Dot(kv, (*uint16)(unsafe.Pointer(px)), pw, k*step, &res[0])
	case w.DType == BF16 && kern == gemvAVX512:
		gemv8x1BF16AVX512(kv, px, pw, k*step, &res[0])
	case w.DType == BF16:
		gemv8x1BF16(kv, px, pw, k*step, &res[0])
	default:
		gemv8x1F16(kv, px, pw, k*step, &res[0])
	}
}

//go:noescape
func packA6AVX2(dst *float32, src *float32, lda int, blocks int)

// packA6 packs the leading columns of 6 full rows of A (from src, stride lda) into the panel p
// (kc columns) and returns how many it packed (a multiple of 8, always < kc).
func packA6(p, src []float32, lda, kc int) int {
	blocks := (kc - 1) / 8
	if !hasAVX2 || blocks == 0 {
		return 0
	}
	_ = src[5*lda+8*blocks-1]
	_ = p[6*8*blocks+1] // the last block's 2 extra floats land on column 8*blocks, rows 0-1
	packA6AVX2(unsafe.SliceData(p), unsafe.SliceData(src), lda, blocks)
	return 8 * blocks
}

//go:noescape
func kern1x32AVX512(k int, a, b0, b1, c *float32, ldc int, acc int)

//go:noescape
func kern2x32AVX512(k int, a, b0, b1, c *float32, ldc int, acc int)

//go:noescape
func kern3x32AVX512(k int, a, b0, b1, c *float32, ldc int, acc int)

//go:noescape
func kern4x32AVX512(k int, a, b0, b1, c *float32, ldc int, acc int)

//go:noescape
func kern5x32AVX512(k int, a, b0, b1, c *float32, ldc int, acc int)

//go:noescape
func kern6x32AVX512(k int, a, b0, b1, c *float32, ldc int, acc int)

// kernRows32 is kernRows over two adjacent full B panels (b: 32 columns as two 16-wide packed
// panels of k rows each) with the AVX-512 kernels; it reports false where they are not available.
func kernRows32(rows, k int, a, b, c []float32, ldc int, acc bool) bool {
	if !hasAVX512 || k == 0 {
		return false
	}
	_ = a[6*k-1]
	_ = b[32*k-1]
	_ = c[(rows-1)*ldc+31]
	pa, pb0, pb1, pc, ac := unsafe.SliceData(a), unsafe.SliceData(b), &b[16*k], unsafe.SliceData(c), boolInt(acc)
	switch rows {
	case 6:
		kern6x32AVX512(k, pa, pb0, pb1, pc, ldc, ac)
	case 5:
		kern5x32AVX512(k, pa, pb0, pb1, pc, ldc, ac)
	case 4:
		kern4x32AVX512(k, pa, pb0, pb1, pc, ldc, ac)
	case 3:
		kern3x32AVX512(k, pa, pb0, pb1, pc, ldc, ac)
	case 2:
		kern2x32AVX512(k, pa, pb0, pb1, pc, ldc, ac)
	default:
		kern1x32AVX512(k, pa, pb0, pb1, pc, ldc, ac)
	}
	return true
}

//go:noescape
func gemv8x1BF16AVX512(k int, x *float32, w unsafe.Pointer, ldw int, out *float32)
