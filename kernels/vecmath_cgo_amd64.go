//go:build cgo

package kernels

/*
#cgo CFLAGS: -O2
void lab_act(int act, const float *x, const float *d, float *y, long n);
void lab_softmax_rows(const float *x, float *y, long rows, long c);
void lab_rowvec(int mul, const float *x, const float *v, float *y, long rows, long c);
void lab_sum_cols(const float *x, float *y, long rows, long c, long lo, long hi);
void lab_norm_rows(int rms, float eps, const float *x, float *y, long rows, long c);
void lab_norm_grad_rows(int rms, float eps, const float *x, const float *d, float *dx, long rows, long c);
*/
import "C"

import "unsafe"

// fp is the C pointer to s[0]; s must not be empty.
func fp(s []float32) *C.float { return (*C.float)(unsafe.Pointer(&s[0])) }

// nativeAct computes y = f(x) (d nil) or y = d·f'(x) with the AVX2 kernels
// of vecmath_amd64.c, for f = GELU, SiLU, ELU1, Exp or Sigmoid (and
// Softplus's gradient); false (nothing done) for any other f. The slices
// have len(x) elements.
func nativeAct(a Activation, x, d, y []float32) bool {
	switch a {
	case GELU, SiLU, ELU1, Exp, Sigmoid:
	case Softplus:
		if d == nil {
			return false
		}
	default:
		return false
	}
	if len(x) == 0 {
		return true
	}
	y = y[:len(x)]
	var pd *C.float
	if d != nil {
		pd = fp(d[:len(x)])
	}
	C.lab_act(C.int(a), fp(x), pd, fp(y), C.long(len(x)))
	return true
}

// nativeSoftmaxRows writes softmax over each row of c floats of x to y.
func nativeSoftmaxRows(x, y []float32, c int) {
	if len(x) == 0 {
		return
	}
	y = y[:len(x)]
	C.lab_softmax_rows(fp(x), fp(y), C.long(len(x)/c), C.long(c))
}

// nativeRowVec writes y = x + v (or x * v with mul) over the rows of c =
// len(v) floats of x.
func nativeRowVec(mul bool, x, v, y []float32) {
	if len(x) == 0 || len(v) == 0 {
		return
	}
	c := len(v)
	y = y[:len(x)]
	C.lab_rowvec(cbool(mul), fp(x), fp(v),
		fp(y), C.long(len(x)/c), C.long(c))
}

// nativeSumCols writes y[j] = Σ_i x[i*c+j] for j in [lo, hi), x holding nr
// rows of c floats.
func nativeSumCols(x, y []float32, nr, c, lo, hi int) {
	if hi <= lo {
		return
	}
	if nr == 0 {
		clear(y[lo:hi])
		return
	}
	_ = x[(nr-1)*c+hi-1]
	_ = y[hi-1]
	C.lab_sum_cols(fp(x), fp(y), C.long(nr), C.long(c),
		C.long(lo), C.long(hi))
}

// nativeNorm is normalize's kernel over the rows of c floats of x (d nil) or
// normalizeGrad's (d the output's gradient).
func nativeNorm(o normalize, x, d, y []float32, c int) {
	if len(x) == 0 {
		return
	}
	y = y[:len(x)]
	if d == nil {
		C.lab_norm_rows(cbool(o.rms), C.float(o.eps), fp(x),
			fp(y), C.long(len(x)/c), C.long(c))
		return
	}
	d = d[:len(x)]
	C.lab_norm_grad_rows(cbool(o.rms), C.float(o.eps), fp(x),
		fp(d), fp(y), C.long(len(x)/c), C.long(c))
}
