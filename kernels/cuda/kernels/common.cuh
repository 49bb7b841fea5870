// common.cuh: helpers shared by lab's kernels. It is prepended to each .cu
// file before NVRTC compiles it (NVRTC is given no include path), so it must
// need no headers.

#define LAB_INF __int_as_float(0x7f800000)
#define LAB_IGNORE (-100) // kernels.Ignore: a position without a target

// Grid-stride loop over [0, n) with 64-bit indices.
#define LAB_FOR(i, n) \
	for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
	     i += (long long)gridDim.x * blockDim.x)

__device__ __forceinline__ float4 f4(float a, float b, float c, float d) {
	float4 r;
	r.x = a;
	r.y = b;
	r.z = c;
	r.w = d;
	return r;
}

__device__ __forceinline__ uint2 u2(unsigned int a, unsigned int b) {
	uint2 r;
	r.x = a;
	r.y = b;
	return r;
}

__device__ __forceinline__ float warp_sum(float v) {
	for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

__device__ __forceinline__ float warp_max(float v) {
	for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
	return v;
}

// block_sum and block_max reduce over the whole block (blockDim.x a multiple
// of 32) and give every thread the result. sh holds 32 floats. The first
// barrier keeps a previous call's readers ahead of this call's writers.
__device__ __forceinline__ float block_sum(float v, float *sh) {
	v = warp_sum(v);
	__syncthreads();
	if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = v;
	__syncthreads();
	v = (threadIdx.x & 31) < (blockDim.x >> 5) ? sh[threadIdx.x & 31] : 0.f;
	return warp_sum(v);
}

__device__ __forceinline__ float block_max(float v, float *sh) {
	v = warp_max(v);
	__syncthreads();
	if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = v;
	__syncthreads();
	v = (threadIdx.x & 31) < (blockDim.x >> 5) ? sh[threadIdx.x & 31] : -LAB_INF;
	return warp_max(v);
}

// A row group: the threads that share one row. WARP: one warp per row,
// blockDim.x/32 rows per block; otherwise the whole block takes one row.
template <bool WARP>
struct RowGroup {
	long long row;
	int lane, size;
	__device__ __forceinline__ RowGroup() {
		if (WARP) {
			row = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
			lane = threadIdx.x & 31;
			size = 32;
		} else {
			row = blockIdx.x;
			lane = threadIdx.x;
			size = blockDim.x;
		}
	}
	__device__ __forceinline__ float reduce_sum(float v, float *sh) const { return WARP ? warp_sum(v) : block_sum(v, sh); }
	__device__ __forceinline__ float reduce_max(float v, float *sh) const { return WARP ? warp_max(v) : block_max(v, sh); }

	// max_sumexp gives every lane m = max of x[0, n) and s = sum of
	// expf(x[j] - m): the logsumexp m + log(s) of a row of logits.
	__device__ __forceinline__ void max_sumexp(const float *x, int n, float *sh, float &m, float &s) const {
		m = -LAB_INF;
		for (int j = lane; j < n; j += size) m = fmaxf(m, x[j]);
		m = reduce_max(m, sh);
		s = 0.f;
		for (int j = lane; j < n; j += size) s += expf(x[j] - m);
		s = reduce_sum(s, sh);
	}

	// norm_stats gives every lane the mean of x[0, n) (0 with rms) and
	// inv = 1 / sqrt(mean((x - mean)^2) + eps), two-pass in float32.
	__device__ __forceinline__ void norm_stats(const float *x, int n, int rms, float eps, float *sh, float &mean,
	                                           float &inv) const {
		mean = 0.f;
		if (!rms) {
			float s = 0.f;
			for (int j = lane; j < n; j += size) s += x[j];
			mean = reduce_sum(s, sh) / n;
		}
		float ss = 0.f;
		for (int j = lane; j < n; j += size) {
			float d = x[j] - mean;
			ss += d * d;
		}
		inv = 1.f / sqrtf(reduce_sum(ss, sh) / n + eps);
	}
};

// xent_dlogit is one element of the cross-entropy gradient scale ·
// (softmax(x) - onehot(t)), from the row's max m and 1 / sum of exps.
__device__ __forceinline__ float xent_dlogit(float x, float m, float inv, bool target, float scale) {
	float p = expf(x - m) * inv;
	if (target) p -= 1.f;
	return p * scale;
}

// report records the first bad index seen: err[0] = position+1, err[1] = value.
__device__ __forceinline__ void report(int *err, long long pos, int value) {
	if (err && atomicCAS(err, 0, (int)(pos + 1)) == 0) err[1] = value;
}

// bf16_bits rounds f to bfloat16 (nearest, ties to even; NaN stays NaN) and
// returns its 16 bits: the top half of a float32.
__device__ __forceinline__ unsigned int bf16_bits(float f) {
	unsigned int u = __float_as_uint(f);
	if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;
	return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

// ------------------------------------------- attention and tensor cores --

// Query i sees key j when j <= i and, with W > 0, i - j < W (attention*.cu).
__device__ __forceinline__ bool attn_seen(int i, int j, int L, int W) {
	return j <= i && i < L && (W <= 0 || i - j < W);
}

__device__ __forceinline__ float2 attn_f2(float a, float b) {
	float2 r;
	r.x = a;
	r.y = b;
	return r;
}

__device__ __forceinline__ unsigned tf32(float x) {
	unsigned r;
	asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
	return r;
}

// c += a (16x8, row) * b (8x8, col), TF32 inputs, float32 accumulation.
// Fragments (g = lane/4, t = lane%4): a0 (g, t), a1 (g+8, t), a2 (g, t+4),
// a3 (g+8, t+4); b0 (k=t, n=g), b1 (k=t+4, n=g); c0 (g, 2t), c1 (g, 2t+1),
// c2 (g+8, 2t), c3 (g+8, 2t+1).
__device__ __forceinline__ void mma8(float *c, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0,
                                     unsigned b1) {
	asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
	             "{%0,%1,%2,%3};"
	             : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
	             : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}
