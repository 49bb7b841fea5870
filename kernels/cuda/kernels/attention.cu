// attention.cu: flash-style causal softmax attention (the twin of the CPU
// op kernels.Attention and its attention_grad). q, k, v, o, dO are
// [BH, L, dh] row-major; lse and D are [BH, L]. Query i sees key j when
// j <= i and, with W > 0, i - j < W. Nothing of size L x L is stored: the
// forward keeps each row's log-sum-exp, the backward recomputes the weights
// from it (FlashAttention-2: D = rowsum(dO*O); dK, dV per key block; dQ per
// query block, each output written by one block: deterministic).
//
// Two families: *_simt, exact float32 (one lane per key or query for the
// dot products, one lane per column for the sums; used when TF32 is off),
// and *_tc, TF32 tensor cores (mma.sync m16n8k8, float32 accumulation,
// tiles in shared memory as TF32 bit patterns).

// attn_seen, tf32, mma8 and attn_f2 are in common.cuh (attention_pipe.cu uses them too).

// ---------------------------------------------------------------- SIMT --

#define AS_NW 4  // warps per block
#define AS_R 4   // rows (queries or keys) per warp
#define AS_BK 32 // keys (or queries) per shared tile: one per lane

// attn_fwd_simt: grid (ceil(L/16), BH), block 128. Shared: Q [16][DP],
// K [32][DP+1], V [32][DP], DP = 32*C >= dh, zero padded.
template <int C>
__device__ void attn_fwd_simt(const float *__restrict__ q, const float *__restrict__ k,
                              const float *__restrict__ v, float *__restrict__ o, float *__restrict__ lse,
                              int L, int dh, float scale, int W) {
	const int DP = 32 * C, BQ = AS_NW * AS_R;
	extern __shared__ float sh[];
	float *Qs = sh, *Ks = Qs + BQ * DP, *Vs = Ks + AS_BK * (DP + 1);
	const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	const long long base = (long long)blockIdx.y * L * dh;
	const int i0 = blockIdx.x * BQ;
	for (int e = threadIdx.x; e < BQ * DP; e += blockDim.x) {
		int r = e / DP, d = e % DP;
		Qs[e] = (i0 + r < L && d < dh) ? q[base + (long long)(i0 + r) * dh + d] : 0.f;
	}
	float acc[AS_R][C], m[AS_R], l[AS_R];
	for (int r = 0; r < AS_R; r++) {
		m[r] = -LAB_INF;
		l[r] = 0.f;
		for (int c = 0; c < C; c++) acc[r][c] = 0.f;
	}
	const int klo = W > 0 ? max(0, i0 - W + 1) : 0, khi = min(L, i0 + BQ);
	for (int kb = klo; kb < khi; kb += AS_BK) {
		__syncthreads();
		for (int e = threadIdx.x; e < AS_BK * DP; e += blockDim.x) {
			int r = e / DP, d = e % DP;
			bool in = kb + r < L && d < dh;
			long long at = base + (long long)(kb + r) * dh + d;
			Ks[r * (DP + 1) + d] = in ? k[at] : 0.f;
			Vs[r * DP + d] = in ? v[at] : 0.f;
		}
		__syncthreads();
		const int j = kb + lane;
		for (int r = 0; r < AS_R; r++) {
			const int row = warp * AS_R + r, i = i0 + row;
			const float *qr = Qs + row * DP, *kr = Ks + lane * (DP + 1);
			float s = 0.f;
			for (int d = 0; d < dh; d++) s = fmaf(qr[d], kr[d], s);
			s *= scale;
			bool ok = attn_seen(i, j, L, W);
			float mx = warp_max(ok ? s : -LAB_INF);
			float mn = fmaxf(m[r], mx);
			if (mn == -LAB_INF) continue; // nothing seen yet (a uniform branch)
			float p = ok ? expf(s - mn) : 0.f;
			float corr = expf(m[r] - mn);
			m[r] = mn;
			l[r] = l[r] * corr + warp_sum(p);
			for (int c = 0; c < C; c++) acc[r][c] *= corr;
			for (int jj = 0; jj < AS_BK; jj++) {
				float pj = __shfl_sync(0xffffffffu, p, jj);
				for (int c = 0; c < C; c++) acc[r][c] = fmaf(pj, Vs[jj * DP + lane + 32 * c], acc[r][c]);
			}
		}
	}
	for (int r = 0; r < AS_R; r++) {
		const int i = i0 + warp * AS_R + r;
		if (i >= L) continue;
		float inv = 1.f / l[r];
		for (int c = 0; c < C; c++) {
			int d = lane + 32 * c;
			if (d < dh) o[base + (long long)i * dh + d] = acc[r][c] * inv;
		}
		if (lane == 0) lse[(long long)blockIdx.y * L + i] = m[r] + logf(l[r]);
	}
}

