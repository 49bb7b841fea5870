// scan.cu: the exclusive decayed scan of RWKV-4's WKV (kernels.DecayScan,
// op decay_scan, and its time reverse decay_scan_reverse). For x [N, L, dv]
// and log-decays lg [N, L, H] (H = 1: one per step; else column j decays
// with lg[n, t, j / (dv/H)]), per sequence n and column j:
//
//	forward: y_0 = 0,     y_{t+1} = expf(lg_t)·y_t + x_t
//	reverse: y_{L-1} = 0, y_{t-1} = expf(lg_t)·y_t + x_t
//
// One thread per (n, j), consecutive threads on consecutive j then n,
// walking the L steps with the state in a register. The loads of x and lg
// do not depend on the state, so each group of SCAN_UNROLL steps loads
// first and then runs its recurrence: the loads are in flight together
// instead of one memory latency per step. Plain fp32 with expf, the CPU
// kernel's order; FMA contraction is the only rounding difference.
#define SCAN_UNROLL 16

extern "C" __global__ void decay_scan(float *__restrict__ y, const float *__restrict__ x,
                                      const float *__restrict__ lg, int nn, int L, int dv, int H, int reverse) {
	const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= (long long)nn * dv) return;
	const long long n = i / dv;
	const int j = (int)(i % dv);
	const float *xn = x + n * L * dv + j;
	float *yn = y + n * L * dv + j;
	const float *gn = lg + n * L * H + j / (dv / H);
	const int step = reverse ? -1 : 1;
	int t = reverse ? L - 1 : 0;
	float h = 0.f;
	for (int s = 0; s < L; s += SCAN_UNROLL, t += SCAN_UNROLL * step) {
		const int m = min(SCAN_UNROLL, L - s);
		float xs[SCAN_UNROLL], as[SCAN_UNROLL];
#pragma unroll
		for (int u = 0; u < SCAN_UNROLL; u++) {
			if (u < m) {
				const int tt = t + u * step;
				xs[u] = __ldg(xn + (long long)tt * dv);
				as[u] = __ldg(gn + (long long)tt * H);
			}
		}
#pragma unroll
		for (int u = 0; u < SCAN_UNROLL; u++) {
			if (u < m) {
				yn[(long long)(t + u * step) * dv] = h;
				h = expf(as[u]) * h + xs[u];
			}
		}
	}
}
