package kernels

import "gonum.org/v1/gonum/blas"

// attnBlock is the number of queries one CPU attention task handles: the
// scratch of a task is attnBlock × (keys the block sees), never L × L.
const attnBlock = 64

// attention is causal softmax attention as one op:
// softmax(scale·q·kᵀ + causal mask)·v, each query seeing the keys j <= i
// (and i-j < window when window > 0), the rule of CausalMask.
type attention struct {
	scale  float32
	window int
}

func (attention) Name() string { return "attention" }

// Attention returns causal softmax attention over q, k, v of shape
// [BH, L, dh] (heads folded into the leading dim): row i of the result is
// Σ_j p_ij·v_j with p_i = softmax_j(scale·q_i·k_j) over the keys j <= i,
// and, when window > 0, i-j < window (the query sees the last window keys,
// itself included: the rule of CausalMask). It is the fused twin of
// MatMul(Softmax(CausalMask(Scale(MatMul(q, kᵀ), scale), window, -Inf)), v)
// and never holds the L×L matrix in memory.
func (g *Graph) Attention(q, k, v *Node, scale float32, window int) *Node {
	if len(q.Shape) != 3 || !sameShape(q.Shape, k.Shape) || !sameShape(q.Shape, v.Shape) {
		fail("attention: need q, k, v of one shape [BH, L, dh], got %v, %v, %v", q.Shape, k.Shape, v.Shape)
	}
	if window < 0 {
		fail("attention: window %d < 0", window)
	}
	return g.Apply(attention{scale, window}, q.Shape, q, k, v)
}

// Backward adds one attention_grad node computing dq, dk and dv together
// (packed [3, BH, L, dh]) and slices the three out of it.
func (o attention) Backward(g *Graph, n *Node, dy *Node) []*Node {
	s := n.Shape
	pk := g.Apply(attentionGrad(o), append([]int{3}, s...), n.In[0], n.In[1], n.In[2], n, dy)
	out := make([]*Node, 3)
	for i := range out {
		out[i] = g.Reshape(g.Slice(pk, 0, i, i+1), s...)
	}
	return out
}

// keyRange is the range [lo, hi) of keys that the queries [i0, i1) see.
func (o attention) keyRange(i0, i1 int) (int, int) {
	if o.window > 0 {
		return max(0, i0-o.window+1), i1
	}
	return 0, i1
}

// rowKeys is the range [lo, hi) of keys query i sees.
func (o attention) rowKeys(i int) (int, int) {
	if o.window > 0 {
		return max(0, i-o.window+1), i + 1
	}
	return 0, i + 1
}

// maxKeys bounds the keys one block of queries sees.
func (o attention) maxKeys(l int) int {
	if o.window > 0 {
		return min(l, attnBlock+o.window-1)
	}
	return l
}

// gemm is C = A·op(B) (+ C when acc) in tiles of at most gemmTile² outputs,
// so that gonum runs each serially on the calling goroutine.
func gemm(tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, acc bool, c []float32, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	beta := float32(0)
	if acc {
		beta = 1
	}
	for i0 := 0; i0 < m; i0 += gemmTile {
		for j0 := 0; j0 < n; j0 += gemmTile {
			mi, nj := min(gemmTile, m-i0), min(gemmTile, n-j0)
			var av, bv []float32
			if tA {
				av = a[i0:]
			} else {
				av = a[i0*lda:]
			}
			if tB {
				bv = b[j0*ldb:]
			} else {
				bv = b[j0:]
			}
			impl.Sgemm(ta, tb, mi, nj, k, 1, av, lda, bv, ldb, beta, c[i0*ldc+j0:], ldc)
		}
	}
}

// probs fills p (rows × nk, row stride nk) with the attention weights of the
// queries [i0, i0+rows) over the keys [klo, klo+nk) of one head: the
// product q·kᵀ, scaled, softmax over the keys each query sees, 0 elsewhere.
func (o attention) probs(q, k []float32, dh, i0, rows, klo, nk int, p []float32) {
	gemm(false, true, rows, nk, dh, q[i0*dh:], dh, k[klo*dh:], dh, false, p, nk)
	for r := 0; r < rows; r++ {
		row := p[r*nk : (r+1)*nk]
		lo, hi := o.rowKeys(i0 + r)
		lo, hi = lo-klo, hi-klo
		for j := range row {
			if j < lo || j >= hi {
				row[j] = 0
			} else {
				row[j] *= o.scale
			}
		}
		softmaxRow(row[lo:hi], row[lo:hi])
	}
}

// attnParts is how many scratch sets a kernel binds: one per goroutine.
func attnParts() int { return max(1, Threads()) }

