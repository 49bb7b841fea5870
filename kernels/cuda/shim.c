// shim.c: trampolines from Go into CUDA libraries opened with dlopen. Each
// function casts the entry point found by dlsym to its documented signature
// and calls it; nothing here links against CUDA.
#include <dlfcn.h>
#include "shim.h"

void *lab_dlopen(const char *path, int global) {
	return dlopen(path, RTLD_NOW | (global ? RTLD_GLOBAL : RTLD_LOCAL));
}
void *lab_dlsym(void *handle, const char *name) { return dlsym(handle, name); }
const char *lab_dlerror(void) { return dlerror(); }

// ---- driver ----

CUresult lab_cuInit(void *fn, unsigned flags) { return ((CUresult(*)(unsigned))fn)(flags); }
CUresult lab_cuIntOut(void *fn, int *out) { return ((CUresult(*)(int *))fn)(out); }
CUresult lab_cuDeviceGet(void *fn, CUdevice *d, int ordinal) {
	return ((CUresult(*)(CUdevice *, int))fn)(d, ordinal);
}
CUresult lab_cuDeviceGetName(void *fn, char *name, int len, CUdevice d) {
	return ((CUresult(*)(char *, int, CUdevice))fn)(name, len, d);
}
CUresult lab_cuDeviceTotalMem(void *fn, size_t *bytes, CUdevice d) {
	return ((CUresult(*)(size_t *, CUdevice))fn)(bytes, d);
}
CUresult lab_cuDeviceGetAttribute(void *fn, int *v, int attr, CUdevice d) {
	return ((CUresult(*)(int *, int, CUdevice))fn)(v, attr, d);
}
CUresult lab_cuPrimaryCtxRetain(void *fn, CUcontext *ctx, CUdevice d) {
	return ((CUresult(*)(CUcontext *, CUdevice))fn)(ctx, d);
}
CUresult lab_cuDeviceArg(void *fn, CUdevice d) { return ((CUresult(*)(CUdevice))fn)(d); }
CUresult lab_cuHandleArg(void *fn, void *h) { return ((CUresult(*)(void *))fn)(h); }
CUresult lab_cuVoid(void *fn) { return ((CUresult(*)(void))fn)(); }
CUresult lab_cuErrorString(void *fn, CUresult r, const char **s) {
	return ((CUresult(*)(CUresult, const char **))fn)(r, s);
}
CUresult lab_cuMemGetInfo(void *fn, size_t *free_, size_t *total) {
	return ((CUresult(*)(size_t *, size_t *))fn)(free_, total);
}
CUresult lab_cuMemAlloc(void *fn, CUdeviceptr *p, size_t bytes) {
	return ((CUresult(*)(CUdeviceptr *, size_t))fn)(p, bytes);
}
CUresult lab_cuMemFree(void *fn, CUdeviceptr p) { return ((CUresult(*)(CUdeviceptr))fn)(p); }
CUresult lab_cuMemcpyHtoD(void *fn, CUdeviceptr dst, const void *src, size_t bytes) {
	return ((CUresult(*)(CUdeviceptr, const void *, size_t))fn)(dst, src, bytes);
}
CUresult lab_cuMemcpyDtoH(void *fn, void *dst, CUdeviceptr src, size_t bytes) {
	return ((CUresult(*)(void *, CUdeviceptr, size_t))fn)(dst, src, bytes);
}
CUresult lab_cuMemcpyDtoDAsync(void *fn, CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream s) {
	return ((CUresult(*)(CUdeviceptr, CUdeviceptr, size_t, CUstream))fn)(dst, src, bytes, s);
}
CUresult lab_cuMemcpyHtoDAsync(void *fn, CUdeviceptr dst, const void *src, size_t bytes, CUstream s) {
	return ((CUresult(*)(CUdeviceptr, const void *, size_t, CUstream))fn)(dst, src, bytes, s);
}
CUresult lab_cuMemcpyDtoHAsync(void *fn, void *dst, CUdeviceptr src, size_t bytes, CUstream s) {
	return ((CUresult(*)(void *, CUdeviceptr, size_t, CUstream))fn)(dst, src, bytes, s);
}
CUresult lab_cuMemsetD32Async(void *fn, CUdeviceptr dst, unsigned v, size_t n, CUstream s) {
	return ((CUresult(*)(CUdeviceptr, unsigned, size_t, CUstream))fn)(dst, v, n, s);
}
CUresult lab_cuStreamCreate(void *fn, CUstream *s, unsigned flags) {
	return ((CUresult(*)(CUstream *, unsigned))fn)(s, flags);
}
CUresult lab_cuModuleLoadData(void *fn, CUmodule *m, const void *image) {
	return ((CUresult(*)(CUmodule *, const void *))fn)(m, image);
}
CUresult lab_cuModuleGetFunction(void *fn, CUfunction *f, CUmodule m, const char *name) {
	return ((CUresult(*)(CUfunction *, CUmodule, const char *))fn)(f, m, name);
}
CUresult lab_cuFuncGetAttribute(void *fn, int *v, int attr, CUfunction f) {
	return ((CUresult(*)(int *, int, CUfunction))fn)(v, attr, f);
}

