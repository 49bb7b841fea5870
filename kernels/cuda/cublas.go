package cuda

// #include "shim.h"
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

type cublasAPI struct {
	lib *library

	create, destroy, setStream, setWorkspace, setMathMode, getVersion, statusName,
	sgemm, sgemmStridedBatched, gemmStridedBatchedEx unsafe.Pointer
}

var (
	cublasOnce sync.Once
	cublasLib  *cublasAPI
	cublasErr  error
)

func cublas() (*cublasAPI, error) {
	cublasOnce.Do(func() { cublasLib, cublasErr = loadCUBLAS() })
	return cublasLib, cublasErr
}

func loadCUBLAS() (*cublasAPI, error) {
	lib, err := openLibrary("cuBLAS", []string{"libcublas.so.13", "libcublas.so.12"}, preloadGlob("libcublasLt.so.1[0-9]"))
	if err != nil {
		return nil, err
	}
	a := &cublasAPI{lib: lib}
	err = lib.symbols(map[string]*unsafe.Pointer{
		"cublasCreate_v2": &a.create, "cublasDestroy_v2": &a.destroy, "cublasSetStream_v2": &a.setStream,
		"cublasSetWorkspace_v2": &a.setWorkspace, "cublasSetMathMode": &a.setMathMode,
		"cublasGetVersion_v2": &a.getVersion, "cublasSgemm_v2": &a.sgemm,
		"cublasSgemmStridedBatched": &a.sgemmStridedBatched, "cublasGemmStridedBatchedEx": &a.gemmStridedBatchedEx,
	}, map[string]*unsafe.Pointer{"cublasGetStatusName": &a.statusName})
	if err != nil {
		return nil, err
	}
	return a, nil
}

var cublasStatusNames = map[int]string{
	0: "CUBLAS_STATUS_SUCCESS", 1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED",
	7: "CUBLAS_STATUS_INVALID_VALUE", 8: "CUBLAS_STATUS_ARCH_MISMATCH", 11: "CUBLAS_STATUS_MAPPING_ERROR",
	13: "CUBLAS_STATUS_EXECUTION_FAILED", 14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED",
	16: "CUBLAS_STATUS_LICENSE_ERROR",
}

func (a *cublasAPI) err(call string, s C.cublasStatus_t) error {
	name := cublasStatusNames[int(s)]
	if a.statusName != nil {
		name = C.GoString(C.lab_cublasStatusName(a.statusName, s))
	}
	return fmt.Errorf("cuda: %s: %s (%d)", call, name, int(s))
}

// cublasMath_t values.
const (
	mathDefault  = 0 // CUBLAS_DEFAULT_MATH
	mathPedantic = 2 // CUBLAS_PEDANTIC_MATH: plain float32, no tensor cores
	mathTF32     = 3 // CUBLAS_TF32_TENSOR_OP_MATH
)

// workspaceBytes is the cuBLAS workspace lab gives each handle (NVIDIA
// recommends 32 MiB on Hopper); owning it keeps graph capture free of
// allocations inside cuBLAS.
const workspaceBytes = 32 << 20

// BLAS is a cuBLAS handle bound to one device and stream.
type BLAS struct {
	d       *Device
	a       *cublasAPI
	h       C.cublasHandle_t
	ws      Buffer
	Version int  // cublasGetVersion, e.g. 130000
	TF32    bool // float32 GEMMs use TF32 tensor cores (the default)

	stream *Stream        // where GEMMs queue (SetStream)
	ltH    unsafe.Pointer // cuBLASLt handle, made on first use (cublaslt.go)
	plans  []*ltPlan      // cuBLASLt plans made for this handle, freed by Close
}

