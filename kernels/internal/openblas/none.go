//go:build !cgo

package openblas

import "errors"

// Open fails: without cgo OpenBLAS cannot be opened.
func Open() error { return errors.New("openblas: built without cgo") }

// SetThreads does nothing without cgo.
func SetThreads(n int) {}

// Sgemm panics without cgo.
func Sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int,
	beta float32, c []float32, ldc int) {
	panic("openblas: built without cgo")
}
