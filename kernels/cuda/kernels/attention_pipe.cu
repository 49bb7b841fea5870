// attention_pipe.cu: the TF32 tensor-core flash kernels for head sizes 32,
// 64 and 128 (attention.cu's attn_*_tc take the other multiples of 8, and
// are these kernels' twin in the tests). Same maths, grids (without the
// column chunks) and outputs as attn_*_tc; what differs is how operands
// reach the tensor cores:
//
//   - the operand a warp reuses for every tile of its loop is held in
//     registers as TF32 fragments (Q in the forward and in dq), or staged
//     once into shared memory (dO in dq; K and V in dkdv);
//   - the streamed tiles (K and V in the forward and dq; Q, dO and their
//     rows' lse and D in dkdv) are copied with cp.async into one of two
//     shared stages while the warps compute on the other, and rounded to
//     TF32 in place by the threads that copied them;
//   - a tile that every row of a warp sees whole skips the mask;
//   - exponentials are ex2.approx of log2-scaled scores (the row's lse is
//     still stored in natural-log units).

#define AP_BQ 64 // rows per block (queries; keys in dkdv): 16 per warp, 4 warps
#define AP_LOG2E 1.4426950408889634f
#define AP_LN2 0.6931471805599453f

__device__ __forceinline__ float ap_ex2(float x) {
	float y;
	asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
	return y;
}

// cp_async copies bytes (4 or 16) from global src to shared dst, or writes
// zeros there when ok is false (nothing is read then).
template <int BYTES>
__device__ __forceinline__ void cp_async(void *dst, const void *src, bool ok) {
	unsigned d;
	asm("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }" : "=r"(d) : "l"(dst));
	int n = ok ? BYTES : 0;
	if (BYTES == 16)
		asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src), "r"(n) : "memory");
	else
		asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(d), "l"(src), "r"(n) : "memory");
}

__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

template <int N> __device__ __forceinline__ void cp_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }

// stage_rows queues the copy of rows [r0, r0+n) of a [L, DH] matrix into
// dst (row stride DH+4 floats), zeros for rows past L.
template <int DH>
__device__ __forceinline__ void stage_rows(float *dst, const float *__restrict__ src, int r0, int n, int L) {
	const int SD = DH + 4, q4 = DH / 4;
	for (int e = threadIdx.x; e < n * q4; e += blockDim.x) {
		const int r = e / q4, c = (e % q4) * 4;
		const bool ok = r0 + r < L;
		cp_async<16>(dst + r * SD + c, src + (ok ? (long long)(r0 + r) * DH + c : 0), ok);
	}
}

// round_rows rounds to TF32, in place, the values this thread staged with
// stage_rows(dst, ..., n, ...): the same loop, so no barrier is needed
// between the copy's arrival (cp_wait) and the rounding.
template <int DH>
__device__ __forceinline__ void round_rows(float *dst, int n) {
	const int SD = DH + 4, q4 = DH / 4;
	for (int e = threadIdx.x; e < n * q4; e += blockDim.x) {
		float4 *p = (float4 *)(dst + (e / q4) * SD + (e % q4) * 4);
		float4 x = *p;
		x.x = __uint_as_float(tf32(x.x));
		x.y = __uint_as_float(tf32(x.y));
		x.z = __uint_as_float(tf32(x.z));
		x.w = __uint_as_float(tf32(x.w));
		*p = x;
	}
}

// stage_vec queues the copy of v[r0 .. r0+n) (n <= blockDim.x) into dst,
// zeros past L.
__device__ __forceinline__ void stage_vec(float *dst, const float *__restrict__ v, int r0, int n, int L) {
	if (threadIdx.x < n) {
		const bool ok = r0 + threadIdx.x < L;
		cp_async<4>(dst + threadIdx.x, v + (ok ? r0 + threadIdx.x : 0), ok);
	}
}