// attn_dq_simt: grid (ceil(L/16), BH), block 128. dq = scale * sum_j P∘(dP - D) k_j.
// Shared: Q, dO [16][DP], K, V [32][DP+1].
template <int C>
__device__ void attn_dq_simt(const float *__restrict__ q, const float *__restrict__ k,
                             const float *__restrict__ v, const float *__restrict__ dO,
                             const float *__restrict__ lse, const float *__restrict__ Dr, float *__restrict__ dq,
                             int L, int dh, float scale, int W) {
	const int DP = 32 * C, BQ = AS_NW * AS_R;
	extern __shared__ float sh[];
	float *Qs = sh, *Gs = Qs + BQ * DP, *Ks = Gs + BQ * DP, *Vs = Ks + AS_BK * (DP + 1);
	const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	const long long base = (long long)blockIdx.y * L * dh, rb = (long long)blockIdx.y * L;
	const int i0 = blockIdx.x * BQ;
	for (int e = threadIdx.x; e < BQ * DP; e += blockDim.x) {
		int r = e / DP, d = e % DP;
		bool in = i0 + r < L && d < dh;
		long long at = base + (long long)(i0 + r) * dh + d;
		Qs[e] = in ? q[at] : 0.f;
		Gs[e] = in ? dO[at] : 0.f;
	}
	float acc[AS_R][C], ls[AS_R], Ds[AS_R];
	for (int r = 0; r < AS_R; r++) {
		int i = i0 + warp * AS_R + r;
		ls[r] = i < L ? lse[rb + i] : 0.f;
		Ds[r] = i < L ? Dr[rb + i] : 0.f;
		for (int c = 0; c < C; c++) acc[r][c] = 0.f;
	}
	const int klo = W > 0 ? max(0, i0 - W + 1) : 0, khi = min(L, i0 + BQ);
	for (int kb = klo; kb < khi; kb += AS_BK) {
		__syncthreads();
		for (int e = threadIdx.x; e < AS_BK * DP; e += blockDim.x) {
			int r = e / DP, d = e % DP;
			bool in = kb + r < L && d < dh;
			long long at = base + (long long)(kb + r) * dh + d;
			Ks[r * (DP + 1) + d] = in ? k[at] : 0.f;
			Vs[r * (DP + 1) + d] = in ? v[at] : 0.f;
		}
		__syncthreads();
		const int j = kb + lane;
		for (int r = 0; r < AS_R; r++) {
			const int row = warp * AS_R + r, i = i0 + row;
			const float *qr = Qs + row * DP, *gr = Gs + row * DP;
			const float *kr = Ks + lane * (DP + 1), *vr = Vs + lane * (DP + 1);
			float s = 0.f, dp = 0.f;
			for (int d = 0; d < dh; d++) {
				s = fmaf(qr[d], kr[d], s);
				dp = fmaf(gr[d], vr[d], dp);
			}
			float p = attn_seen(i, j, L, W) ? expf(s * scale - ls[r]) : 0.f;
			float ds = p * (dp - Ds[r]) * scale;
			for (int jj = 0; jj < AS_BK; jj++) {
				float dj = __shfl_sync(0xffffffffu, ds, jj);
				for (int c = 0; c < C; c++) acc[r][c] = fmaf(dj, Ks[jj * (DP + 1) + lane + 32 * c], acc[r][c]);
			}
		}
	}
	for (int r = 0; r < AS_R; r++) {
		const int i = i0 + warp * AS_R + r;
		if (i >= L) continue;
		for (int c = 0; c < C; c++) {
			int d = lane + 32 * c;
			if (d < dh) dq[base + (long long)i * dh + d] = acc[r][c];
		}
	}
}

