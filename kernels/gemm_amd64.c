//go:build cgo

// A float32 GEMM for x86-64 with AVX2 and FMA: C = alpha·op(A)·op(B) +
// beta·C, row-major, serial (lab's worker pool splits the work; see gemm.go
// and matmul.go). The loops are the BLIS/GotoBLAS ones: op(B) is packed in
// panels of at most KC rows by NR = 16 columns; op(A) is read where it lies,
// or packed in panels of MR = 6 rows when its rows are far apart; a 6x16
// block of C (4x16 or 2x16 at the bottom edge) is kept in ymm accumulators
// through the inner dim. Functions are compiled for AVX2+FMA by attribute;
// lab_gemm_supported says whether this CPU (and its OS) runs them.

#include <immintrin.h>
#include <stdlib.h>

#define MR 6
#define NR 16
#define KC 256
#define MC 96   // multiple of MR: an A block of MC x KC floats (96 KiB) stays in L2
#define NC 2048 // multiple of NR: a B panel of KC x NC floats (2 MiB) stays in L3

#define AVX2 __attribute__((target("avx2,fma")))

int lab_gemm_supported(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// Per-thread packing buffers, allocated on a thread's first GEMM. A cgo call
// stays on one OS thread, so nothing else uses them while it runs.
static __thread float *tl_ap, *tl_bp;

static int buffers(void) {
	if (!tl_bp) {
		tl_ap = aligned_alloc(64, sizeof(float) * MC * KC);
		tl_bp = aligned_alloc(64, sizeof(float) * KC * NC);
		if (!tl_ap || !tl_bp) {
			free(tl_ap);
			free(tl_bp);
			tl_ap = tl_bp = 0;
			return 0;
		}
	}
	return 1;
}

static inline int imin(int a, int b) { return a < b ? a : b; }

// pack_b writes op(B)[0:kc, 0:nc] as panels of NR columns: panel p holds
// rows k = 0..kc-1 of columns p*NR..p*NR+NR-1, zero past nc.
AVX2 static void pack_b(int tB, int kc, int nc, const float *b, long ldb, float *bp) {
	for (int j0 = 0; j0 < nc; j0 += NR) {
		int nr = imin(NR, nc - j0);
		float *dst = bp + (long)j0 * kc;
		if (!tB && nr == NR) {
			const float *s = b + j0;
			for (int k = 0; k < kc; k++, s += ldb) {
				_mm256_store_ps(dst + k * NR, _mm256_loadu_ps(s));
				_mm256_store_ps(dst + k * NR + 8, _mm256_loadu_ps(s + 8));
			}
		} else if (!tB) {
			const float *s = b + j0;
			for (int k = 0; k < kc; k++, s += ldb) {
				int j = 0;
				for (; j < nr; j++) dst[k * NR + j] = s[j];
				for (; j < NR; j++) dst[k * NR + j] = 0;
			}
		} else if (nr == NR && (kc & 7) == 0) {
			// 8x8 transposes: rows j of b are contiguous in k.
			for (int jj = 0; jj < NR; jj += 8) {
				const float *s = b + (long)(j0 + jj) * ldb;
				for (int k = 0; k < kc; k += 8) {
					__m256 r0 = _mm256_loadu_ps(s + 0 * ldb + k), r1 = _mm256_loadu_ps(s + 1 * ldb + k);
					__m256 r2 = _mm256_loadu_ps(s + 2 * ldb + k), r3 = _mm256_loadu_ps(s + 3 * ldb + k);
					__m256 r4 = _mm256_loadu_ps(s + 4 * ldb + k), r5 = _mm256_loadu_ps(s + 5 * ldb + k);
					__m256 r6 = _mm256_loadu_ps(s + 6 * ldb + k), r7 = _mm256_loadu_ps(s + 7 * ldb + k);
					__m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
					__m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
					__m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
					__m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
					__m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
					__m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
					__m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
					__m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
					float *d = dst + (long)k * NR + jj;
					_mm256_store_ps(d + 0 * NR, _mm256_permute2f128_ps(u0, u4, 0x20));
					_mm256_store_ps(d + 1 * NR, _mm256_permute2f128_ps(u1, u5, 0x20));
					_mm256_store_ps(d + 2 * NR, _mm256_permute2f128_ps(u2, u6, 0x20));
					_mm256_store_ps(d + 3 * NR, _mm256_permute2f128_ps(u3, u7, 0x20));
					_mm256_store_ps(d + 4 * NR, _mm256_permute2f128_ps(u0, u4, 0x31));
					_mm256_store_ps(d + 5 * NR, _mm256_permute2f128_ps(u1, u5, 0x31));
					_mm256_store_ps(d + 6 * NR, _mm256_permute2f128_ps(u2, u6, 0x31));
					_mm256_store_ps(d + 7 * NR, _mm256_permute2f128_ps(u3, u7, 0x31));
				}
			}
		} else {
			int j = 0;
			for (; j < nr; j++) {
				const float *s = b + (long)(j0 + j) * ldb;
				for (int k = 0; k < kc; k++) dst[k * NR + j] = s[k];
			}
			for (; j < NR; j++)
				for (int k = 0; k < kc; k++) dst[k * NR + j] = 0;
		}
	}
}

// pack_a writes op(A)[0:mc, 0:kc] as panels of MR rows: panel p holds, for
// k = 0..kc-1, rows p*MR..p*MR+MR-1, zero past mc.
AVX2 static void pack_a(int tA, int mc, int kc, const float *a, long lda, float *ap) {
	for (int i0 = 0; i0 < mc; i0 += MR) {
		int mr = imin(MR, mc - i0);
		float *dst = ap + (long)i0 * kc;
		if (tA) {
			const float *s = a + i0;
			for (int k = 0; k < kc; k++, s += lda) {
				int r = 0;
				for (; r < mr; r++) dst[k * MR + r] = s[r];
				for (; r < MR; r++) dst[k * MR + r] = 0;
			}
		} else {
			int r = 0;
			for (; r < mr; r++) {
				const float *s = a + (long)(i0 + r) * lda;
				for (int k = 0; k < kc; k++) dst[k * MR + r] = s[k];
			}
			for (; r < MR; r++)
				for (int k = 0; k < kc; k++) dst[k * MR + r] = 0;
		}
	}
}

// kern_rows computes the ROWS x NR block C = alpha·A·B + beta·C over kc,
// with A's element (r, k) at a[r*rsa + k*csa] (rows past mr are read from
// row 0 and dropped) and B packed (row k at b + k*NR). Only mr x nr of C is
// written. ROWS is a constant where it is inlined (6, 4 or 2): the loops
// unroll and the 2·ROWS accumulators stay in ymm registers.
static inline __attribute__((always_inline, target("avx2,fma"))) void
kern_rows(const int ROWS, int kc, const float *a, long rsa, long csa, int mr, const float *b, float *c,
          long ldc, int nr, const float *ab) {
	const float *ar[MR];
	__m256 c0[MR], c1[MR];
#pragma GCC unroll 6
	for (int r = 0; r < ROWS; r++) {
		ar[r] = a + (r < mr ? r * rsa : 0);
		c0[r] = _mm256_setzero_ps();
		c1[r] = _mm256_setzero_ps();
	}
	long off = 0;
	for (int k = 0; k < kc; k++) {
		__m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
		for (int r = 0; r < ROWS; r++) {
			__m256 x = _mm256_broadcast_ss(ar[r] + off);
			c0[r] = _mm256_fmadd_ps(x, b0, c0[r]);
			c1[r] = _mm256_fmadd_ps(x, b1, c1[r]);
		}
		b += NR;
		off += csa;
	}
	// alpha and beta are read here, not kept in registers through the loop.
	float alpha = ab[0], beta = ab[1];
	__m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
	if (mr == ROWS && nr == NR) {
#pragma GCC unroll 6
		for (int r = 0; r < ROWS; r++) {
			float *cr = c + (long)r * ldc;
			__m256 v0 = c0[r], v1 = c1[r];
			if (alpha != 1) v0 = _mm256_mul_ps(va, v0), v1 = _mm256_mul_ps(va, v1);
			if (beta != 0) {
				v0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr), v0);
				v1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr + 8), v1);
			}
			_mm256_storeu_ps(cr, v0);
			_mm256_storeu_ps(cr + 8, v1);
		}
		return;
	}
	float t[MR * NR] __attribute__((aligned(32)));