// load_frags reads this warp's 16 rows (r0 = its first row + lane/4) of a
// [L, DH] matrix from global memory as TF32 A fragments, zeros past L.
template <int DH>
__device__ __forceinline__ void load_frags(unsigned (*f)[4], const float *__restrict__ src, int r0, int L) {
	const int t = threadIdx.x & 3;
	const bool ok0 = r0 < L, ok1 = r0 + 8 < L;
	const float *p0 = src + (long long)r0 * DH, *p1 = src + (long long)(r0 + 8) * DH;
#pragma unroll
	for (int kk = 0; kk < DH / 8; kk++) {
		const int c = kk * 8 + t;
		f[kk][0] = ok0 ? tf32(p0[c]) : 0u;
		f[kk][1] = ok1 ? tf32(p1[c]) : 0u;
		f[kk][2] = ok0 ? tf32(p0[c + 4]) : 0u;
		f[kk][3] = ok1 ? tf32(p1[c + 4]) : 0u;
	}
}

#define AP_U(x) __float_as_uint(x)

// S (16 x 8*NT) = A · B rows [0, 8*NT)ᵀ over DH: A from register fragments,
// B a rounded tile in shared memory (row stride DH+4).
template <int DH, int NT>
__device__ __forceinline__ void ap_qk_reg(float (*S)[4], const unsigned (*A)[4], const float *B) {
	const int SD = DH + 4, g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
#pragma unroll
	for (int n = 0; n < NT; n++) S[n][0] = S[n][1] = S[n][2] = S[n][3] = 0.f;
#pragma unroll
	for (int kk = 0; kk < DH / 8; kk++) {
#pragma unroll
		for (int n = 0; n < NT; n++) {
			const float *b = B + (n * 8 + g) * SD + kk * 8 + t;
			mma8(S[n], A[kk][0], A[kk][1], A[kk][2], A[kk][3], AP_U(b[0]), AP_U(b[4]));
		}
	}
}

// As ap_qk_reg with A's 16 rows in shared memory too.
template <int DH, int NT>
__device__ __forceinline__ void ap_qk_smem(float (*S)[4], const float *A, const float *B) {
	const int SD = DH + 4, g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
#pragma unroll
	for (int n = 0; n < NT; n++) S[n][0] = S[n][1] = S[n][2] = S[n][3] = 0.f;
#pragma unroll 4
	for (int kk = 0; kk < DH / 8; kk++) {
		const float *a = A + g * SD + kk * 8 + t;
		const unsigned a0 = AP_U(a[0]), a1 = AP_U(a[8 * SD]), a2 = AP_U(a[4]), a3 = AP_U(a[8 * SD + 4]);
#pragma unroll
		for (int n = 0; n < NT; n++) {
			const float *b = B + (n * 8 + g) * SD + kk * 8 + t;
			mma8(S[n], a0, a1, a2, a3, AP_U(b[0]), AP_U(b[4]));
		}
	}
}

// acc (16 x DH) += P · B, P a 16 x 8*NT C-fragment and B a rounded
// [8*NT, DH] tile: P's columns 2t, 2t+1 of each 8 are the A fragment's t,
// t+4, so B's rows are read in that order (as pv_tile in attention.cu).
template <int DH, int NT>
__device__ __forceinline__ void ap_pv(float (*acc)[4], float (*P)[4], const float *B) {
	const int SD = DH + 4, g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
#pragma unroll
	for (int n = 0; n < NT; n++) {
		const unsigned a0 = tf32(P[n][0]), a1 = tf32(P[n][2]), a2 = tf32(P[n][1]), a3 = tf32(P[n][3]);
		const float *b = B + (n * 8 + 2 * t) * SD + g;
#pragma unroll
		for (int c = 0; c < DH / 8; c++) mma8(acc[c], a0, a1, a2, a3, AP_U(b[c * 8]), AP_U(b[SD + c * 8]));
	}
}

