//go:build cgo

// Elementwise and row float32 kernels for x86-64 with AVX2 and FMA, eight
// lanes at a time: GELU (tanh form), SiLU, ELU+1, exp and sigmoid with
// their gradients (and softplus's gradient), softmax
// over rows, row-vector add/multiply, column sums, layer/RMS normalize and
// its gradient. Their slow twins are the Go loops they replace
// (Activation.Eval/Deriv, softmaxRowGo, the rowVec, reduce and normalize
// kernels' loops); vecmath_test.go holds them together. Compiled for
// AVX2+FMA by attribute; the Go side calls them only where
// lab_gemm_supported says the CPU runs them.

#include "simd_amd64.h"

#define GELU_C 0.7978845608028654f // sqrt(2/pi)
#define GELU_A 0.044715f

// gelu_s is the sigmoid s = 1/(1 + e) of z = 2·sqrt(2/pi)·(x + 0.044715·x³),
// e = e^-z: gelu(x) = x·s, since 0.5·(1 + tanh(z/2)) = 1/(1 + e^-z).
INLINE __m256 gelu_s(__m256 x, __m256 *e) {
	__m256 x2 = _mm256_mul_ps(x, x);
	__m256 nz = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(-2 * GELU_C), x),
	                          _mm256_fmadd_ps(_mm256_set1_ps(GELU_A), x2, _mm256_set1_ps(1.0f)));
	__m256 one = _mm256_set1_ps(1.0f);
	*e = exp8(nz);
	return _mm256_div_ps(one, _mm256_add_ps(one, *e));
}

INLINE __m256 gelu8(__m256 x) {
	__m256 e;
	return _mm256_mul_ps(x, gelu_s(x, &e));
}

// d/dx x·s(z) = s + x·s·(1-s)·dz/dx, dz/dx = 2·sqrt(2/pi)·(1 + 3·0.044715·x²),
// with 1-s = e·s (no cancellation where s is near 1).
INLINE __m256 gelu_grad8(__m256 x, __m256 d) {
	__m256 e, s = gelu_s(x, &e);
	__m256 one = _mm256_set1_ps(1.0f);
	__m256 dz = _mm256_mul_ps(_mm256_set1_ps(2 * GELU_C),
	                          _mm256_fmadd_ps(_mm256_set1_ps(3 * GELU_A), _mm256_mul_ps(x, x), one));
	__m256 oms = _mm256_min_ps(_mm256_mul_ps(e, s), one); // e = +Inf: s = 0, 1-s = 1
	__m256 t = _mm256_mul_ps(_mm256_mul_ps(x, s), _mm256_mul_ps(oms, dz));
	return _mm256_mul_ps(d, _mm256_add_ps(s, t));
}

INLINE __m256 elu1_8(__m256 x) {
	__m256 pos = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ);
	return _mm256_blendv_ps(exp8(x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)), pos);
}

INLINE __m256 elu1_grad8(__m256 x, __m256 d) {
	__m256 pos = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ);
	return _mm256_mul_ps(d, _mm256_blendv_ps(exp8(x), _mm256_set1_ps(1.0f), pos));
}

// sig8 is the logistic 1/(1 + e), e = e^-x, with 1-s = e·s (at most 1: e =
// +Inf gives s = 0 and 1-s = 1, not NaN).
INLINE __m256 sig8(__m256 x, __m256 *oms) {
	__m256 one = _mm256_set1_ps(1.0f), e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), x));
	__m256 s = _mm256_div_ps(one, _mm256_add_ps(one, e));
	*oms = _mm256_min_ps(_mm256_mul_ps(e, s), one);
	return s;
}

// The numbers of kernels.Activation that lab_act computes.
enum { A_GELU = 0, A_SILU = 1, A_ELU1 = 2, A_EXP = 4, A_SIGMOID = 5, A_SOFTPLUS = 9 };

