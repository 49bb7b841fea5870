// fused.cu: kernels for op chains that Compile fuses (fuse.go), each the
// composition of the single-op kernels, rounding the same way:
//
//   softmax(causal_mask(scale*x, -Inf))       -> masked_softmax
//   scale*causal_mask(softmax_grad(y, dy), 0) -> softmax_grad_scaled (the
//       mask is the identity there: y is 0 wherever the forward masked)
//   cross_entropy and cross_entropy_grad of the same logits -> xent_fused,
//       one read of the logits for the per-row losses and the gradient.
//
// The plain softmax_grad kernel is softmax_grad_scaled with scale 1.

// masked_softmax: rows of the trailing [L, L] matrices (cols == L); entry
// (i, j) is kept when j <= i, i-j < window (window > 0) and not (strict and
// i == j), and scaled; the rest count as -Inf. __fmul_rn keeps the product
// rounded on its own (no FMA with the subtraction), as the affine kernel
// rounds it.
template <bool WARP>
__device__ __forceinline__ void masked_softmax_row(const float *__restrict__ x, float *__restrict__ y, long long rows,
                                                   int cols, float scale, int window, int strict) {
	__shared__ float sh[32];
	RowGroup<WARP> g;
	if (g.row >= rows) return;
	int i = (int)(g.row % cols);
	x += g.row * cols;
	y += g.row * cols;
	int hi = strict ? i - 1 : i;                       // last kept column
	int lo = window > 0 && i - window + 1 > 0 ? i - window + 1 : 0; // first kept column
	float m = -LAB_INF;
	for (int j = g.lane; j < cols; j += g.size)
		if (j >= lo && j <= hi) m = fmaxf(m, __fmul_rn(scale, x[j]));
	m = g.reduce_max(m, sh);
	if (m == -LAB_INF) {
		for (int j = g.lane; j < cols; j += g.size) y[j] = 0.f;
		return;
	}
	float s = 0.f;
	for (int j = g.lane; j < cols; j += g.size)
		if (j >= lo && j <= hi) s += expf(__fmul_rn(scale, x[j]) - m);
	float inv = 1.f / g.reduce_sum(s, sh);
	for (int j = g.lane; j < cols; j += g.size) y[j] = j >= lo && j <= hi ? expf(__fmul_rn(scale, x[j]) - m) * inv : 0.f;
}

extern "C" __global__ void masked_softmax_warp(const float *x, float *y, long long rows, int cols, float scale, int window, int strict) {
	masked_softmax_row<true>(x, y, rows, cols, scale, window, strict);
}

extern "C" __global__ void masked_softmax_block(const float *x, float *y, long long rows, int cols, float scale, int window, int strict) {
	masked_softmax_row<false>(x, y, rows, cols, scale, window, strict);
}

// softmax_grad_scaled: dx = scale * (y * (dy - sum(dy * y))) per row.
template <bool WARP>
__device__ __forceinline__ void softmax_grad_scaled_row(const float *__restrict__ y, const float *__restrict__ dy,
                                                        float *__restrict__ dx, long long rows, int cols, float scale) {
	__shared__ float sh[32];
	RowGroup<WARP> g;
	if (g.row >= rows) return;
	y += g.row * cols;
	dy += g.row * cols;
	dx += g.row * cols;
	float s = 0.f;
	for (int j = g.lane; j < cols; j += g.size) s += y[j] * dy[j];
	s = g.reduce_sum(s, sh);
	for (int j = g.lane; j < cols; j += g.size) dx[j] = scale * (y[j] * (dy[j] - s));
}

extern "C" __global__ void softmax_grad_scaled_warp(const float *y, const float *dy, float *dx, long long rows, int cols, float scale) {
	softmax_grad_scaled_row<true>(y, dy, dx, rows, cols, scale);
}

extern "C" __global__ void softmax_grad_scaled_block(const float *y, const float *dy, float *dx, long long rows, int cols, float scale) {
	softmax_grad_scaled_row<false>(y, dy, dx, rows, cols, scale);
}

// softmax_grad: dx = y * (dy - sum(dy * y)) per row, y the softmax output:
// the scaled kernel with scale 1 (a product by 1 is exact).
extern "C" __global__ void softmax_grad_warp(const float *y, const float *dy, float *dx, long long rows, int cols) {
	softmax_grad_scaled_row<true>(y, dy, dx, rows, cols, 1.f);
}

extern "C" __global__ void softmax_grad_block(const float *y, const float *dy, float *dx, long long rows, int cols) {
	softmax_grad_scaled_row<false>(y, dy, dx, rows, cols, 1.f);
}

// xent_fused: per row, loss[r] = logsumexp(x[r]) - x[r, t[r]] (as xent_rows)
// and dlogits[r] = d[0] / max(1, cnt[0]) * (softmax(x[r]) - onehot(t[r]))
// (as xent_grad); rows without a target (or with a bad one, reported in err)
// get loss 0 and zeros.
template <bool WARP>
__device__ __forceinline__ void xent_fused_row(const float *__restrict__ x, const int *__restrict__ t,
                                               const float *__restrict__ d, const int *__restrict__ cnt,
                                               float *__restrict__ y, float *__restrict__ loss, long long rows, int V,
                                               int *err) {
	__shared__ float sh[32];
	RowGroup<WARP> g;
	if (g.row >= rows) return;
	int tg = t[g.row];
	x += g.row * V;
	y += g.row * V;
	if (tg == LAB_IGNORE || tg < 0 || tg >= V) {
		for (int j = g.lane; j < V; j += g.size) y[j] = 0.f;
		if (g.lane == 0) {
			loss[g.row] = 0.f;
			if (tg != LAB_IGNORE) report(err, g.row, tg);
		}
		return;
	}
	float m, s;
	g.max_sumexp(x, V, sh, m, s);
	if (g.lane == 0) loss[g.row] = m + logf(s) - x[tg];
	float inv = 1.f / s;
	float scale = d[0] / (float)(cnt[0] > 1 ? cnt[0] : 1);
	for (int j = g.lane; j < V; j += g.size) y[j] = xent_dlogit(x[j], m, inv, j == tg, scale);
}

extern "C" __global__ void xent_fused_warp(const float *x, const int *t, const float *d, const int *cnt, float *y,
                                           float *loss, long long rows, int V, int *err) {
	xent_fused_row<true>(x, t, d, cnt, y, loss, rows, V, err);
}

extern "C" __global__ void xent_fused_block(const float *x, const int *t, const float *d, const int *cnt, float *y,
                                            float *loss, long long rows, int V, int *err) {
	xent_fused_row<false>(x, t, d, cnt, y, loss, rows, V, err);
}