// attn_fwd_pipe: grid (ceil(L/64), BH), block 128. Shared (floats): K and
// V, two stages each of [BT][DH+4].
template <int DH, int BT>
__device__ void attn_fwd_pipe(const float *__restrict__ q, const float *__restrict__ k, const float *__restrict__ v,
                              float *__restrict__ o, float *__restrict__ lse, int L, float scale, int W) {
	extern __shared__ float4 ap_sh4[];
	float *sh = (float *)ap_sh4;
	const int SD = DH + 4, ST = BT * SD;
	float *Ks = sh, *Vs = sh + 2 * ST;
	const int warp = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
	const long long base = (long long)blockIdx.y * L * DH;
	const int i0 = blockIdx.x * AP_BQ, wlo = i0 + warp * 16, r0 = wlo + g;
	const int klo = W > 0 ? max(0, i0 - W + 1) : 0, khi = min(L, i0 + AP_BQ);
	const int nt = (khi - klo + BT - 1) / BT;
	stage_rows<DH>(Ks, k + base, klo, BT, L);
	stage_rows<DH>(Vs, v + base, klo, BT, L);
	cp_commit();
	unsigned qf[DH / 8][4];
	load_frags<DH>(qf, q + base, r0, L);
	float acc[DH / 8][4], m[2] = {-LAB_INF, -LAB_INF}, l[2] = {0.f, 0.f};
#pragma unroll
	for (int c = 0; c < DH / 8; c++) acc[c][0] = acc[c][1] = acc[c][2] = acc[c][3] = 0.f;
	const float sl2 = scale * AP_LOG2E;
	for (int it = 0; it < nt; it++) {
		const int kb = klo + it * BT, st = it & 1;
		float *Kc = Ks + st * ST, *Vc = Vs + st * ST;
		if (it + 1 < nt) {
			stage_rows<DH>(Ks + (st ^ 1) * ST, k + base, kb + BT, BT, L);
			stage_rows<DH>(Vs + (st ^ 1) * ST, v + base, kb + BT, BT, L);
			cp_commit();
			cp_wait<1>();
		} else {
			cp_wait<0>();
		}
		round_rows<DH>(Kc, BT);
		round_rows<DH>(Vc, BT);
		__syncthreads();
		if (kb <= wlo + 15 && (W <= 0 || kb + BT - 1 >= wlo - W + 1)) { // warp-uniform
			float S[BT / 8][4];
			ap_qk_reg<DH, BT / 8>(S, qf, Kc);
			const bool whole = kb + BT - 1 <= wlo && kb + BT <= L && (W <= 0 || wlo + 15 - kb < W);
			float mx[2] = {-LAB_INF, -LAB_INF};
#pragma unroll
			for (int n = 0; n < BT / 8; n++)
#pragma unroll
				for (int e = 0; e < 4; e++) {
					const int i = r0 + (e >> 1) * 8, j = kb + n * 8 + 2 * t + (e & 1);
					const float s = whole || attn_seen(i, j, L, W) ? S[n][e] * sl2 : -LAB_INF;
					S[n][e] = s;
					mx[e >> 1] = fmaxf(mx[e >> 1], s);
				}
			float corr[2], mu[2];
#pragma unroll
			for (int h = 0; h < 2; h++) {
				mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
				mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
				const float mn = fmaxf(m[h], mx[h]);
				mu[h] = mn == -LAB_INF ? 0.f : mn; // no key seen yet: every p is 0
				corr[h] = ap_ex2(m[h] - mu[h]);
				m[h] = mn;
				l[h] *= corr[h];
			}
#pragma unroll
			for (int n = 0; n < BT / 8; n++)
#pragma unroll
				for (int e = 0; e < 4; e++) {
					const float p = ap_ex2(S[n][e] - mu[e >> 1]);
					S[n][e] = p;
					l[e >> 1] += p;
				}
#pragma unroll
			for (int c = 0; c < DH / 8; c++) {
				acc[c][0] *= corr[0];
				acc[c][1] *= corr[0];
				acc[c][2] *= corr[1];
				acc[c][3] *= corr[1];
			}
			ap_pv<DH, BT / 8>(acc, S, Vc);
		}
		__syncthreads();
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
		for (int c = 0; c < DH / 8; c++)
			*(float2 *)(o + base + (long long)i * DH + c * 8 + 2 * t) = attn_f2(acc[c][2 * h] * inv, acc[c][2 * h + 1] * inv);
		if (t == 0) lse[(long long)blockIdx.y * L + i] = m[h] * AP_LN2 + logf(l[h]);
	}
}

