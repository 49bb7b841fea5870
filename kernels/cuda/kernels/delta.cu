// delta.cu: the delta-rule inter-chunk state scan (kernels.DeltaStates and
// its reverse, delta_states_grad). Per sequence n the scan walks the chunks
// i in order (reverse: from the last) and keeps a state X [dk, dv]:
//
//	out_i = X;   u = Y_i - Q_i·X   ([c, dv]);   X = dec_i·X + P_iᵀ·u + Z_i
//
// forward: (P, Q, Y, Z) = (kd, tk, tv, 0); reverse: (tk, kd, 0, dS). The
// update after the last chunk is not needed and not done.
//
// One block of 256 threads per (n, tile of T state columns): the block keeps
// X [dk][T] and u [c][T] in shared memory (dynamic, (dk + c)·T floats).
// Thread (slot, j) = (tid / T, tid % T) owns column j; slots split the rows:
// groups of 4 rows of u, then groups of 4 rows of X. Q and P rows are read
// from global memory (the same address across the T lanes of a slot: a
// broadcast), as float4 when vec (dk % 4 == 0, 16-byte aligned buffers).
// Plain float32 with the CPU kernel's summation order (u starts at Y and
// subtracts k = 0, 1, ...; X starts at dec·X + Z and adds r = 0, 1, ...);
// the compiler's FMA contraction is the only rounding difference.
extern "C" __global__ void delta_scan(float *__restrict__ out, const float *__restrict__ yz,
                                      const float *__restrict__ q, const float *__restrict__ p,
                                      const float *__restrict__ dec, int nc, int c, int dk, int dv, int T,
                                      int reverse, int vec) {
	extern __shared__ float sh[];
	float *X = sh;          // [dk][T]
	float *U = sh + dk * T; // [c][T]
	const int tiles = (dv + T - 1) / T;
	const int n = blockIdx.x / tiles, tile = blockIdx.x % tiles;
	const int j = threadIdx.x % T, slot = threadIdx.x / T, slots = blockDim.x / T;
	const int col = tile * T + j;
	const bool ok = col < dv;
	for (int k = slot; k < dk; k += slots) X[k * T + j] = 0.f;
	__syncthreads();
	for (int s = 0; s < nc; s++) {
		const int i = reverse ? nc - 1 - s : s;
		const long long ch = (long long)n * nc + i;
		if (ok)
			for (int k = slot; k < dk; k += slots) out[(ch * dk + k) * dv + col] = X[k * T + j];
		if (s == nc - 1) break;
		const float *qi = q + ch * c * dk, *pi = p + ch * c * dk;
		// u = Y_i - Q_i·X
		for (int r0 = 4 * slot; r0 < c; r0 += 4 * slots) {
			float a[4];
			const float *qr[4];
#pragma unroll
			for (int m = 0; m < 4; m++) {
				const int r = min(r0 + m, c - 1);
				qr[m] = qi + (long long)r * dk;
				a[m] = (!reverse && ok) ? __ldg(yz + (ch * c + r) * dv + col) : 0.f;
			}
			if (vec) {
				for (int k = 0; k < dk; k += 4) {
					const float x0 = X[k * T + j], x1 = X[(k + 1) * T + j], x2 = X[(k + 2) * T + j],
					            x3 = X[(k + 3) * T + j];
#pragma unroll
					for (int m = 0; m < 4; m++) {
						const float4 v = __ldg((const float4 *)(qr[m] + k));
						a[m] -= v.x * x0;
						a[m] -= v.y * x1;
						a[m] -= v.z * x2;
						a[m] -= v.w * x3;
					}
				}
			} else {
				for (int k = 0; k < dk; k++) {
					const float x = X[k * T + j];
#pragma unroll
					for (int m = 0; m < 4; m++) a[m] -= __ldg(qr[m] + k) * x;
				}
			}
#pragma unroll
			for (int m = 0; m < 4; m++)
				if (r0 + m < c) U[(r0 + m) * T + j] = a[m];
		}
		__syncthreads();
		// X = dec_i·X + P_iᵀ·u + Z_i
		const float d = __ldg(dec + ch);
		for (int k0 = 4 * slot; k0 < dk; k0 += 4 * slots) {
			float a[4];
#pragma unroll
			for (int m = 0; m < 4; m++) {
				const int k = min(k0 + m, dk - 1);
				const float zv = (reverse && ok) ? __ldg(yz + (ch * dk + k) * dv + col) : 0.f;
				a[m] = d * X[k * T + j] + zv;
			}
			if (vec) {
				for (int r = 0; r < c; r++) {
					const float uv = U[r * T + j];
					const float4 v = __ldg((const float4 *)(pi + (long long)r * dk + k0));
					a[0] += v.x * uv;
					a[1] += v.y * uv;
					a[2] += v.z * uv;
					a[3] += v.w * uv;
				}
			} else {
				for (int r = 0; r < c; r++) {
					const float uv = U[r * T + j];
					const float *pr = pi + (long long)r * dk;
#pragma unroll
					for (int m = 0; m < 4; m++) a[m] += __ldg(pr + min(k0 + m, dk - 1)) * uv;
				}
			}
#pragma unroll
			for (int m = 0; m < 4; m++)
				if (k0 + m < dk) X[(k0 + m) * T + j] = a[m];
		}
		__syncthreads();
	}
}

