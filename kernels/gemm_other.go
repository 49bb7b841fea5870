//go:build !cgo || !amd64

package kernels

// nativeGemm is false where the C GEMM is not built (no cgo, or not x86-64):
// every GEMM goes through gonum.
const nativeGemm = false

func nativeSgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int,
	beta float32, c []float32, ldc int) bool {
	return false
}
