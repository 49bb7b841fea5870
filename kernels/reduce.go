package kernels

// reduceKind names a sum over some dims and its inverse broadcast.
type reduceKind int

const (
	sumRowsK reduceKind = iota // [..., C] -> [C]
	sumLastK                   // [..., C] -> [...]
	sumAllK                    // anything -> [1]
	bcRowsK                    // [C] -> [..., C]
	bcLastK                    // [...] -> [..., C]
	bcAllK                     // [1] -> shape
)

type reduce struct {
	k     reduceKind
	shape []int // the broadcast shape (for bc kinds) or the input shape
}

func (o reduce) Name() string {
	return [...]string{"sum_rows", "sum_last", "sum_all", "bcast_rows", "bcast_last", "bcast_all"}[o.k]
}

// SumRows sums x over every dim but the last: [..., C] -> [C].
func (g *Graph) SumRows(x *Node) *Node {
	_, c := rows(x.Shape)
	return g.Apply(reduce{sumRowsK, x.Shape}, []int{c}, x)
}

// SumLast sums x over its last dim: [..., C] -> [...].
func (g *Graph) SumLast(x *Node) *Node {
	s := x.Shape[:len(x.Shape)-1]
	if len(s) == 0 {
		s = []int{1}
	}
	return g.Apply(reduce{sumLastK, x.Shape}, s, x)
}

// SumAll sums every element: -> [1].
func (g *Graph) SumAll(x *Node) *Node { return g.Apply(reduce{sumAllK, x.Shape}, []int{1}, x) }

// Mean averages every element: -> [1].
func (g *Graph) Mean(x *Node) *Node { return g.Scale(g.SumAll(x), 1/float32(x.Len())) }

// BroadcastRows repeats v ([C]) over the leading dims of shape.
func (g *Graph) BroadcastRows(v *Node, shape []int) *Node {
	return g.Apply(reduce{bcRowsK, shape}, shape, v)
}

// BroadcastLast repeats s ([...]) along a new last dim of size c.
func (g *Graph) BroadcastLast(s *Node, c int) *Node {
	shape := append(append([]int(nil), s.Shape...), c)
	return g.Apply(reduce{bcLastK, shape}, shape, s)
}

// BroadcastAll repeats a scalar to shape.
func (g *Graph) BroadcastAll(s *Node, shape []int) *Node {
	return g.Apply(reduce{bcAllK, shape}, shape, s)
}

func (o reduce) Backward(g *Graph, n *Node, dy *Node) []*Node {
	x := n.In[0]
	switch o.k {
	case sumRowsK:
		return []*Node{g.BroadcastRows(dy, x.Shape)}
	case sumLastK:
		return []*Node{g.Reshape(g.BroadcastLast(dy, x.Shape[len(x.Shape)-1]), x.Shape...)}
	case sumAllK:
		return []*Node{g.BroadcastAll(dy, x.Shape)}
	case bcRowsK:
		return []*Node{g.SumRows(dy)}
	case bcLastK:
		return []*Node{g.SumLast(dy)}
	default:
		return []*Node{g.SumAll(dy)}
	}
}

func (o reduce) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	x, y := in[0].Data, out.Data
	switch o.k {
	case sumRowsK:
		nr, c := rows(in[0].Shape)
		// Rows outer, columns inner: the same sum in the same order per
		// column as a column at a time, without a stride-c walk and a chain
		// of dependent adds.
		body := func(lo, hi int) {
			if useNative {
				nativeSumCols(x, y, nr, c, lo, hi) // AVX2, the same bits
				return
			}
			acc := y[lo:hi]
			clear(acc)
			for i := 0; i < nr; i++ {
				for j, v := range x[i*c+lo : i*c+hi] {
					acc[j] += v
				}
			}
		}
		return func() { r.For(c, 1+ewGrain/(nr+1), body) }
	case sumLastK:
		nr, c := rows(in[0].Shape)
		body := func(lo, hi int) {
			for i := lo; i < hi; i++ {
				var s float32
				for _, v := range x[i*c : (i+1)*c] {
					s += v
				}
				y[i] = s
			}
		}
		return func() { r.For(nr, 1+ewGrain/(c+1), body) }
	case sumAllK:
		return func() {
			var s float64
			for _, v := range x {
				s += float64(v)
			}
			y[0] = float32(s)
		}
	case bcRowsK:
		nr, c := rows(out.Shape)
		body := func(lo, hi int) {
			for i := lo; i < hi; i++ {
				copy(y[i*c:(i+1)*c], x)
			}
		}
		return func() { r.For(nr, 1+ewGrain/(c+1), body) }
	case bcLastK:
		nr, c := rows(out.Shape)
		body := func(lo, hi int) {
			for i := lo; i < hi; i++ {
				v := x[i]
				for j := i * c; j < (i+1)*c; j++ {
					y[j] = v
				}
			}
		}
		return func() { r.For(nr, 1+ewGrain/(c+1), body) }
	default:
		return func() {
			v := x[0]
			for i := range y {
				y[i] = v
			}
		}
	}
}
