package cuda

import (
	"math"

	"lab/kernels"
)

// fusion is what Compile changes in a schedule: chains of ops computed by
// one kernel (their inner nodes skipped), and the order of the nodes.
// Each fused kernel rounds as the chain's kernels do, so results do not
// change; only launches and device-memory passes go away. The one
// exception is the cuBLASLt GEMMs with epilogues (fuse_gemm.go), which sum
// in cuBLASLt's order.
type fusion struct {
	order  []int                                                     // node IDs in schedule order
	skip   map[int]bool                                              // inner nodes of a fused chain: not computed
	inputs map[int][]*kernels.Node                                   // a fused node's inputs, in place of n.In
	lower  map[int]func(y Buffer, in []Buffer) (func() error, error) // a fused node's kernel
}

// writtenLater makes n do nothing and read nothing: a fused node later in
// the schedule writes n's value into n's buffer (which it lists as an
// input, so the buffer lives until then).
func (f *fusion) writtenLater(n *kernels.Node) {
	f.inputs[n.ID] = []*kernels.Node{}
	f.lower[n.ID] = func(Buffer, []Buffer) (func() error, error) { return func() error { return nil }, nil }
}

// readAfter reports whether every reader of n but except comes after node
// at: the condition for a node at to write n's value late.
func readAfter(readers map[int][]*kernels.Node, n, except *kernels.Node, at int) bool {
	for _, r := range readers[n.ID] {
		if r != except && r.ID < at {
			return false
		}
	}
	return true
}

// in returns the inputs node id reads in the schedule.
func (f *fusion) in(n *kernels.Node) []*kernels.Node {
	if v, ok := f.inputs[n.ID]; ok {
		return v
	}
	return n.In
}

func opNamed(n *kernels.Node, name string) bool {
	return n.Kind() == kernels.LeafOp && n.Op.Name() == name
}

