// dropout.cu: y = x·mask/(1-p), the mask a hash of the key and the element's
// index. CPU twin: kernels' Dropout (kernels/dropout.go); the hash, the
// threshold and the one float multiply are the same there, so both backends
// draw the same mask and produce the same bits. The key is read from device
// memory (an integer input the trainer sets every step), so a captured CUDA
// graph replays with the new key.

__device__ __forceinline__ unsigned int dropout_hash(unsigned int key, unsigned int i) {
	unsigned int h = key ^ (i * 0x9E3779B9u);
	h ^= h >> 16;
	h *= 0x85EBCA6Bu;
	h ^= h >> 13;
	h *= 0xC2B2AE35u;
	h ^= h >> 16;
	return h;
}

extern "C" __global__ void dropout_fwd(const float *__restrict__ x, const int *__restrict__ key,
                                       float *__restrict__ y, long long n, unsigned int thr, float scale) {
	unsigned int k = (unsigned int)key[0];
	LAB_FOR(i, n) y[i] = dropout_hash(k, (unsigned int)i) < thr ? 0.0f : __fmul_rn(x[i], scale);
}