func (o attention) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	bh, l, dh := out.Shape[0], out.Shape[1], out.Shape[2]
	q, k, v, y := in[0].Data, in[1].Data, in[2].Data, out.Data
	nqb := (l + attnBlock - 1) / attnBlock
	tasks := bh * nqb
	parts := min(attnParts(), tasks)
	scratch := make([][]float32, parts)
	for i := range scratch {
		scratch[i] = make([]float32, attnBlock*o.maxKeys(l))
	}
	sz := l * dh
	body := func(lo, hi int) {
		for part := lo; part < hi; part++ {
			p := scratch[part]
			for t := part; t < tasks; t += parts {
				h, i0 := t/nqb, (t%nqb)*attnBlock
				rows := min(attnBlock, l-i0)
				klo, khi := o.keyRange(i0, i0+rows)
				nk := khi - klo
				qh, kh, vh := q[h*sz:(h+1)*sz], k[h*sz:(h+1)*sz], v[h*sz:(h+1)*sz]
				o.probs(qh, kh, dh, i0, rows, klo, nk, p)
				gemm(false, false, rows, dh, nk, p, nk, vh[klo*dh:], dh, false, y[h*sz+i0*dh:], dh)
			}
		}
	}
	return func() { r.For(parts, 1, body) }
}

// attentionGrad computes the gradients of attention with respect to q, k
// and v, packed as [3, BH, L, dh]. Inputs: q, k, v, the attention output
// and its gradient dy.
type attentionGrad attention

func (attentionGrad) Name() string { return "attention_grad" }

func (attentionGrad) Backward(g *Graph, n *Node, dy *Node) []*Node {
	fail("attention_grad: second derivatives are not supported")
	return nil
}

// Kernel recomputes the weights block by block: with P the weights, dP =
// dy·vᵀ, dS = P∘(dP - rowsum(P∘dP))·scale, it forms dq = dS·k, dk = dSᵀ·q
// and dv = Pᵀ·dy. One task per head (dk and dv sum over query blocks, in
// order), so results do not depend on the thread count.
func (o attentionGrad) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	a := attention(o)
	bh, l, dh := in[0].Shape[0], in[0].Shape[1], in[0].Shape[2]
	q, k, v, dy := in[0].Data, in[1].Data, in[2].Data, in[4].Data
	sz := l * dh
	dq, dk, dv := out.Data[:bh*sz], out.Data[bh*sz:2*bh*sz], out.Data[2*bh*sz:]
	parts := min(attnParts(), bh)
	nk := a.maxKeys(l)
	type buf struct{ p, dp []float32 }
	scratch := make([]buf, parts)
	for i := range scratch {
		scratch[i] = buf{make([]float32, attnBlock*nk), make([]float32, attnBlock*nk)}
	}
	body := func(lo, hi int) {
		for part := lo; part < hi; part++ {
			sc := scratch[part]
			for h := part; h < bh; h += parts {
				off := h * sz
				qh, kh, vh, dyh := q[off:off+sz], k[off:off+sz], v[off:off+sz], dy[off:off+sz]
				dqh, dkh, dvh := dq[off:off+sz], dk[off:off+sz], dv[off:off+sz]
				clear(dkh)
				clear(dvh)
				for i0 := 0; i0 < l; i0 += attnBlock {
					rows := min(attnBlock, l-i0)
					klo, khi := a.keyRange(i0, i0+rows)
					n := khi - klo
					p, dp := sc.p[:rows*n], sc.dp[:rows*n]
					a.probs(qh, kh, dh, i0, rows, klo, n, p)
					gemm(false, true, rows, n, dh, dyh[i0*dh:], dh, vh[klo*dh:], dh, false, dp, n)
					// dv[klo:khi] += Pᵀ·dy[i0:i0+rows], before P is overwritten.
					gemm(true, false, n, dh, rows, p, n, dyh[i0*dh:], dh, true, dvh[klo*dh:], dh)
					for r := 0; r < rows; r++ {
						pr, dr := p[r*n:(r+1)*n], dp[r*n:(r+1)*n]
						s := dot(pr, dr)
						for j := range pr {
							dr[j] = pr[j] * (dr[j] - s) * o.scale
						}
					}
					gemm(false, false, rows, dh, n, dp, n, kh[klo*dh:], dh, false, dqh[i0*dh:], dh)
					gemm(true, false, n, dh, rows, dp, n, qh[i0*dh:], dh, true, dkh[klo*dh:], dh)
				}
			}
		}
	}
	return func() { r.For(parts, 1, body) }
}
