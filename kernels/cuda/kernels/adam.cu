// adam.cu: AdamW on the device, the twin of kernels.Optimizer. The
// parameters are cut into chunks; a table holds per chunk five 64-bit
// words: the addresses of the chunk's first weight, gradient, first and
// second moment, then n | decay << 32. hyper (float64) holds: [0] the
// gradient norm, [1] the learning rate, [2] the clip scale, [3] and [4] the
// bias corrections, [5] the step count, [6] 1 - lr*weight_decay. The update
// rounds after every operation in the CPU's order (no FMA contraction), so
// given the same gradients it gives the CPU's weights bit for bit.

// adam_sumsq: partial[c] = the sum of the squared gradients of chunk c, in
// float64 (as the CPU).
extern "C" __global__ void adam_sumsq(const unsigned long long *__restrict__ tab, double *__restrict__ partial) {
	__shared__ double sh[256];
	const unsigned long long *e = tab + 5 * blockIdx.x;
	const float *g = (const float *)e[1];
	int n = (int)(e[4] & 0xffffffffull);
	double s = 0.0;
	for (int i = threadIdx.x; i < n; i += blockDim.x) {
		double v = g[i];
		s += v * v;
	}
	sh[threadIdx.x] = s;
	__syncthreads();
	for (int w = blockDim.x / 2; w > 0; w >>= 1) {
		if (threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
		__syncthreads();
	}
	if (threadIdx.x == 0) partial[blockIdx.x] = sh[0];
}

// lr_at is kernels.AdamW.LRAt: linear warmup, then cosine decay to
// lr*min_ratio at steps. Products and sums are rounded one at a time, as
// Go computes them.
__device__ double lr_at(long long step, double lr, long long warmup, long long steps, double min_ratio) {
	if (warmup > 0 && step < warmup) return __ddiv_rn(__dmul_rn(lr, (double)(step + 1)), (double)warmup);
	long long span = steps - warmup;
	if (span <= 0) return lr;
	double p = fmin(1.0, __ddiv_rn((double)(step - warmup), (double)span));
	double lo = __dmul_rn(lr, min_ratio);
	double c = __dadd_rn(1.0, cos(__dmul_rn(3.141592653589793, p)));
	return __dadd_rn(lo, __dmul_rn(__dmul_rn(0.5, __dsub_rn(lr, lo)), c));
}

// adam_prep: one block of 256. Sums the partials in a fixed order, then
// fills hyper for this step and advances the step count.
extern "C" __global__ void adam_prep(const double *__restrict__ partial, int chunks, double *__restrict__ hyper,
                                     double lr, long long warmup, long long steps, double min_ratio, double beta1,
                                     double beta2, double clip, double wd) {
	__shared__ double sh[256];
	double s = 0.0;
	for (int i = threadIdx.x; i < chunks; i += blockDim.x) s += partial[i];
	sh[threadIdx.x] = s;
	__syncthreads();
	for (int w = blockDim.x / 2; w > 0; w >>= 1) {
		if (threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
		__syncthreads();
	}
	if (threadIdx.x != 0) return;
	double norm = sqrt(sh[0]);
	double scale = 1.0;
	if (clip > 0 && norm > clip) scale = __ddiv_rn(clip, norm);
	long long step = (long long)hyper[5];
	double rate = lr_at(step, lr, warmup, steps, min_ratio);
	step++;
	hyper[0] = norm;
	hyper[1] = rate;
	hyper[2] = scale;
	hyper[3] = __dsub_rn(1.0, pow(beta1, (double)step));
	hyper[4] = __dsub_rn(1.0, pow(beta2, (double)step));
	hyper[5] = (double)step;
	hyper[6] = __dsub_rn(1.0, __dmul_rn(rate, wd));
}

// adam_one updates one weight and its moments, rounding after every
// operation in the CPU's order.
__device__ __forceinline__ void adam_one(float g, float &m, float &v, float &w, float sc, float b1, float b2, float ob1,
                                         float ob2, float c1, float c2, float lr, float wd, float eps) {
	float gj = __fmul_rn(g, sc);
	m = __fadd_rn(__fmul_rn(b1, m), __fmul_rn(ob1, gj));
	v = __fadd_rn(__fmul_rn(b2, v), __fmul_rn(__fmul_rn(ob2, gj), gj));
	float mh = __fdiv_rn(m, c1), vh = __fdiv_rn(v, c2);
	w = __fsub_rn(__fmul_rn(w, wd), __fdiv_rn(__fmul_rn(lr, mh), __fadd_rn(__fsqrt_rn(vh), eps)));
}

// adam_update: one block per chunk. Where the chunk's four arrays are all
// 16-byte aligned, the elements go four at a time (float4 loads and
// stores; the same arithmetic per element), the tail one at a time.
extern "C" __global__ void adam_update(const unsigned long long *__restrict__ tab, const double *__restrict__ hyper,
                                       float b1, float b2, float eps) {
	const unsigned long long *e = tab + 5 * blockIdx.x;
	float *w = (float *)e[0];
	const float *g = (const float *)e[1];
	float *m = (float *)e[2], *v = (float *)e[3];
	int n = (int)(e[4] & 0xffffffffull);
	bool decay = (e[4] >> 32) != 0;
	float lr = (float)hyper[1], sc = (float)hyper[2], c1 = (float)hyper[3], c2 = (float)hyper[4];
	float wd = decay ? (float)hyper[6] : 1.f;
	float ob1 = __fsub_rn(1.f, b1), ob2 = __fsub_rn(1.f, b2);
	int n4 = ((e[0] | e[1] | e[2] | e[3]) & 15) == 0 ? n / 4 : 0;
	for (int i = threadIdx.x; i < n4; i += blockDim.x) {
		float4 G = ((const float4 *)g)[i], M = ((float4 *)m)[i], V = ((float4 *)v)[i], W = ((float4 *)w)[i];
		adam_one(G.x, M.x, V.x, W.x, sc, b1, b2, ob1, ob2, c1, c2, lr, wd, eps);
		adam_one(G.y, M.y, V.y, W.y, sc, b1, b2, ob1, ob2, c1, c2, lr, wd, eps);
		adam_one(G.z, M.z, V.z, W.z, sc, b1, b2, ob1, ob2, c1, c2, lr, wd, eps);
		adam_one(G.w, M.w, V.w, W.w, sc, b1, b2, ob1, ob2, c1, c2, lr, wd, eps);
		((float4 *)m)[i] = M;
		((float4 *)v)[i] = V;
		((float4 *)w)[i] = W;
	}
	for (int i = 4 * n4 + threadIdx.x; i < n; i += blockDim.x) {
		float mj = m[i], vj = v[i], wj = w[i];
		adam_one(g[i], mj, vj, wj, sc, b1, b2, ob1, ob2, c1, c2, lr, wd, eps);
		m[i] = mj;
		v[i] = vj;
		w[i] = wj;
	}
}