INLINE __m256 act8(int act, __m256 x) {
	__m256 oms;
	switch (act) {
	case A_GELU: return gelu8(x);
	case A_ELU1: return elu1_8(x);
	case A_SILU: return _mm256_mul_ps(x, sig8(x, &oms));
	case A_EXP: return exp8(x);
	default: return sig8(x, &oms); // A_SIGMOID
	}
}

INLINE __m256 grad8(int act, __m256 x, __m256 d) {
	__m256 s, oms;
	switch (act) {
	case A_GELU: return gelu_grad8(x, d);
	case A_ELU1: return elu1_grad8(x, d);
	case A_SILU: // s·(1 + x·(1-s))
		s = sig8(x, &oms);
		return _mm256_mul_ps(d, _mm256_mul_ps(s, _mm256_fmadd_ps(x, oms, _mm256_set1_ps(1.0f))));
	case A_EXP: return _mm256_mul_ps(d, exp8(x));
	case A_SOFTPLUS: return _mm256_mul_ps(d, sig8(x, &oms));
	default: // A_SIGMOID: s·(1-s)
		s = sig8(x, &oms);
		return _mm256_mul_ps(d, _mm256_mul_ps(s, oms));
	}
}

// lab_act computes y = f(x) (d == 0) or y = d·f'(x) over n elements, for
// f = GELU, SiLU, ELU+1, exp or sigmoid (and softplus, gradient only; the
// Go side says which), numbered as kernels.Activation.
AVX2 void lab_act(int act, const float *x, const float *d, float *y, long n) {
	long i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 v = _mm256_loadu_ps(x + i);
		_mm256_storeu_ps(y + i, d ? grad8(act, v, _mm256_loadu_ps(d + i)) : act8(act, v));
	}
	if (i < n) {
		__m256i m = tailmask(n - i);
		__m256 v = _mm256_maskload_ps(x + i, m);
		_mm256_maskstore_ps(y + i, m, d ? grad8(act, v, _mm256_maskload_ps(d + i, m)) : act8(act, v));
	}
}

// lab_softmax_rows writes softmax over each of rows rows of c floats (row
// stride c) of x to y (y may be x). A row that is all -Inf gives zeros.
AVX2 void lab_softmax_rows(const float *x, float *y, long rows, long c) {
	const __m256 ninf = _mm256_set1_ps(-INFINITY);
	long tail = c & 7, body = c - tail;
	__m256i tm = tailmask(tail);
	for (long r = 0; r < rows; r++) {
		const float *xr = x + r * c;
		float *yr = y + r * c;
		__m256 vm = ninf;
		for (long j = 0; j < body; j += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(xr + j));
		if (tail) vm = _mm256_max_ps(vm, _mm256_blendv_ps(ninf, _mm256_maskload_ps(xr + body, tm), _mm256_castsi256_ps(tm)));
		float m = hmax(vm);
		if (m == -INFINITY) {
			for (long j = 0; j < c; j++) yr[j] = 0;
			continue;
		}
		__m256 mv = _mm256_set1_ps(m), vs = _mm256_setzero_ps();
		for (long j = 0; j < body; j += 8) {
			__m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(xr + j), mv));
			_mm256_storeu_ps(yr + j, e);
			vs = _mm256_add_ps(vs, e);
		}
		if (tail) {
			__m256 v = _mm256_blendv_ps(ninf, _mm256_maskload_ps(xr + body, tm), _mm256_castsi256_ps(tm));
			__m256 e = exp8(_mm256_sub_ps(v, mv)); // masked lanes: e^-Inf = 0
			_mm256_maskstore_ps(yr + body, tm, e);
			vs = _mm256_add_ps(vs, e);
		}
		__m256 inv = _mm256_set1_ps(1.0f / hsum(vs));
		for (long j = 0; j < body; j += 8) _mm256_storeu_ps(yr + j, _mm256_mul_ps(_mm256_loadu_ps(yr + j), inv));
		if (tail) _mm256_maskstore_ps(yr + body, tm, _mm256_mul_ps(_mm256_maskload_ps(yr + body, tm), inv));
	}
}

