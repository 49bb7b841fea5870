// shape.cu: the layout and broadcast ops of package kernels that a compiled
// graph needs beside elementwise.cu (CPU twins: the ops of the same names).
// Every kernel is a grid-stride loop over the output; sums run in the CPU's
// order with rounding after each step (__fadd_rn, __fmul_rn: no FMA
// contraction), so most results are bit-identical to the CPU.

// rowvec: y = x + v or x * v with v [c] repeated over the rows.
extern "C" __global__ void rowvec(const float *__restrict__ x, const float *__restrict__ v, float *__restrict__ y,
                                  long long n, int c, int mul) {
	LAB_FOR(i, n) {
		float a = x[i], b = v[i % c];
		y[i] = mul ? a * b : a + b;
	}
}

// mul_col: y[r, :] = x[r, :] * s[r].
extern "C" __global__ void mul_col(const float *__restrict__ x, const float *__restrict__ s, float *__restrict__ y,
                                   long long n, int c) {
	LAB_FOR(i, n) y[i] = x[i] * s[i / c];
}

// bcast_fill: mode 0 y[i] = v[i % c] (bcast_rows), 1 y[i] = v[i / c]
// (bcast_last), 2 y[i] = v[0] (bcast_all).
extern "C" __global__ void bcast_fill(const float *__restrict__ v, float *__restrict__ y, long long n, int c, int mode) {
	LAB_FOR(i, n) y[i] = v[mode == 0 ? i % c : (mode == 1 ? i / c : 0)];
}

// causal_mask over trailing [L, L] matrices: keep (r, c) when c <= r, r-c <
// window (window > 0) and not (strict and r == c); else write fill.
extern "C" __global__ void causal_mask(const float *__restrict__ x, float *__restrict__ y, long long n, int L,
                                       int window, float fill, int strict) {
	LAB_FOR(i, n) {
		int c = (int)(i % L);
		int r = (int)((i / L) % L);
		bool keep = c <= r && (window <= 0 || r - c < window) && !(strict && r == c);
		y[i] = keep ? x[i] : fill;
	}
}

// copy2d: dst[o*dstStride + dstOff + j] = src[o*srcStride + srcOff + j] for
// o < outer, j < w (slice, pad, concat).
extern "C" __global__ void copy2d(const float *__restrict__ src, float *__restrict__ dst, long long outer, long long w,
                                  long long srcStride, long long srcOff, long long dstStride, long long dstOff) {
	LAB_FOR(i, outer * w) {
		long long o = i / w, j = i - o * w;
		dst[o * dstStride + dstOff + j] = src[o * srcStride + srcOff + j];
	}
}

// pad2d: dst [outer, bigRow] gets src [outer, smallRow] at column start of
// each row and zeros elsewhere, every element written once (pad).
extern "C" __global__ void pad2d(const float *__restrict__ src, float *__restrict__ dst, long long outer,
                                 long long bigRow, long long smallRow, long long start) {
	LAB_FOR(i, outer * bigRow) {
		long long o = i / bigRow, j = i - o * bigRow - start;
		dst[i] = j >= 0 && j < smallRow ? src[o * smallRow + j] : 0.f;
	}
}

// transpose_nd: meta holds the output shape (rank values) then, per output
// dim, the input stride; y[i] = x[offset of i].
extern "C" __global__ void transpose_nd(const float *__restrict__ x, float *__restrict__ y, long long n, int rank,
                                        const long long *__restrict__ meta) {
	LAB_FOR(i, n) {
		long long rem = i, off = 0;
		for (int d = rank - 1; d >= 0; d--) {
			long long s = meta[d], q = rem / s;
			off += (rem - q * s) * meta[rank + d];
			rem = q;
		}
		y[i] = x[off];
	}
}

// bcast_binary: y = a op b with broadcasting; meta holds the output shape,
// then a's and b's strides per output dim (0 where broadcast).
extern "C" __global__ void bcast_binary(const float *__restrict__ a, const float *__restrict__ b, float *__restrict__ y,
                                        long long n, int rank, const long long *__restrict__ meta, int op) {
	LAB_FOR(i, n) {
		long long rem = i, oa = 0, ob = 0;
		for (int d = rank - 1; d >= 0; d--) {
			long long s = meta[d], q = rem / s, c = rem - q * s;
			oa += c * meta[rank + d];
			ob += c * meta[2 * rank + d];
			rem = q;
		}
		float u = a[oa], v = b[ob];
		y[i] = op == 0 ? u + v : (op == 1 ? u - v : u * v);
	}
}

