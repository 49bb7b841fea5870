package cuda

// #include "shim.h"
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// cuBLASLt runs the GEMMs that carry an epilogue (a bias, GELU, or a bias
// gradient computed by the GEMM kernel itself: fuse_gemm.go). It is opened
// like cuBLAS, at run time; a program that finds no cuBLASLt keeps those
// GEMMs as cuBLAS calls and separate kernels.

type ltAPI struct {
	lib *library

	create, destroy, descCreate, descDestroy, descSet, layoutCreate, layoutDestroy,
	prefCreate, prefDestroy, prefSet, heuristic, matmul unsafe.Pointer
}

var (
	ltOnce sync.Once
	ltLib  *ltAPI
	ltErr  error
)

func cublasLt() (*ltAPI, error) {
	ltOnce.Do(func() {
		lib, err := openLibrary("cuBLASLt", []string{"libcublasLt.so.13", "libcublasLt.so.12"}, nil)
		if err != nil {
			ltErr = err
			return
		}
		a := &ltAPI{lib: lib}
		ltErr = lib.symbols(map[string]*unsafe.Pointer{
			"cublasLtCreate": &a.create, "cublasLtDestroy": &a.destroy,
			"cublasLtMatmulDescCreate": &a.descCreate, "cublasLtMatmulDescDestroy": &a.descDestroy,
			"cublasLtMatmulDescSetAttribute": &a.descSet, "cublasLtMatrixLayoutCreate": &a.layoutCreate,
			"cublasLtMatrixLayoutDestroy": &a.layoutDestroy, "cublasLtMatmulPreferenceCreate": &a.prefCreate,
			"cublasLtMatmulPreferenceDestroy": &a.prefDestroy, "cublasLtMatmulPreferenceSetAttribute": &a.prefSet,
			"cublasLtMatmulAlgoGetHeuristic": &a.heuristic, "cublasLtMatmul": &a.matmul,
		}, nil)
		if ltErr == nil {
			ltLib = a
		}
	})
	return ltLib, ltErr
}

// Epilogue is what a cuBLASLt GEMM does besides Y = op(A)·op(B), in
// row-major terms (Y is m x n; a bias is one value per column of Y).
type Epilogue int

const (
	// EpiBias: Y = op(A)·op(B) + bias.
	EpiBias Epilogue = iota + 1
	// EpiGELUBias: Aux = op(A)·op(B) + bias, Y = gelu(Aux) (tanh form),
	// Aux kept for the backward.
	EpiGELUBias
	// EpiDGELUBGrad: Y = (op(A)·op(B)) ⊙ gelu'(Aux), Bias = the column sums
	// of Y (the gradient of the bias under the GELU).
	EpiDGELUBGrad
	// EpiBGradB: Y = op(A)·op(B), Bias = the column sums of op(B) over k
	// (the gradient of a linear layer's bias beside its weight's).
	EpiBGradB
)

// ltEpilogue is cublasLtEpilogue_t for each Epilogue. lab's row-major Y is
// cuBLASLt's column-major Yᵀ = op(B)ᵀ·op(A)ᵀ: our B is its A, so a bias
// gradient of our B is BGRADA.
var ltEpilogue = map[Epilogue]uint32{EpiBias: 4, EpiGELUBias: 164, EpiDGELUBGrad: 208, EpiBGradB: 256}

var epilogueNames = map[Epilogue]string{EpiBias: "bias", EpiGELUBias: "gelu_aux_bias", EpiDGELUBGrad: "dgelu_bgrad",
	EpiBGradB: "bgrad"}

func (e Epilogue) String() string {
	if s, ok := epilogueNames[e]; ok {
		return s
	}
	return fmt.Sprintf("Epilogue(%d)", int(e))
}

// cuBLASLt attribute numbers and types used here.
const (
	ltDescTransA     = 3
	ltDescTransB     = 4
	ltDescEpilogue   = 7
	ltDescBias       = 8
	ltDescAux        = 11
	ltDescAuxLD      = 12
	ltPrefWorkspace  = 1
	computeF32Fast32 = 77 // CUBLAS_COMPUTE_32F_FAST_TF32
	ltCandidates     = 8  // kernels the heuristic proposes for tuneLt to time
)

// LtShape is one row-major GEMM with an epilogue, as Gemm takes it: op(A)
// is m x k, op(B) is k x n, Y is m x n, leading dimensions in elements.
// The Aux matrix (EpiGELUBias, EpiDGELUBGrad) has Y's shape and ldy.
type LtShape struct {
	TA, TB        bool
	M, N, K       int
	LDA, LDB, LDY int
	Epi           Epilogue
}

// ltPlan is a cuBLASLt GEMM planned for one precision: its descriptors and
// the kernel the heuristic chose.
type ltPlan struct {
	desc       C.cublasLtMatmulDesc_t
	la, lb, ly C.cublasLtMatrixLayout_t
	algo       C.lab_cublasLtHeuristic
}

