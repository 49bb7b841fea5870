// reduce.cu: the sums and row-wise gradients of a compiled graph (CPU twins:
// sum_rows, sum_last, sum_all, max_last, normalize_grad,
// rms_normalize_grad, cross_entropy_grad, causal_conv_grad_w). No float
// atomics: every sum has a fixed order, so a run repeats bit for bit.

// finish_columns ends a column-sum kernel of grid (C / 32, P, K) that wrote
// part[(p * K + k) * C + c]: the last block of each (column group, k) to
// finish adds the P partials of its columns, in order of p, into yk[c],
// the output row of this block's k (the order does not depend on which
// block is last, so the result is the same bits every run, and the same
// as sum_parts'), and sets its counter back to 0 for the next launch.
// count is null when P == 1 (the kernel then wrote yk itself).
__device__ __forceinline__ void finish_columns(const float *part, float *__restrict__ yk, unsigned int *count, int C,
                                               int P) {
	if (!count) return;
	__shared__ int last;
	__threadfence(); // this block's partials are visible before its ticket is taken
	__syncthreads();
	if (threadIdx.x == 0 && threadIdx.y == 0) {
		unsigned int *c = count + blockIdx.z * gridDim.x + blockIdx.x;
		last = atomicAdd(c, 1u) == (unsigned int)(P - 1);
		if (last) *c = 0;
	}
	__syncthreads();
	if (!last) return;
	__threadfence();
	int col = blockIdx.x * 32 + threadIdx.x, K = gridDim.z;
	if (threadIdx.y == 0 && col < C) {
		const volatile float *v = part; // written by other blocks: not through L1
		float s = 0.f;
		for (int p = 0; p < P; p++) s += v[((long long)p * K + blockIdx.z) * C + col];
		yk[col] = s;
	}
}

// colsum_part: part[p, c] = sum over the rows of chunk p of x[r, c], for x
// [rows, C]; with b not null, of the products x[r, c]·b[r, c] instead, each
// rounded on its own as a mul kernel writes it (sum_rows(mul(x, b)), fused).
// With a grid of depth 2, both: z = 0 sums x into y, z = 1 the products
// into y1 (a norm's bias and gain gradients from one launch).
// Block (32, 8): threadIdx.x picks the column (a warp reads 32 consecutive
// floats of one row), threadIdx.y the row phase; grid (columns / 32,
// chunks, 1 or 2). finish_columns then adds the chunks into y (y1).
extern "C" __global__ void colsum_part(const float *__restrict__ x, const float *__restrict__ b, float *part,
                                       long long rows, int C, long long chunk, float *__restrict__ y1,
                                       float *__restrict__ y, unsigned int *count, int P) {
	__shared__ float sh[8][33];
	int c = blockIdx.x * 32 + threadIdx.x, K = gridDim.z, z = blockIdx.z;
	bool prod = b && (K == 1 || z == 1);
	long long r0 = blockIdx.y * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
	float s = 0.f;
	if (c < C) {
		if (prod)
			for (long long r = r0 + threadIdx.y; r < r1; r += 8) s += __fmul_rn(x[r * C + c], b[r * C + c]);
		else
			for (long long r = r0 + threadIdx.y; r < r1; r += 8) s += x[r * C + c];
	}
	sh[threadIdx.y][threadIdx.x] = s;
	__syncthreads();
	float *out = z == 0 ? y : y1;
	if (threadIdx.y == 0 && c < C) {
		float t = 0.f;
		for (int k = 0; k < 8; k++) t += sh[k][threadIdx.x];
		if (count)
			part[((long long)blockIdx.y * K + z) * C + c] = t;
		else
			out[c] = t;
	}
	finish_columns(part, out, count, C, P);
}