// sum_to: the sum of x over the reduced dims, for n outputs. meta: the
// output shape and the input strides (rank each), then the reduced dims'
// sizes and strides (rrank each); the reduced index runs last dim fastest,
// as on the CPU. The reduced range is cut into P chunks of chunk indices:
// thread i = j*n + o sums chunk j of output o in order into part[i]. With
// P = 1, part is the output itself; otherwise sum_parts adds the P chunks
// in order.
extern "C" __global__ void sum_to(const float *__restrict__ x, float *__restrict__ part, long long n, int rank,
                                       int rrank, long long nred, long long chunk, int P,
                                       const long long *__restrict__ meta) {
	const long long *shape = meta, *sx = meta + rank, *rs = meta + 2 * rank, *rstr = meta + 2 * rank + rrank;
	LAB_FOR(i, n * P) {
		long long o = i % n, j = i / n;
		long long rem = o, base = 0;
		for (int d = rank - 1; d >= 0; d--) {
			long long q = rem / shape[d];
			base += (rem - q * shape[d]) * sx[d];
			rem = q;
		}
		long long k0 = j * chunk, k1 = k0 + chunk < nred ? k0 + chunk : nred;
		float s = 0.f;
		for (long long k = k0; k < k1; k++) {
			long long r = k, off = base;
			for (int d = rrank - 1; d >= 0; d--) {
				long long q = r / rs[d];
				off += (r - q * rs[d]) * rstr[d];
				r = q;
			}
			s = __fadd_rn(s, x[off]);
		}
		part[i] = s;
	}
}

// cumsum along an axis of [outer, n, inner]: one thread per (outer, inner)
// walks the axis in order, as the CPU does. Loads go 16 at a time ahead of
// the serial sums, so that a thread keeps 16 in flight (few threads when
// outer*inner is small, each walking a long axis).
#define CUMSUM_AHEAD 16
extern "C" __global__ void cumsum(const float *__restrict__ x, float *__restrict__ y, long long outer, int n,
                                  long long inner, int exclusive, int reverse) {
	LAB_FOR(w, outer * inner) {
		long long i = w / inner, j = w - i * inner;
		long long base = i * n * inner + j;
		float s = 0.f;
		for (int t0 = 0; t0 < n; t0 += CUMSUM_AHEAD) {
			float v[CUMSUM_AHEAD];
#pragma unroll
			for (int u = 0; u < CUMSUM_AHEAD; u++) {
				int t = t0 + u;
				v[u] = t < n ? x[base + (long long)(reverse ? n - 1 - t : t) * inner] : 0.f;
			}
#pragma unroll
			for (int u = 0; u < CUMSUM_AHEAD; u++) {
				int t = t0 + u;
				if (t >= n) break;
				long long p = base + (long long)(reverse ? n - 1 - t : t) * inner;
				if (exclusive) {
					y[p] = s;
					s = __fadd_rn(s, v[u]);
				} else {
					s = __fadd_rn(s, v[u]);
					y[p] = s;
				}
			}
		}
	}
}

// conv_fwd: y[b, t, e] = sum_{j < K, j <= t} w[j, e] * x[b, t-j, e].
extern "C" __global__ void conv_fwd(const float *__restrict__ x, const float *__restrict__ w, float *__restrict__ y,
                                    long long n, int L, int D, int K) {
	LAB_FOR(i, n) {
		long long bt = i / D;
		int e = (int)(i - bt * D), t = (int)(bt % L);
		float s = 0.f;
		for (int j = 0; j < K && j <= t; j++) s = __fadd_rn(s, __fmul_rn(w[j * D + e], x[(bt - j) * D + e]));
		y[i] = s;
	}
}

// conv_grad_x: dx[b, s, e] = sum_{j < K, s+j < L} w[j, e] * dy[b, s+j, e].
extern "C" __global__ void conv_grad_x(const float *__restrict__ dy, const float *__restrict__ w, float *__restrict__ dx,
                                       long long n, int L, int D, int K) {
	LAB_FOR(i, n) {
		long long bs = i / D;
		int e = (int)(i - bs * D), s = (int)(bs % L);
		float a = 0.f;
		for (int j = 0; j < K && s + j < L; j++) a = __fadd_rn(a, __fmul_rn(w[j * D + e], dy[(bs + j) * D + e]));
		dx[i] = a;
	}
}

// unit_lower_inv: T = (I + strictly_lower(A))^-1 for each [c, c] matrix, one
// block per matrix, by forward substitution row by row (the CPU's order).
extern "C" __global__ void unit_lower_inv(const float *__restrict__ a, float *__restrict__ t, int c) {
	const float *A = a + (long long)blockIdx.x * c * c;
	float *T = t + (long long)blockIdx.x * c * c;
	for (int i = 0; i < c; i++) {
		for (int k = threadIdx.x; k < c; k += blockDim.x) {
			float r = k == i ? 1.f : 0.f;
			for (int j = k; j < i; j++) {
				float aij = A[i * c + j];
				if (aij != 0.f) r = __fsub_rn(r, __fmul_rn(aij, T[j * c + k]));
			}
			T[i * c + k] = r;
		}
		__syncthreads();
	}
}