// attn_dkdv_simt: grid (ceil(L/16), BH), block 128: 16 keys per block, 4 per
// warp; the queries that see them in tiles of 32 (one per lane).
// Shared: K, V [16][DP], Q, dO [32][DP+1], lse, D [32].
template <int C>
__device__ void attn_dkdv_simt(const float *__restrict__ q, const float *__restrict__ k,
                               const float *__restrict__ v, const float *__restrict__ dO,
                               const float *__restrict__ lse, const float *__restrict__ Dr,
                               float *__restrict__ dk, float *__restrict__ dv, int L, int dh, float scale, int W) {
	const int DP = 32 * C, BKk = AS_NW * AS_R;
	extern __shared__ float sh[];
	float *Ks = sh, *Vs = Ks + BKk * DP, *Qs = Vs + BKk * DP, *Gs = Qs + AS_BK * (DP + 1);
	float *Ls = Gs + AS_BK * (DP + 1), *Dsh = Ls + AS_BK;
	const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	const long long base = (long long)blockIdx.y * L * dh, rb = (long long)blockIdx.y * L;
	const int j0 = blockIdx.x * BKk;
	for (int e = threadIdx.x; e < BKk * DP; e += blockDim.x) {
		int r = e / DP, d = e % DP;
		bool in = j0 + r < L && d < dh;
		long long at = base + (long long)(j0 + r) * dh + d;
		Ks[e] = in ? k[at] : 0.f;
		Vs[e] = in ? v[at] : 0.f;
	}
	float ak[AS_R][C], av[AS_R][C];
	for (int r = 0; r < AS_R; r++)
		for (int c = 0; c < C; c++) ak[r][c] = av[r][c] = 0.f;
	const int qhi = W > 0 ? min(L, j0 + BKk - 1 + W) : L;
	for (int qb = j0; qb < qhi; qb += AS_BK) {
		__syncthreads();
		for (int e = threadIdx.x; e < AS_BK * DP; e += blockDim.x) {
			int r = e / DP, d = e % DP;
			bool in = qb + r < L && d < dh;
			long long at = base + (long long)(qb + r) * dh + d;
			Qs[r * (DP + 1) + d] = in ? q[at] : 0.f;
			Gs[r * (DP + 1) + d] = in ? dO[at] : 0.f;
		}
		if (threadIdx.x < AS_BK) {
			int i = qb + threadIdx.x;
			Ls[threadIdx.x] = i < L ? lse[rb + i] : 0.f;
			Dsh[threadIdx.x] = i < L ? Dr[rb + i] : 0.f;
		}
		__syncthreads();
		const int i = qb + lane;
		const float *qr = Qs + lane * (DP + 1), *gr = Gs + lane * (DP + 1);
		for (int r = 0; r < AS_R; r++) {
			const int key = warp * AS_R + r, j = j0 + key;
			const float *kr = Ks + key * DP, *vr = Vs + key * DP;
			float s = 0.f, dp = 0.f;
			for (int d = 0; d < dh; d++) {
				s = fmaf(qr[d], kr[d], s);
				dp = fmaf(gr[d], vr[d], dp);
			}
			float p = attn_seen(i, j, L, W) ? expf(s * scale - Ls[lane]) : 0.f;
			float ds = p * (dp - Dsh[lane]) * scale;
			for (int ii = 0; ii < AS_BK; ii++) {
				float pi = __shfl_sync(0xffffffffu, p, ii), di = __shfl_sync(0xffffffffu, ds, ii);
				for (int c = 0; c < C; c++) {
					av[r][c] = fmaf(pi, Gs[ii * (DP + 1) + lane + 32 * c], av[r][c]);
					ak[r][c] = fmaf(di, Qs[ii * (DP + 1) + lane + 32 * c], ak[r][c]);
				}
			}
		}
	}
	for (int r = 0; r < AS_R; r++) {
		const int j = j0 + warp * AS_R + r;
		if (j >= L) continue;
		for (int c = 0; c < C; c++) {
			int d = lane + 32 * c;
			if (d < dh) {
				dk[base + (long long)j * dh + d] = ak[r][c];
				dv[base + (long long)j * dh + d] = av[r][c];
			}
		}
	}
}

