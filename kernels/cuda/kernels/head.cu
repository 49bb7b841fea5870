// head.cu: the row kernel of the fused LM head (kernels.LinearCrossEntropy,
// lowered in head.go). The GEMMs are cuBLAS; these kernels work on one
// chunk of rows of logits that the forward GEMM has just written (read from
// L2 when the chunk fits there; see NOTES.md for the chunk sizes measured).
//
// lmhead_xent: per row r of the chunk, loss[r] = logsumexp(x[r]) - x[r, t[r]]
// (as xent_rows); when grad != 0 it also overwrites the row, in place, with
// dlogits = d[0] / max(1, cnt[0]) * (softmax(x[r]) - onehot(t[r])) (as
// xent_grad). Rows without a target (or with a bad one, reported in err)
// get loss 0 and, with grad, zeros. Every thread reads x[t] before any
// thread of the row writes, so working in place is safe; x is therefore not
// __restrict__. When xh is not null (Precision BF16) dlogits go there as
// bfloat16, same layout, for the two gradient GEMMs, and x is left as is.
template <bool WARP>
__device__ __forceinline__ void lmhead_xent_row(float *x, const int *__restrict__ t, const float *__restrict__ d,
                                                const int *__restrict__ cnt, float *__restrict__ loss, long long rows,
                                                int V, int grad, int *err, unsigned short *xh) {
	__shared__ float sh[32];
	RowGroup<WARP> g;
	if (g.row >= rows) return;
	int tg = t[g.row];
	x += g.row * V;
	if (xh) xh += g.row * V;
	if (tg == LAB_IGNORE || tg < 0 || tg >= V) {
		if (grad)
			for (int j = g.lane; j < V; j += g.size) {
				if (xh)
					xh[j] = 0;
				else
					x[j] = 0.f;
			}
		if (g.lane == 0) {
			loss[g.row] = 0.f;
			if (tg != LAB_IGNORE) report(err, g.row, tg);
		}
		return;
	}
	float xt = x[tg];
	float m, s;
	g.max_sumexp(x, V, sh, m, s);
	if (g.lane == 0) loss[g.row] = m + logf(s) - xt;
	if (!grad) return;
	float inv = 1.f / s;
	float scale = d[0] / (float)(cnt[0] > 1 ? cnt[0] : 1);
	for (int j = g.lane; j < V; j += g.size) {
		float p = xent_dlogit(x[j], m, inv, j == tg, scale);
		if (xh)
			xh[j] = (unsigned short)bf16_bits(p);
		else
			x[j] = p;
	}
}

extern "C" __global__ void lmhead_xent_warp(float *x, const int *t, const float *d, const int *cnt, float *loss,
                                            long long rows, int V, int grad, int *err, unsigned short *xh) {
	lmhead_xent_row<true>(x, t, d, cnt, loss, rows, V, grad, err, xh);
}

extern "C" __global__ void lmhead_xent_block(float *x, const int *t, const float *d, const int *cnt, float *loss,
                                             long long rows, int V, int grad, int *err, unsigned short *xh) {
	lmhead_xent_row<false>(x, t, d, cnt, loss, rows, V, grad, err, xh);
}

// lmhead_xent_vec: lmhead_xent with the row held in registers: one block per
// row, thread i owning groups of 4 logits i, i + blockDim.x, ... (LMHEAD_VEC
// of them), so the row is read once and, with grad, written once (the
// three-pass kernel reads it three times). Needs V % 4 == 0 (rows 16-byte
// aligned) and V <= 4 * LMHEAD_VEC * blockDim.x. xh as in lmhead_xent.
// lmhead_xent_vec_bf16 is the same on bfloat16 logits (Precision BF16: the
// forward GEMM writes them so), dlogits written in place as bfloat16.
#define LMHEAD_VEC 8

__device__ __forceinline__ float bf16_value(unsigned int h) { return __uint_as_float(h << 16); }