// NewBLAS creates a cuBLAS handle on the device with TF32 tensor-core math
// (about 10 mantissa bits per product; see SetTF32).
func (d *Device) NewBLAS() (*BLAS, error) {
	a, err := cublas()
	if err != nil {
		return nil, err
	}
	b := &BLAS{d: d, a: a}
	d.capMu.RLock() // creating a handle may synchronise (Device.capMu)
	err = b.do("cublasCreate", func() C.cublasStatus_t { return C.lab_cublasCreate(a.create, &b.h) })
	d.capMu.RUnlock()
	if err != nil {
		return nil, err
	}
	var v C.int
	if err := b.do("cublasGetVersion", func() C.cublasStatus_t { return C.lab_cublasGetVersion(a.getVersion, b.h, &v) }); err != nil {
		b.Close()
		return nil, err
	}
	b.Version = int(v)
	if b.ws, err = d.Alloc(workspaceBytes); err != nil {
		b.Close()
		return nil, err
	}
	if err := b.SetStream(nil); err != nil {
		b.Close()
		return nil, err
	}
	if err := b.SetTF32(true); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (b *BLAS) do(call string, f func() C.cublasStatus_t) error {
	if err := b.d.enter(); err != nil {
		return err
	}
	defer b.d.leave()
	if s := f(); s != 0 {
		return b.a.err(call, s)
	}
	return nil
}

// SetStream makes later GEMMs queue on s (nil: the legacy default stream).
func (b *BLAS) SetStream(s *Stream) error {
	if err := b.do("cublasSetStream", func() C.cublasStatus_t { return C.lab_cublasSetStream(b.a.setStream, b.h, s.handle()) }); err != nil {
		return err
	}
	b.stream = s
	// cublasSetStream resets the workspace to cuBLAS's own pool: set ours again.
	return b.do("cublasSetWorkspace", func() C.cublasStatus_t {
		return C.lab_cublasSetWorkspace(b.a.setWorkspace, b.h, C.CUdeviceptr(b.ws.Ptr), C.size_t(b.ws.Bytes))
	})
}

// SetTF32 chooses TF32 tensor-core math (on) or plain float32 (off,
// CUBLAS_PEDANTIC_MATH) for float32 GEMMs.
func (b *BLAS) SetTF32(on bool) error {
	mode := mathPedantic
	if on {
		mode = mathTF32
	}
	if err := b.do("cublasSetMathMode", func() C.cublasStatus_t { return C.lab_cublasIntArg(b.a.setMathMode, b.h, C.int(mode)) }); err != nil {
		return err
	}
	b.TF32 = on
	return nil
}

// Close destroys the handle (and its cuBLASLt plans) and frees its
// workspace.
func (b *BLAS) Close() error {
	var err error
	if b.ltH != nil {
		a, _ := cublasLt()
		for _, pl := range b.plans {
			b.freeLt(a, pl)
		}
		b.plans = nil
		err = b.do("cublasLtDestroy", func() C.cublasStatus_t { return C.lab_cublasLtArg(a.destroy, b.ltH) })
		b.ltH = nil
	}
	if b.h != nil {
		b.d.capMu.RLock()
		if e := b.do("cublasDestroy", func() C.cublasStatus_t { return C.lab_cublasHandleArg(b.a.destroy, b.h) }); err == nil {
			err = e
		}
		b.d.capMu.RUnlock()
		b.h = nil
	}
	if b.ws.Ptr != 0 {
		if e := b.d.Free(b.ws); err == nil {
			err = e
		}
		b.ws = Buffer{}
	}
	return err
}

// need checks that a row-major operand of rows x cols with leading
// dimension ld, batch matrices stride elements apart, fits in buf, whose
// elements are size bytes.
func need(what string, buf Buffer, rows, cols, ld int, stride int64, batch, size int) error {
	if ld < cols {
		return fmt.Errorf("cuda: gemm: %s: leading dimension %d < %d columns", what, ld, cols)
	}
	if last := span(rows, cols, ld, stride, batch); last*int64(size) > buf.Bytes {
		return fmt.Errorf("cuda: gemm: %s: needs %d elements of %d bytes, buffer holds %d bytes", what, last, size, buf.Bytes)
	}
	return nil
}

// span is the number of elements from the first of a (batched) row-major
// operand to its last, gaps included.
func span(rows, cols, ld int, stride int64, batch int) int64 {
	return int64(batch-1)*stride + int64(rows-1)*int64(ld) + int64(cols)
}

func dims(t bool, r, c int) (int, int) {
	if t {
		return c, r
	}
	return r, c
}

// Gemm computes C = alpha*op(A)·op(B) + beta*C for row-major matrices:
// op(A) is m x k, op(B) is k x n, C is m x n; op transposes when tA (tB) is
// set, so A is stored k x m. lda, ldb and ldc are the row strides in
// elements, as stored. This is the CPU op kernels.MatMul's twin.
func (b *BLAS) Gemm(tA, tB bool, m, n, k int, alpha float32, A Buffer, lda int, B Buffer, ldb int, beta float32, Cm Buffer, ldc int) error {
	return b.GemmStridedBatched(tA, tB, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, Cm, ldc, 0, 1)
}

// GemmStridedBatched is Gemm over batch matrices: matrix i of A starts
// strideA elements after matrix i-1 (likewise B and C). A stride of 0
// reuses one matrix for every batch entry (a shared weight).
func (b *BLAS) GemmStridedBatched(tA, tB bool, m, n, k int, alpha float32, A Buffer, lda int, strideA int64,
	B Buffer, ldb int, strideB int64, beta float32, Cm Buffer, ldc int, strideC int64, batch int) error {
	ta, tb, err := checkGemm(tA, tB, m, n, k, A, lda, strideA, B, ldb, strideB, Cm, ldc, strideC, batch, 4, 4)
	if err != nil {
		return err
	}
	// Row-major C = op(A)·op(B) is column-major C' = op(B)'·op(A)': hand
	// cuBLAS B first, with the sizes swapped; the transpose flags carry over.
	if batch == 1 {
		return b.do("cublasSgemm", func() C.cublasStatus_t {
			return C.lab_cublasSgemm(b.a.sgemm, b.h, tb, ta, C.int(n), C.int(m), C.int(k), C.float(alpha),
				C.CUdeviceptr(B.Ptr), C.int(ldb), C.CUdeviceptr(A.Ptr), C.int(lda), C.float(beta), C.CUdeviceptr(Cm.Ptr), C.int(ldc))
		})
	}
	return b.do("cublasSgemmStridedBatched", func() C.cublasStatus_t {
		return C.lab_cublasSgemmStridedBatched(b.a.sgemmStridedBatched, b.h, tb, ta, C.int(n), C.int(m), C.int(k), C.float(alpha),
			C.CUdeviceptr(B.Ptr), C.int(ldb), C.longlong(strideB), C.CUdeviceptr(A.Ptr), C.int(lda), C.longlong(strideA),
			C.float(beta), C.CUdeviceptr(Cm.Ptr), C.int(ldc), C.longlong(strideC), C.int(batch))
	})
}

// cudaDataType and cublasComputeType_t values.
const (
	cudaR32F      = 0  // CUDA_R_32F
	cudaR16BF     = 14 // CUDA_R_16BF
	computeF32    = 68 // CUBLAS_COMPUTE_32F
	gemmAlgoDeflt = -1 // CUBLAS_GEMM_DEFAULT
)

// GemmStridedBatchedBF16 is GemmStridedBatched with A and B holding
// bfloat16 values (2 bytes each, strides and leading dimensions in
// elements): the products are exact in float32, sums run in float32, C is
// float32, or bfloat16 (rounded once at the end) with cHalf. It is the
// GEMM of Precision BF16.
func (b *BLAS) GemmStridedBatchedBF16(tA, tB bool, m, n, k int, alpha float32, A Buffer, lda int, strideA int64,
	B Buffer, ldb int, strideB int64, beta float32, Cm Buffer, ldc int, strideC int64, batch int, cHalf bool) error {
	csize, ctype := 4, C.int(cudaR32F)
	if cHalf {
		csize, ctype = 2, cudaR16BF
	}
	ta, tb, err := checkGemm(tA, tB, m, n, k, A, lda, strideA, B, ldb, strideB, Cm, ldc, strideC, batch, 2, csize)
	if err != nil {
		return err
	}
	return b.do("cublasGemmStridedBatchedEx", func() C.cublasStatus_t {
		return C.lab_cublasGemmStridedBatchedEx(b.a.gemmStridedBatchedEx, b.h, tb, ta, C.int(n), C.int(m), C.int(k), C.float(alpha),
			C.CUdeviceptr(B.Ptr), cudaR16BF, C.int(ldb), C.longlong(strideB), C.CUdeviceptr(A.Ptr), cudaR16BF, C.int(lda), C.longlong(strideA),
			C.float(beta), C.CUdeviceptr(Cm.Ptr), ctype, C.int(ldc), C.longlong(strideC), C.int(batch), computeF32, gemmAlgoDeflt)
	})
}

// checkGemm checks a GEMM's sizes against its buffers (A and B of size
// bytes per element, C of csize) and gives cuBLAS's transpose flags.
func checkGemm(tA, tB bool, m, n, k int, A Buffer, lda int, strideA int64, B Buffer, ldb int, strideB int64,
	Cm Buffer, ldc int, strideC int64, batch, size, csize int) (ta, tb C.int, err error) {
	if m <= 0 || n <= 0 || k <= 0 || batch <= 0 {
		return 0, 0, fmt.Errorf("cuda: gemm: sizes must be positive: m=%d n=%d k=%d batch=%d", m, n, k, batch)
	}
	ar, ac := dims(tA, m, k)
	br, bc := dims(tB, k, n)
	if err := need("A", A, ar, ac, lda, strideA, batch, size); err != nil {
		return 0, 0, err
	}
	if err := need("B", B, br, bc, ldb, strideB, batch, size); err != nil {
		return 0, 0, err
	}
	if err := need("C", Cm, m, n, ldc, strideC, batch, csize); err != nil {
		return 0, 0, err
	}
	if tA {
		ta = 1
	}
	if tB {
		tb = 1
	}
	return ta, tb, nil
}

// CUBLASPath returns the cuBLAS library found, or why none was.
func CUBLASPath() (string, error) {
	a, err := cublas()
	if err != nil {
		return "", err
	}
	return a.lib.path, nil
}
