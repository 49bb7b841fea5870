package cuda

import (
	"fmt"
	"os"
	"slices"
	"strconv"

	"lab/kernels"
)

// The fused LM head (kernels.LinearCrossEntropy): the loss of rows h [K, D]
// through a head W [D, V] is computed a chunk of rows at a time, so only a
// [chunk, V] block of logits exists (256 MiB by default, against 2 GiB of
// logits and 2 GiB of their gradient for the K = 65536, V = 8192).
// Per chunk:
//
//	forward:  logits = h_c·W (cuBLAS), lmhead_xent: row losses
//	backward: logits = h_c·W, lmhead_xent: row losses and, in place,
//	          dlogits; dh_c = dlogits·Wᵀ; dW (+)= h_cᵀ·dlogits (beta 0 for
//	          the first chunk, then 1: chunks in ascending order, so the
//	          result is the same on every run)
//
// then xent_mean over the row losses. When the loss gradient is a leaf
// (Grad's d_loss), fuse.go moves the backward node before the loss and the
// loss node only takes the mean of the backward's row losses: the logits
// GEMM runs once per chunk (see fuseLinearCrossEntropy). Otherwise the
// backward recomputes the logits.

// headScratchBytes is the size of the [chunk, V] logits block: the rows per
// chunk are headScratchBytes / (4·V), at least 1 and at most K. Tests and
// timings change it; the environment variable LAB_CUDA_HEAD_MIB, when set
// to a positive integer, overrides it at Compile (timings of whole steps).
//
// 256 MiB (8192 rows at V = 8192) was the fastest size measured (NOTES.md,
// "Fused LM head"): chunks small enough to stay in L2 (512-1024 rows) made
// the row kernel faster, but cut the GEMMs into pieces that cuBLAS runs at
// 90-110 TFLOP/s with a gap between launches, which cost more.
var headScratchBytes = 256 << 20

// scratchBytes is headScratchBytes or its override from the environment.
func scratchBytes() int {
	if s := os.Getenv("LAB_CUDA_HEAD_MIB"); s != "" {
		if mib, err := strconv.Atoi(s); err == nil && mib > 0 {
			return mib << 20
		}
	}
	return headScratchBytes
}

// headSplitK, when > 1 and dividing V, computes each chunk's dh as
// headSplitK GEMMs over slices of the vocabulary (one strided-batched call)
// summed in order by sum_parts; 1 is one GEMM. Timings change it.
var headSplitK = 1

// headVec chooses lmhead_xent_vec (the row in registers, read once) where
// it applies; false keeps the three-pass lmhead_xent (timings).
// headVecThreads, when not 0, sets its block size (timings).
var (
	headVec        = true
	headVecThreads = 0
)

// lmheadVec is LMHEAD_VEC in head.cu: float4s per thread.
const lmheadVec = 8

func init() {
	opLowerers["linear_cross_entropy"] = lowerLinearXent
	opLowerers["linear_cross_entropy_grad"] = lowerLinearXentGrad
}

// headShape reads K, D, V and the rows per chunk from a head node's inputs.
func headShape(n *kernels.Node) (k, d, v, c int, err error) {
	h, w := n.In[0].Shape, n.In[1].Shape
	if len(h) != 2 || len(w) != 2 || h[1] != w[0] {
		return 0, 0, 0, 0, fmt.Errorf("linear cross-entropy of h %v and w %v", h, w)
	}
	k, d, v = h[0], h[1], w[1]
	c = min(k, max(1, scratchBytes()/(4*v)))
	return k, d, v, c, nil
}

// lowerLinearXent is the forward alone: per chunk, the logits GEMM and the
// row losses; then their mean.
func lowerLinearXent(p *Program, n *kernels.Node, y Buffer, in []Buffer) (func() error, error) {
	k, d, v, c, err := headShape(n)
	if err != nil {
		return nil, err
	}
	logits, err := p.alloc(c * v)
	if err != nil {
		return nil, err
	}
	rowLoss, err := p.alloc(k)
	if err != nil {
		return nil, err
	}
	h, w, t := in[0], in[1], in[2]
	var ch chain
	for r0 := 0; r0 < k; r0 += c {
		rows := min(c, k-r0)
		hc := h.Slice(r0*d, (r0+rows)*d)
		rowsK, vec, err := p.headRows(rows, v, false, logits, t.Slice(r0, r0+rows), Buffer{}, Buffer{},
			rowLoss.Slice(r0, r0+rows), int64(rows), int32(v), int32(0), p.errBuf)
		ch.add(p.gemm(gemmArgs{m: rows, n: v, k: d, alpha: 1, a: hc, lda: d, b: w, ldb: v, c: logits, ldc: v, cHalf: vec}))
		ch.add(rowsK, err)
	}
	ch.add(p.launcher("xent_mean", Dim3{X: 1}, Dim3{X: 1024}, rowLoss, t, int64(k), y))
	return ch.done()
}

// lowerLinearXentGrad is the backward alone: it recomputes the logits.
func lowerLinearXentGrad(p *Program, n *kernels.Node, y Buffer, in []Buffer) (func() error, error) {
	k, _, _, _, err := headShape(n)
	if err != nil {
		return nil, err
	}
	rowLoss, err := p.alloc(k)
	if err != nil {
		return nil, err
	}
	return p.headBackward(n, y, in, rowLoss)
}

