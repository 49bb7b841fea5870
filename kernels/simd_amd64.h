// SIMD helpers shared by the AVX2+FMA C kernels (vecmath_amd64.c,
// decay_amd64.c): the target attributes, e^x over eight lanes, tail masks
// and horizontal reductions. Every function is static inline, so each .c
// file gets its own copy.

#ifndef LAB_SIMD_AMD64_H
#define LAB_SIMD_AMD64_H

#include <immintrin.h>
#include <math.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline, target("avx2,fma")))

// exp8 is e^x per lane (Cephes expf: x = n·ln2 + r, |r| <= ln2/2, a degree-7
// polynomial for e^r, 2^n through the exponent bits, in two halves so that
// n = 128 does not overflow them); within 2 ulp of e^x. Below -87.33 (where
// e^x leaves the normal range) it gives 0, above ln(FLT_MAX) = 88.72 +Inf,
// and NaN stays NaN.
INLINE __m256 exp8(__m256 x) {
	const __m256 lo = _mm256_set1_ps(-87.33654475f), hi = _mm256_set1_ps(88.72283905733f);
	__m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ), over = _mm256_cmp_ps(x, hi, _CMP_GT_OQ);
	x = _mm256_min_ps(hi, _mm256_max_ps(lo, x)); // NaN passes through (second operand)
	__m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
	                            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
	r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
	__m256 p = _mm256_set1_ps(1.9875691500E-4f);
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507E-3f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073E-3f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894E-2f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459E-1f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201E-1f));
	p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
	__m256i n = _mm256_cvttps_epi32(fx), n1 = _mm256_srai_epi32(n, 1), n2 = _mm256_sub_epi32(n, n1);
	const __m256i bias = _mm256_set1_epi32(127);
	__m256 y = _mm256_mul_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23))),
	                         _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23)));
	y = _mm256_andnot_ps(under, y);
	return _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), over);
}

// tailmask has lanes 0..n-1 set (0 <= n < 8).
INLINE __m256i tailmask(long n) {
	const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), idx);
}

INLINE float hmax(__m256 v) {
	__m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	m = _mm_max_ps(m, _mm_movehl_ps(m, m));
	m = _mm_max_ss(m, _mm_movehdup_ps(m));
	return _mm_cvtss_f32(m);
}

INLINE float hsum(__m256 v) {
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

#endif
