// scatter.cu: y = zeros [R, C]; y[idx[i], :] += dy[i, :] (scatter_add, the
// gradient of gather; CPU twin: the op of package kernels). To add each
// row's contributions in the CPU's order (ascending i) without float
// atomics, every position gets its place in a list ordered by (row, i) -- a
// stable counting sort -- and one block per output row sums its run of the
// list in order, which makes the result bit-identical to the CPU's.
// An index outside [0, R) is skipped and reported in err.
//
// The sort is in two levels so that one row with most of the positions
// (MQAR's filler token 0: 53,000 of 65,536 positions at batch 512, L 128)
// costs no more than many small rows. Positions are cut into tiles of
// SCATTER_TILE; inside a tile each position's rank among equal indices is
// counted in shared memory, and the first of them (the tile's head for that
// row) carries the tile's count. Only heads are then bucketed by row and
// ordered by position (at most one per tile and row, so a bucket holds at
// most n / SCATTER_TILE heads), and a prefix over each row's ordered heads
// gives every tile its offset in the row's run. (The first version ranked
// every position of a bucket against every other, O(m^2) in one block: 110
// ms of a 120 ms training step on the Zoology recipe, device run of
// 2026-12-07.)

#define SCATTER_TILE 256

// scatter_tile_rank: one block of SCATTER_TILE threads per tile. For each
// position: rank[i] = the number of earlier positions in its tile with the
// same index, head[i] = the first of them (its tile's head for that row).
// A head adds its tile's count to cnt[row] and takes a slot in hcnt[row].
extern "C" __global__ void scatter_tile_rank(const int *__restrict__ idx, long long n, int R, int *__restrict__ rank,
                                             int *__restrict__ head, int *__restrict__ tcnt, int *__restrict__ cnt,
                                             int *__restrict__ hcnt, int *__restrict__ hslot, int *err) {
	__shared__ int key[SCATTER_TILE];
	long long base = (long long)blockIdx.x * SCATTER_TILE;
	long long i = base + threadIdx.x;
	int m = n - base < SCATTER_TILE ? (int)(n - base) : SCATTER_TILE;
	int k = -1;
	if (i < n) {
		k = idx[i];
		if (k < 0 || k >= R) {
			report(err, i, k);
			k = -1;
		}
	}
	key[threadIdx.x] = k;
	__syncthreads();
	if (i >= n) return;
	if (k < 0) {
		rank[i] = -1;
		hslot[i] = -1;
		return;
	}
	int r = 0, first = threadIdx.x, c = 0;
	for (int j = 0; j < m; j++) {
		if (key[j] != k) continue;
		if (j < (int)threadIdx.x) r++;
		if (j < first) first = j;
		c++;
	}
	rank[i] = r;
	head[i] = (int)(base + first);
	if (r == 0) {
		tcnt[i] = c;
		atomicAdd(&cnt[k], c);
		hslot[i] = atomicAdd(&hcnt[k], 1);
	} else {
		hslot[i] = -1;
	}
}

// scatter_head_prefix: one thread per row; off[h] = the number of the row's
// positions in tiles before head h's, walking the row's heads in position
// order (hsorted).
extern "C" __global__ void scatter_head_prefix(const int *__restrict__ hsorted, const int *__restrict__ hstart,
                                               const int *__restrict__ hcnt, const int *__restrict__ tcnt,
                                               int *__restrict__ off, int R) {
	int r = blockIdx.x * blockDim.x + threadIdx.x;
	if (r >= R) return;
	int b = hstart[r], m = hcnt[r], run = 0;
	for (int a = 0; a < m; a++) {
		int h = hsorted[b + a];
		off[h] = run;
		run += tcnt[h];
	}
}

// scatter_final: sorted[start[row] + off[head] + rank] = i.
extern "C" __global__ void scatter_final(const int *__restrict__ idx, const int *__restrict__ rank,
                                         const int *__restrict__ head, const int *__restrict__ start,
                                         const int *__restrict__ off, long long n, int *__restrict__ sorted) {
	LAB_FOR(i, n) {
		int r = rank[i];
		if (r >= 0) sorted[start[idx[i]] + off[head[i]] + r] = (int)i;
	}
}

