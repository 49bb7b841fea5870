//go:build cgo

package kernels

/*
#cgo CFLAGS: -O2
int lab_gemm_supported(void);
int lab_sgemm(int tA, int tB, int m, int n, int k, float alpha, const float *a, long lda,
              const float *b, long ldb, float beta, float *c, long ldc);
*/
import "C"

import "unsafe"

// nativeGemm says whether the AVX2+FMA GEMM of gemm_amd64.c runs here.
var nativeGemm = C.lab_gemm_supported() != 0

// nativeSgemm runs the C GEMM; false means it could not get its packing
// buffers and did nothing. The caller has checked the slices' lengths.
func nativeSgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int,
	beta float32, c []float32, ldc int) bool {
	var pa, pb *float32
	if len(a) > 0 {
		pa = &a[0]
	}
	if len(b) > 0 {
		pb = &b[0]
	}
	return C.lab_sgemm(cbool(tA), cbool(tB), C.int(m), C.int(n), C.int(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(pa)), C.long(lda), (*C.float)(unsafe.Pointer(pb)), C.long(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.long(ldc)) != 0
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