// lab_rowvec writes y = x + v (mul 0) or y = x * v (mul 1) for rows rows of
// c floats, v one row of c: the same single rounding per element as Go.
AVX2 void lab_rowvec(int mul, const float *x, const float *v, float *y, long rows, long c) {
	long tail = c & 7, body = c - tail;
	__m256i tm = tailmask(tail);
	for (long r = 0; r < rows; r++) {
		const float *xr = x + r * c;
		float *yr = y + r * c;
		long j = 0;
		for (; j < body; j += 8) {
			__m256 a = _mm256_loadu_ps(xr + j), b = _mm256_loadu_ps(v + j);
			_mm256_storeu_ps(yr + j, mul ? _mm256_mul_ps(a, b) : _mm256_add_ps(a, b));
		}
		if (tail) {
			__m256 a = _mm256_maskload_ps(xr + j, tm), b = _mm256_maskload_ps(v + j, tm);
			_mm256_maskstore_ps(yr + j, tm, mul ? _mm256_mul_ps(a, b) : _mm256_add_ps(a, b));
		}
	}
}

// lab_sum_cols writes y[j] = Σ_i x[i*c + j] for j in [lo, hi), the rows
// summed in order from 0 (the same sums, bit for bit, as a Go loop).
AVX2 void lab_sum_cols(const float *x, float *y, long rows, long c, long lo, long hi) {
	long n = hi - lo, tail = n & 7, body = n - tail;
	__m256i tm = tailmask(tail);
	for (long j = 0; j < body; j += 8) {
		__m256 s = _mm256_setzero_ps();
		for (long r = 0; r < rows; r++) s = _mm256_add_ps(s, _mm256_loadu_ps(x + r * c + lo + j));
		_mm256_storeu_ps(y + lo + j, s);
	}
	if (tail) {
		__m256 s = _mm256_setzero_ps();
		for (long r = 0; r < rows; r++) s = _mm256_add_ps(s, _mm256_maskload_ps(x + r * c + lo + body, tm));
		_mm256_maskstore_ps(y + lo + body, tm, s);
	}
}

// row_stats is normalize.rowStats: the mean (0 for RMS) as a float32 of a
// float64 sum, and 1/sqrt(mean of float64((x - mean)²) + eps), the float64
// sums in four-lane chains.
INLINE void row_stats(const float *x, long c, int rms, float eps, float *mean, float *inv) {
	long tail = c & 7, body = c - tail;
	__m256i tm = tailmask(tail);
	__m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
	float m = 0;
	if (!rms) {
		for (long j = 0; j < body; j += 8) {
			__m256 v = _mm256_loadu_ps(x + j);
			s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
			s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
		}
		if (tail) {
			__m256 v = _mm256_maskload_ps(x + body, tm);
			s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
			s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
		}
		__m256d s = _mm256_add_pd(s0, s1);
		__m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
		m = (float)((_mm_cvtsd_f64(h) + _mm_cvtsd_f64(_mm_unpackhi_pd(h, h))) / (double)c);
		s0 = s1 = _mm256_setzero_pd();
	}
	__m256 mv = _mm256_set1_ps(m);
	for (long j = 0; j < body; j += 8) {
		__m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + j), mv);
		__m256d d0 = _mm256_cvtps_pd(_mm256_castps256_ps128(d)), d1 = _mm256_cvtps_pd(_mm256_extractf128_ps(d, 1));
		s0 = _mm256_fmadd_pd(d0, d0, s0);
		s1 = _mm256_fmadd_pd(d1, d1, s1);
	}
	if (tail) {
		__m256 d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x + body, tm), mv), _mm256_castsi256_ps(tm));
		__m256d d0 = _mm256_cvtps_pd(_mm256_castps256_ps128(d)), d1 = _mm256_cvtps_pd(_mm256_extractf128_ps(d, 1));
		s0 = _mm256_fmadd_pd(d0, d0, s0);
		s1 = _mm256_fmadd_pd(d1, d1, s1);
	}
	__m256d s = _mm256_add_pd(s0, s1);
	__m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
	double ss = _mm_cvtsd_f64(h) + _mm_cvtsd_f64(_mm_unpackhi_pd(h, h));
	*mean = m;
	__m128d q = _mm_set_sd(ss / (double)c + (double)eps);
	*inv = (float)(1 / _mm_cvtsd_f64(_mm_sqrt_sd(q, q))); // sqrt without libm
}

