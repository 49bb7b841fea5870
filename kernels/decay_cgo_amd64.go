//go:build cgo

package kernels

/*
#cgo CFLAGS: -O2
void lab_decay_scores(const float *q, const float *k, const float *bq, const float *bk, float *y, long lo,
                      long hi, long c, long dk, long lag);
void lab_decay_scores_grad(int wrt_k, const float *da, const float *x, const float *bq, const float *bk,
                           float *y, long lo, long hi, long c, long dk, long lag);
void lab_decay_scan(int reverse, const float *x, const float *lg, float *y, long lo, long hi, long l, long dv,
                    long h);
*/
import "C"

// nativeDecayScores is decayScores' kernel for rows [lo, hi) in
// decay_amd64.c. The slices are whole and non-empty (checked by the op).
func nativeDecayScores(q, k, bq, bk, y []float32, lo, hi, c, dk, lag int) {
	_ = y[hi*c-1]
	C.lab_decay_scores(fp(q), fp(k), fp(bq), fp(bk), fp(y), C.long(lo), C.long(hi), C.long(c), C.long(dk), C.long(lag))
}

// nativeDecayScoresGrad is decayScoresGrad's kernel for rows [lo, hi).
func nativeDecayScoresGrad(wrtK bool, da, x, bq, bk, y []float32, lo, hi, c, dk, lag int) {
	_ = y[hi*dk-1]
	C.lab_decay_scores_grad(cbool(wrtK), fp(da), fp(x), fp(bq), fp(bk), fp(y), C.long(lo), C.long(hi), C.long(c),
		C.long(dk), C.long(lag))
}

// nativeDecayScan is decayScan's kernel for sequences [lo, hi).
func nativeDecayScan(reverse bool, x, lg, y []float32, lo, hi, l, dv, h int) {
	_ = y[hi*l*dv-1]
	C.lab_decay_scan(cbool(reverse), fp(x), fp(lg), fp(y), C.long(lo), C.long(hi), C.long(l), C.long(dv), C.long(h))
}