// headBackward queues the chunk loop of the backward of node n (inputs h,
// W, targets, dy; output dh [K·D] then dW [D·V]), leaving the row losses in
// rowLoss.
func (p *Program) headBackward(n *kernels.Node, y Buffer, in []Buffer, rowLoss Buffer) (func() error, error) {
	k, d, v, c, err := headShape(n)
	if err != nil {
		return nil, err
	}
	logits, err := p.alloc(c * v)
	if err != nil {
		return nil, err
	}
	cnt, err := p.alloc(1)
	if err != nil {
		return nil, err
	}
	split := headSplitK
	if split < 2 || v%split != 0 {
		split = 1
	}
	var part Buffer
	if split > 1 {
		if part, err = p.alloc(split * c * d); err != nil {
			return nil, err
		}
	}
	h, w, t, dy := in[0], in[1], in[2], in[3]
	dh, dw := y.Slice(0, k*d), y.Slice(k*d, k*d+d*v)
	var ch chain
	ch.add(p.launcher("count_targets", Dim3{X: 1}, Dim3{X: 1024}, t, int64(k), cnt))
	for r0 := 0; r0 < k; r0 += c {
		rows := min(c, k-r0)
		hc, dhc := h.Slice(r0*d, (r0+rows)*d), dh.Slice(r0*d, (r0+rows)*d)
		beta := float32(1)
		if r0 == 0 {
			beta = 0
		}
		// In BF16 the logits are bfloat16 (the forward GEMM writes them so
		// for the vector row kernel, which writes dlogits over them; the
		// other row kernels read float32 logits and write bfloat16 dlogits
		// to slot halfPre): the two gradient GEMMs read them as they are.
		rowsK, vec, err := p.headRows(rows, v, true, logits, t.Slice(r0, r0+rows), dy, cnt,
			rowLoss.Slice(r0, r0+rows), int64(rows), int32(v), int32(1), p.errBuf)
		dl := fromPre
		if vec {
			dl = inPlace
		}
		ch.add(p.gemm(gemmArgs{m: rows, n: v, k: d, alpha: 1, a: hc, lda: d, b: w, ldb: v, c: logits, ldc: v, cHalf: vec}))
		ch.add(rowsK, err)
		if split == 1 {
			ch.add(p.gemm(gemmArgs{tB: true, m: rows, n: d, k: v, alpha: 1, a: logits, lda: v, b: w, ldb: v,
				c: dhc, ldc: d, aSrc: dl}))
		} else {
			vs := v / split
			ch.add(p.gemm(gemmArgs{tB: true, m: rows, n: d, k: vs, alpha: 1, a: logits, lda: v, sa: int64(vs),
				b: w, ldb: v, sb: int64(vs), c: part, ldc: d, sc: int64(rows * d), batch: split, aSrc: dl}))
			ch.add(p.ew("sum_parts", rows*d, part, dhc, int32(split), int64(rows*d)))
		}
		ch.add(p.gemm(gemmArgs{tA: true, m: d, n: v, k: rows, alpha: 1, a: hc, lda: d, b: logits, ldb: v,
			beta: beta, c: dw, ldc: v, bSrc: dl}))
	}
	return ch.done()
}

// headRows launches the row kernel over rows x v logits: lmhead_xent_vec
// (one block per row, up to 32 floats per thread, whole warps; vec true)
// when v is a multiple of 4 and at most 32768, else lmhead_xent. In BF16
// the vector kernel is lmhead_xent_vec_bf16 (bfloat16 logits, dlogits in
// place); the others, with grad, write bfloat16 dlogits into slot halfPre.
// The kernel's last argument (that slot, or null) is added here.
func (p *Program) headRows(rows, v int, grad bool, args ...any) (run func() error, vec bool, err error) {
	threads := ((v+4*lmheadVec-1)/(4*lmheadVec) + 31) / 32 * 32
	all := append(slices.Clip(args), Buffer{})
	if !headVec || v%4 != 0 || threads > 1024 {
		f, grid, block := p.k.rowLaunch("lmhead_xent", rows, v)
		if f == nil {
			return nil, false, fmt.Errorf("no kernel lmhead_xent_warp/_block")
		}
		if grad {
			p.needHalf(convert, halfPre, int64(rows)*int64(v))
		}
		return func() error {
			all[len(all)-1] = Buffer{}
			if grad && p.prec == BF16 {
				all[len(all)-1] = p.half[halfPre]
			}
			return f.Launch(p.s, grid, block, 0, all...)
		}, false, nil
	}
	if headVecThreads > threads && headVecThreads <= 1024 {
		threads = headVecThreads
	}
	f, err := p.k.Function("lmhead_xent_vec")
	if err != nil {
		return nil, false, err
	}
	fh, err := p.k.Function("lmhead_xent_vec_bf16")
	if err != nil {
		return nil, false, err
	}
	grid, block := Dim3{X: rows}, Dim3{X: max(32, threads)}
	return func() error {
		if p.prec == BF16 {
			return fh.Launch(p.s, grid, block, 0, all...)
		}
		return f.Launch(p.s, grid, block, 0, all...)
	}, true, nil
}

// fuseLinearCrossEntropy makes grad (linear_cross_entropy_grad, moved before
// its loss by fuse) run the whole chunk loop, leaving the row losses for
// loss (linear_cross_entropy), which only takes their mean.
func (p *Program) fuseLinearCrossEntropy(f *fusion, grad, loss *kernels.Node) {
	k := grad.In[0].Shape[0]
	var rowLoss Buffer
	f.lower[grad.ID] = func(y Buffer, in []Buffer) (func() error, error) {
		var err error
		if rowLoss, err = p.alloc(k); err != nil {
			return nil, err
		}
		return p.headBackward(grad, y, in, rowLoss)
	}
	f.lower[loss.ID] = func(y Buffer, in []Buffer) (func() error, error) {
		return p.launcher("xent_mean", Dim3{X: 1}, Dim3{X: 1024}, rowLoss, in[2], int64(k), y)
	}
}