// lt is the handle's cuBLASLt context, created on first use.
func (b *BLAS) lt() (*ltAPI, error) {
	a, err := cublasLt()
	if err != nil {
		return nil, err
	}
	if b.ltH == nil {
		if err := b.do("cublasLtCreate", func() C.cublasStatus_t { return C.lab_cublasLtOut(a.create, &b.ltH) }); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// ltSet sets one attribute of a matmul descriptor.
func (b *BLAS) ltSet(a *ltAPI, desc C.cublasLtMatmulDesc_t, attr int, v unsafe.Pointer, n uintptr) error {
	return b.do("cublasLtMatmulDescSetAttribute", func() C.cublasStatus_t {
		return C.lab_cublasLtSetAttribute(a.descSet, unsafe.Pointer(desc), C.int(attr), v, C.size_t(n))
	})
}

// planLt describes s to cuBLASLt at precision pr (bf16 operands for BF16)
// and asks its heuristic for a kernel; bias and aux are the vector and
// matrix the epilogue reads or writes (their addresses guide the choice;
// a zero Buffer stands for a 256-byte aligned one, which is what probes
// pass). An epilogue cuBLASLt cannot run at these sizes is an error.
//
// With operands A and B (float32, or bfloat16 for BF16) the heuristic's
// first ltCandidates kernels are timed on them (tuneLt) and the fastest
// kept; without, its first choice.
func (b *BLAS) planLt(s LtShape, pr Precision, bias, aux, A, B Buffer) (*ltPlan, error) {
	a, err := b.lt()
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("cuBLASLt %s GEMM %dx%dx%d (%v)", s.Epi, s.M, s.N, s.K, pr)
	compute, in := C.int(computeF32Fast32), C.int(cudaR32F)
	switch pr {
	case FP32:
		compute = computeF32
	case BF16:
		compute, in = computeF32, cudaR16BF
	}
	pl := &ltPlan{}
	ok := false
	defer func() {
		if !ok {
			b.freeLt(a, pl)
		}
	}()
	do := func(call string, f func() C.cublasStatus_t) error {
		if err := b.do(call, f); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	set := func(attr int, v unsafe.Pointer, n uintptr) error {
		if err := b.ltSet(a, pl.desc, attr, v, n); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	layout := func(l *C.cublasLtMatrixLayout_t, typ C.int, rows, cols, ld int) error {
		return do("cublasLtMatrixLayoutCreate", func() C.cublasStatus_t {
			return C.lab_cublasLtMatrixLayoutCreate(a.layoutCreate, l, typ, C.ulonglong(rows), C.ulonglong(cols), C.longlong(ld))
		})
	}
	if err := do("cublasLtMatmulDescCreate", func() C.cublasStatus_t {
		return C.lab_cublasLtMatmulDescCreate(a.descCreate, &pl.desc, compute, cudaR32F)
	}); err != nil {
		return nil, err
	}
	// Column-major: Yᵀ (n x m) = op(B)ᵀ (n x k) · op(A)ᵀ (k x m).
	ta, tb := C.int(0), C.int(0)
	if s.TB {
		ta = 1
	}
	if s.TA {
		tb = 1
	}
	epi := C.uint(ltEpilogue[s.Epi])
	ar, ac := s.N, s.K // our B, stored n x k column-major unless transposed
	if s.TB {
		ar, ac = s.K, s.N
	}
	br, bc := s.K, s.M
	if s.TA {
		br, bc = s.M, s.K
	}
	if err := errorsFirst(
		func() error { return set(ltDescTransA, unsafe.Pointer(&ta), 4) },
		func() error { return set(ltDescTransB, unsafe.Pointer(&tb), 4) },
		func() error { return set(ltDescEpilogue, unsafe.Pointer(&epi), 4) },
		func() error { return layout(&pl.la, in, ar, ac, s.LDB) },
		func() error { return layout(&pl.lb, in, br, bc, s.LDA) },
		func() error { return layout(&pl.ly, cudaR32F, s.N, s.M, s.LDY) },
	); err != nil {
		return nil, err
	}
	if err := b.ltPointers(a, pl, s, bias, aux); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var pref C.cublasLtMatmulPreference_t
	if err := do("cublasLtMatmulPreferenceCreate", func() C.cublasStatus_t {
		return C.lab_cublasLtOut(a.prefCreate, (*unsafe.Pointer)(unsafe.Pointer(&pref)))
	}); err != nil {
		return nil, err
	}
	defer b.do("cublasLtMatmulPreferenceDestroy", func() C.cublasStatus_t { return C.lab_cublasLtArg(a.prefDestroy, unsafe.Pointer(pref)) })
	ws := C.ulonglong(b.ws.Bytes)
	if err := do("cublasLtMatmulPreferenceSetAttribute", func() C.cublasStatus_t {
		return C.lab_cublasLtSetAttribute(a.prefSet, unsafe.Pointer(pref), ltPrefWorkspace, unsafe.Pointer(&ws), 8)
	}); err != nil {
		return nil, err
	}
	var got C.int
	var cands [ltCandidates]C.lab_cublasLtHeuristic
	want := C.int(1)
	if A.Ptr != 0 && B.Ptr != 0 {
		want = ltCandidates
	}
	if err := do("cublasLtMatmulAlgoGetHeuristic", func() C.cublasStatus_t {
		return C.lab_cublasLtMatmulAlgoGetHeuristic(a.heuristic, C.cublasLtHandle_t(b.ltH), pl.desc, pl.la, pl.lb, pl.ly, pl.ly,
			pref, want, &cands[0], &got)
	}); err != nil {
		return nil, err
	}
	if got < 1 || cands[0].state != 0 {
		return nil, fmt.Errorf("%s: cuBLASLt has no kernel for it", what)
	}
	pl.algo = cands[0]
	if got > 1 {
		if err := b.tuneLt(pl, cands[:got], s, A, B); err != nil {
			return nil, fmt.Errorf("%s: timing its kernels: %w", what, err)
		}
		if err := b.ltPointers(a, pl, s, bias, aux); err != nil { // tuneLt pointed them at scratch
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	ok = true
	b.plans = append(b.plans, pl)
	return pl, nil
}

// ltPointers sets the epilogue's bias and aux addresses (and aux's leading
// dimension, Y's) in the plan's descriptor.
func (b *BLAS) ltPointers(a *ltAPI, pl *ltPlan, s LtShape, bias, aux Buffer) error {
	set := func(attr int, v unsafe.Pointer, n uintptr) error { return b.ltSet(a, pl.desc, attr, v, n) }
	bp := C.ulonglong(probeAddr(bias))
	if err := set(ltDescBias, unsafe.Pointer(&bp), 8); err != nil {
		return err
	}
	if s.Epi == EpiGELUBias || s.Epi == EpiDGELUBGrad {
		ap, ld := C.ulonglong(probeAddr(aux)), C.longlong(s.LDY)
		if err := set(ltDescAux, unsafe.Pointer(&ap), 8); err != nil {
			return err
		}
		if err := set(ltDescAuxLD, unsafe.Pointer(&ld), 8); err != nil {
			return err
		}
	}
	return nil
}

// runLt queues Y = epilogue(op(A)·op(B)) with a plan of planLt, whose bias
// and aux addresses it was given; A and B hold float32 values, or
// bfloat16 for a BF16 plan.
func (b *BLAS) runLt(pl *ltPlan, A, B, Y Buffer) error {
	a, err := b.lt()
	if err != nil {
		return err
	}
	return b.do("cublasLtMatmul", func() C.cublasStatus_t {
		return C.lab_cublasLtMatmul(a.matmul, C.cublasLtHandle_t(b.ltH), pl.desc, 1, C.CUdeviceptr(B.Ptr), pl.la,
			C.CUdeviceptr(A.Ptr), pl.lb, 0, C.CUdeviceptr(Y.Ptr), pl.ly, C.CUdeviceptr(Y.Ptr), pl.ly,
			&pl.algo.algo, C.CUdeviceptr(b.ws.Ptr), C.size_t(b.ws.Bytes), b.stream.handle())
	})
}

// freeLt destroys a plan's descriptors.
func (b *BLAS) freeLt(a *ltAPI, pl *ltPlan) {
	for _, l := range []C.cublasLtMatrixLayout_t{pl.la, pl.lb, pl.ly} {
		if l != nil {
			b.do("cublasLtMatrixLayoutDestroy", func() C.cublasStatus_t { return C.lab_cublasLtArg(a.layoutDestroy, unsafe.Pointer(l)) })
		}
	}
	if pl.desc != nil {
		b.do("cublasLtMatmulDescDestroy", func() C.cublasStatus_t { return C.lab_cublasLtArg(a.descDestroy, unsafe.Pointer(pl.desc)) })
	}
	*pl = ltPlan{}
}

// probeAddr is b's address, or for a zero Buffer a 256-byte aligned one
// that is never dereferenced (the heuristic reads only its alignment).
func probeAddr(b Buffer) uint64 {
	if b.Ptr == 0 {
		return 1 << 20
	}
	return uint64(b.Ptr)
}

// dropLt frees a plan now (a probe's) rather than at Close.
func (b *BLAS) dropLt(pl *ltPlan) {
	for i, q := range b.plans {
		if q == pl {
			b.plans = append(b.plans[:i], b.plans[i+1:]...)
			break
		}
	}
	a, _ := cublasLt()
	b.freeLt(a, pl)
}

// errorsFirst runs fs in order and returns the first error.
func errorsFirst(fs ...func() error) error {
	for _, f := range fs {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}
