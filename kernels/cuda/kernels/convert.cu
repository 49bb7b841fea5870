// convert.cu: float32 to bfloat16 for the GEMMs of Precision BF16 (gemm.go).
// Round to nearest, ties to even, as __float2bfloat16_rn does; a NaN stays
// a (quiet) NaN, infinities stay infinite, values past bf16's largest
// finite round to infinity. Written without cuda_bf16.h (NVRTC is given no
// include path): the bf16 bits are the top half of the float32 bits.

// bf16_bits is in common.cuh.

extern "C" __global__ void f32_to_bf16(const float *__restrict__ x, unsigned short *__restrict__ y, long long n) {
	LAB_FOR(i, n) y[i] = (unsigned short)bf16_bits(x[i]);
}

// f32_to_bf16_4: four at a time (x 16-byte and y 8-byte aligned, n4 = n/4).
extern "C" __global__ void f32_to_bf16_4(const float4 *__restrict__ x, uint2 *__restrict__ y, long long n4) {
	LAB_FOR(i, n4) {
		float4 v = x[i];
		y[i] = u2(bf16_bits(v.x) | (bf16_bits(v.y) << 16), bf16_bits(v.z) | (bf16_bits(v.w) << 16));
	}
}
