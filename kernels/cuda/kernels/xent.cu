// xent.cu: masked cross-entropy, the mean over positions with a target of
// logsumexp(logits[i, :]) - logits[i, t[i]]; t[i] == -100 (kernels.Ignore)
// adds nothing. CPU twin: Graph.CrossEntropy. Two launches, no float
// atomics, so the result is the same on every run: xent_rows_* write one
// loss per row, xent_mean sums them in float64 in one block.
// A target outside [0, V) other than -100 is reported in err and counts 0.

template <bool WARP>
__device__ __forceinline__ void xent_row(const float *__restrict__ x, const int *__restrict__ t,
                                         float *__restrict__ loss, long long rows, int V, int *err) {
	__shared__ float sh[32];
	RowGroup<WARP> g;
	if (g.row >= rows) return;
	int tg = t[g.row];
	if (tg == LAB_IGNORE || tg < 0 || tg >= V) {
		if (g.lane == 0) {
			loss[g.row] = 0.f;
			if (tg != LAB_IGNORE) report(err, g.row, tg);
		}
		return;
	}
	x += g.row * V;
	float m, s; // a light first pass for the max; the sum's re-read hits L2
	g.max_sumexp(x, V, sh, m, s);
	if (g.lane == 0) loss[g.row] = m + logf(s) - x[tg];
}

extern "C" __global__ void xent_rows_warp(const float *x, const int *t, float *loss, long long rows, int V, int *err) {
	xent_row<true>(x, t, loss, rows, V, err);
}

extern "C" __global__ void xent_rows_block(const float *x, const int *t, float *loss, long long rows, int V, int *err) {
	xent_row<false>(x, t, loss, rows, V, err);
}

// xent_mean: out[0] = sum(loss) / max(1, count of targets != -100). One block
// of 1024 threads; each thread sums a fixed strided subset, then a fixed
// tree: the order never changes between runs.
extern "C" __global__ void xent_mean(const float *__restrict__ loss, const int *__restrict__ t, long long rows,
                                     float *__restrict__ out) {
	__shared__ double ssum[1024];
	__shared__ int scnt[1024];
	double s = 0.0;
	int c = 0;
	for (long long i = threadIdx.x; i < rows; i += blockDim.x) {
		s += loss[i];
		c += t[i] != LAB_IGNORE;
	}
	ssum[threadIdx.x] = s;
	scnt[threadIdx.x] = c;
	__syncthreads();
	for (int w = blockDim.x / 2; w > 0; w >>= 1) {
		if (threadIdx.x < w) {
			ssum[threadIdx.x] += ssum[threadIdx.x + w];
			scnt[threadIdx.x] += scnt[threadIdx.x + w];
		}
		__syncthreads();
	}
	if (threadIdx.x == 0) out[0] = (float)(ssum[0] / (double)(scnt[0] > 1 ? scnt[0] : 1));
}
