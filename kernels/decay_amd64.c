//go:build cgo

// The decayed linear mixers' CPU kernels (GLA, RWKV-6/7's chunked scores,
// Mamba's and RWKV-4's scans) for x86-64 with AVX2 and FMA: the same sums as
// the Go loops of decay.go and decay_scan.go (their slow twins; the tests in
// decay_native_test.go hold them together), eight key or value dims at a
// time with exp8 in place of float64 math.Exp, which was half of these
// mixers' training step. Sums over the key dim run in eight lanes, so they
// round differently from Go's serial sum.

#include "simd_amd64.h"

// load8 reads lanes j..j+7 of p, or the first n - j of them (zeros beyond)
// when fewer are left.
INLINE __m256 load8(const float *p, long j, long n) {
	if (j + 8 <= n) return _mm256_loadu_ps(p + j);
	return _mm256_maskload_ps(p + j, tailmask(n - j));
}

// lab_decay_scores writes rows [lo, hi) of A [nb, c, c] (row i is row t =
// i % c of matrix i / c): A[t,s] = Σ_d q[t,d]·k[s,d]·exp(bq[t,d] - bk[s,d])
// for s <= t - lag, 0 beyond.
AVX2 void lab_decay_scores(const float *q, const float *k, const float *bq, const float *bk, float *y, long lo,
                           long hi, long c, long dk, long lag) {
	for (long i = lo; i < hi; i++) {
		long n = i / c, t = i % c, last = t - lag;
		float *row = y + i * c;
		const float *qt = q + i * dk, *bt = bq + i * dk;
		for (long s = 0; s < c; s++) {
			if (s > last) {
				row[s] = 0;
				continue;
			}
			const float *ks = k + (n * c + s) * dk, *bs = bk + (n * c + s) * dk;
			__m256 acc = _mm256_setzero_ps();
			for (long d = 0; d < dk; d += 8) {
				__m256 e = exp8(_mm256_sub_ps(load8(bt, d, dk), load8(bs, d, dk)));
				acc = _mm256_fmadd_ps(_mm256_mul_ps(load8(qt, d, dk), load8(ks, d, dk)), e, acc);
			}
			row[s] = hsum(acc);
		}
	}
}

// axpy_e adds w·x[d]·exp(b1[d] - b2[d]) to acc[d] for d < dk.
INLINE void axpy_e(float *acc, float w, const float *x, const float *b1, const float *b2, long dk) {
	__m256 vw = _mm256_set1_ps(w);
	long d = 0;
	for (; d + 8 <= dk; d += 8) {
		__m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(b1 + d), _mm256_loadu_ps(b2 + d)));
		__m256 v = _mm256_mul_ps(_mm256_mul_ps(vw, _mm256_loadu_ps(x + d)), e);
		_mm256_storeu_ps(acc + d, _mm256_add_ps(_mm256_loadu_ps(acc + d), v));
	}
	if (d < dk) {
		__m256i m = tailmask(dk - d);
		__m256 e = exp8(_mm256_sub_ps(_mm256_maskload_ps(b1 + d, m), _mm256_maskload_ps(b2 + d, m)));
		__m256 v = _mm256_mul_ps(_mm256_mul_ps(vw, _mm256_maskload_ps(x + d, m)), e);
		_mm256_maskstore_ps(acc + d, m, _mm256_add_ps(_mm256_maskload_ps(acc + d, m), v));
	}
}

// lab_decay_scores_grad writes rows [lo, hi) of dq (wrt_k 0) or dk (wrt_k 1)
// [nb, c, dk] from dA [nb, c, c] and x (k for dq, q for dk):
//
//	dq[t] = Σ_{s <= t-lag} dA[t,s]·k[s]·exp(bq[t] - bk[s])
//	dk[s] = Σ_{t >= s+lag} dA[t,s]·q[t]·exp(bq[t] - bk[s])
//
// in the same order of terms as the Go loop (each term rounded as there).
AVX2 void lab_decay_scores_grad(int wrt_k, const float *da, const float *x, const float *bq, const float *bk,
                                float *y, long lo, long hi, long c, long dk, long lag) {
	for (long i = lo; i < hi; i++) {
		long n = i / c, a = i % c;
		float *acc = y + i * dk;
		for (long d = 0; d < dk; d++) acc[d] = 0;
		if (!wrt_k) {
			const float *bt = bq + i * dk;
			for (long s = 0; s <= a - lag; s++) {
				long j = (n * c + s) * dk;
				axpy_e(acc, da[i * c + s], x + j, bt, bk + j, dk);
			}
		} else {
			const float *bs = bk + i * dk;
			for (long t = a + lag; t < c; t++) {
				long j = (n * c + t) * dk;
				axpy_e(acc, da[(n * c + t) * c + a], x + j, bq + j, bs, dk);
			}
		}
	}
}

// lab_decay_scan runs sequences [lo, hi) of the exclusive decayed scan
// y_0 = 0, y_{t+1} = exp(lg_t)·y_t + x_t (reverse: from the end, y_{t-1} =
// exp(lg_t)·y_t + x_t) over x, y [N, l, dv] and lg [N, l, h], column j
// decaying with lg[.., j / (dv/h)].
AVX2 void lab_decay_scan(int reverse, const float *x, const float *lg, float *y, long lo, long hi, long l, long dv,
                         long h) {
	long w = dv / h;
	for (long n = lo; n < hi; n++) {
		float *yn = y + n * l * dv;
		const float *xn = x + n * l * dv, *gn = lg + n * l * h;
		long first = reverse ? l - 1 : 0, step = reverse ? -1 : 1;
		for (long j = 0; j < dv; j++) yn[first * dv + j] = 0;
		for (long s = 0, t = first; s < l - 1; s++, t += step) {
			const float *cur = yn + t * dv, *xt = xn + t * dv, *gt = gn + t * h;
			float *next = yn + (t + step) * dv;
			if (w == 1) { // a decay per column (Mamba)
				long j = 0;
				for (; j + 8 <= dv; j += 8)
					_mm256_storeu_ps(next + j, _mm256_fmadd_ps(exp8(_mm256_loadu_ps(gt + j)), _mm256_loadu_ps(cur + j),
					                                           _mm256_loadu_ps(xt + j)));
				if (j < dv) {
					__m256i m = tailmask(dv - j);
					_mm256_maskstore_ps(next + j, m,
					                    _mm256_fmadd_ps(exp8(_mm256_maskload_ps(gt + j, m)), _mm256_maskload_ps(cur + j, m),
					                                    _mm256_maskload_ps(xt + j, m)));
				}
				continue;
			}
			for (long g = 0; g < h; g++) {
				__m256 a = _mm256_set1_ps(_mm256_cvtss_f32(exp8(_mm256_set1_ps(gt[g]))));
				long j = g * w, end = j + w;
				for (; j + 8 <= end; j += 8)
					_mm256_storeu_ps(next + j, _mm256_fmadd_ps(a, _mm256_loadu_ps(cur + j), _mm256_loadu_ps(xt + j)));
				for (; j < end; j++) next[j] = _mm256_cvtss_f32(a) * cur[j] + xt[j];
			}
		}
	}
}
