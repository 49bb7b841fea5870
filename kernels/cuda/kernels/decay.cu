// decay.cu: the per-dimension decay scores of GLA and RWKV
// (kernels.DecayScores) and their two gradient ops. For q, k, bq, bk
// [N, c, dk] and the kept entries s <= t (s < t when strict):
//
//   decay_scores_fwd:    A[t,s]  = Σ_d q[t,d]·k[s,d]·exp(bq[t,d] - bk[s,d])
//   decay_scores_grad<0> dq[t,d] = Σ_s dA[t,s]·k[s,d]·exp(bq[t,d] - bk[s,d])
//   decay_scores_grad<1> dk[s,d] = Σ_t dA[t,s]·q[t,d]·exp(bq[t,d] - bk[s,d])
//
// Masked entries of A are written as 0 and never evaluated, so an exponent
// that overflows there cannot make inf·0 = NaN. Each sum runs in the CPU
// twin's order, each term rounded as the twin rounds it ((a·b)·e, then the
// add, no FMA): results differ from the CPU only by expf's error (at most 2
// ulp, against the CPU's exp rounded from float64).
//
// Tiles are 32 x 32: keys (or queries) and their decays for 32 dims are
// staged in shared memory; each thread owns 4 outputs, so every staged
// value read serves 4 exps. The work is bound by the exps (c²·dk/2 per
// matrix and per op), not by memory.

#define DS_TILE 32 // rows and columns of a tile, and key dims staged per step
#define DS_PITCH 36 // row pitch of the tiles read as float4 (16-byte rows)

__device__ __forceinline__ float ds_add(float acc, float a, float b, float e) {
	return __fadd_rn(acc, __fmul_rn(__fmul_rn(a, b), e));
}

// Launches are 256 threads a block (decayThreads in decay.go); the names
// must come right after the return type, with nothing between (kernelNames
// in ops.go reads them from the text).

// decay_scores_fwd: grid (column tiles, row tiles, N), 256 threads. Thread
// (ty, tx) = (tid/8, tid%8) owns row t0+ty, columns s0+4tx .. s0+4tx+3.
extern "C" __global__ void decay_scores_fwd(const float *__restrict__ q, const float *__restrict__ k,
                                            const float *__restrict__ bq, const float *__restrict__ bk,
                                            float *__restrict__ y, int c, int dk, int strict) {
	__shared__ float sq[DS_TILE][DS_TILE + 1], sbq[DS_TILE][DS_TILE + 1]; // [d][t]
	__shared__ __align__(16) float sk[DS_TILE][DS_PITCH];                   // [d][s]
	__shared__ __align__(16) float sbk[DS_TILE][DS_PITCH];
	const int tid = threadIdx.x, ty = tid >> 3, tx = tid & 7;
	const int t0 = blockIdx.y * DS_TILE, s0 = blockIdx.x * DS_TILE;
	const long long n = blockIdx.z;
	const int t = t0 + ty, sb = s0 + 4 * tx;
	const int last = t - strict; // kept: s <= last
	float *yr = y + (n * c + t) * (long long)c;
	if (s0 > t0 + DS_TILE - 1 - strict) { // every entry of the tile is masked
		if (t < c)
			for (int j = 0; j < 4; j++)
				if (sb + j < c) yr[sb + j] = 0.f;
		return;
	}
	const long long base = n * c * (long long)dk;
	q += base;
	k += base;
	bq += base;
	bk += base;
	const bool active = t < c && sb <= last;
	float a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f;
	for (int d0 = 0; d0 < dk; d0 += DS_TILE) {
		for (int i = tid; i < DS_TILE * DS_TILE; i += blockDim.x) {
			const int r = i >> 5, dd = i & 31, d = d0 + dd;
			const int tt = t0 + r, ss = s0 + r;
			const bool tok = d < dk && tt < c, sok = d < dk && ss < c;
			sq[dd][r] = tok ? q[(long long)tt * dk + d] : 0.f;
			sbq[dd][r] = tok ? bq[(long long)tt * dk + d] : 0.f;
			sk[dd][r] = sok ? k[(long long)ss * dk + d] : 0.f;
			sbk[dd][r] = sok ? bk[(long long)ss * dk + d] : 0.f;
		}
		__syncthreads();
		if (active) {
			const int dn = min(DS_TILE, dk - d0);
			for (int dd = 0; dd < dn; dd++) {
				const float qv = sq[dd][ty], bv = sbq[dd][ty];
				const float4 kv = *reinterpret_cast<const float4 *>(&sk[dd][4 * tx]);
				const float4 bkv = *reinterpret_cast<const float4 *>(&sbk[dd][4 * tx]);
				// Columns past last are garbage here (even inf or NaN) and are
				// never stored.
				a0 = ds_add(a0, qv, kv.x, expf(bv - bkv.x));
				a1 = ds_add(a1, qv, kv.y, expf(bv - bkv.y));
				a2 = ds_add(a2, qv, kv.z, expf(bv - bkv.z));
				a3 = ds_add(a3, qv, kv.w, expf(bv - bkv.w));
			}
		}
		__syncthreads();
	}
	if (t < c) {
		const float a[4] = {a0, a1, a2, a3};
		for (int j = 0; j < 4; j++)
			if (sb + j < c) yr[sb + j] = sb + j <= last ? a[j] : 0.f;
	}
}

