// scatter.cu: y = zeros [R, C]; y[idx[i], :] += dy[i, :] (scatter_add, the
// gradient of gather; CPU twin: the op of package kernels). To add each
// row's contributions in the CPU's order (ascending i) without float
// atomics, the positions are bucketed by row (a counting sort) and each
// bucket sorted: five launches, then one block per output row sums its
// bucket in order, which makes the result bit-identical to the CPU's.
// An index outside [0, R) is skipped and reported in err.

// scatter_count: cnt[k] counts the positions with index k (cnt zeroed
// first); slot[i] is i's arrival order in its bucket (not deterministic:
// scatter_sort puts each bucket in order again).
extern "C" __global__ void scatter_count(const int *__restrict__ idx, long long n, int R, int *__restrict__ cnt,
                                         int *__restrict__ slot, int *err) {
	LAB_FOR(i, n) {
		int k = idx[i];
		if (k >= 0 && k < R) {
			slot[i] = atomicAdd(&cnt[k], 1);
		} else {
			slot[i] = -1;
			report(err, i, k);
		}
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
// ascending order; one block per output row.
extern "C" __global__ void scatter_sum(const float *__restrict__ dy, const int *__restrict__ sorted,
                                       const int *__restrict__ start, const int *__restrict__ cnt,
                                       float *__restrict__ y, int C) {
	int b = start[blockIdx.x], m = cnt[blockIdx.x];
	for (int j = threadIdx.x; j < C; j += blockDim.x) {
		float s = 0.f;
		for (int a = 0; a < m; a++) s = __fadd_rn(s, dy[(long long)sorted[b + a] * C + j]);
		y[(long long)blockIdx.x * C + j] = s;
	}
}