// scatter_scan: start = the exclusive prefix sum of cnt [R]. One block of
// 1024 threads, each owning a contiguous run of buckets.
extern "C" __global__ void scatter_scan(const int *__restrict__ cnt, int *__restrict__ start, int R) {
	__shared__ int sh[1024];
	int per = (R + blockDim.x - 1) / blockDim.x;
	int lo = threadIdx.x * per, hi = lo + per < R ? lo + per : R;
	int s = 0;
	for (int k = lo; k < hi; k++) s += cnt[k];
	sh[threadIdx.x] = s;
	__syncthreads();
	for (int o = 1; o < blockDim.x; o <<= 1) {
		int v = threadIdx.x >= o ? sh[threadIdx.x - o] : 0;
		__syncthreads();
		sh[threadIdx.x] += v;
		__syncthreads();
	}
	int run = sh[threadIdx.x] - s;
	for (int k = lo; k < hi; k++) {
		start[k] = run;
		run += cnt[k];
	}
}

// scatter_place: list[start[k] + slot[i]] = i.
extern "C" __global__ void scatter_place(const int *__restrict__ idx, const int *__restrict__ slot,
                                         const int *__restrict__ start, long long n, int *__restrict__ list) {
	LAB_FOR(i, n) {
		int s = slot[i];
		if (s >= 0) list[start[idx[i]] + s] = (int)i;
	}
}

// scatter_sort: each bucket in ascending order. One block per bucket; an
// element's place is the count of smaller ones (positions are distinct).
extern "C" __global__ void scatter_sort(const int *__restrict__ list, const int *__restrict__ start,
                                        const int *__restrict__ cnt, int *__restrict__ sorted) {
	int b = start[blockIdx.x], m = cnt[blockIdx.x];
	for (int a = threadIdx.x; a < m; a += blockDim.x) {
		int v = list[b + a], r = 0;
		for (int c = 0; c < m; c++) r += list[b + c] < v;
		sorted[b + r] = v;
	}
}

// scatter_sum: y[k, :] = the sum of dy[p, :] over k's positions p in
// ascending order; one block per output row. SCATTER_SUM_U rows of dy are
// loaded before they are added (in order), and the next group's positions
// are read meanwhile, so a long run (one row with most positions) waits
// for one load per group instead of two per position.
#define SCATTER_SUM_U 32
extern "C" __global__ void scatter_sum(const float *__restrict__ dy, const int *__restrict__ sorted,
                                       const int *__restrict__ start, const int *__restrict__ cnt,
                                       float *__restrict__ y, int C) {
	int b = start[blockIdx.x], m = cnt[blockIdx.x];
	for (int j = threadIdx.x; j < C; j += blockDim.x) {
		float s = 0.f;
		int a = 0;
		int nxt[SCATTER_SUM_U];
		if (m >= SCATTER_SUM_U) {
#pragma unroll
			for (int u = 0; u < SCATTER_SUM_U; u++) nxt[u] = sorted[b + u];
		}
		for (; a + SCATTER_SUM_U <= m; a += SCATTER_SUM_U) {
			int cur[SCATTER_SUM_U];
#pragma unroll
			for (int u = 0; u < SCATTER_SUM_U; u++) cur[u] = nxt[u];
			if (a + 2 * SCATTER_SUM_U <= m) {
#pragma unroll
				for (int u = 0; u < SCATTER_SUM_U; u++) nxt[u] = sorted[b + a + SCATTER_SUM_U + u];
			}
			float v[SCATTER_SUM_U];
#pragma unroll
			for (int u = 0; u < SCATTER_SUM_U; u++) v[u] = dy[(long long)cur[u] * C + j];
#pragma unroll
			for (int u = 0; u < SCATTER_SUM_U; u++) s = __fadd_rn(s, v[u]);
		}
		for (; a < m; a++) s = __fadd_rn(s, dy[(long long)sorted[b + a] * C + j]);
		y[(long long)blockIdx.x * C + j] = s;
	}
}