// Instantiations (written out: LoadKernels finds kernels by their extern "C" names).
extern "C" __global__ void attn_fwd_simt1(const float *q, const float *k, const float *v, float *o, float *lse,
                                          int L, int dh, float scale, int W) {
	attn_fwd_simt<1>(q, k, v, o, lse, L, dh, scale, W);
}
extern "C" __global__ void attn_dq_simt1(const float *q, const float *k, const float *v, const float *dO,
                                         const float *lse, const float *D, float *dq, int L, int dh, float scale,
                                         int W) {
	attn_dq_simt<1>(q, k, v, dO, lse, D, dq, L, dh, scale, W);
}
extern "C" __global__ void attn_dkdv_simt1(const float *q, const float *k, const float *v, const float *dO,
                                           const float *lse, const float *D, float *dk, float *dv, int L, int dh,
                                           float scale, int W) {
	attn_dkdv_simt<1>(q, k, v, dO, lse, D, dk, dv, L, dh, scale, W);
}
extern "C" __global__ void attn_fwd_simt2(const float *q, const float *k, const float *v, float *o, float *lse,
                                          int L, int dh, float scale, int W) {
	attn_fwd_simt<2>(q, k, v, o, lse, L, dh, scale, W);
}
extern "C" __global__ void attn_dq_simt2(const float *q, const float *k, const float *v, const float *dO,
                                         const float *lse, const float *D, float *dq, int L, int dh, float scale,
                                         int W) {
	attn_dq_simt<2>(q, k, v, dO, lse, D, dq, L, dh, scale, W);
}
extern "C" __global__ void attn_dkdv_simt2(const float *q, const float *k, const float *v, const float *dO,
                                           const float *lse, const float *D, float *dk, float *dv, int L, int dh,
                                           float scale, int W) {
	attn_dkdv_simt<2>(q, k, v, dO, lse, D, dk, dv, L, dh, scale, W);
}
extern "C" __global__ void attn_fwd_simt4(const float *q, const float *k, const float *v, float *o, float *lse,
                                          int L, int dh, float scale, int W) {
	attn_fwd_simt<4>(q, k, v, o, lse, L, dh, scale, W);
}
extern "C" __global__ void attn_dq_simt4(const float *q, const float *k, const float *v, const float *dO,
                                         const float *lse, const float *D, float *dq, int L, int dh, float scale,
                                         int W) {
	attn_dq_simt<4>(q, k, v, dO, lse, D, dq, L, dh, scale, W);
}
extern "C" __global__ void attn_dkdv_simt4(const float *q, const float *k, const float *v, const float *dO,
                                           const float *lse, const float *D, float *dk, float *dv, int L, int dh,
                                           float scale, int W) {
	attn_dkdv_simt<4>(q, k, v, dO, lse, D, dk, dv, L, dh, scale, W);
}
extern "C" __global__ void attn_fwd_simt8(const float *q, const float *k, const float *v, float *o, float *lse,
                                          int L, int dh, float scale, int W) {
	attn_fwd_simt<8>(q, k, v, o, lse, L, dh, scale, W);
}
extern "C" __global__ void attn_dq_simt8(const float *q, const float *k, const float *v, const float *dO,
                                         const float *lse, const float *D, float *dq, int L, int dh, float scale,
                                         int W) {
	attn_dq_simt<8>(q, k, v, dO, lse, D, dq, L, dh, scale, W);
}
extern "C" __global__ void attn_dkdv_simt8(const float *q, const float *k, const float *v, const float *dO,
                                           const float *lse, const float *D, float *dk, float *dv, int L, int dh,
                                           float scale, int W) {
	attn_dkdv_simt<8>(q, k, v, dO, lse, D, dk, dv, L, dh, scale, W);
}

// attn_rowdot: D[r] = dot(dO[r], O[r]) over rows of dh, one warp per row.
extern "C" __global__ void attn_rowdot(const float *__restrict__ dO, const float *__restrict__ o,
                                       float *__restrict__ D, long long rows, int dh) {
	long long r = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
	if (r >= rows) return;
	const int lane = threadIdx.x & 31;
	float s = 0.f;
	for (int d = lane; d < dh; d += 32) s = fmaf(dO[r * dh + d], o[r * dh + d], s);
	s = warp_sum(s);
	if (lane == 0) D[r] = s;
}

// ------------------------------------------------------- tensor cores --

// load_tile copies rows [r0, r0+n) of a [L, dh] matrix into shared memory
// (row stride dh+4) as TF32, zero past L. dh is a multiple of 8.
__device__ __forceinline__ void load_tile(unsigned *dst, const float *__restrict__ src, int r0, int n, int L,
                                          int dh) {
	const int SD = dh + 4, q4 = dh / 4;
	for (int e = threadIdx.x; e < n * q4; e += blockDim.x) {
		int r = e / q4, c = (e % q4) * 4;
		float4 x = r0 + r < L ? *(const float4 *)(src + (long long)(r0 + r) * dh + c) : f4(0.f, 0.f, 0.f, 0.f);
		unsigned *p = dst + r * SD + c;
		p[0] = tf32(x.x);
		p[1] = tf32(x.y);
		p[2] = tf32(x.z);
		p[3] = tf32(x.w);
	}
}

