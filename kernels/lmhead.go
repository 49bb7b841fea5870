package kernels

import "gonum.org/v1/gonum/blas"

// linearXent is the LM head and its loss in one op: the mean over rows with
// a target of logsumexp(h·W)[i] - (h·W)[i, t[i]], computed chunk by chunk
// of rows so the [K, V] logits never exist at once. chunk is the rows per
// chunk (0: about a megabyte of logits).
type linearXent struct{ chunk int }

func (linearXent) Name() string { return "linear_cross_entropy" }

// LinearCrossEntropy returns CrossEntropy(MatMul(h, w), targets) for rows h
// [K, D], weight w [D, V] and integer targets [K] (Ignore = no loss) as a
// [1] node, without a [K, V] logits buffer: rows go through the head a
// chunk at a time, and the backward recomputes each chunk's logits.
func (g *Graph) LinearCrossEntropy(h, w, targets *Node) *Node {
	return g.linearCrossEntropy(h, w, targets, 0)
}

func (g *Graph) linearCrossEntropy(h, w, targets *Node, chunk int) *Node {
	if len(h.Shape) != 2 || len(w.Shape) != 2 || h.Shape[1] != w.Shape[0] || h.Ints || w.Ints {
		fail("linear_cross_entropy: need h [K, D] and w [D, V], got %v and %v", h.Shape, w.Shape)
	}
	if !targets.Ints || len(targets.Shape) != 1 || targets.Shape[0] != h.Shape[0] {
		fail("linear_cross_entropy: need integer targets [%d], got %v", h.Shape[0], targets.Shape)
	}
	return g.Apply(linearXent{chunk}, []int{1}, h, w, targets)
}

// Backward: one op computes dh and dW together (they share each chunk's
// softmax), packed as [K·D + D·V]; slices give each gradient its shape.
func (o linearXent) Backward(g *Graph, n *Node, dy *Node) []*Node {
	h, w, t := n.In[0], n.In[1], n.In[2]
	k, d, v := h.Shape[0], h.Shape[1], w.Shape[1]
	pk := g.Apply(linearXentGrad(o), []int{k*d + d*v}, h, w, t, dy)
	dh := g.Reshape(g.Slice(pk, 0, 0, k*d), k, d)
	dw := g.Reshape(g.Slice(pk, 0, k*d, k*d+d*v), d, v)
	return []*Node{dh, dw, nil}
}

// chunkRows is the rows per chunk for k rows of v logits: the op's setting,
// else about 2^18 floats (1 MiB) of logits, at least one row.
func (o linearXent) chunkRows(k, v int) int {
	c := o.chunk
	if c <= 0 {
		c = max(1, (1<<18)/v)
	}
	return min(c, k)
}

func (o linearXent) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	h, w, t := in[0].Data, in[1].Data, in[2].Ints
	k, d, v := in[0].Shape[0], in[0].Shape[1], in[1].Shape[1]
	c := o.chunkRows(k, v)
	logits := make([]float32, c*v)
	part := make([]float64, k)
	gm := newTiledGemm()
	var r0 int
	rowsBody := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			part[r0+i] = 0
			if tg := t[r0+i]; tg != Ignore {
				row := logits[i*v : (i+1)*v]
				part[r0+i] = logSumExp(row) - float64(row[tg])
			}
		}
	}
	return func() {
		for r0 = 0; r0 < k; r0 += c {
			rows := min(c, k-r0)
			gm.run(r, false, false, rows, v, d, h[r0*d:], d, w, v, 0, logits, v)
			r.For(rows, 1+ewGrain/(2*v+1), rowsBody)
		}
		var s float64
		for _, p := range part {
			s += p
		}
		out.Data[0] = float32(s / float64(max(1, countTargets(t))))
	}
}

// linearXentGrad computes, chunk by chunk of rows, the logits again, their
// gradient dl = dy·(softmax - onehot(target))/count (zero for Ignore rows),
// dh = dl·Wᵀ and dW = Σ_chunks h_chunkᵀ·dl, chunks in ascending order.
// Output: dh [K, D] then dW [D, V], flat.
type linearXentGrad linearXent

func (linearXentGrad) Name() string { return "linear_cross_entropy_grad" }

