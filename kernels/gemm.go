package kernels

import (
	"fmt"
	"os"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Every CPU GEMM of lab (matmul, the attention blocks, the LM head) is one
// serial call of sgemm on a goroutine of lab's pool; the callers split the
// work. sgemm is the C kernel of gemm_amd64.c (AVX2+FMA, packed panels,
// 6x16 register blocks) where it runs, and gonum's pure-Go Sgemm elsewhere
// (no cgo, another architecture, a CPU without AVX2 or FMA) or when
// LAB_CPU_KERNELS=go. The tests hold both to a float64 triple loop.

// useNative says whether the C kernels run (the GEMM of gemm_amd64.c, the
// activations and softmax of vecmath_amd64.c): where they are built and the
// CPU has AVX2 and FMA, unless LAB_CPU_KERNELS=go. Tests flip it to run the
// Go paths.
var useNative = nativeGemm && os.Getenv("LAB_CPU_KERNELS") != "go"

// NativeKernels reports whether the CPU backend runs its AVX2+FMA C kernels
// (false: gonum's pure-Go BLAS and Go loops).
func NativeKernels() bool { return useNative }

var gonumImpl gonum.Implementation

// blasImpl is sgemm behind gonum's Sgemm signature (the attention and LM
// head kernels call impl.Sgemm).
type blasImpl struct{}

var impl blasImpl

func (blasImpl) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(tA != blas.NoTrans, tB != blas.NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemm computes C = alpha·op(A)·op(B) + beta·C on the calling goroutine,
// row-major: op(A) is m x k, op(B) k x n, C m x n, with row strides lda,
// ldb, ldc as stored (op transposes when the flag is set). C is not read
// when beta is 0. Short slices or strides panic, as in gonum.
func sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int,
	beta float32, c []float32, ldc int) {
	if useNative && m > 0 && n > 0 {
		checkGemm(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
		if nativeSgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
			return
		}
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	gonumImpl.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// checkGemm panics unless the slices hold the matrices their strides say.
func checkGemm(tA, tB bool, m, n, k, na, lda, nb, ldb, nc, ldc int) {
	need := func(what string, rows, cols, ld, have int) {
		if rows == 0 || cols == 0 {
			return
		}
		if ld < cols || (rows-1)*ld+cols > have {
			panic(fmt.Sprintf("kernels: sgemm: %s is %dx%d with stride %d, slice holds %d", what, rows, cols, ld, have))
		}
	}
	if k > 0 {
		if tA {
			need("A", k, m, lda, na)
		} else {
			need("A", m, k, lda, na)
		}
		if tB {
			need("B", n, k, ldb, nb)
		} else {
			need("B", k, n, ldb, nb)
		}
	}
	need("C", m, n, ldc, nc)
}

// gemmPlan is how one (batched) matmul is split over the pool: output tiles
// of tm x tn, and the inner dim cut into splits parts (split-K) when the
// output is too small to give every goroutine a share.
type gemmPlan struct{ tm, tn, splits, grain int }

// Register-block sizes of the C kernel: tiles are cut on these multiples.
const (
	gemmMR = 6
	gemmNR = 16
)

// planGemm splits batch products of m x n x k over threads goroutines.
func planGemm(batch, m, n, k, threads int, native bool) gemmPlan {
	if !native {
		// gonum's path: 64 x 64 tiles (gonum then stays serial), split-K
		// when there are fewer tiles than two per goroutine.
		p := gemmPlan{tm: gemmTile, tn: gemmTile, splits: 1, grain: 1}
		total := batch * ((m + gemmTile - 1) / gemmTile) * ((n + gemmTile - 1) / gemmTile)
		if total < 2*threads && k >= 2*splitKMin {
			p.splits = min(threads, k/splitKMin)
		}
		if work := m * n * k; work < 1<<14 {
			p.grain = (1<<14)/(work+1) + 1 // keep tiny batched products on few goroutines
		}
		return p
	}
	p := gemmPlan{tm: max(m, 1), tn: max(n, 1), splits: 1, grain: 1}
	work := m * n * k
	// A task is at least gemmMinWork multiply-adds: below that the pool's
	// hand-off costs more than it saves.
	if work < gemmMinWork {
		p.grain = gemmMinWork/(work+1) + 1
	}
	if threads <= 1 || batch >= 2*threads || work < 2*gemmMinWork {
		return p
	}
	// Too few products for the goroutines: cut each into pieces, so that
	// batch·pieces is a multiple of threads.
	pieces := (threads + batch - 1) / batch
	if (batch*pieces)%threads != 0 {
		pieces = (2*threads + batch - 1) / batch
	}
	pieces = min(pieces, work/gemmMinWork)
	if pieces <= 1 {
		return p
	}
	switch {
	case k >= 2*splitKMin && k >= 4*max(m, n):
		// A weight gradient (long k, small output): every goroutine sums
		// its slice of k, then the slices are added.
		p.splits = min(pieces, k/splitKMin)
	case m >= pieces*gemmMR || n < pieces*gemmNR:
		p.tm = roundUp((m+pieces-1)/pieces, min(gemmMR, (m+pieces-1)/pieces))
	default:
		p.tn = roundUp((n+pieces-1)/pieces, gemmNR)
	}
	return p
}

// gemmMinWork is the fewest multiply-adds worth a task of their own.
const gemmMinWork = 1 << 15

func roundUp(x, m int) int { return (x + m - 1) / m * m }