#define LAB_MAX_ARGS 32

CUresult lab_cuLaunchKernel(void *fn, CUfunction f, unsigned gx, unsigned gy, unsigned gz,
                            unsigned bx, unsigned by, unsigned bz, unsigned shared, CUstream s,
                            void *argbuf, const int *offsets, int nargs) {
	void *params[LAB_MAX_ARGS];
	if (nargs > LAB_MAX_ARGS) {
		return 1; // CUDA_ERROR_INVALID_VALUE; Go checks the count first
	}
	for (int i = 0; i < nargs; i++) {
		params[i] = (char *)argbuf + offsets[i];
	}
	typedef CUresult (*launch_t)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
	                             unsigned, unsigned, CUstream, void **, void **);
	return ((launch_t)fn)(f, gx, gy, gz, bx, by, bz, shared, s, params, 0);
}

CUresult lab_cuEventCreate(void *fn, CUevent *e, unsigned flags) {
	return ((CUresult(*)(CUevent *, unsigned))fn)(e, flags);
}
CUresult lab_cuTwoHandles(void *fn, void *a, void *b) { return ((CUresult(*)(void *, void *))fn)(a, b); }
CUresult lab_cuEventElapsedTime(void *fn, float *ms, CUevent a, CUevent b) {
	return ((CUresult(*)(float *, CUevent, CUevent))fn)(ms, a, b);
}
CUresult lab_cuStreamBeginCapture(void *fn, CUstream s, int mode) {
	return ((CUresult(*)(CUstream, int))fn)(s, mode);
}
CUresult lab_cuStreamEndCapture(void *fn, CUstream s, CUgraph *g) {
	return ((CUresult(*)(CUstream, CUgraph *))fn)(s, g);
}
CUresult lab_cuGraphInstantiate(void *fn, CUgraphExec *e, CUgraph g, unsigned long long flags) {
	return ((CUresult(*)(CUgraphExec *, CUgraph, unsigned long long))fn)(e, g, flags);
}

// ---- NVRTC ----

