package cuda

import (
	"fmt"
	"math"

	"lab/kernels"
)

// poisonPlanned makes Compile fill new planned buffers with NaN (tests).
var poisonPlanned bool

// isView reports whether n's value is its first input's buffer read with
// another shape: reshape, stop_gradient, a transpose that moves only dims
// of size 1, and a slice whose dims before the sliced one are all 1 (a
// contiguous range of the input: viewOffset).
func isView(n *kernels.Node) bool {
	if n.Kind() != kernels.LeafOp {
		return false
	}
	switch {
	case kernels.Aliases(n.Op), n.Op.Name() == "stop_gradient":
		return true
	case n.Op.Name() == "transpose":
		shape, _ := collapse(n.In[0].Shape, kernels.Describe(n.Op).Perm)
		return len(shape) <= 1
	case n.Op.Name() == "slice":
		_, ok := viewOffset(n)
		return ok
	}
	return false
}

// viewOffset is where a view's value starts in its input's buffer, in
// floats: lo times the inner size for a slice of contiguous rows, else 0.
func viewOffset(n *kernels.Node) (int, bool) {
	if n.Op.Name() != "slice" {
		return 0, true
	}
	a := kernels.Describe(n.Op)
	ax := a.Ints["axis"]
	if a.Bools["pad"] || numel(n.In[0].Shape[:ax]) != 1 {
		return 0, false
	}
	return a.Ints["lo"] * numel(n.In[0].Shape[ax+1:]), true
}

// plan gives every needed node a buffer and binds its kernel, in schedule
// order (fuse.go may fuse chains and move nodes). Intermediate buffers are
// reused as on the CPU: a buffer goes back to the pool once the last node
// reading it has been scheduled (best fit by size on reuse); outputs keep
// theirs.
func (p *Program) plan(ids []int) error {
	g := p.Graph
	f := p.fuse(ids)
	pos := make([]int, len(g.Nodes))
	for i, id := range f.order {
		pos[id] = i
	}
	root := make([]int, len(g.Nodes))
	lastUse := make([]int, len(g.Nodes))
	for _, id := range f.order {
		root[id], lastUse[id] = id, -1
		if isView(g.Nodes[id]) {
			root[id] = root[g.Nodes[id].In[0].ID]
		}
	}
	for _, id := range f.order {
		if f.skip[id] {
			continue
		}
		for _, x := range f.in(g.Nodes[id]) {
			if r := root[x.ID]; pos[id] > lastUse[r] {
				lastUse[r] = pos[id]
			}
		}
	}
	for _, o := range p.Outputs {
		lastUse[root[o.ID]] = math.MaxInt
	}
	var free []Buffer
	take := func(n int) (Buffer, error) {
		best := -1
		for i, b := range free {
			if b.Floats() >= n && (best < 0 || b.Bytes < free[best].Bytes) {
				best = i
			}
		}
		if best < 0 {
			p.PlannedBytes += int64(max(n, 1)) * 4
			b, err := p.alloc(n)
			if err == nil && poisonPlanned {
				err = p.d.Fill32(nil, b, 0x7fc00000) // NaN: an unwritten element fails the tests
			}
			return b, err
		}
		b := free[best]
		free = append(free[:best], free[best+1:]...)
		return b, nil
	}
	for at, id := range f.order {
		n := g.Nodes[id]
		if f.skip[id] {
			continue
		}
		if n.Kind() != kernels.LeafOp {
			p.keep[id] = true
			b, err := p.leaf(n)
			if err != nil {
				return err
			}
			p.bufs[id] = b
			continue
		}
		ins := f.in(n)
		if root[id] != id {
			off, _ := viewOffset(n)
			p.bufs[id] = p.bufs[n.In[0].ID].Slice(off, off+n.Len())
		} else {
			b, err := take(n.Len())
			if err != nil {
				return err
			}
			p.bufs[id] = b
			in := make([]Buffer, len(ins))
			for i, x := range ins {
				in[i] = p.bufs[x.ID]
			}
			var run func() error
			if fl, ok := f.lower[id]; ok {
				run, err = fl(b, in)
			} else {
				run, err = p.lower(n, b, in)
			}
			if err != nil {
				return fmt.Errorf("cuda: node %v (op %s): %w", n, n.Op.Name(), err)
			}
			p.steps = append(p.steps, step{n, run})
		}
		for _, x := range ins {
			if r := root[x.ID]; lastUse[r] == at && g.Nodes[r].Kind() == kernels.LeafOp {
				free = append(free, p.bufs[r])
				lastUse[r] = -2 // released
			}
		}
		if root[id] == id && lastUse[id] == -1 {
			free = append(free, p.bufs[id]) // computed, never read
		}
	}
	return nil
}

// leaf allocates an input (zeroed) or uploads a parameter or constant.
func (p *Program) leaf(n *kernels.Node) (Buffer, error) {
	switch n.Kind() {
	case kernels.LeafParam:
		pr, _ := n.IsParam()
		return p.paramBuffer(pr)
	case kernels.LeafConst:
		t := n.ConstValue()
		b, err := p.alloc(n.Len())
		if err != nil {
			return b, err
		}
		if t.Ints != nil {
			return b, p.d.CopyInInts(b, t.Ints)
		}
		return b, p.d.CopyIn(b, t.Data)
	default:
		b, err := p.alloc(n.Len())
		if err != nil {
			return b, err
		}
		return b, p.d.Fill32(nil, b, 0)
	}
}

// collapse describes a transpose of a tensor of shape in by perm as the
// fewest output dims: dims of size 1 dropped, and neighbours that stay
// neighbours in the input merged. It returns the output dims and, per dim,
// its stride in the input; one dim (or none) means the layout is unchanged.
func collapse(in []int, perm []int) (shape, stride []int) {
	is := make([]int, len(in))
	acc := 1
	for i := len(in) - 1; i >= 0; i-- {
		is[i] = acc
		acc *= in[i]
	}
	for _, d := range perm {
		if in[d] == 1 {
			continue
		}
		if k := len(shape) - 1; k >= 0 && stride[k] == is[d]*in[d] {
			shape[k] *= in[d]
			stride[k] = is[d]
			continue
		}
		shape = append(shape, in[d])
		stride = append(stride, is[d])
	}
	return shape, stride
}