// S (16 x 8*NT per warp) = A rows [a0, a0+16) · B rows [b0, b0+8*NT)ᵀ over
// dh, both tiles in shared memory with row stride SD.
template <int NT>
__device__ __forceinline__ void qk_tile(float (*S)[4], const unsigned *A, const unsigned *B, int dh) {
	const int SD = dh + 4, g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
	for (int n = 0; n < NT; n++) S[n][0] = S[n][1] = S[n][2] = S[n][3] = 0.f;
	for (int k0 = 0; k0 < dh; k0 += 8) {
		unsigned a0 = A[g * SD + k0 + t], a1 = A[(g + 8) * SD + k0 + t];
		unsigned a2 = A[g * SD + k0 + t + 4], a3 = A[(g + 8) * SD + k0 + t + 4];
#pragma unroll
		for (int n = 0; n < NT; n++) {
			const unsigned *b = B + (n * 8 + g) * SD + k0 + t;
			mma8(S[n], a0, a1, a2, a3, b[0], b[4]);
		}
	}
}

// acc (16 x 8*NC, columns [c0, c0+8*NC) ∩ [0, dh)) += P · B, P a 16 x 8*NT
// C-fragment (as in qk_tile) and B the [8*NT, dh] tile: P's column 2t of
// each 8 is used as the A fragment's column t, 2t+1 as t+4, so B's rows
// are read in the same permuted order (2t, 2t+1) and no shuffle is needed.
template <int NT, int NC>
__device__ __forceinline__ void pv_tile(float (*acc)[4], float (*P)[4], const unsigned *B, int dh, int c0) {
	const int SD = dh + 4, g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
#pragma unroll
	for (int n = 0; n < NT; n++) {
		unsigned a0 = tf32(P[n][0]), a1 = tf32(P[n][2]), a2 = tf32(P[n][1]), a3 = tf32(P[n][3]);
		const unsigned *b = B + (n * 8 + 2 * t) * SD + c0 + g;
#pragma unroll
		for (int c = 0; c < NC; c++) {
			if (c0 + c * 8 < dh) mma8(acc[c], a0, a1, a2, a3, b[c * 8], b[SD + c * 8]);
		}
	}
}

#define AT_BQ 64 // queries per block (16 per warp)
#define AT_BK 32 // keys per inner tile

// attn_fwd_tc: grid (ceil(L/64), BH, chunks of 8*NC output columns), block 128.
// Shared (words): Q [64][dh+4], K, V [32][dh+4]. Each warp owns 16 queries.
template <int NC>
__device__ void attn_fwd_tc(const float *__restrict__ q, const float *__restrict__ k, const float *__restrict__ v,
                            float *__restrict__ o, float *__restrict__ lse, int L, int dh, float scale, int W) {
	extern __shared__ unsigned ush[];
	const int SD = dh + 4;
	unsigned *Qs = ush, *Ks = Qs + AT_BQ * SD, *Vs = Ks + AT_BK * SD;
	const int warp = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
	const long long base = (long long)blockIdx.y * L * dh;
	const int i0 = blockIdx.x * AT_BQ, c0 = blockIdx.z * 8 * NC;
	load_tile(Qs, q + base, i0, AT_BQ, L, dh);
	float acc[NC][4], m[2] = {-LAB_INF, -LAB_INF}, l[2] = {0.f, 0.f};
	for (int c = 0; c < NC; c++) acc[c][0] = acc[c][1] = acc[c][2] = acc[c][3] = 0.f;
	const int wlo = i0 + warp * 16, r0 = wlo + g; // this thread's rows: r0, r0+8
	const int klo = W > 0 ? max(0, i0 - W + 1) : 0, khi = min(L, i0 + AT_BQ);
	for (int kb = klo; kb < khi; kb += AT_BK) {
		__syncthreads();
		load_tile(Ks, k + base, kb, AT_BK, L, dh);
		load_tile(Vs, v + base, kb, AT_BK, L, dh);
		__syncthreads();
		if (kb > wlo + 15 || (W > 0 && kb + AT_BK - 1 < wlo - W + 1)) continue; // warp-uniform
		float S[AT_BK / 8][4];
		qk_tile<AT_BK / 8>(S, Qs + warp * 16 * SD, Ks, dh);
		float mx[2] = {-LAB_INF, -LAB_INF};
#pragma unroll
		for (int n = 0; n < AT_BK / 8; n++)
#pragma unroll
			for (int e = 0; e < 4; e++) {
				int i = r0 + (e >> 1) * 8, j = kb + n * 8 + 2 * t + (e & 1);
				float s = attn_seen(i, j, L, W) ? S[n][e] * scale : -LAB_INF;
				S[n][e] = s;
				mx[e >> 1] = fmaxf(mx[e >> 1], s);
			}
		float corr[2], mu[2];
#pragma unroll
		for (int h = 0; h < 2; h++) {
			mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
			mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
			float mn = fmaxf(m[h], mx[h]);
			mu[h] = mn == -LAB_INF ? 0.f : mn; // no key seen yet: every p is 0
			corr[h] = __expf(m[h] - mu[h]);
			m[h] = mn;
			l[h] *= corr[h];
		}
#pragma unroll
		for (int n = 0; n < AT_BK / 8; n++)
#pragma unroll
			for (int e = 0; e < 4; e++) {
				float p = __expf(S[n][e] - mu[e >> 1]);
				S[n][e] = p;
				l[e >> 1] += p;
			}
#pragma unroll
		for (int c = 0; c < NC; c++) {
			acc[c][0] *= corr[0];
			acc[c][1] *= corr[0];
			acc[c][2] *= corr[1];
			acc[c][3] *= corr[1];
		}
		pv_tile<AT_BK / 8, NC>(acc, S, Vs, dh, c0);
	}
#pragma unroll
	for (int h = 0; h < 2; h++) {
		l[h] += __shfl_xor_sync(0xffffffffu, l[h], 1);
		l[h] += __shfl_xor_sync(0xffffffffu, l[h], 2);
	}
#pragma unroll
	for (int h = 0; h < 2; h++) {
		const int i = r0 + h * 8;
		if (i >= L) continue;
		const float inv = 1.f / l[h];
#pragma unroll
		for (int c = 0; c < NC; c++) {
			int col = c0 + c * 8 + 2 * t;
			if (col < dh)
				*(float2 *)(o + base + (long long)i * dh + col) = attn_f2(acc[c][2 * h] * inv, acc[c][2 * h + 1] * inv);
		}
		if (blockIdx.z == 0 && t == 0) lse[(long long)blockIdx.y * L + i] = m[h] + logf(l[h]);
	}
}

