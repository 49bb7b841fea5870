package cuda

import (
	"lab/kernels"
)

// fuseAddScaled makes add(x, mul_rowvec(d, v)) (either order; the
// mul_rowvec inner) one add_rowvec_mul launch: y = x + d·v per row, the
// product and the sum rounded as the two kernels round them (a + b is b + a
// in IEEE arithmetic). It is the RWKV token-shift mix x + μ⊙(x_{t-1} - x).
func (p *Program) fuseAddScaled(f *fusion, ids []int, inner func(*kernels.Node) bool) {
	g := p.Graph
	for _, id := range ids {
		n := g.Nodes[id]
		if !opNamed(n, "add") || f.lower[id] != nil {
			continue
		}
		for side := 0; side < 2; side++ {
			m, x := n.In[side], n.In[1-side]
			if !opNamed(m, "mul_rowvec") || !inner(m) || f.lower[m.ID] != nil || x.Len() != n.Len() ||
				m.In[1].Len() != lastDim(n.Shape) {
				continue
			}
			f.skip[m.ID] = true
			f.inputs[id] = []*kernels.Node{x, m.In[0], m.In[1]}
			size, c := n.Len(), lastDim(n.Shape)
			f.lower[id] = func(y Buffer, in []Buffer) (func() error, error) {
				return p.ew("add_rowvec_mul", size, in[0], in[1], in[2], y, int64(size), int32(c))
			}
			break
		}
	}
}

// maxAddTerms is how many inputs one add_n launch sums.
const maxAddTerms = 8

// fuseAdds folds left-leaning chains of adds, add(add(add(a, b), c), d) as
// autodiff builds gradient sums, into one add_n launch per up to
// maxAddTerms terms, summed in the chain's order (same bits). An inner add
// must have the chain as its one reader and not be an output; chains are
// taken from their last add backwards, so each add joins one chain.
func (p *Program) fuseAdds(f *fusion, ids []int, inner func(*kernels.Node) bool) {
	g := p.Graph
	isAdd := func(n *kernels.Node) bool {
		return opNamed(n, "add") && f.lower[n.ID] == nil && n.In[0].Len() == n.Len() && n.In[1].Len() == n.Len()
	}
	for i := len(ids) - 1; i >= 0; i-- {
		n := g.Nodes[ids[i]]
		if f.skip[n.ID] || !isAdd(n) {
			continue
		}
		terms := []*kernels.Node{n.In[1]}
		x := n.In[0]
		for len(terms) < maxAddTerms-1 && isAdd(x) && inner(x) {
			f.skip[x.ID] = true
			terms = append(terms, x.In[1])
			x = x.In[0]
		}
		if len(terms) == 1 {
			continue
		}
		terms = append(terms, x)
		for l, r := 0, len(terms)-1; l < r; l, r = l+1, r-1 {
			terms[l], terms[r] = terms[r], terms[l]
		}
		f.inputs[n.ID] = terms
		size := n.Len()
		f.lower[n.ID] = func(y Buffer, in []Buffer) (func() error, error) {
			args := []any{y, int64(size), int32(len(in))}
			for j := 0; j < maxAddTerms; j++ {
				b := Buffer{}
				if j < len(in) {
					b = in[j]
				}
				args = append(args, b)
			}
			return p.ew("add_n", size, args...)
		}
	}
}
