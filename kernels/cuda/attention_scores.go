package cuda

import (
	"os"

	"lab/kernels"
)

// The attention op has two device paths. The flash kernels (attention.go)
// never hold an L×L matrix; the scores path materialises the weights with
// cuBLAS batched GEMMs and the fused masked-softmax kernels (fused.cu), as
// the composite graph did before attention became one op. Measured on an
// H100 (NOTES.md, "Attention"): at batch·heads 64 and L ≤ 1024 the scores
// path is faster for every head size (dh 128: 1.2 against 2.7 ms forward +
// backward; dh 256: 1.5 against 15.4), while only the flash path fits long
// sequences. scoresPath is the rule: materialise while one [BH, L, L]
// matrix is at most 512 MiB and L ≤ 4096; LAB_CUDA_ATTENTION=flash or
// =scores forces a path (for measurement).
func scoresPath(a attnDims) bool {
	switch os.Getenv("LAB_CUDA_ATTENTION") {
	case "flash":
		return false
	case "scores":
		return true
	}
	return a.l <= 4096 && int64(a.bh)*int64(a.l)*int64(a.l) <= 1<<27
}

// sharedScratch returns a buffer of at least n words shared by every
// attention node of the program (key is -1 or -2): the schedule runs in
// order on one stream, so no two nodes use it at once.
func (p *Program) sharedScratch(key, n int) (Buffer, error) {
	if b, ok := p.stash[key]; ok && b.Bytes >= int64(n)*4 {
		return b, nil
	}
	delete(p.stash, key)
	return p.Stash(key, n)
}

// lowerAttentionScores binds the forward through the weights P: S = Q·Kᵀ
// into scratch, P = masked softmax(scale·S) kept in the node's stash for
// the backward, O = P·V.
func lowerAttentionScores(p *Program, n *kernels.Node, a attnDims, y Buffer, in []Buffer) (func() error, error) {
	ll := a.l * a.l
	s, err := p.sharedScratch(-1, a.bh*ll)
	if err != nil {
		return nil, err
	}
	w, err := p.Stash(n.ID, a.bh*ll)
	if err != nil {
		return nil, err
	}
	soft, err := p.rows("masked_softmax", a.bh*a.l, a.l, s, w, int64(a.bh*a.l), int32(a.l), a.scale, a.window, int32(0))
	if err != nil {
		return nil, err
	}
	L, dh, sq, sl := a.l, a.dh, int64(a.l*a.dh), int64(ll)
	q, k, v := in[0], in[1], in[2]
	var ch chain
	ch.add(p.gemm(gemmArgs{tB: true, m: L, n: L, k: dh, alpha: 1, a: q, lda: dh, sa: sq, b: k, ldb: dh, sb: sq,
		c: s, ldc: L, sc: sl, batch: a.bh}))
	ch.add(soft, nil)
	ch.add(p.gemm(gemmArgs{m: L, n: dh, k: L, alpha: 1, a: w, lda: L, sa: sl, b: v, ldb: dh, sb: sq,
		c: y, ldc: dh, sc: sq, batch: a.bh}))
	return ch.done()
}

// lowerAttentionScoresGrad binds the backward of the attention node fwd
// from its stashed weights P: dV = Pᵀ·dO, dP = dO·Vᵀ, dS = scale·P∘(dP −
// rowsum(P∘dP)), dQ = dS·K, dK = dSᵀ·Q, into y = [dq, dk, dv].
func lowerAttentionScoresGrad(p *Program, fwd *kernels.Node, a attnDims, y Buffer, in []Buffer) (func() error, error) {
	ll := a.l * a.l
	w, err := p.Stash(fwd.ID, a.bh*ll)
	if err != nil {
		return nil, err
	}
	dp, err := p.sharedScratch(-1, a.bh*ll)
	if err != nil {
		return nil, err
	}
	ds, err := p.sharedScratch(-2, a.bh*ll)
	if err != nil {
		return nil, err
	}
	grad, err := p.rows("softmax_grad_scaled", a.bh*a.l, a.l, w, dp, ds, int64(a.bh*a.l), int32(a.l), a.scale)
	if err != nil {
		return nil, err
	}
	size := int64(a.bh * a.l * a.dh)
	part := func(i int64) Buffer { return Buffer{Ptr: y.Ptr + uint64(i*size*4), Bytes: size * 4} }
	dq, dk, dv := part(0), part(1), part(2)
	q, k, v, dy := in[0], in[1], in[2], in[4]
	L, dh, sq, sl, bh := a.l, a.dh, int64(a.l*a.dh), int64(ll), a.bh
	var ch chain
	ch.add(p.gemm(gemmArgs{tA: true, m: L, n: dh, k: L, alpha: 1, a: w, lda: L, sa: sl, b: dy, ldb: dh, sb: sq,
		c: dv, ldc: dh, sc: sq, batch: bh}))
	ch.add(p.gemm(gemmArgs{tB: true, m: L, n: L, k: dh, alpha: 1, a: dy, lda: dh, sa: sq, b: v, ldb: dh, sb: sq,
		c: dp, ldc: L, sc: sl, batch: bh}))
	ch.add(grad, nil)
	// dS feeds two GEMMs: in BF16 it is converted once.
	ch.add(p.toHalf(ds, bh*ll), nil)
	ch.add(p.gemm(gemmArgs{m: L, n: dh, k: L, alpha: 1, a: ds, lda: L, sa: sl, b: k, ldb: dh, sb: sq,
		c: dq, ldc: dh, sc: sq, batch: bh, aSrc: fromPre}))
	ch.add(p.gemm(gemmArgs{tA: true, m: L, n: dh, k: L, alpha: 1, a: ds, lda: L, sa: sl, b: q, ldb: dh, sb: sq,
		c: dk, ldc: dh, sc: sq, batch: bh, aSrc: fromPre}))
	return ch.done()
}