// attn_dq_tc: grid (ceil(L/64), BH, chunks), block 128. Shared (words):
// Q, dO [64][dh+4], K, V [32][dh+4]. dq = scale * sum_j P∘(dP - D) k_j.
template <int NC>
__device__ void attn_dq_tc(const float *__restrict__ q, const float *__restrict__ k, const float *__restrict__ v,
                           const float *__restrict__ dO, const float *__restrict__ lse, const float *__restrict__ Dr,
                           float *__restrict__ dq, int L, int dh, float scale, int W) {
	extern __shared__ unsigned ush[];
	const int SD = dh + 4;
	unsigned *Qs = ush, *Gs = Qs + AT_BQ * SD, *Ks = Gs + AT_BQ * SD, *Vs = Ks + AT_BK * SD;
	const int warp = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
	const long long base = (long long)blockIdx.y * L * dh, rb = (long long)blockIdx.y * L;
	const int i0 = blockIdx.x * AT_BQ, c0 = blockIdx.z * 8 * NC;
	load_tile(Qs, q + base, i0, AT_BQ, L, dh);
	load_tile(Gs, dO + base, i0, AT_BQ, L, dh);
	float acc[NC][4];
	for (int c = 0; c < NC; c++) acc[c][0] = acc[c][1] = acc[c][2] = acc[c][3] = 0.f;
	const int wlo = i0 + warp * 16, r0 = wlo + g;
	float ls[2], Dd[2];
	for (int h = 0; h < 2; h++) {
		int i = r0 + h * 8;
		ls[h] = i < L ? lse[rb + i] : 0.f;
		Dd[h] = i < L ? Dr[rb + i] : 0.f;
	}
	const int klo = W > 0 ? max(0, i0 - W + 1) : 0, khi = min(L, i0 + AT_BQ);
	for (int kb = klo; kb < khi; kb += AT_BK) {
		__syncthreads();
		load_tile(Ks, k + base, kb, AT_BK, L, dh);
		load_tile(Vs, v + base, kb, AT_BK, L, dh);
		__syncthreads();
		if (kb > wlo + 15 || (W > 0 && kb + AT_BK - 1 < wlo - W + 1)) continue;
		float S[AT_BK / 8][4], P[AT_BK / 8][4];
		qk_tile<AT_BK / 8>(S, Qs + warp * 16 * SD, Ks, dh);
		qk_tile<AT_BK / 8>(P, Gs + warp * 16 * SD, Vs, dh); // dP
#pragma unroll
		for (int n = 0; n < AT_BK / 8; n++)
#pragma unroll
			for (int e = 0; e < 4; e++) {
				int h = e >> 1, i = r0 + h * 8, j = kb + n * 8 + 2 * t + (e & 1);
				float p = attn_seen(i, j, L, W) ? __expf(S[n][e] * scale - ls[h]) : 0.f;
				S[n][e] = p * (P[n][e] - Dd[h]) * scale;
			}
		pv_tile<AT_BK / 8, NC>(acc, S, Ks, dh, c0);
	}
#pragma unroll
	for (int h = 0; h < 2; h++) {
		const int i = r0 + h * 8;
		if (i >= L) continue;
#pragma unroll
		for (int c = 0; c < NC; c++) {
			int col = c0 + c * 8 + 2 * t;
			if (col < dh) *(float2 *)(dq + base + (long long)i * dh + col) = attn_f2(acc[c][2 * h], acc[c][2 * h + 1]);
		}
	}
}

