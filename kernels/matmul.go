package kernels

import "sync/atomic"

// gemmTile bounds the output block one serial gonum Sgemm call computes, so
// that gonum never starts goroutines of its own: the tiles are spread over
// lab's pool instead, and a step allocates nothing. (The C GEMM takes
// larger tiles: see planGemm.)
const gemmTile = 64

// splitKMin is the shortest slice of the inner dim worth a goroutine.
const splitKMin = 256

type matMul struct{ tA, tB bool }

func (o matMul) Name() string { return "matmul" }

// MatMul returns op(a)·op(b), where op transposes the last two dims when the
// flag is set. a is [..., M, K] and b is [..., K, N] with the same leading
// dims, or b is 2-D and a is not transposed (then a's leading dims are folded
// into M: the usual x·W of a linear layer).
func (g *Graph) MatMul(a, b *Node, tA, tB bool) *Node {
	ra, rb := len(a.Shape), len(b.Shape)
	if ra < 2 || rb < 2 {
		fail("matmul: need rank >= 2, got %v and %v", a.Shape, b.Shape)
	}
	if rb == 2 && ra > 2 && !tA {
		m := a.Len() / a.Shape[ra-1]
		y := g.MatMul(g.Reshape(a, m, a.Shape[ra-1]), b, false, tB)
		out := append(append([]int(nil), a.Shape[:ra-1]...), y.Shape[1])
		return g.Reshape(y, out...)
	}
	if ra != rb || !sameShape(a.Shape[:ra-2], b.Shape[:rb-2]) {
		fail("matmul: batch dims differ: %v and %v", a.Shape, b.Shape)
	}
	m, k := a.Shape[ra-2], a.Shape[ra-1]
	if tA {
		m, k = k, m
	}
	k2, n := b.Shape[rb-2], b.Shape[rb-1]
	if tB {
		k2, n = n, k2
	}
	if k != k2 {
		fail("matmul: inner dims differ: %v (t=%v) and %v (t=%v)", a.Shape, tA, b.Shape, tB)
	}
	out := append(append([]int(nil), a.Shape[:ra-2]...), m, n)
	return g.Apply(matMul{tA, tB}, out, a, b)
}

func (o matMul) Backward(g *Graph, n *Node, dy *Node) []*Node {
	a, b := n.In[0], n.In[1]
	var da, db *Node
	if !o.tA {
		da = g.MatMul(dy, b, false, !o.tB)
	} else {
		da = g.MatMul(b, dy, o.tB, true)
	}
	if !o.tB {
		db = g.MatMul(a, dy, !o.tA, false)
	} else {
		db = g.MatMul(dy, a, true, o.tA)
	}
	return []*Node{da, db}
}

func (o matMul) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	a, b := in[0], in[1]
	rk := len(a.Shape)
	batch := numel(a.Shape[:rk-2])
	m, n := out.Shape[rk-2], out.Shape[rk-1]
	k := a.Shape[rk-1]
	if o.tA {
		k = a.Shape[rk-2]
	}
	lda, ldb := a.Shape[rk-1], b.Shape[rk-1]
	sa, sb, sc := a.Shape[rk-2]*a.Shape[rk-1], b.Shape[rk-2]*b.Shape[rk-1], m*n
	pl := planGemm(batch, m, n, k, Threads(), useNative)
	mt, nt := (m+pl.tm-1)/pl.tm, (n+pl.tn-1)/pl.tn
	tiles := mt * nt
	total := batch * tiles
	splits := pl.splits
	// Split-K: part 0 of the inner dim sums into the output, part p > 0
	// into its own scratch product; then the parts are added.
	var scratch []float32
	if splits > 1 {
		scratch = make([]float32, (splits-1)*len(out.Data))
	}
	kPart := (k + splits - 1) / splits
	size := len(out.Data)
	sum := func(lo, hi int) {
		y := out.Data[lo:hi]
		for p := 0; p < splits-1; p++ {
			for i, v := range scratch[p*size+lo : p*size+hi] {
				y[i] += v
			}
		}
	}
	// A small split-K output is summed by whichever goroutine finishes the
	// last part (no second round on the pool); a large one by all of them.
	lastSums := size <= 1<<15
	var pending atomic.Int64
	body := func(lo, hi int) {
		defer func() {
			if splits > 1 && lastSums && pending.Add(int64(lo-hi)) == 0 {
				sum(0, size)
			}
		}()
		for w := lo; w < hi; w++ {
			t, part := w%total, w/total
			bi, rest := t/tiles, t%tiles
			i0, j0 := (rest/nt)*pl.tm, (rest%nt)*pl.tn
			mi, nj := min(pl.tm, m-i0), min(pl.tn, n-j0)
			k0 := part * kPart
			kk := min(kPart, k-k0)
			av := a.Data[bi*sa:]
			if o.tA {
				av = av[k0*lda+i0:]
			} else {
				av = av[i0*lda+k0:]
			}
			bv := b.Data[bi*sb:]
			if o.tB {
				bv = bv[j0*ldb+k0:]
			} else {
				bv = bv[k0*ldb+j0:]
			}
			c := out.Data
			if part > 0 {
				c = scratch[(part-1)*len(out.Data):]
			}
			cv := c[bi*sc+i0*n+j0:]
			if kk <= 0 {
				for r := 0; r < mi; r++ {
					clear(cv[r*n : r*n+nj])
				}
				continue
			}
			sgemm(o.tA, o.tB, mi, nj, kk, 1, av, lda, bv, ldb, 0, cv, n)
		}
	}
	if splits == 1 {
		return func() { r.For(total, pl.grain, body) }
	}
	if lastSums {
		return func() {
			pending.Store(int64(total * splits))
			r.For(total*splits, 1, body)
		}
	}
	return func() {
		r.For(total*splits, 1, body)
		r.For(size, ewGrain, sum)
	}
}