nvrtcResult lab_nvrtcVersion(void *fn, int *major, int *minor) {
	return ((nvrtcResult(*)(int *, int *))fn)(major, minor);
}
const char *lab_nvrtcGetErrorString(void *fn, nvrtcResult r) {
	return ((const char *(*)(nvrtcResult))fn)(r);
}
nvrtcResult lab_nvrtcGetNumSupportedArchs(void *fn, int *n) { return ((nvrtcResult(*)(int *))fn)(n); }
nvrtcResult lab_nvrtcGetSupportedArchs(void *fn, int *archs) { return ((nvrtcResult(*)(int *))fn)(archs); }
nvrtcResult lab_nvrtcCreateProgram(void *fn, nvrtcProgram *p, const char *src, const char *name) {
	typedef nvrtcResult (*create_t)(nvrtcProgram *, const char *, const char *, int, const char *const *,
	                                const char *const *);
	return ((create_t)fn)(p, src, name, 0, 0, 0);
}
nvrtcResult lab_nvrtcCompileProgram(void *fn, nvrtcProgram p, int n, char **opts) {
	return ((nvrtcResult(*)(nvrtcProgram, int, const char *const *))fn)(p, n, (const char *const *)opts);
}
nvrtcResult lab_nvrtcGetSize(void *fn, nvrtcProgram p, size_t *n) {
	return ((nvrtcResult(*)(nvrtcProgram, size_t *))fn)(p, n);
}
nvrtcResult lab_nvrtcGetBytes(void *fn, nvrtcProgram p, char *out) {
	return ((nvrtcResult(*)(nvrtcProgram, char *))fn)(p, out);
}
nvrtcResult lab_nvrtcDestroyProgram(void *fn, nvrtcProgram *p) {
	return ((nvrtcResult(*)(nvrtcProgram *))fn)(p);
}

// ---- cuBLAS ----

cublasStatus_t lab_cublasCreate(void *fn, cublasHandle_t *h) {
	return ((cublasStatus_t(*)(cublasHandle_t *))fn)(h);
}
cublasStatus_t lab_cublasHandleArg(void *fn, cublasHandle_t h) {
	return ((cublasStatus_t(*)(cublasHandle_t))fn)(h);
}
cublasStatus_t lab_cublasSetStream(void *fn, cublasHandle_t h, CUstream s) {
	return ((cublasStatus_t(*)(cublasHandle_t, CUstream))fn)(h, s);
}
cublasStatus_t lab_cublasSetWorkspace(void *fn, cublasHandle_t h, CUdeviceptr ws, size_t bytes) {
	return ((cublasStatus_t(*)(cublasHandle_t, void *, size_t))fn)(h, (void *)ws, bytes);
}
cublasStatus_t lab_cublasIntArg(void *fn, cublasHandle_t h, int v) {
	return ((cublasStatus_t(*)(cublasHandle_t, int))fn)(h, v);
}
cublasStatus_t lab_cublasGetVersion(void *fn, cublasHandle_t h, int *v) {
	return ((cublasStatus_t(*)(cublasHandle_t, int *))fn)(h, v);
}
const char *lab_cublasStatusName(void *fn, cublasStatus_t s) {
	return ((const char *(*)(cublasStatus_t))fn)(s);
}
cublasStatus_t lab_cublasSgemm(void *fn, cublasHandle_t h, int ta, int tb, int m, int n, int k,
                               float alpha, CUdeviceptr a, int lda, CUdeviceptr b, int ldb,
                               float beta, CUdeviceptr c, int ldc) {
	typedef cublasStatus_t (*sgemm_t)(cublasHandle_t, int, int, int, int, int, const float *,
	                                  const float *, int, const float *, int, const float *, float *, int);
	return ((sgemm_t)fn)(h, ta, tb, m, n, k, &alpha, (const float *)a, lda, (const float *)b, ldb, &beta,
	                     (float *)c, ldc);
}
cublasStatus_t lab_cublasSgemmStridedBatched(void *fn, cublasHandle_t h, int ta, int tb, int m, int n, int k,
                                             float alpha, CUdeviceptr a, int lda, long long sa,
                                             CUdeviceptr b, int ldb, long long sb, float beta,
                                             CUdeviceptr c, int ldc, long long sc, int batch) {
	typedef cublasStatus_t (*sgemmsb_t)(cublasHandle_t, int, int, int, int, int, const float *,
	                                    const float *, int, long long, const float *, int, long long,
	                                    const float *, float *, int, long long, int);
	return ((sgemmsb_t)fn)(h, ta, tb, m, n, k, &alpha, (const float *)a, lda, sa, (const float *)b, ldb, sb,
	                       &beta, (float *)c, ldc, sc, batch);
}
cublasStatus_t lab_cublasGemmStridedBatchedEx(void *fn, cublasHandle_t h, int ta, int tb, int m, int n, int k,
                                              float alpha, CUdeviceptr a, int atype, int lda, long long sa,
                                              CUdeviceptr b, int btype, int ldb, long long sb, float beta,
                                              CUdeviceptr c, int ctype, int ldc, long long sc, int batch,
                                              int compute, int algo) {
	typedef cublasStatus_t (*gemmex_t)(cublasHandle_t, int, int, int, int, int, const void *, const void *, int,
	                                   int, long long, const void *, int, int, long long, const void *, void *, int,
	                                   int, long long, int, int, int);
	return ((gemmex_t)fn)(h, ta, tb, m, n, k, &alpha, (const void *)a, atype, lda, sa, (const void *)b, btype, ldb,
	                      sb, &beta, (void *)c, ctype, ldc, sc, batch, compute, algo);
}

