package kernels

const ewGrain = 1 << 13 // elements per goroutine for elementwise kernels

type binKind int

const (
	addK binKind = iota
	subK
	mulK
)

type binary struct{ k binKind }

func (o binary) Name() string { return [...]string{"add", "sub", "mul"}[o.k] }

func (g *Graph) binary(k binKind, a, b *Node) *Node {
	if !sameShape(a.Shape, b.Shape) {
		fail("%s: shapes differ: %v and %v", binary{k}.Name(), a.Shape, b.Shape)
	}
	return g.Apply(binary{k}, a.Shape, a, b)
}

// Add returns a+b (same shapes).
func (g *Graph) Add(a, b *Node) *Node { return g.binary(addK, a, b) }

// Sub returns a-b (same shapes).
func (g *Graph) Sub(a, b *Node) *Node { return g.binary(subK, a, b) }

// Mul returns a*b elementwise (same shapes).
func (g *Graph) Mul(a, b *Node) *Node { return g.binary(mulK, a, b) }

func (o binary) Backward(g *Graph, n *Node, dy *Node) []*Node {
	switch o.k {
	case addK:
		return []*Node{dy, dy}
	case subK:
		return []*Node{dy, g.Scale(dy, -1)}
	default:
		return []*Node{g.Mul(dy, n.In[1]), g.Mul(dy, n.In[0])}
	}
}

func (o binary) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	a, b, y := in[0].Data, in[1].Data, out.Data
	var body func(lo, hi int)
	switch o.k {
	// Each body reslices to one length first: no bounds checks in the loops.
	case addK:
		body = func(lo, hi int) {
			y := y[lo:hi]
			a, b := a[lo:lo+len(y)], b[lo:lo+len(y)]
			for i := range y {
				y[i] = a[i] + b[i]
			}
		}
	case subK:
		body = func(lo, hi int) {
			y := y[lo:hi]
			a, b := a[lo:lo+len(y)], b[lo:lo+len(y)]
			for i := range y {
				y[i] = a[i] - b[i]
			}
		}
	default:
		body = func(lo, hi int) {
			y := y[lo:hi]
			a, b := a[lo:lo+len(y)], b[lo:lo+len(y)]
			for i := range y {
				y[i] = a[i] * b[i]
			}
		}
	}
	return func() { r.For(len(y), ewGrain, body) }
}

type affine struct{ scale, shift float32 }

func (o affine) Name() string { return "affine" }

// Scale returns c*x.
func (g *Graph) Scale(x *Node, c float32) *Node { return g.Apply(affine{c, 0}, x.Shape, x) }

// AddScalar returns x+c.
func (g *Graph) AddScalar(x *Node, c float32) *Node { return g.Apply(affine{1, c}, x.Shape, x) }

func (o affine) Backward(g *Graph, n *Node, dy *Node) []*Node {
	if o.scale == 1 {
		return []*Node{dy}
	}
	return []*Node{g.Scale(dy, o.scale)}
}

func (o affine) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	x, y := in[0].Data, out.Data
	body := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			y[i] = o.scale*x[i] + o.shift
		}
	}
	return func() { r.For(len(y), ewGrain, body) }
}

// rowVec broadcasts a vector over the rows of x: y = x + v or y = x * v,
// where v has the size of x's last dim.
type rowVec struct{ mul bool }

func (o rowVec) Name() string {
	if o.mul {
		return "mul_rowvec"
	}
	return "add_rowvec"
}

// AddRowVec returns x + v with v ([C]) broadcast over x's leading dims.
func (g *Graph) AddRowVec(x, v *Node) *Node { return g.rowVec(false, x, v) }

// MulRowVec returns x * v with v ([C]) broadcast over x's leading dims.
func (g *Graph) MulRowVec(x, v *Node) *Node { return g.rowVec(true, x, v) }

func (g *Graph) rowVec(mul bool, x, v *Node) *Node {
	_, c := rows(x.Shape)
	if len(v.Shape) != 1 || v.Shape[0] != c {
		fail("%s: vector %v does not match last dim of %v", rowVec{mul}.Name(), v.Shape, x.Shape)
	}
	return g.Apply(rowVec{mul}, x.Shape, x, v)
}

func (o rowVec) Backward(g *Graph, n *Node, dy *Node) []*Node {
	if !o.mul {
		return []*Node{dy, g.SumRows(dy)}
	}
	return []*Node{g.MulRowVec(dy, n.In[1]), g.SumRows(g.Mul(dy, n.In[0]))}
}

func (o rowVec) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	x, v, y := in[0].Data, in[1].Data, out.Data
	nr, c := rows(out.Shape)
	body := func(lo, hi int) {
		if useNative {
			nativeRowVec(o.mul, x[lo*c:hi*c], v[:c], y[lo*c:hi*c]) // AVX2, the same bits
			return
		}
		for i := lo; i < hi; i++ {
			xr, yr := x[i*c:(i+1)*c], y[i*c:(i+1)*c]
			xr, yr = xr[:len(v)], yr[:len(v)] // no bounds checks in the loops
			if o.mul {
				for j, vj := range v {
					yr[j] = xr[j] * vj
				}
			} else {
				for j, vj := range v {
					yr[j] = xr[j] + vj
				}
			}
		}
	}
	return func() { r.For(nr, ewGrain/c+1, body) }
}

// mulCol scales each row of x by one value: y[r, :] = x[r, :] * s[r].
type mulCol struct{}

func (mulCol) Name() string { return "mul_col" }

// MulCol returns x[..., c] * s[...] (s has x's shape without the last dim).
func (g *Graph) MulCol(x, s *Node) *Node {
	if !sameShape(x.Shape[:len(x.Shape)-1], s.Shape) {
		fail("mul_col: %v does not match the leading dims of %v", s.Shape, x.Shape)
	}
	return g.Apply(mulCol{}, x.Shape, x, s)
}

func (mulCol) Backward(g *Graph, n *Node, dy *Node) []*Node {
	return []*Node{g.MulCol(dy, n.In[1]), g.SumLast(g.Mul(dy, n.In[0]))}
}

func (mulCol) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	x, s, y := in[0].Data, in[1].Data, out.Data
	nr, c := rows(out.Shape)
	body := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			si := s[i]
			for j := i * c; j < (i+1)*c; j++ {
				y[j] = x[j] * si
			}
		}
	}
	return func() { r.For(nr, ewGrain/c+1, body) }
}