// attn_dkdv_tc: grid (ceil(L/64), BH, chunks), block 128: 64 keys per block,
// 16 per warp, the queries that see them in tiles of 32. Shared (words):
// K, V [64][dh+4], Q, dO [32][dh+4], lse, D [32]. Per warp: Sᵀ = K·Qᵀ,
// dPᵀ = V·dOᵀ, then dV += Pᵀ·dO and dK += dSᵀ·Q.
template <int NC>
__device__ void attn_dkdv_tc(const float *__restrict__ q, const float *__restrict__ k, const float *__restrict__ v,
                             const float *__restrict__ dO, const float *__restrict__ lse,
                             const float *__restrict__ Dr, float *__restrict__ dk, float *__restrict__ dv, int L,
                             int dh, float scale, int W) {
	extern __shared__ unsigned ush[];
	const int SD = dh + 4, BKk = 64, BQi = 32;
	unsigned *Ks = ush, *Vs = Ks + BKk * SD, *Qs = Vs + BKk * SD, *Gs = Qs + BQi * SD;
	float *Ls = (float *)(Gs + BQi * SD), *Dsh = Ls + BQi;
	const int warp = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
	const long long base = (long long)blockIdx.y * L * dh, rb = (long long)blockIdx.y * L;
	const int j0 = blockIdx.x * BKk, c0 = blockIdx.z * 8 * NC;
	load_tile(Ks, k + base, j0, BKk, L, dh);
	load_tile(Vs, v + base, j0, BKk, L, dh);
	float ak[NC][4], av[NC][4];
	for (int c = 0; c < NC; c++)
		for (int e = 0; e < 4; e++) ak[c][e] = av[c][e] = 0.f;
	const int wlo = j0 + warp * 16, r0 = wlo + g; // this thread's keys: r0, r0+8
	const int qhi = W > 0 ? min(L, j0 + BKk - 1 + W) : L;
	for (int qb = j0; qb < qhi; qb += BQi) {
		__syncthreads();
		load_tile(Qs, q + base, qb, BQi, L, dh);
		load_tile(Gs, dO + base, qb, BQi, L, dh);
		if (threadIdx.x < BQi) {
			int i = qb + threadIdx.x;
			Ls[threadIdx.x] = i < L ? lse[rb + i] : 0.f;
			Dsh[threadIdx.x] = i < L ? Dr[rb + i] : 0.f;
		}
		__syncthreads();
		// Skip query tiles that see none of this warp's keys.
		if (qb + BQi - 1 < wlo || (W > 0 && qb > wlo + 15 + W - 1)) continue;
		float S[BQi / 8][4], P[BQi / 8][4];
		qk_tile<BQi / 8>(S, Ks + warp * 16 * SD, Qs, dh);
		qk_tile<BQi / 8>(P, Vs + warp * 16 * SD, Gs, dh); // dPᵀ
#pragma unroll
		for (int n = 0; n < BQi / 8; n++)
#pragma unroll
			for (int e = 0; e < 4; e++) {
				int j = r0 + (e >> 1) * 8, ic = n * 8 + 2 * t + (e & 1), i = qb + ic;
				float p = attn_seen(i, j, L, W) ? __expf(S[n][e] * scale - Ls[ic]) : 0.f;
				S[n][e] = p;
				P[n][e] = p * (P[n][e] - Dsh[ic]) * scale;
			}
		pv_tile<BQi / 8, NC>(av, S, Gs, dh, c0);
		pv_tile<BQi / 8, NC>(ak, P, Qs, dh, c0);
	}
#pragma unroll
	for (int h = 0; h < 2; h++) {
		const int j = r0 + h * 8;
		if (j >= L) continue;
#pragma unroll
		for (int c = 0; c < NC; c++) {
			int col = c0 + c * 8 + 2 * t;
			if (col < dh) {
				long long at = base + (long long)j * dh + col;
				*(float2 *)(dk + at) = attn_f2(ak[c][2 * h], ak[c][2 * h + 1]);
				*(float2 *)(dv + at) = attn_f2(av[c][2 * h], av[c][2 * h + 1]);
			}
		}
	}
}