// conv_grad_w_part: part[p, j, e] = sum over rows r of chunk p with r % L
// >= j of dy[r, e] * x[r-j, e]; grid (D / 32, chunks, K), block (32, 8);
// finish_columns then adds the chunks into y.
extern "C" __global__ void conv_grad_w_part(const float *__restrict__ dy, const float *__restrict__ x, float *part,
                                            long long rows, int D, long long chunk, int L, int K,
                                            float *__restrict__ y, unsigned int *count, int P) {
	__shared__ float sh[8][33];
	int e = blockIdx.x * 32 + threadIdx.x, j = blockIdx.z;
	long long r0 = blockIdx.y * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
	float s = 0.f;
	if (e < D)
		for (long long r = r0 + threadIdx.y; r < r1; r += 8)
			if (r % L >= j) s += dy[r * D + e] * x[(r - j) * D + e];
	sh[threadIdx.y][threadIdx.x] = s;
	__syncthreads();
	if (threadIdx.y == 0 && e < D) {
		float t = 0.f;
		for (int k = 0; k < 8; k++) t += sh[k][threadIdx.x];
		part[((long long)blockIdx.y * K + j) * D + e] = t;
	}
	finish_columns(part, y + (long long)j * D, count, D, P);
}

// sum_parts: y[i] = sum over p < P of part[p*m + i], in order of p.
extern "C" __global__ void sum_parts(const float *__restrict__ part, float *__restrict__ y, int P, long long m) {
	LAB_FOR(i, m) {
		float s = 0.f;
		for (int p = 0; p < P; p++) s += part[p * m + i];
		y[i] = s;
	}
}

