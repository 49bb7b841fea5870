//go:build cgo

// Package openblas opens OpenBLAS at run time (dlopen) for benchmarks that
// compare lab's CPU GEMM with it. Nothing in lab needs it: where no
// libopenblas is installed, Open fails and the comparison is skipped. (On
// Debian: apt-get install libopenblas0-pthread.)
package openblas

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

typedef void (*sgemm_fn)(int order, int ta, int tb, int m, int n, int k, float alpha,
                         const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
typedef void (*threads_fn)(int);

static sgemm_fn sgemm_p;
static threads_fn threads_p;

static const char *open_blas(const char *name) {
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!h) return dlerror();
	sgemm_p = (sgemm_fn)dlsym(h, "cblas_sgemm");
	if (!sgemm_p) return dlerror();
	threads_p = (threads_fn)dlsym(h, "openblas_set_num_threads");
	return 0;
}

static void call_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                       const float *b, int ldb, float beta, float *c, int ldc) {
	sgemm_p(101, ta ? 112 : 111, tb ? 112 : 111, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static void set_threads(int n) { if (threads_p) threads_p(n); }
*/
import "C"

import (
	"errors"
	"strings"
	"sync"
	"unsafe"
)

var (
	once    sync.Once
	openErr error
)

// Open loads libopenblas.so.0 (or libopenblas.so) once.
func Open() error {
	once.Do(func() {
		var msgs []string
		for _, name := range []string{"libopenblas.so.0", "libopenblas.so"} {
			cs := C.CString(name)
			e := C.open_blas(cs)
			C.free(unsafe.Pointer(cs))
			if e == nil {
				return
			}
			msgs = append(msgs, C.GoString(e))
		}
		openErr = errors.New("openblas: " + strings.Join(msgs, "; "))
	})
	return openErr
}

// SetThreads sets OpenBLAS's thread count.
func SetThreads(n int) { C.set_threads(C.int(n)) }

// Sgemm is cblas_sgemm, row-major: C = alpha·op(A)·op(B) + beta·C.
func Sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int,
	beta float32, c []float32, ldc int) {
	C.call_sgemm(cb(tA), cb(tB), C.int(m), C.int(n), C.int(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.int(lda), (*C.float)(unsafe.Pointer(&b[0])), C.int(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.int(ldc))
}

func cb(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