// lab_norm_rows writes y = (x - mean)·inv per row of c floats (normalize).
AVX2 void lab_norm_rows(int rms, float eps, const float *x, float *y, long rows, long c) {
	long tail = c & 7, body = c - tail;
	__m256i tm = tailmask(tail);
	for (long r = 0; r < rows; r++) {
		const float *xr = x + r * c;
		float *yr = y + r * c;
		float mean, inv;
		row_stats(xr, c, rms, eps, &mean, &inv);
		__m256 mv = _mm256_set1_ps(mean), iv = _mm256_set1_ps(inv);
		for (long j = 0; j < body; j += 8)
			_mm256_storeu_ps(yr + j, _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j), mv), iv));
		if (tail)
			_mm256_maskstore_ps(yr + body, tm, _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(xr + body, tm), mv), iv));
	}
}

// lab_norm_grad_rows is normalizeGrad per row: with xh = (x - mean)·inv,
// dx = inv·(d - mean(d) - xh·mean(d·xh)) (mean(d) taken as 0 for RMS); the
// float32 sums in eight-lane chains.
AVX2 void lab_norm_grad_rows(int rms, float eps, const float *x, const float *d, float *dx, long rows, long c) {
	long tail = c & 7, body = c - tail;
	__m256i tm = tailmask(tail);
	for (long r = 0; r < rows; r++) {
		const float *xr = x + r * c, *dr = d + r * c;
		float *yr = dx + r * c;
		float mean, inv;
		row_stats(xr, c, rms, eps, &mean, &inv);
		__m256 mv = _mm256_set1_ps(mean), iv = _mm256_set1_ps(inv);
		__m256 sd = _mm256_setzero_ps(), sdx = _mm256_setzero_ps();
		for (long j = 0; j < body; j += 8) {
			__m256 g = _mm256_loadu_ps(dr + j);
			__m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j), mv), iv);
			sd = _mm256_add_ps(sd, g);
			sdx = _mm256_add_ps(sdx, _mm256_mul_ps(g, xh));
		}
		if (tail) {
			__m256 g = _mm256_maskload_ps(dr + body, tm); // 0 past c
			__m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(xr + body, tm), mv), iv);
			sd = _mm256_add_ps(sd, g);
			sdx = _mm256_add_ps(sdx, _mm256_mul_ps(g, xh));
		}
		float md = rms ? 0 : hsum(sd) / (float)c, mdx = hsum(sdx) / (float)c;
		__m256 mdv = _mm256_set1_ps(md), mdxv = _mm256_set1_ps(mdx);
		for (long j = 0; j < body; j += 8) {
			__m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j), mv), iv);
			__m256 t = _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(dr + j), mdv), _mm256_mul_ps(xh, mdxv));
			_mm256_storeu_ps(yr + j, _mm256_mul_ps(iv, t));
		}
		if (tail) {
			__m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(xr + body, tm), mv), iv);
			__m256 t = _mm256_sub_ps(_mm256_sub_ps(_mm256_maskload_ps(dr + body, tm), mdv), _mm256_mul_ps(xh, mdxv));
			_mm256_maskstore_ps(yr + body, tm, _mm256_mul_ps(iv, t));
		}
	}
}