// attn_dq_pipe: grid (ceil(L/64), BH), block 128. Shared (floats): dO
// [64][DH+4] (staged once), K and V two stages each of [BT][DH+4].
// dq = scale * sum_j P∘(dP - D) k_j, Q in registers.
template <int DH, int BT>
__device__ void attn_dq_pipe(const float *__restrict__ q, const float *__restrict__ k, const float *__restrict__ v,
                             const float *__restrict__ dO, const float *__restrict__ lse,
                             const float *__restrict__ Dr, float *__restrict__ dq, int L, float scale, int W) {
	extern __shared__ float4 ap_sh4[];
	float *sh = (float *)ap_sh4;
	const int SD = DH + 4, ST = BT * SD;
	float *Gs = sh, *Ks = Gs + AP_BQ * SD, *Vs = Ks + 2 * ST;
	const int warp = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
	const long long base = (long long)blockIdx.y * L * DH, rb = (long long)blockIdx.y * L;
	const int i0 = blockIdx.x * AP_BQ, wlo = i0 + warp * 16, r0 = wlo + g;
	const int klo = W > 0 ? max(0, i0 - W + 1) : 0, khi = min(L, i0 + AP_BQ);
	const int nt = (khi - klo + BT - 1) / BT;
	stage_rows<DH>(Gs, dO + base, i0, AP_BQ, L);
	stage_rows<DH>(Ks, k + base, klo, BT, L);
	stage_rows<DH>(Vs, v + base, klo, BT, L);
	cp_commit();
	unsigned qf[DH / 8][4];
	load_frags<DH>(qf, q + base, r0, L);
	float acc[DH / 8][4], ls[2], Dd[2];
#pragma unroll
	for (int c = 0; c < DH / 8; c++) acc[c][0] = acc[c][1] = acc[c][2] = acc[c][3] = 0.f;
#pragma unroll
	for (int h = 0; h < 2; h++) {
		const int i = r0 + h * 8;
		ls[h] = i < L ? lse[rb + i] * AP_LOG2E : 0.f;
		Dd[h] = i < L ? Dr[rb + i] : 0.f;
	}
	const float sl2 = scale * AP_LOG2E;
	for (int it = 0; it < nt; it++) {
		const int kb = klo + it * BT, st = it & 1;
		float *Kc = Ks + st * ST, *Vc = Vs + st * ST;
		if (it + 1 < nt) {
			stage_rows<DH>(Ks + (st ^ 1) * ST, k + base, kb + BT, BT, L);
			stage_rows<DH>(Vs + (st ^ 1) * ST, v + base, kb + BT, BT, L);
			cp_commit();
			cp_wait<1>();
		} else {
			cp_wait<0>();
		}
		if (it == 0) round_rows<DH>(Gs, AP_BQ);
		round_rows<DH>(Kc, BT);
		round_rows<DH>(Vc, BT);
		__syncthreads();
		if (kb <= wlo + 15 && (W <= 0 || kb + BT - 1 >= wlo - W + 1)) {
			float S[BT / 8][4], P[BT / 8][4];
			ap_qk_reg<DH, BT / 8>(S, qf, Kc);
			ap_qk_smem<DH, BT / 8>(P, Gs + warp * 16 * SD, Vc); // dP
			const bool whole = kb + BT - 1 <= wlo && kb + BT <= L && (W <= 0 || wlo + 15 - kb < W);
#pragma unroll
			for (int n = 0; n < BT / 8; n++)
#pragma unroll
				for (int e = 0; e < 4; e++) {
					const int h = e >> 1, i = r0 + h * 8, j = kb + n * 8 + 2 * t + (e & 1);
					const float p = whole || attn_seen(i, j, L, W) ? ap_ex2(S[n][e] * sl2 - ls[h]) : 0.f;
					S[n][e] = p * (P[n][e] - Dd[h]) * scale;
				}
			ap_pv<DH, BT / 8>(acc, S, Kc);
		}
		__syncthreads();
	}
#pragma unroll
	for (int h = 0; h < 2; h++) {
		const int i = r0 + h * 8;
		if (i >= L) continue;
#pragma unroll
		for (int c = 0; c < DH / 8; c++)
			*(float2 *)(dq + base + (long long)i * DH + c * 8 + 2 * t) = attn_f2(acc[c][2 * h], acc[c][2 * h + 1]);
	}
}

