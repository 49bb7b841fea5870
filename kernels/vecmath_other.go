//go:build !cgo || !amd64

package kernels

func nativeAct(a Activation, x, d, y []float32) bool { return false }

func nativeSoftmaxRows(x, y []float32, c int) { panic("kernels: no native softmax here") }

func nativeRowVec(mul bool, x, v, y []float32) { panic("kernels: no native row-vector op here") }

func nativeSumCols(x, y []float32, nr, c, lo, hi int) { panic("kernels: no native column sum here") }

func nativeNorm(o normalize, x, d, y []float32, c int) { panic("kernels: no native norm here") }

func nativeDecayScores(q, k, bq, bk, y []float32, lo, hi, c, dk, lag int) {
	panic("kernels: no native decay scores here")
}

func nativeDecayScoresGrad(wrtK bool, da, x, bq, bk, y []float32, lo, hi, c, dk, lag int) {
	panic("kernels: no native decay scores gradient here")
}

func nativeDecayScan(reverse bool, x, lg, y []float32, lo, hi, l, dv, h int) {
	panic("kernels: no native decay scan here")
}