// sum_all: y[0] = sum of x in float64 (the CPU also sums in float64). One
// block of 1024 threads: strided partial sums, then a fixed tree.
extern "C" __global__ void sum_all(const float *__restrict__ x, float *__restrict__ y, long long n) {
	__shared__ double sh[1024];
	double s = 0.0;
	for (long long i = threadIdx.x; i < n; i += blockDim.x) s += x[i];
	sh[threadIdx.x] = s;
	__syncthreads();
	for (int w = blockDim.x / 2; w > 0; w >>= 1) {
		if (threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
		__syncthreads();
	}
	if (threadIdx.x == 0) y[0] = (float)sh[0];
}

// count_targets: cnt[0] = the number of t[i] != -100. One block of 1024.
extern "C" __global__ void count_targets(const int *__restrict__ t, long long n, int *__restrict__ cnt) {
	__shared__ int sh[1024];
	int c = 0;
	for (long long i = threadIdx.x; i < n; i += blockDim.x) c += t[i] != LAB_IGNORE;
	sh[threadIdx.x] = c;
	__syncthreads();
	for (int w = blockDim.x / 2; w > 0; w >>= 1) {
		if (threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
		__syncthreads();
	}
	if (threadIdx.x == 0) cnt[0] = sh[0];
}

// sum_last_thread: y[r] = sum of the cols floats of row r of x, one thread
// per row (short rows, where a warp per row would idle most lanes).
extern "C" __global__ void sum_last_thread(const float *__restrict__ x, float *__restrict__ y, long long rows, int cols) {
	LAB_FOR(r, rows) {
		const float *xr = x + r * cols;
		float s = 0.f;
		for (int j = 0; j < cols; j++) s += xr[j];
		y[r] = s;
	}
}

template <bool WARP>
__device__ __forceinline__ void sum_last_row(const float *__restrict__ x, float *__restrict__ y, long long rows, int cols) {
	__shared__ float sh[32];
	RowGroup<WARP> g;
	if (g.row >= rows) return;
	x += g.row * cols;
	float s = 0.f;
	for (int j = g.lane; j < cols; j += g.size) s += x[j];
	s = g.reduce_sum(s, sh);
	if (g.lane == 0) y[g.row] = s;
}

extern "C" __global__ void sum_last_warp(const float *x, float *y, long long rows, int cols) {
	sum_last_row<true>(x, y, rows, cols);
}

extern "C" __global__ void sum_last_block(const float *x, float *y, long long rows, int cols) {
	sum_last_row<false>(x, y, rows, cols);
}

template <bool WARP>
__device__ __forceinline__ void max_last_row(const float *__restrict__ x, float *__restrict__ y, long long rows, int cols) {
	__shared__ float sh[32];
	RowGroup<WARP> g;
	if (g.row >= rows) return;
	x += g.row * cols;
	float m = -LAB_INF;
	for (int j = g.lane; j < cols; j += g.size) m = fmaxf(m, x[j]);
	m = g.reduce_max(m, sh);
	if (g.lane == 0) y[g.row] = m;
}

extern "C" __global__ void max_last_warp(const float *x, float *y, long long rows, int cols) {
	max_last_row<true>(x, y, rows, cols);
}

extern "C" __global__ void max_last_block(const float *x, float *y, long long rows, int cols) {
	max_last_row<false>(x, y, rows, cols);
}

// norm_grad: with xh = (x - mean) * inv (mean 0 for RMS),
// layer norm dx = inv * (dy - mean(dy) - xh * mean(dy * xh)), RMS norm the
// same without mean(dy). With gain not null, dy is read as dy * gain (the
// mul_rowvec before it, fused; rounded as that kernel rounds).
template <bool WARP>
__device__ __forceinline__ void norm_grad_row(const float *__restrict__ x, const float *__restrict__ dyv,
                                              float *__restrict__ dx, long long rows, int cols, float eps, int rms,
                                              const float *__restrict__ gain) {
	__shared__ float sh[32];
	RowGroup<WARP> g;
	if (g.row >= rows) return;
	x += g.row * cols;
	dyv += g.row * cols;
	dx += g.row * cols;
	auto dy = [&](int j) { return gain ? __fmul_rn(dyv[j], gain[j]) : dyv[j]; };
	float mean, inv;
	g.norm_stats(x, cols, rms, eps, sh, mean, inv);
	float sd = 0.f, sdx = 0.f;
	for (int j = g.lane; j < cols; j += g.size) {
		float d = dy(j);
		sd += d;
		sdx += d * (x[j] - mean) * inv;
	}
	float md = rms ? 0.f : g.reduce_sum(sd, sh) / cols;
	float mdx = g.reduce_sum(sdx, sh) / cols;
	for (int j = g.lane; j < cols; j += g.size) dx[j] = inv * (dy(j) - md - (x[j] - mean) * inv * mdx);
}

extern "C" __global__ void norm_grad_warp(const float *x, const float *dy, float *dx, long long rows, int cols, float eps, int rms,
                                          const float *gain) {
	norm_grad_row<true>(x, dy, dx, rows, cols, eps, rms, gain);
}

extern "C" __global__ void norm_grad_block(const float *x, const float *dy, float *dx, long long rows, int cols, float eps, int rms,
                                           const float *gain) {
	norm_grad_row<false>(x, dy, dx, rows, cols, eps, rms, gain);
}

// xent_grad: dlogits = d[0] / max(1, count) * (softmax(x) - onehot(t)) per
// row; rows without a target (or with a bad one, reported in err) get zeros.
template <bool WARP>
__device__ __forceinline__ void xent_grad_row(const float *__restrict__ x, const int *__restrict__ t,
                                              const float *__restrict__ d, const int *__restrict__ cnt,
                                              float *__restrict__ y, long long rows, int V, int *err) {
	__shared__ float sh[32];
	RowGroup<WARP> g;
	if (g.row >= rows) return;
	x += g.row * V;
	y += g.row * V;
	int tg = t[g.row];
	if (tg == LAB_IGNORE || tg < 0 || tg >= V) {
		for (int j = g.lane; j < V; j += g.size) y[j] = 0.f;
		if (g.lane == 0 && tg != LAB_IGNORE) report(err, g.row, tg);
		return;
	}
	float m, s;
	g.max_sumexp(x, V, sh, m, s);
	float inv = 1.f / s;
	float scale = d[0] / (float)(cnt[0] > 1 ? cnt[0] : 1);
	for (int j = g.lane; j < V; j += g.size) y[j] = xent_dlogit(x[j], m, inv, j == tg, scale);
}

extern "C" __global__ void xent_grad_warp(const float *x, const int *t, const float *d, const int *cnt, float *y,
                                          long long rows, int V, int *err) {
	xent_grad_row<true>(x, t, d, cnt, y, rows, V, err);
}

extern "C" __global__ void xent_grad_block(const float *x, const int *t, const float *d, const int *cnt, float *y,
                                           long long rows, int V, int *err) {
	xent_grad_row<false>(x, t, d, cnt, y, rows, V, err);
}