// decay_scores_grad: grid (dim tiles, row tiles, N), 256 threads. Thread
// tid owns dim d0 + tid%32 of rows r0 + 4(tid/32) .. +3 (a warp shares its
// rows, so the keep test is uniform across it). WRT_K false: rows are
// queries t, the sum runs over keys s <= t - strict with x = k; true: rows
// are keys s, the sum runs over queries t >= s + strict with x = q.
template <bool WRT_K>
__device__ __forceinline__ void decay_grad(const float *__restrict__ da, const float *__restrict__ x,
                                           const float *__restrict__ bq, const float *__restrict__ bk,
                                           float *__restrict__ out, int c, int dk, int strict) {
	__shared__ float sx[DS_TILE][DS_TILE], sb[DS_TILE][DS_TILE]; // [j][d]
	__shared__ __align__(16) float sa[DS_TILE][DS_PITCH];           // [j][r] = dA of (row r, summed j)
	const int tid = threadIdx.x, lane = tid & 31, rg = (tid >> 5) * 4;
	const int r0 = blockIdx.y * DS_TILE, dbase = blockIdx.x * DS_TILE, d = dbase + lane;
	const long long n = blockIdx.z, base = n * c * (long long)dk;
	const float *br = (WRT_K ? bk : bq) + base; // the output rows' decays
	const float *bj = (WRT_K ? bq : bk) + base; // the summed side's decays
	x += base;
	out += base;
	da += n * c * (long long)c;
	float b[4], acc[4];
	for (int i = 0; i < 4; i++) {
		const int r = r0 + rg + i;
		b[i] = r < c && d < dk ? br[(long long)r * dk + d] : 0.f;
		acc[i] = 0.f;
	}
	const int jbeg = WRT_K ? r0 : 0;
	const int jend = WRT_K ? c : min(c, r0 + DS_TILE - strict);
	for (int j0 = jbeg; j0 < jend; j0 += DS_TILE) {
		for (int i = tid; i < DS_TILE * DS_TILE; i += blockDim.x) {
			const int hi = i >> 5, lo = i & 31;
			const int j = j0 + hi, dg = dbase + lo;
			const bool ok = j < c && dg < dk;
			sx[hi][lo] = ok ? x[(long long)j * dk + dg] : 0.f;
			sb[hi][lo] = ok ? bj[(long long)j * dk + dg] : 0.f;
			if (WRT_K) { // dA[t = j0+hi][s = r0+lo]
				const int tt = j0 + hi, ss = r0 + lo;
				sa[hi][lo] = tt < c && ss < c ? da[(long long)tt * c + ss] : 0.f;
			} else { // dA[t = r0+hi][s = j0+lo]
				const int tt = r0 + hi, ss = j0 + lo;
				sa[lo][hi] = tt < c && ss < c ? da[(long long)tt * c + ss] : 0.f;
			}
		}
		__syncthreads();
		if (d < dk) {
			const int jn = min(DS_TILE, jend - j0);
			for (int jj = 0; jj < jn; jj++) {
				const int j = j0 + jj;
				const float xv = sx[jj][lane], bv = sb[jj][lane];
				const float4 a4 = *reinterpret_cast<const float4 *>(&sa[jj][rg]);
				const float av[4] = {a4.x, a4.y, a4.z, a4.w};
#pragma unroll
				for (int i = 0; i < 4; i++) {
					const int r = r0 + rg + i;
					if (WRT_K ? j >= r + strict : j <= r - strict)
						acc[i] = ds_add(acc[i], av[i], xv, expf(WRT_K ? bv - b[i] : b[i] - bv));
				}
			}
		}
		__syncthreads();
	}
	if (d < dk)
		for (int i = 0; i < 4; i++) {
			const int r = r0 + rg + i;
			if (r < c) out[(long long)r * dk + d] = acc[i];
		}
}