// Row4 reads and writes a row four logits at a time, as float32 (H false)
// or bfloat16 (H true).
template <bool H>
struct Row4 {
	void *x;
	__device__ __forceinline__ float4 load(int j) const {
		if (H) {
			uint2 u = ((const uint2 *)x)[j];
			return f4(bf16_value(u.x & 0xffffu), bf16_value(u.x >> 16), bf16_value(u.y & 0xffffu), bf16_value(u.y >> 16));
		}
		return ((const float4 *)x)[j];
	}
	__device__ __forceinline__ float at(int c) const {
		return H ? bf16_value(((const unsigned short *)x)[c]) : ((const float *)x)[c];
	}
	__device__ __forceinline__ void store(int j, float4 p) const {
		if (H)
			((uint2 *)x)[j] = u2(bf16_bits(p.x) | (bf16_bits(p.y) << 16), bf16_bits(p.z) | (bf16_bits(p.w) << 16));
		else
			((float4 *)x)[j] = p;
	}
};

template <bool H>
__device__ __forceinline__ void lmhead_vec_row(void *xv, const int *__restrict__ t, const float *__restrict__ d,
                                               const int *__restrict__ cnt, float *__restrict__ loss, long long rows,
                                               int V, int grad, int *err, unsigned short *xh) {
	__shared__ float sh[32];
	long long row = blockIdx.x;
	if (row >= rows) return;
	int tg = t[row];
	Row4<H> x{(char *)xv + row * V * (H ? 2 : 4)};
	Row4<true> out{xh ? (void *)(xh + row * V) : x.x}; // where bfloat16 dlogits go, if anywhere
	bool half = H || xh;
	int V4 = V >> 2;
	if (tg == LAB_IGNORE || tg < 0 || tg >= V) {
		if (grad)
			for (int j = threadIdx.x; j < V4; j += blockDim.x) {
				if (half)
					out.store(j, f4(0.f, 0.f, 0.f, 0.f));
				else
					x.store(j, f4(0.f, 0.f, 0.f, 0.f));
			}
		if (threadIdx.x == 0) {
			loss[row] = 0.f;
			if (tg != LAB_IGNORE) report(err, row, tg);
		}
		return;
	}
	float4 v[LMHEAD_VEC];
	float m = -LAB_INF;
#pragma unroll
	for (int i = 0; i < LMHEAD_VEC; i++) {
		int j = threadIdx.x + i * blockDim.x;
		v[i] = j < V4 ? x.load(j) : f4(-LAB_INF, -LAB_INF, -LAB_INF, -LAB_INF);
		m = fmaxf(m, fmaxf(fmaxf(v[i].x, v[i].y), fmaxf(v[i].z, v[i].w)));
	}
	float xt = x.at(tg); // every thread reads it before the barriers in block_max; writes come after
	m = block_max(m, sh);
	float s = 0.f;
#pragma unroll
	for (int i = 0; i < LMHEAD_VEC; i++) s += expf(v[i].x - m) + expf(v[i].y - m) + expf(v[i].z - m) + expf(v[i].w - m);
	s = block_sum(s, sh);
	if (threadIdx.x == 0) loss[row] = m + logf(s) - xt;
	if (!grad) return;
	float inv = 1.f / s;
	float scale = d[0] / (float)(cnt[0] > 1 ? cnt[0] : 1);
#pragma unroll
	for (int i = 0; i < LMHEAD_VEC; i++) {
		int j = threadIdx.x + i * blockDim.x;
		if (j < V4) {
			int c = 4 * j;
			float4 p = f4(expf(v[i].x - m) * inv, expf(v[i].y - m) * inv, expf(v[i].z - m) * inv, expf(v[i].w - m) * inv);
			if (c == tg) p.x -= 1.f;
			if (c + 1 == tg) p.y -= 1.f;
			if (c + 2 == tg) p.z -= 1.f;
			if (c + 3 == tg) p.w -= 1.f;
			p = f4(p.x * scale, p.y * scale, p.z * scale, p.w * scale);
			if (half)
				out.store(j, p);
			else
				x.store(j, p);
		}
	}
}

extern "C" __global__ void lmhead_xent_vec(float *x, const int *__restrict__ t, const float *__restrict__ d,
                                           const int *__restrict__ cnt, float *__restrict__ loss, long long rows, int V,
                                           int grad, int *err, unsigned short *xh) {
	lmhead_vec_row<false>(x, t, d, cnt, loss, rows, V, grad, err, xh);
}

extern "C" __global__ void lmhead_xent_vec_bf16(unsigned short *x, const int *__restrict__ t,
                                                const float *__restrict__ d, const int *__restrict__ cnt,
                                                float *__restrict__ loss, long long rows, int V, int grad, int *err,
                                                unsigned short *xh) {
	lmhead_vec_row<true>(x, t, d, cnt, loss, rows, V, grad, err, xh);
}