// attn_dkdv_pipe: grid (ceil(L/64), BH), block 128: 64 keys per block, 16
// per warp, the queries that see them streamed BT at a time. Shared
// (floats): K, V [64][DH+4] (staged once); Q, dO two stages each of
// [BT][DH+4]; lse and D two stages each of [BT]. Per warp: Sᵀ = K·Qᵀ,
// dPᵀ = V·dOᵀ, then dV += Pᵀ·dO and dK += dSᵀ·Q.
template <int DH, int BT>
__device__ void attn_dkdv_pipe(const float *__restrict__ q, const float *__restrict__ k, const float *__restrict__ v,
                               const float *__restrict__ dO, const float *__restrict__ lse,
                               const float *__restrict__ Dr, float *__restrict__ dk, float *__restrict__ dv, int L,
                               float scale, int W) {
	extern __shared__ float4 ap_sh4[];
	float *sh = (float *)ap_sh4;
	const int SD = DH + 4, ST = BT * SD;
	float *Ks = sh, *Vs = Ks + AP_BQ * SD, *Qs = Vs + AP_BQ * SD, *Gs = Qs + 2 * ST, *Ls = Gs + 2 * ST,
	      *Dsh = Ls + 2 * BT;
	const int warp = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
	const long long base = (long long)blockIdx.y * L * DH, rb = (long long)blockIdx.y * L;
	const int j0 = blockIdx.x * AP_BQ, wlo = j0 + warp * 16, r0 = wlo + g; // this thread's keys: r0, r0+8
	const int qhi = W > 0 ? min(L, j0 + AP_BQ - 1 + W) : L;
	const int nt = (qhi - j0 + BT - 1) / BT;
	stage_rows<DH>(Ks, k + base, j0, AP_BQ, L);
	stage_rows<DH>(Vs, v + base, j0, AP_BQ, L);
	stage_rows<DH>(Qs, q + base, j0, BT, L);
	stage_rows<DH>(Gs, dO + base, j0, BT, L);
	stage_vec(Ls, lse + rb, j0, BT, L);
	stage_vec(Dsh, Dr + rb, j0, BT, L);
	cp_commit();
	float ak[DH / 8][4], av[DH / 8][4];
#pragma unroll
	for (int c = 0; c < DH / 8; c++)
#pragma unroll
		for (int e = 0; e < 4; e++) ak[c][e] = av[c][e] = 0.f;
	const float sl2 = scale * AP_LOG2E;
	for (int it = 0; it < nt; it++) {
		const int qb = j0 + it * BT, st = it & 1;
		float *Qc = Qs + st * ST, *Gc = Gs + st * ST, *Lc = Ls + st * BT, *Dc = Dsh + st * BT;
		if (it + 1 < nt) {
			const int nx = st ^ 1;
			stage_rows<DH>(Qs + nx * ST, q + base, qb + BT, BT, L);
			stage_rows<DH>(Gs + nx * ST, dO + base, qb + BT, BT, L);
			stage_vec(Ls + nx * BT, lse + rb, qb + BT, BT, L);
			stage_vec(Dsh + nx * BT, Dr + rb, qb + BT, BT, L);
			cp_commit();
			cp_wait<1>();
		} else {
			cp_wait<0>();
		}
		if (it == 0) {
			round_rows<DH>(Ks, AP_BQ);
			round_rows<DH>(Vs, AP_BQ);
		}
		round_rows<DH>(Qc, BT);
		round_rows<DH>(Gc, BT);
		__syncthreads();
		// Query tiles that see none of this warp's keys are skipped.
		if (qb + BT - 1 >= wlo && (W <= 0 || qb <= wlo + 15 + W - 1)) {
			float S[BT / 8][4], P[BT / 8][4];
			ap_qk_smem<DH, BT / 8>(S, Ks + warp * 16 * SD, Qc);
			ap_qk_smem<DH, BT / 8>(P, Vs + warp * 16 * SD, Gc); // dPᵀ
			const bool whole = qb >= wlo + 15 && qb + BT <= L && (W <= 0 || qb + BT - 1 - wlo < W);
#pragma unroll
			for (int n = 0; n < BT / 8; n++)
#pragma unroll
				for (int e = 0; e < 4; e++) {
					const int j = r0 + (e >> 1) * 8, ic = n * 8 + 2 * t + (e & 1), i = qb + ic;
					const float p =
					    whole || attn_seen(i, j, L, W) ? ap_ex2(S[n][e] * sl2 - Lc[ic] * AP_LOG2E) : 0.f;
					S[n][e] = p;
					P[n][e] = p * (P[n][e] - Dc[ic]) * scale;
				}
			ap_pv<DH, BT / 8>(av, S, Gc);
			ap_pv<DH, BT / 8>(ak, P, Qc);
		}
		__syncthreads();
	}
#pragma unroll
	for (int h = 0; h < 2; h++) {
		const int j = r0 + h * 8;
		if (j >= L) continue;
#pragma unroll
		for (int c = 0; c < DH / 8; c++) {
			const long long at = base + (long long)j * DH + c * 8 + 2 * t;
			*(float2 *)(dk + at) = attn_f2(ak[c][2 * h], ak[c][2 * h + 1]);
			*(float2 *)(dv + at) = attn_f2(av[c][2 * h], av[c][2 * h + 1]);
		}
	}
}