// Instantiations (written out: LoadKernels finds kernels by their extern "C" names).
extern "C" __global__ void attn_fwd_tc1(const float *q, const float *k, const float *v, float *o, float *lse,
                                        int L, int dh, float scale, int W) {
	attn_fwd_tc<1>(q, k, v, o, lse, L, dh, scale, W);
}
extern "C" __global__ void attn_dq_tc1(const float *q, const float *k, const float *v, const float *dO,
                                       const float *lse, const float *D, float *dq, int L, int dh, float scale, int W) {
	attn_dq_tc<1>(q, k, v, dO, lse, D, dq, L, dh, scale, W);
}
extern "C" __global__ void attn_dkdv_tc1(const float *q, const float *k, const float *v, const float *dO,
                                         const float *lse, const float *D, float *dk, float *dv, int L, int dh,
                                         float scale, int W) {
	attn_dkdv_tc<1>(q, k, v, dO, lse, D, dk, dv, L, dh, scale, W);
}
extern "C" __global__ void attn_fwd_tc2(const float *q, const float *k, const float *v, float *o, float *lse,
                                        int L, int dh, float scale, int W) {
	attn_fwd_tc<2>(q, k, v, o, lse, L, dh, scale, W);
}
extern "C" __global__ void attn_dq_tc2(const float *q, const float *k, const float *v, const float *dO,
                                       const float *lse, const float *D, float *dq, int L, int dh, float scale, int W) {
	attn_dq_tc<2>(q, k, v, dO, lse, D, dq, L, dh, scale, W);
}
extern "C" __global__ void attn_dkdv_tc2(const float *q, const float *k, const float *v, const float *dO,
                                         const float *lse, const float *D, float *dk, float *dv, int L, int dh,
                                         float scale, int W) {
	attn_dkdv_tc<2>(q, k, v, dO, lse, D, dk, dv, L, dh, scale, W);
}
extern "C" __global__ void attn_fwd_tc4(const float *q, const float *k, const float *v, float *o, float *lse,
                                        int L, int dh, float scale, int W) {
	attn_fwd_tc<4>(q, k, v, o, lse, L, dh, scale, W);
}
extern "C" __global__ void attn_dq_tc4(const float *q, const float *k, const float *v, const float *dO,
                                       const float *lse, const float *D, float *dq, int L, int dh, float scale, int W) {
	attn_dq_tc<4>(q, k, v, dO, lse, D, dq, L, dh, scale, W);
}
extern "C" __global__ void attn_dkdv_tc4(const float *q, const float *k, const float *v, const float *dO,
                                         const float *lse, const float *D, float *dk, float *dv, int L, int dh,
                                         float scale, int W) {
	attn_dkdv_tc<4>(q, k, v, dO, lse, D, dk, dv, L, dh, scale, W);
}
extern "C" __global__ void attn_fwd_tc8(const float *q, const float *k, const float *v, float *o, float *lse,
                                        int L, int dh, float scale, int W) {
	attn_fwd_tc<8>(q, k, v, o, lse, L, dh, scale, W);
}
extern "C" __global__ void attn_dq_tc8(const float *q, const float *k, const float *v, const float *dO,
                                       const float *lse, const float *D, float *dq, int L, int dh, float scale, int W) {
	attn_dq_tc<8>(q, k, v, dO, lse, D, dq, L, dh, scale, W);
}
extern "C" __global__ void attn_dkdv_tc8(const float *q, const float *k, const float *v, const float *dO,
                                         const float *lse, const float *D, float *dk, float *dv, int L, int dh,
                                         float scale, int W) {
	attn_dkdv_tc<8>(q, k, v, dO, lse, D, dk, dv, L, dh, scale, W);
}
extern "C" __global__ void attn_fwd_tc16(const float *q, const float *k, const float *v, float *o, float *lse,
                                        int L, int dh, float scale, int W) {
	attn_fwd_tc<16>(q, k, v, o, lse, L, dh, scale, W);
}
extern "C" __global__ void attn_dq_tc16(const float *q, const float *k, const float *v, const float *dO,
                                       const float *lse, const float *D, float *dq, int L, int dh, float scale, int W) {
	attn_dq_tc<16>(q, k, v, dO, lse, D, dq, L, dh, scale, W);
}
extern "C" __global__ void attn_dkdv_tc16(const float *q, const float *k, const float *v, const float *dO,
                                         const float *lse, const float *D, float *dk, float *dv, int L, int dh,
                                         float scale, int W) {
	attn_dkdv_tc<16>(q, k, v, dO, lse, D, dk, dv, L, dh, scale, W);
}