// delta_scan_staged is delta_scan for dk % 4 == 0 with each chunk's Q_i,
// then P_i, first copied to shared memory by the whole block (coalesced
// float4 loads, all in flight at once) instead of read row by row from L1/L2
// inside the products: the scan is otherwise bound by load latency when
// there are few blocks (long sequences at small batch). Shared memory: X
// [dk][T], u [c][T] and W [c][dk + 4] (rows padded by 4 floats so that the
// float4 reads of different rows fall in different banks). Rows of u are
// dealt to slots interleaved (row = base + slot + slots·m). Results are
// bit-identical to delta_scan's (same products in the same order).
extern "C" __global__ void delta_scan_staged(float *__restrict__ out, const float *__restrict__ yz,
                                             const float *__restrict__ q, const float *__restrict__ p,
                                             const float *__restrict__ dec, int nc, int c, int dk, int dv, int T,
                                             int reverse) {
	extern __shared__ float4 sh4[];
	float *X = (float *)sh4;         // [dk][T]
	float *U = X + dk * T;            // [c][T]
	float *W = U + ((c * T + 3) & ~3); // [c][ldw], 16-byte aligned
	const int ldw = dk + 4, dk4 = dk / 4;
	const int tiles = (dv + T - 1) / T;
	const int n = blockIdx.x / tiles, tile = blockIdx.x % tiles;
	const int j = threadIdx.x % T, slot = threadIdx.x / T, slots = blockDim.x / T;
	const int col = tile * T + j;
	const bool ok = col < dv;
	for (int k = slot; k < dk; k += slots) X[k * T + j] = 0.f;
	__syncthreads();
	for (int s = 0; s < nc; s++) {
		const int i = reverse ? nc - 1 - s : s;
		const long long ch = (long long)n * nc + i;
		if (ok)
			for (int k = slot; k < dk; k += slots) out[(ch * dk + k) * dv + col] = X[k * T + j];
		if (s == nc - 1) break;
		const float4 *qi = (const float4 *)(q + ch * c * dk), *pi = (const float4 *)(p + ch * c * dk);
		for (int e = threadIdx.x; e < c * dk4; e += blockDim.x)
			*(float4 *)(W + (e / dk4) * ldw + 4 * (e % dk4)) = __ldg(qi + e);
		__syncthreads();
		// u = Y_i - Q_i·X
		for (int base = 0; base < c; base += 4 * slots) {
			float a[4];
			const float *wr[4];
#pragma unroll
			for (int m = 0; m < 4; m++) {
				const int r = min(base + slot + slots * m, c - 1);
				wr[m] = W + r * ldw;
				a[m] = (!reverse && ok) ? __ldg(yz + (ch * c + r) * dv + col) : 0.f;
			}
			for (int k = 0; k < dk; k += 4) {
				const float x0 = X[k * T + j], x1 = X[(k + 1) * T + j], x2 = X[(k + 2) * T + j],
				            x3 = X[(k + 3) * T + j];
#pragma unroll
				for (int m = 0; m < 4; m++) {
					const float4 v = *(const float4 *)(wr[m] + k);
					a[m] -= v.x * x0;
					a[m] -= v.y * x1;
					a[m] -= v.z * x2;
					a[m] -= v.w * x3;
				}
			}
#pragma unroll
			for (int m = 0; m < 4; m++) {
				const int r = base + slot + slots * m;
				if (r < c) U[r * T + j] = a[m];
			}
		}
		__syncthreads();
		for (int e = threadIdx.x; e < c * dk4; e += blockDim.x)
			*(float4 *)(W + (e / dk4) * ldw + 4 * (e % dk4)) = __ldg(pi + e);
		__syncthreads();
		// X = dec_i·X + P_iᵀ·u + Z_i
		const float d = __ldg(dec + ch);
		for (int k0 = 4 * slot; k0 < dk; k0 += 4 * slots) {
			float a[4];
#pragma unroll
			for (int m = 0; m < 4; m++) {
				const float zv = (reverse && ok) ? __ldg(yz + (ch * dk + k0 + m) * dv + col) : 0.f;
				a[m] = d * X[(k0 + m) * T + j] + zv;
			}
			for (int r = 0; r < c; r++) {
				const float uv = U[r * T + j];
				const float4 v = *(const float4 *)(W + r * ldw + k0);
				a[0] += v.x * uv;
				a[1] += v.y * uv;
				a[2] += v.z * uv;
				a[3] += v.w * uv;
			}
#pragma unroll
			for (int m = 0; m < 4; m++) X[(k0 + m) * T + j] = a[m];
		}
		__syncthreads();
	}
}