// fuse finds these chains among the needed nodes ids:
//
//   - softmax(causal_mask(scale*x, fill -Inf)): one masked_softmax reading x;
//   - [scale*] causal_mask(softmax_grad(y, dy), fill 0) where y is the
//     softmax of a -Inf mask with the same window: y is 0 wherever the mask
//     writes 0, so the mask changes nothing; one softmax_grad_scaled;
//   - cross_entropy(x, t) and cross_entropy_grad(x, t, d) with d a leaf:
//     one xent_fused pass writes the per-row losses and the gradient, and
//     the gradient node moves to just before the loss node;
//   - linear_cross_entropy and its grad, likewise (head.go): the grad's
//     chunk loop leaves the row losses, the loss node takes their mean;
//   - sum_rows(mul(a, b)) (the gradient of a mul_rowvec's vector): one
//     colsum_part pass over a and b, the products rounded as mul
//     rounds them; with a sum_rows(a) before it (a norm's bias gradient
//     beside its gain's), both sums in that one launch;
//   - the norms with gain and bias, forward and backward (fuse_norm.go);
//   - add(x, mul_rowvec(d, v)) into add_rowvec_mul, and chains of adds
//     (gradient sums) into add_n (fuse_add.go);
//   - a linear layer's bias, GELU and their gradients as cuBLASLt GEMM
//     epilogues (fuse_gemm.go).
//
// An inner node is fused only when the chain is its one reader and it is
// not an output.
func (p *Program) fuse(ids []int) *fusion {
	g := p.Graph
	f := &fusion{skip: map[int]bool{}, inputs: map[int][]*kernels.Node{},
		lower: map[int]func(Buffer, []Buffer) (func() error, error){}}
	uses := map[int]int{}
	reader := map[int]*kernels.Node{}
	readers := map[int][]*kernels.Node{}
	for _, id := range ids {
		for _, x := range g.Nodes[id].In {
			uses[x.ID]++
			reader[x.ID] = g.Nodes[id]
			readers[x.ID] = append(readers[x.ID], g.Nodes[id])
		}
	}
	for _, o := range p.Outputs {
		uses[o.ID] += 2 // never inner
	}
	inner := func(n *kernels.Node) bool { return n.Kind() == kernels.LeafOp && uses[n.ID] == 1 && !f.skip[n.ID] }
	negMask := func(n *kernels.Node) (kernels.Attrs, bool) {
		if !opNamed(n, "causal_mask") {
			return kernels.Attrs{}, false
		}
		a := kernels.Describe(n.Op)
		return a, math.IsInf(a.Floats["fill"], -1)
	}
	scaleOf := func(n *kernels.Node) (float32, bool) {
		if !opNamed(n, "affine") {
			return 0, false
		}
		a := kernels.Describe(n.Op)
		return float32(a.Floats["scale"]), a.Floats["shift"] == 0
	}
	// plainSum finds, for s = sum_rows(m) with m = mul(a, b), a sum_rows of
	// a or b alone scheduled before s, not yet fused, with no reader
	// before s and the same shape (the two sums then share a launch).
	plainSum := func(m, s *kernels.Node) *kernels.Node {
		for _, x := range m.In {
			if x.Len() != m.Len() {
				continue
			}
			for _, r := range readers[x.ID] {
				if opNamed(r, "sum_rows") && r.ID < s.ID && f.lower[r.ID] == nil && !f.skip[r.ID] && r.Len() == s.Len() &&
					readAfter(readers, r, nil, s.ID) {
					return r
				}
			}
		}
		return nil
	}
	var moves [][2]int // cross_entropy_grad ID, cross_entropy ID
	for _, id := range ids {
		n := g.Nodes[id]
		switch {
		case opNamed(n, "softmax"):
			m := n.In[0]
			a, ok := negMask(m)
			if !ok || !inner(m) {
				continue
			}
			src, scale := m.In[0], float32(1)
			if s, ok := scaleOf(src); ok && inner(src) {
				f.skip[src.ID] = true
				src, scale = src.In[0], s
			}
			f.skip[m.ID] = true
			f.inputs[id] = []*kernels.Node{src}
			c := lastDim(n.Shape)
			window, strict := int32(a.Ints["window"]), flag(a.Bools["strict"])
			f.lower[id] = func(y Buffer, in []Buffer) (func() error, error) {
				return p.rows("masked_softmax", n.Len()/c, c, in[0], y, int64(n.Len()/c), int32(c), scale, window, strict)
			}
		case opNamed(n, "causal_mask"):
			a := kernels.Describe(n.Op)
			sg := n.In[0]
			if a.Floats["fill"] != 0 || !opNamed(sg, "softmax_grad") || !inner(sg) || !opNamed(sg.In[0], "softmax") {
				continue
			}
			fa, ok := negMask(sg.In[0].In[0])
			if !ok || fa.Ints["window"] != a.Ints["window"] || fa.Bools["strict"] != a.Bools["strict"] {
				continue
			}
			head, scale := n, float32(1)
			if r := reader[id]; inner(n) && r != nil {
				if s, ok := scaleOf(r); ok {
					f.skip[id] = true
					head, scale = r, s
				}
			}
			f.skip[sg.ID] = true
			f.inputs[head.ID] = []*kernels.Node{sg.In[0], sg.In[1]}
			c := lastDim(n.Shape)
			f.lower[head.ID] = func(y Buffer, in []Buffer) (func() error, error) {
				return p.rows("softmax_grad_scaled", n.Len()/c, c, in[0], in[1], y, int64(n.Len()/c), int32(c), scale)
			}
		case opNamed(n, "sum_rows") && opNamed(n.In[0], "mul") && inner(n.In[0]):
			m := n.In[0]
			f.skip[m.ID] = true
			c := lastDim(m.Shape)
			if plain := plainSum(m, n); plain != nil {
				// sum_rows(dy) earlier, as a norm's bias gradient beside
				// its gain's: one launch writes both (plain does nothing).
				x, b := plain.In[0], m.In[0]
				if b == x {
					b = m.In[1]
				}
				f.writtenLater(plain)
				f.inputs[id] = []*kernels.Node{x, b, plain}
				f.lower[id] = func(y Buffer, in []Buffer) (func() error, error) {
					return p.colSums2(in[2], y, in[0], in[1], m.Len()/c, c)
				}
				continue
			}
			f.inputs[id] = []*kernels.Node{m.In[0], m.In[1]}
			f.lower[id] = func(y Buffer, in []Buffer) (func() error, error) {
				return p.colSums(y, in[0], in[1], m.Len()/c, c)
			}
		case opNamed(n, "cross_entropy_grad") && n.In[2].Kind() != kernels.LeafOp:
			for _, cid := range ids {
				c := g.Nodes[cid]
				if cid < id && opNamed(c, "cross_entropy") && c.In[0] == n.In[0] && c.In[1] == n.In[1] {
					moves = append(moves, [2]int{id, cid})
					p.fuseCrossEntropy(f, n, c)
					break
				}
			}
		case opNamed(n, "linear_cross_entropy_grad") && n.In[3].Kind() != kernels.LeafOp:
			for _, cid := range ids {
				c := g.Nodes[cid]
				if cid < id && opNamed(c, "linear_cross_entropy") && c.In[0] == n.In[0] && c.In[1] == n.In[1] && c.In[2] == n.In[2] {
					moves = append(moves, [2]int{id, cid})
					p.fuseLinearCrossEntropy(f, n, c) // head.go
					break
				}
			}
		}
	}
	p.fuseGemms(f, ids, inner, readers) // fuse_gemm.go
	p.fuseNorms(f, ids, inner, readers) // fuse_norm.go
	p.fuseAddScaled(f, ids, inner)      // fuse_add.go
	p.fuseAdds(f, ids, inner)
	// The schedule: the leaves first (a moved node may read a leaf made
	// after its new place, as Grad's d_loss), then the ops in order, each
	// moved cross_entropy_grad just before its loss.
	before := map[int]int{}
	moved := map[int]bool{}
	for _, m := range moves {
		before[m[1]] = m[0]
		moved[m[0]] = true
	}
	for _, id := range ids {
		if g.Nodes[id].Kind() != kernels.LeafOp {
			f.order = append(f.order, id)
		}
	}
	for _, id := range ids {
		if g.Nodes[id].Kind() != kernels.LeafOp {
			continue
		}
		if gid, ok := before[id]; ok {
			f.order = append(f.order, gid)
		}
		if !moved[id] {
			f.order = append(f.order, id)
		}
	}
	return f
}

// fuseCrossEntropy makes grad (cross_entropy_grad) compute the per-row
// losses with the gradient, and loss (cross_entropy) only their mean.
func (p *Program) fuseCrossEntropy(f *fusion, grad, loss *kernels.Node) {
	k, v := grad.Shape[0], grad.Shape[1]
	var rowLoss, cnt Buffer
	f.lower[grad.ID] = func(y Buffer, in []Buffer) (func() error, error) {
		var err error
		if rowLoss, err = p.alloc(k); err != nil {
			return nil, err
		}
		if cnt, err = p.alloc(1); err != nil {
			return nil, err
		}
		var c chain
		c.add(p.launcher("count_targets", Dim3{X: 1}, Dim3{X: 1024}, in[1], int64(k), cnt))
		c.add(p.rows("xent_fused", k, v, in[0], in[1], in[2], cnt, y, rowLoss, int64(k), int32(v), p.errBuf))
		return c.done()
	}
	f.lower[loss.ID] = func(y Buffer, in []Buffer) (func() error, error) {
		return p.launcher("xent_mean", Dim3{X: 1}, Dim3{X: 1024}, rowLoss, in[1], int64(k), y)
	}
}