// ---- cuBLASLt ----

cublasStatus_t lab_cublasLtOut(void *fn, void **out) { return ((cublasStatus_t(*)(void **))fn)(out); }
cublasStatus_t lab_cublasLtArg(void *fn, void *h) { return ((cublasStatus_t(*)(void *))fn)(h); }
cublasStatus_t lab_cublasLtMatmulDescCreate(void *fn, cublasLtMatmulDesc_t *d, int compute, int scale) {
	return ((cublasStatus_t(*)(cublasLtMatmulDesc_t *, int, int))fn)(d, compute, scale);
}
cublasStatus_t lab_cublasLtSetAttribute(void *fn, void *desc, int attr, const void *v, size_t n) {
	return ((cublasStatus_t(*)(void *, int, const void *, size_t))fn)(desc, attr, v, n);
}
cublasStatus_t lab_cublasLtMatrixLayoutCreate(void *fn, cublasLtMatrixLayout_t *l, int type,
                                              unsigned long long rows, unsigned long long cols, long long ld) {
	typedef cublasStatus_t (*create_t)(cublasLtMatrixLayout_t *, int, unsigned long long, unsigned long long, long long);
	return ((create_t)fn)(l, type, rows, cols, ld);
}
cublasStatus_t lab_cublasLtMatmulAlgoGetHeuristic(void *fn, cublasLtHandle_t h, cublasLtMatmulDesc_t d,
                                                  cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                                                  cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t dl,
                                                  cublasLtMatmulPreference_t pref, int want,
                                                  lab_cublasLtHeuristic *out, int *got) {
	typedef cublasStatus_t (*heur_t)(cublasLtHandle_t, cublasLtMatmulDesc_t, cublasLtMatrixLayout_t,
	                                 cublasLtMatrixLayout_t, cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
	                                 cublasLtMatmulPreference_t, int, lab_cublasLtHeuristic *, int *);
	return ((heur_t)fn)(h, d, a, b, c, dl, pref, want, out, got);
}
cublasStatus_t lab_cublasLtMatmul(void *fn, cublasLtHandle_t h, cublasLtMatmulDesc_t d, float alpha,
                                  CUdeviceptr a, cublasLtMatrixLayout_t al, CUdeviceptr b,
                                  cublasLtMatrixLayout_t bl, float beta, CUdeviceptr c,
                                  cublasLtMatrixLayout_t cl, CUdeviceptr dd, cublasLtMatrixLayout_t dl,
                                  const lab_cublasLtMatmulAlgo *algo, CUdeviceptr ws, size_t wsBytes, CUstream s) {
	typedef cublasStatus_t (*matmul_t)(cublasLtHandle_t, cublasLtMatmulDesc_t, const void *, const void *,
	                                   cublasLtMatrixLayout_t, const void *, cublasLtMatrixLayout_t, const void *,
	                                   const void *, cublasLtMatrixLayout_t, void *, cublasLtMatrixLayout_t,
	                                   const lab_cublasLtMatmulAlgo *, void *, size_t, CUstream);
	return ((matmul_t)fn)(h, d, &alpha, (const void *)a, al, (const void *)b, bl, &beta, (const void *)c, cl,
	                      (void *)dd, dl, algo, (void *)ws, wsBytes, s);
}