// Instantiations (written out: LoadKernels finds kernels by their extern "C"
// names): attn_*_pipeDH stream 32 rows per stage, attn_*_pipeDHw 64. dh is
// unused (DH is the head size); it keeps attn_*_tc's argument lists.
extern "C" __global__ void attn_fwd_pipe32(const float *q, const float *k, const float *v, float *o, float *lse,
                                           int L, int dh, float scale, int W) {
	attn_fwd_pipe<32, 32>(q, k, v, o, lse, L, scale, W);
}
extern "C" __global__ void attn_dq_pipe32(const float *q, const float *k, const float *v, const float *dO,
                                          const float *lse, const float *Dr, float *dq, int L, int dh, float scale,
                                          int W) {
	attn_dq_pipe<32, 32>(q, k, v, dO, lse, Dr, dq, L, scale, W);
}
extern "C" __global__ void attn_dkdv_pipe32(const float *q, const float *k, const float *v, const float *dO,
                                            const float *lse, const float *Dr, float *dk, float *dv, int L, int dh,
                                            float scale, int W) {
	attn_dkdv_pipe<32, 32>(q, k, v, dO, lse, Dr, dk, dv, L, scale, W);
}
extern "C" __global__ void attn_fwd_pipe32w(const float *q, const float *k, const float *v, float *o, float *lse,
                                           int L, int dh, float scale, int W) {
	attn_fwd_pipe<32, 64>(q, k, v, o, lse, L, scale, W);
}
extern "C" __global__ void attn_dq_pipe32w(const float *q, const float *k, const float *v, const float *dO,
                                          const float *lse, const float *Dr, float *dq, int L, int dh, float scale,
                                          int W) {
	attn_dq_pipe<32, 64>(q, k, v, dO, lse, Dr, dq, L, scale, W);
}
extern "C" __global__ void attn_dkdv_pipe32w(const float *q, const float *k, const float *v, const float *dO,
                                            const float *lse, const float *Dr, float *dk, float *dv, int L, int dh,
                                            float scale, int W) {
	attn_dkdv_pipe<32, 64>(q, k, v, dO, lse, Dr, dk, dv, L, scale, W);
}
extern "C" __global__ void attn_fwd_pipe64(const float *q, const float *k, const float *v, float *o, float *lse,
                                           int L, int dh, float scale, int W) {
	attn_fwd_pipe<64, 32>(q, k, v, o, lse, L, scale, W);
}
extern "C" __global__ void attn_dq_pipe64(const float *q, const float *k, const float *v, const float *dO,
                                          const float *lse, const float *Dr, float *dq, int L, int dh, float scale,
                                          int W) {
	attn_dq_pipe<64, 32>(q, k, v, dO, lse, Dr, dq, L, scale, W);
}
extern "C" __global__ void attn_dkdv_pipe64(const float *q, const float *k, const float *v, const float *dO,
                                            const float *lse, const float *Dr, float *dk, float *dv, int L, int dh,
                                            float scale, int W) {
	attn_dkdv_pipe<64, 32>(q, k, v, dO, lse, Dr, dk, dv, L, scale, W);
}
extern "C" __global__ void attn_fwd_pipe64w(const float *q, const float *k, const float *v, float *o, float *lse,
                                           int L, int dh, float scale, int W) {
	attn_fwd_pipe<64, 64>(q, k, v, o, lse, L, scale, W);
}
extern "C" __global__ void attn_dq_pipe64w(const float *q, const float *k, const float *v, const float *dO,
                                          const float *lse, const float *Dr, float *dq, int L, int dh, float scale,
                                          int W) {
	attn_dq_pipe<64, 64>(q, k, v, dO, lse, Dr, dq, L, scale, W);
}
extern "C" __global__ void attn_dkdv_pipe64w(const float *q, const float *k, const float *v, const float *dO,
                                            const float *lse, const float *Dr, float *dk, float *dv, int L, int dh,
                                            float scale, int W) {
	attn_dkdv_pipe<64, 64>(q, k, v, dO, lse, Dr, dk, dv, L, scale, W);
}
extern "C" __global__ void attn_fwd_pipe128(const float *q, const float *k, const float *v, float *o, float *lse,
                                           int L, int dh, float scale, int W) {
	attn_fwd_pipe<128, 32>(q, k, v, o, lse, L, scale, W);
}
extern "C" __global__ void attn_dq_pipe128(const float *q, const float *k, const float *v, const float *dO,
                                          const float *lse, const float *Dr, float *dq, int L, int dh, float scale,
                                          int W) {
	attn_dq_pipe<128, 32>(q, k, v, dO, lse, Dr, dq, L, scale, W);
}
extern "C" __global__ void attn_dkdv_pipe128(const float *q, const float *k, const float *v, const float *dO,
                                            const float *lse, const float *Dr, float *dk, float *dv, int L, int dh,
                                            float scale, int W) {
	attn_dkdv_pipe<128, 32>(q, k, v, dO, lse, Dr, dk, dv, L, scale, W);
}
extern "C" __global__ void attn_fwd_pipe128w(const float *q, const float *k, const float *v, float *o, float *lse,
                                           int L, int dh, float scale, int W) {
	attn_fwd_pipe<128, 64>(q, k, v, o, lse, L, scale, W);
}
extern "C" __global__ void attn_dq_pipe128w(const float *q, const float *k, const float *v, const float *dO,
                                          const float *lse, const float *Dr, float *dq, int L, int dh, float scale,
                                          int W) {
	attn_dq_pipe<128, 64>(q, k, v, dO, lse, Dr, dq, L, scale, W);
}
extern "C" __global__ void attn_dkdv_pipe128w(const float *q, const float *k, const float *v, const float *dO,
                                            const float *lse, const float *Dr, float *dk, float *dv, int L, int dh,
                                            float scale, int W) {
	attn_dkdv_pipe<128, 64>(q, k, v, dO, lse, Dr, dk, dv, L, scale, W);
}
