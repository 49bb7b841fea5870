// shim.h declares the few CUDA driver, NVRTC and cuBLAS types lab needs and
// the C trampolines that call library entry points found with dlsym. No CUDA
// header is needed: every type here is declared by hand from the public ABI.
#ifndef LAB_CUDA_SHIM_H
#define LAB_CUDA_SHIM_H

#include <stddef.h>

// Dynamic loading.
void *lab_dlopen(const char *path, int global);
void *lab_dlsym(void *handle, const char *name);
const char *lab_dlerror(void);

// CUDA driver API. Handles are opaque pointers; CUdeviceptr is 64-bit.
typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef void *CUcontext;
typedef void *CUmodule;
typedef void *CUfunction;
typedef void *CUstream;
typedef void *CUevent;
typedef void *CUgraph;
typedef void *CUgraphExec;

CUresult lab_cuInit(void *fn, unsigned flags);
CUresult lab_cuIntOut(void *fn, int *out);                      // cuDriverGetVersion, cuDeviceGetCount
CUresult lab_cuDeviceGet(void *fn, CUdevice *d, int ordinal);
CUresult lab_cuDeviceGetName(void *fn, char *name, int len, CUdevice d);
CUresult lab_cuDeviceTotalMem(void *fn, size_t *bytes, CUdevice d);
CUresult lab_cuDeviceGetAttribute(void *fn, int *v, int attr, CUdevice d);
CUresult lab_cuPrimaryCtxRetain(void *fn, CUcontext *ctx, CUdevice d);
CUresult lab_cuDeviceArg(void *fn, CUdevice d);                 // cuDevicePrimaryCtxRelease
CUresult lab_cuHandleArg(void *fn, void *h);                    // cuCtxSetCurrent, cuStreamDestroy, ...
CUresult lab_cuVoid(void *fn);                                  // cuCtxSynchronize
CUresult lab_cuErrorString(void *fn, CUresult r, const char **s);
CUresult lab_cuMemGetInfo(void *fn, size_t *free_, size_t *total);
CUresult lab_cuMemAlloc(void *fn, CUdeviceptr *p, size_t bytes);
CUresult lab_cuMemFree(void *fn, CUdeviceptr p);
CUresult lab_cuMemcpyHtoD(void *fn, CUdeviceptr dst, const void *src, size_t bytes);
CUresult lab_cuMemcpyDtoH(void *fn, void *dst, CUdeviceptr src, size_t bytes);
CUresult lab_cuMemcpyDtoDAsync(void *fn, CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream s);
CUresult lab_cuMemcpyHtoDAsync(void *fn, CUdeviceptr dst, const void *src, size_t bytes, CUstream s);
CUresult lab_cuMemcpyDtoHAsync(void *fn, void *dst, CUdeviceptr src, size_t bytes, CUstream s);
CUresult lab_cuMemsetD32Async(void *fn, CUdeviceptr dst, unsigned v, size_t n, CUstream s);
CUresult lab_cuStreamCreate(void *fn, CUstream *s, unsigned flags);
CUresult lab_cuModuleLoadData(void *fn, CUmodule *m, const void *image);
CUresult lab_cuModuleGetFunction(void *fn, CUfunction *f, CUmodule m, const char *name);
CUresult lab_cuFuncGetAttribute(void *fn, int *v, int attr, CUfunction f);
CUresult lab_cuLaunchKernel(void *fn, CUfunction f, unsigned gx, unsigned gy, unsigned gz,
                            unsigned bx, unsigned by, unsigned bz, unsigned shared, CUstream s,
                            void *argbuf, const int *offsets, int nargs);
CUresult lab_cuEventCreate(void *fn, CUevent *e, unsigned flags);
CUresult lab_cuTwoHandles(void *fn, void *a, void *b);          // cuEventRecord, cuGraphLaunch
CUresult lab_cuEventElapsedTime(void *fn, float *ms, CUevent a, CUevent b);
CUresult lab_cuStreamBeginCapture(void *fn, CUstream s, int mode);
CUresult lab_cuStreamEndCapture(void *fn, CUstream s, CUgraph *g);
CUresult lab_cuGraphInstantiate(void *fn, CUgraphExec *e, CUgraph g, unsigned long long flags);

// NVRTC.
typedef int nvrtcResult;
typedef void *nvrtcProgram;