func (linearXentGrad) Backward(g *Graph, n *Node, dy *Node) []*Node {
	fail("linear_cross_entropy_grad: second derivatives are not supported")
	return nil
}

func (o linearXentGrad) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	h, w, t, dy := in[0].Data, in[1].Data, in[2].Ints, in[3].Data
	k, d, v := in[0].Shape[0], in[0].Shape[1], in[1].Shape[1]
	c := linearXent(o).chunkRows(k, v)
	dh, dw := out.Data[:k*d], out.Data[k*d:]
	dl := make([]float32, c*v)
	gm := newTiledGemm()
	var r0 int
	var scale float32
	rowsBody := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := dl[i*v : (i+1)*v]
			tg := t[r0+i]
			if tg == Ignore {
				clear(row)
				continue
			}
			softmaxRow(row, row)
			row[tg] -= 1
			for j := range row {
				row[j] *= scale
			}
		}
	}
	return func() {
		scale = dy[0] / float32(max(1, countTargets(t)))
		for r0 = 0; r0 < k; r0 += c {
			rows := min(c, k-r0)
			hc := h[r0*d:]
			gm.run(r, false, false, rows, v, d, hc, d, w, v, 0, dl, v)
			r.For(rows, 1+ewGrain/(3*v+1), rowsBody)
			gm.run(r, false, true, rows, d, v, dl, v, w, v, 0, dh[r0*d:], d)
			beta := float32(1)
			if r0 == 0 {
				beta = 0
			}
			gm.run(r, true, false, d, v, rows, hc, d, dl, v, beta, dw, v)
		}
	}
}

// tiledGemm is a row-major C = op(A)·op(B) + beta·C spread over the worker
// pool in output tiles, each one serial gonum Sgemm over the whole inner
// dim (so an element's sum never depends on the tiling or the thread
// count). Its body is bound once: running it allocates nothing.
type tiledGemm struct {
	ta, tb        blas.Transpose
	m, n, k       int
	a, b, c       []float32
	lda, ldb, ldc int
	beta          float32
	tm, tn, nt    int
	body          func(lo, hi int)
}

func newTiledGemm() *tiledGemm {
	g := &tiledGemm{}
	g.body = g.tiles
	return g
}

// run computes C (m x n, row stride ldc) = op(A)·op(B) + beta·C, where
// op(A) is m x k and op(B) k x n as stored row-major with strides lda, ldb.
func (g *tiledGemm) run(r *Runner, tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int,
	beta float32, c []float32, ldc int) {
	g.ta, g.tb = blas.NoTrans, blas.NoTrans
	if tA {
		g.ta = blas.Trans
	}
	if tB {
		g.tb = blas.Trans
	}
	g.m, g.n, g.k, g.a, g.lda, g.b, g.ldb, g.beta, g.c, g.ldc = m, n, k, a, lda, b, ldb, beta, c, ldc
	// Tiles of at most gemmTile square, shrunk (rows first, to 8) until
	// every goroutine has a few.
	g.tm, g.tn = min(gemmTile, m), min(gemmTile, n)
	for g.tiles1() < 4*Threads() && g.tm > 8 {
		g.tm = (g.tm + 1) / 2
	}
	for g.tiles1() < 4*Threads() && g.tn > 8 {
		g.tn = (g.tn + 1) / 2
	}
	g.nt = (n + g.tn - 1) / g.tn
	r.For(g.tiles1(), 1, g.body)
}

func (g *tiledGemm) tiles1() int { return ((g.m + g.tm - 1) / g.tm) * ((g.n + g.tn - 1) / g.tn) }

func (g *tiledGemm) tiles(lo, hi int) {
	for t := lo; t < hi; t++ {
		i0, j0 := (t/g.nt)*g.tm, (t%g.nt)*g.tn
		mi, nj := min(g.tm, g.m-i0), min(g.tn, g.n-j0)
		ao, bo := i0*g.lda, j0
		if g.ta == blas.Trans {
			ao = i0
		}
		if g.tb == blas.Trans {
			bo = j0 * g.ldb
		}
		av, bv := g.a[ao:], g.b[bo:]
		impl.Sgemm(g.ta, g.tb, mi, nj, g.k, 1, av, g.lda, bv, g.ldb, g.beta, g.c[i0*g.ldc+j0:], g.ldc)
	}
}
