//go:build openblas

// Package openblas binds the few OpenBLAS (CBLAS) routines that gotransformers uses as a speed
// yardstick and that users who prefer OpenBLAS may call. It needs cgo and libopenblas-dev and is
// only built with -tags openblas; the default build never imports it.
package openblas

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// SetThreads sets the number of OpenBLAS worker threads (openblas_set_num_threads).
func SetThreads(n int) { C.openblas_set_num_threads(C.int(n)) }

// Config returns the OpenBLAS build description (openblas_get_config), e.g. the core it targets.
func Config() string { return C.GoString(C.openblas_get_config()) }

// SgemmNT computes c[m, n] = a[m, k] · b[n, k]^T (cblas_sgemm RowMajor, NoTrans, Trans): the
// torch.nn.functional.linear layout.
func SgemmNT(c, a, b []float32, m, n, k int) error {
	if len(a) < m*k || len(b) < n*k || len(c) < m*n || m <= 0 || n <= 0 || k <= 0 {
		return fmt.Errorf("openblas: SgemmNT: bad sizes m=%d n=%d k=%d", m, n, k)
	}
	C.cblas_sgemm(C.CblasRowMajor, C.CblasNoTrans, C.CblasTrans, C.blasint(m), C.blasint(n), C.blasint(k),
		1, (*C.float)(unsafe.Pointer(&a[0])), C.blasint(k), (*C.float)(unsafe.Pointer(&b[0])), C.blasint(k),
		0, (*C.float)(unsafe.Pointer(&c[0])), C.blasint(n))
	return nil
}

// SgemmNN computes c[m, n] = a[m, k] · b[k, n] (cblas_sgemm RowMajor, NoTrans, NoTrans).
func SgemmNN(c, a, b []float32, m, n, k int) error {
	if len(a) < m*k || len(b) < n*k || len(c) < m*n || m <= 0 || n <= 0 || k <= 0 {
		return fmt.Errorf("openblas: SgemmNN: bad sizes m=%d n=%d k=%d", m, n, k)
	}
	C.cblas_sgemm(C.CblasRowMajor, C.CblasNoTrans, C.CblasNoTrans, C.blasint(m), C.blasint(n), C.blasint(k),
		1, (*C.float)(unsafe.Pointer(&a[0])), C.blasint(k), (*C.float)(unsafe.Pointer(&b[0])), C.blasint(n),
		0, (*C.float)(unsafe.Pointer(&c[0])), C.blasint(n))
	return nil
}

// Sgemv computes y[n] = w[n, k] · x[k] (cblas_sgemv RowMajor, NoTrans).
func Sgemv(y, w, x []float32, n, k int) error {
	if len(w) < n*k || len(x) < k || len(y) < n || n <= 0 || k <= 0 {
		return fmt.Errorf("openblas: Sgemv: bad sizes n=%d k=%d", n, k)
	}
	C.cblas_sgemv(C.CblasRowMajor, C.CblasNoTrans, C.blasint(n), C.blasint(k), 1,
		(*C.float)(unsafe.Pointer(&w[0])), C.blasint(k), (*C.float)(unsafe.Pointer(&x[0])), 1,
		0, (*C.float)(unsafe.Pointer(&y[0])), 1)
	return nil
}