#pragma GCC unroll 6
	for (int r = 0; r < ROWS; r++) {
		_mm256_store_ps(t + r * NR, c0[r]);
		_mm256_store_ps(t + r * NR + 8, c1[r]);
	}
	for (int r = 0; r < mr; r++) {
		float *cr = c + (long)r * ldc;
		if (beta != 0)
			for (int j = 0; j < nr; j++) cr[j] = alpha * t[r * NR + j] + beta * cr[j];
		else
			for (int j = 0; j < nr; j++) cr[j] = alpha * t[r * NR + j];
	}
}

// kern runs the register block of the fewest rows (6, 4 or 2) that covers mr.
AVX2 static void kern6(int kc, const float *a, long rsa, long csa, int mr, const float *b, float *c, long ldc,
                       int nr, const float *ab) {
	kern_rows(6, kc, a, rsa, csa, mr, b, c, ldc, nr, ab);
}
AVX2 static void kern4(int kc, const float *a, long rsa, long csa, int mr, const float *b, float *c, long ldc,
                       int nr, const float *ab) {
	kern_rows(4, kc, a, rsa, csa, mr, b, c, ldc, nr, ab);
}
AVX2 static void kern2(int kc, const float *a, long rsa, long csa, int mr, const float *b, float *c, long ldc,
                       int nr, const float *ab) {
	kern_rows(2, kc, a, rsa, csa, mr, b, c, ldc, nr, ab);
}

