// elementwise.cu: y = a op b, y = scale*x + shift. CPU twins: kernels'
// Add, Sub, Mul (op 0, 1, 2), Scale and AddScalar. The *4 variants take
// float4 views; the caller uses them when n % 4 == 0 and the buffers are
// 16-byte aligned.

__device__ __forceinline__ float binop(float a, float b, int op) {
	return op == 0 ? a + b : (op == 1 ? a - b : a * b);
}

extern "C" __global__ void ew_binary(const float *__restrict__ a, const float *__restrict__ b,
                                     float *__restrict__ y, long long n, int op) {
	LAB_FOR(i, n) y[i] = binop(a[i], b[i], op);
}

extern "C" __global__ void ew_binary4(const float4 *__restrict__ a, const float4 *__restrict__ b,
                                      float4 *__restrict__ y, long long n4, int op) {
	LAB_FOR(i, n4) {
		float4 u = a[i], v = b[i];
		y[i] = f4(binop(u.x, v.x, op), binop(u.y, v.y, op), binop(u.z, v.z, op), binop(u.w, v.w, op));
	}
}

extern "C" __global__ void ew_affine(const float *__restrict__ x, float *__restrict__ y, long long n,
                                     float scale, float shift) {
	LAB_FOR(i, n) y[i] = scale * x[i] + shift;
}

extern "C" __global__ void ew_affine4(const float4 *__restrict__ x, float4 *__restrict__ y, long long n4,
                                      float scale, float shift) {
	LAB_FOR(i, n4) {
		float4 u = x[i];
		y[i] = f4(scale * u.x + shift, scale * u.y + shift, scale * u.z + shift, scale * u.w + shift);
	}
}

// add_n: y = ((a0 + a1) + a2) + ... over k <= 8 inputs, each sum rounded
// as the chain of add kernels it replaces rounds it (fuse_add.go): the
// gradient sums that autodiff builds one add at a time.
extern "C" __global__ void add_n(float *__restrict__ y, long long n, int k, const float *__restrict__ a0,
                                 const float *__restrict__ a1, const float *__restrict__ a2,
                                 const float *__restrict__ a3, const float *__restrict__ a4,
                                 const float *__restrict__ a5, const float *__restrict__ a6,
                                 const float *__restrict__ a7) {
	const float *a[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
	LAB_FOR(i, n) {
		float s = __fadd_rn(a0[i], a1[i]);
#pragma unroll
		for (int j = 2; j < 8; j++)
			if (j < k) s = __fadd_rn(s, a[j][i]);
		y[i] = s;
	}
}

// add_rowvec_mul: y = x + d * v with v [c] repeated over the rows: the add
// of a mul_rowvec (fuse_add.go), rounded as the two kernels round it.
extern "C" __global__ void add_rowvec_mul(const float *__restrict__ x, const float *__restrict__ d,
                                          const float *__restrict__ v, float *__restrict__ y, long long n, int c) {
	LAB_FOR(i, n) y[i] = __fadd_rn(x[i], __fmul_rn(d[i], v[i % c]));
}