nvrtcResult lab_nvrtcVersion(void *fn, int *major, int *minor);
const char *lab_nvrtcGetErrorString(void *fn, nvrtcResult r);
nvrtcResult lab_nvrtcGetNumSupportedArchs(void *fn, int *n);
nvrtcResult lab_nvrtcGetSupportedArchs(void *fn, int *archs);
nvrtcResult lab_nvrtcCreateProgram(void *fn, nvrtcProgram *p, const char *src, const char *name);
nvrtcResult lab_nvrtcCompileProgram(void *fn, nvrtcProgram p, int n, char **opts);
nvrtcResult lab_nvrtcGetSize(void *fn, nvrtcProgram p, size_t *n);   // log, PTX and CUBIN sizes
nvrtcResult lab_nvrtcGetBytes(void *fn, nvrtcProgram p, char *out);  // log, PTX and CUBIN
nvrtcResult lab_nvrtcDestroyProgram(void *fn, nvrtcProgram *p);

// cuBLAS (v2 API).
typedef int cublasStatus_t;
typedef void *cublasHandle_t;

cublasStatus_t lab_cublasCreate(void *fn, cublasHandle_t *h);
cublasStatus_t lab_cublasHandleArg(void *fn, cublasHandle_t h);                 // cublasDestroy
cublasStatus_t lab_cublasSetStream(void *fn, cublasHandle_t h, CUstream s);
cublasStatus_t lab_cublasSetWorkspace(void *fn, cublasHandle_t h, CUdeviceptr ws, size_t bytes);
cublasStatus_t lab_cublasIntArg(void *fn, cublasHandle_t h, int v);             // cublasSetMathMode
cublasStatus_t lab_cublasGetVersion(void *fn, cublasHandle_t h, int *v);
const char *lab_cublasStatusName(void *fn, cublasStatus_t s);
cublasStatus_t lab_cublasSgemm(void *fn, cublasHandle_t h, int ta, int tb, int m, int n, int k,
                               float alpha, CUdeviceptr a, int lda, CUdeviceptr b, int ldb,
                               float beta, CUdeviceptr c, int ldc);
cublasStatus_t lab_cublasSgemmStridedBatched(void *fn, cublasHandle_t h, int ta, int tb, int m, int n, int k,
                                             float alpha, CUdeviceptr a, int lda, long long sa,
                                             CUdeviceptr b, int ldb, long long sb, float beta,
                                             CUdeviceptr c, int ldc, long long sc, int batch);
// cublasGemmStridedBatchedEx with float alpha/beta (compute type 32F).
cublasStatus_t lab_cublasGemmStridedBatchedEx(void *fn, cublasHandle_t h, int ta, int tb, int m, int n, int k,
                                              float alpha, CUdeviceptr a, int atype, int lda, long long sa,
                                              CUdeviceptr b, int btype, int ldb, long long sb, float beta,
                                              CUdeviceptr c, int ctype, int ldc, long long sc, int batch,
                                              int compute, int algo);

// cuBLASLt: descriptors are opaque pointers; the heuristic result is the
// public struct (a 64-byte algorithm, then its workspace size and status).
typedef void *cublasLtHandle_t;
typedef void *cublasLtMatmulDesc_t;
typedef void *cublasLtMatrixLayout_t;
typedef void *cublasLtMatmulPreference_t;
typedef struct {
	unsigned long long data[8];
} lab_cublasLtMatmulAlgo;
typedef struct {
	lab_cublasLtMatmulAlgo algo;
	size_t workspaceSize;
	cublasStatus_t state;
	float wavesCount;
	int reserved[4];
} lab_cublasLtHeuristic;

cublasStatus_t lab_cublasLtOut(void *fn, void **out);                 // cublasLtCreate, cublasLtMatmulPreferenceCreate
cublasStatus_t lab_cublasLtArg(void *fn, void *h);                    // the Destroy functions
cublasStatus_t lab_cublasLtMatmulDescCreate(void *fn, cublasLtMatmulDesc_t *d, int compute, int scale);
cublasStatus_t lab_cublasLtSetAttribute(void *fn, void *desc, int attr, const void *v, size_t n); // desc and preference
cublasStatus_t lab_cublasLtMatrixLayoutCreate(void *fn, cublasLtMatrixLayout_t *l, int type,
                                              unsigned long long rows, unsigned long long cols, long long ld);
cublasStatus_t lab_cublasLtMatmulAlgoGetHeuristic(void *fn, cublasLtHandle_t h, cublasLtMatmulDesc_t d,
                                                  cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                                                  cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t dl,
                                                  cublasLtMatmulPreference_t pref, int want,
                                                  lab_cublasLtHeuristic *out, int *got);
cublasStatus_t lab_cublasLtMatmul(void *fn, cublasLtHandle_t h, cublasLtMatmulDesc_t d, float alpha,
                                  CUdeviceptr a, cublasLtMatrixLayout_t al, CUdeviceptr b,
                                  cublasLtMatrixLayout_t bl, float beta, CUdeviceptr c,
                                  cublasLtMatrixLayout_t cl, CUdeviceptr dd, cublasLtMatrixLayout_t dl,
                                  const lab_cublasLtMatmulAlgo *algo, CUdeviceptr ws, size_t wsBytes, CUstream s);

#endif