AVX2 static inline void kern(int kc, const float *a, long rsa, long csa, int mr, const float *b, float *c,
                             long ldc, int nr, const float *ab) {
	if (mr > 4)
		kern6(kc, a, rsa, csa, mr, b, c, ldc, nr, ab);
	else if (mr > 2)
		kern4(kc, a, rsa, csa, mr, b, c, ldc, nr, ab);
	else
		kern2(kc, a, rsa, csa, mr, b, c, ldc, nr, ab);
}

// lab_sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major op(A)
// m x k, op(B) k x n and C m x n with row strides lda, ldb, ldc; op
// transposes when tA or tB is set. C is not read when beta is 0. It returns
// 0 only when its packing buffers could not be allocated (nothing written).
AVX2 int lab_sgemm(int tA, int tB, int m, int n, int k, float alpha, const float *a, long lda,
                   const float *b, long ldb, float beta, float *c, long ldc) {
	if (m <= 0 || n <= 0) return 1;
	if (k <= 0 || alpha == 0) {
		for (int i = 0; i < m; i++)
			for (int j = 0; j < n; j++) c[(long)i * ldc + j] = beta == 0 ? 0 : beta * c[(long)i * ldc + j];
		return 1;
	}
	if (!buffers()) return 0;
	float *ap = tl_ap, *bp = tl_bp;
	// The inner dim is cut into equal blocks of at most KC (a multiple of 8
	// where possible), so that no block is a sliver.
	int nb = (k + KC - 1) / KC, kb = (k + nb - 1) / nb;
	if (nb > 1) kb = (kb + 7) / 8 * 8;
	for (int jc = 0; jc < n; jc += NC) {
		int nc = imin(NC, n - jc);
		// The kernel reads A where it lies (measured as fast or faster at
		// the sizes lab uses) unless its rows are far apart (TLB and L1 set
		// conflicts) and a panel of it meets more than two B panels.
		int packA = nc > 2 * NR && lda > 512;
		for (int pc = 0; pc < k; pc += kb) {
			int kc = imin(kb, k - pc);
			pack_b(tB, kc, nc, tB ? b + (long)jc * ldb + pc : b + (long)pc * ldb + jc, ldb, bp);
			float ab[2] = {alpha, pc == 0 ? beta : 1};
			for (int ic = 0; ic < m; ic += MC) {
				int mc = imin(MC, m - ic);
				const float *as = tA ? a + (long)pc * lda + ic : a + (long)ic * lda + pc;
				long rsa = tA ? 1 : lda, csa = tA ? lda : 1, step = MR * rsa;
				if (packA) {
					pack_a(tA, mc, kc, as, lda, ap);
					as = ap, rsa = 1, csa = MR, step = (long)MR * kc;
				}
				for (int jr = 0; jr < nc; jr += NR) {
					int nr = imin(NR, nc - jr);
					const float *bj = bp + (long)jr * kc;
					float *cj = c + (long)ic * ldc + jc + jr;
					for (int ir = 0; ir < mc; ir += MR)
						kern(kc, as + (ir / MR) * step, rsa, csa, imin(MR, mc - ir), bj, cj + (long)ir * ldc, ldc, nr, ab);
				}
			}
		}
	}
	return 1;
}
