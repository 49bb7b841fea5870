// norm.cu: layer norm and RMS norm over the last dim of [rows, cols]:
// y = (x - mean) / sqrt(var + eps) * gain + bias (layer norm), or
// y = x / sqrt(mean(x^2) + eps) * gain (rms != 0). gain and bias may be
// null (no affine part). CPU twins: Graph.LayerNorm, Graph.RMSNorm,
// Graph.RMSNormalize. Statistics are two-pass (mean, then squared
// deviations) in float32; the CPU sums in float64. When xh is not null the
// normalized row (before gain and bias) is written there too: fuse_norm.go
// lowers normalize -> mul_rowvec -> add_rowvec to one launch that writes
// the normalize node's value for the backward. Gain and bias round as the
// separate rowvec kernels do (no fused multiply-add).

template <bool WARP>
__device__ __forceinline__ void norm_row(const float *__restrict__ x, const float *__restrict__ gain,
                                         const float *__restrict__ bias, float *__restrict__ y,
                                         long long rows, int cols, float eps, int rms, float *__restrict__ xh) {
	__shared__ float sh[32];
	RowGroup<WARP> g;
	if (g.row >= rows) return;
	x += g.row * cols;
	y += g.row * cols;
	if (xh) xh += g.row * cols;
	float mean, inv;
	g.norm_stats(x, cols, rms, eps, sh, mean, inv);
	for (int j = g.lane; j < cols; j += g.size) {
		float v = (x[j] - mean) * inv;
		if (xh) xh[j] = v;
		if (gain) v = __fmul_rn(v, gain[j]);
		if (bias) v = __fadd_rn(v, bias[j]);
		y[j] = v;
	}
}

extern "C" __global__ void norm_warp(const float *x, const float *gain, const float *bias, float *y,
                                     long long rows, int cols, float eps, int rms, float *xh) {
	norm_row<true>(x, gain, bias, y, rows, cols, eps, rms, xh);
}

extern "C" __global__ void norm_block(const float *x, const float *gain, const float *bias, float *y,
                                      long long rows, int cols, float eps, int rms, float *xh) {
	norm_row<false>(x, gain, bias, y, rows, cols, eps, rms, xh);
}