extern "C" __global__ void decay_scores_grad_q(const float *da, const float *k, const float *bq, const float *bk,
                                               float *dq, int c, int dk, int strict) {
	decay_grad<false>(da, k, bq, bk, dq, c, dk, strict);
}

extern "C" __global__ void decay_scores_grad_k(const float *da, const float *q, const float *bq, const float *bk,
                                               float *dk_out, int c, int dk, int strict) {
	decay_grad<true>(da, q, bq, bk, dk_out, c, dk, strict);
}

// With one key dim (dk == 1: RWKV-4, whose channels are its heads) a 32-dim
// block would leave 31 of 32 lanes idle, so the gradients have kernels of
// their own over the N·c output rows.

// decay_scores_grad1_q: one warp per query row t, lanes over the kept keys
// s; a warp sum at the end (not the CPU's serial order: within decayTol).
extern "C" __global__ void decay_scores_grad1_q(const float *__restrict__ da, const float *__restrict__ k,
                                                const float *__restrict__ bq, const float *__restrict__ bk,
                                                float *__restrict__ dq, long long rows, int c, int strict) {
	const long long row = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
	const int lane = threadIdx.x & 31;
	if (row >= rows) return; // uniform across the warp
	const int t = (int)(row % c);
	const long long base = row - t; // n·c
	const float *dr = da + row * c;
	const float b = bq[row];
	float acc = 0.f;
	for (int s = lane; s <= t - strict; s += 32) acc = ds_add(acc, dr[s], k[base + s], expf(b - bk[base + s]));
	acc = warp_sum(acc);
	if (lane == 0) dq[row] = acc;
}

// decay_scores_grad1_k: one thread per key row s (a column of dA: adjacent
// threads read adjacent columns), queries t ascending as the CPU sums.
extern "C" __global__ void decay_scores_grad1_k(const float *__restrict__ da, const float *__restrict__ q,
                                                const float *__restrict__ bq, const float *__restrict__ bk,
                                                float *__restrict__ dk, long long rows, int c, int strict) {
	LAB_FOR(row, rows) {
		const int s = (int)(row % c);
		const long long base = row - s; // n·c
		const float *dc = da + base * c + s; // dA[n, 0, s]
		const float b = bk[row];
		float acc = 0.f;
		for (int t = s + strict; t < c; t++) acc = ds_add(acc, dc[(long long)t * c], q[base + t], expf(bq[base + t] - b));
		dk[row] = acc;
	}
}
