package cuda

import (
	"lab/kernels"
)

// fuseNorms finds the chains of a norm with gain (and bias), forward and
// backward, and gives each one launch instead of two or three. A LayerNorm
// is normalize -> mul_rowvec(gain) -> add_rowvec(bias) (an RMSNorm stops
// after the gain); its gradient is normalize_grad(x, mul_rowvec(dy, gain))
// for x, sum_rows(mul(dy, xhat)) for the gain (one colsum_part of the products, see
// fuse) and sum_rows(dy) for the bias.
//
//   - forward: the norm kernel at the last node of the chain writes its
//     value and, for the backward, the normalize node's (that node's own
//     step does nothing; its buffer is still planned, and every other
//     reader comes after the chain);
//   - normalize_grad of a mul_rowvec: norm_grad reads dy times the gain.
//
// Each kernel rounds the fused products and sums as the separate kernels
// did (norm.cu, reduce.cu), so the values do not change. inner(n) says n
// may disappear into a chain (one reader, not an output).
func (p *Program) fuseNorms(f *fusion, ids []int, inner func(*kernels.Node) bool, readers map[int][]*kernels.Node) {
	g := p.Graph
	rowvec := func(n *kernels.Node, mul bool) bool {
		return opNamed(n, map[bool]string{true: "mul_rowvec", false: "add_rowvec"}[mul]) &&
			n.In[1].Len() == lastDim(n.Shape)
	}
	for _, id := range ids {
		n := g.Nodes[id]
		switch {
		case rowvec(n, false) && rowvec(n.In[0], true) && inner(n.In[0]):
			p.fuseNormForward(f, n, n.In[0], n.In[1], readers)
		case rowvec(n, true) && !(len(readers[id]) == 1 && inner(n) && rowvec(readers[id][0], false)):
			p.fuseNormForward(f, n, n, nil, readers)
		case (opNamed(n, "normalize_grad") || opNamed(n, "rms_normalize_grad")) && rowvec(n.In[1], true) && inner(n.In[1]):
			m := n.In[1]
			f.skip[m.ID] = true
			f.inputs[id] = []*kernels.Node{n.In[0], m.In[0], m.In[1]}
			a := kernels.Describe(n.Op)
			c := lastDim(n.Shape)
			f.lower[id] = func(y Buffer, in []Buffer) (func() error, error) {
				return p.rows("norm_grad", n.Len()/c, c, in[0], in[1], y, int64(n.Len()/c), int32(c),
					float32(a.Floats["eps"]), flag(a.Bools["rms"]), in[2])
			}
		}
	}
}

// fuseNormForward makes head (the chain's last node: the add_rowvec of
// bias, or the mul_rowvec of the gain when there is no bias) run the norm
// kernel on the normalize node's input, also writing the normalize node's
// value, when the chain has that shape and nothing reads the normalize
// node before head.
func (p *Program) fuseNormForward(f *fusion, head, mulGain, bias *kernels.Node, readers map[int][]*kernels.Node) {
	nz := mulGain.In[0]
	if !(opNamed(nz, "normalize") || opNamed(nz, "rms_normalize")) || f.skip[nz.ID] || f.skip[head.ID] {
		return
	}
	if f.lower[nz.ID] != nil || f.lower[head.ID] != nil {
		return
	}
	if !readAfter(readers, nz, mulGain, head.ID) {
		return
	}
	a := kernels.Describe(nz.Op)
	c := lastDim(nz.Shape)
	rows, eps, rms := nz.Len()/c, float32(a.Floats["eps"]), a.Bools["rms"]
	if mulGain != head {
		f.skip[mulGain.ID] = true
	}
	gain := mulGain.In[1]
	// The chain's inputs, and the normalize node last: listed as read, its
	// buffer is written here.
	ins := []*kernels.Node{nz.In[0], gain, nz}
	if bias != nil {
		ins = append(ins, bias)
	}
	f.inputs[head.ID] = ins
	f.writtenLater(nz)
	f.lower[head.ID] = func(y Buffer, in []Buffer) (func() error, error) {
		b := Buffer{}
		if len(in) == 4 {
			b = in[3]
		}
		return p.rows("norm", rows, c, in[0], in[1], b, y, int64(rows), int32(c), eps, flag(rms), in[2])
	}
}
