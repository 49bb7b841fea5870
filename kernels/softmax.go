package kernels

import "math"

type softmax struct{}

func (softmax) Name() string { return "softmax" }

// Softmax normalises x over its last dim. Entries of -Inf get probability 0.
func (g *Graph) Softmax(x *Node) *Node { return g.Apply(softmax{}, x.Shape, x) }

func (softmax) Backward(g *Graph, n *Node, dy *Node) []*Node {
	return []*Node{g.Apply(softmaxGrad{}, n.Shape, n, dy)}
}

func (softmax) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	x, y := in[0].Data, out.Data
	nr, c := rows(out.Shape)
	body := func(lo, hi int) {
		if useNative {
			nativeSoftmaxRows(x[lo*c:hi*c], y[lo*c:hi*c], c)
			return
		}
		for i := lo; i < hi; i++ {
			softmaxRowGo(x[i*c:(i+1)*c], y[i*c:(i+1)*c])
		}
	}
	return func() { r.For(nr, 1+ewGrain/(4*c+1), body) }
}

// softmaxRow writes softmax(x) to y (len(x) == len(y)): AVX2 in
// vecmath_amd64.c for rows of 16 or more where it runs, else softmaxRowGo.
func softmaxRow(x, y []float32) {
	if useNative && len(x) >= 16 {
		nativeSoftmaxRows(x, y, len(x))
		return
	}
	softmaxRowGo(x, y)
}

// softmaxRowGo is softmaxRow in Go, float64 exponentials: the slow twin.
func softmaxRowGo(x, y []float32) {
	m := float32(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	if math.IsInf(float64(m), -1) {
		for i := range y {
			y[i] = 0
		}
		return
	}
	var s float32
	for i, v := range x {
		e := float32(math.Exp(float64(v - m)))
		y[i] = e
		s += e
	}
	inv := 1 / s
	for i := range y {
		y[i] *= inv
	}
}

// softmaxGrad: dx = y * (dy - sum(dy*y)).
type softmaxGrad struct{}

func (softmaxGrad) Name() string { return "softmax_grad" }

func (softmaxGrad) Backward(g *Graph, n *Node, dy *Node) []*Node {
	fail("softmax_grad: second derivatives are not supported")
	return nil
}

func (softmaxGrad) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	y, d, dx := in[0].Data, in[1].Data, out.Data
	nr, c := rows(out.Shape)
	body := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			yr, dr := y[i*c:(i+1)*c], d[i*c:(i+1)*c]
			s := dot(yr, dr)
			for j := range yr {
				dx[i*c+j] = yr[j] * (dr[j] - s)
			}
		}
	}
	return func() { r.For(nr, 1+ewGrain/(2*c+1), body) }
}

// mask keeps the causal (and, with window > 0, the banded) part of a square
// matrix in the last two dims and writes fill elsewhere: entry (i, j) is kept
// when j <= i and i-j < window (window 0 means unbounded).
type mask struct {
	window int
	fill   float32
	strict bool // drop the diagonal too (j < i)
}

func (mask) Name() string { return "causal_mask" }

// CausalMask keeps entries j <= i (and i-j < window when window > 0) of the
// trailing [L, L] matrices and sets the rest to fill (-Inf before a softmax,
// 0 for linear attention).
func (g *Graph) CausalMask(x *Node, window int, fill float32) *Node {
	r := len(x.Shape)
	if r < 2 || x.Shape[r-1] != x.Shape[r-2] {
		fail("causal_mask: need square trailing dims, got %v", x.Shape)
	}
	return g.Apply(mask{window, fill, false}, x.Shape, x)
}

// StrictLower keeps entries j < i of the trailing [L, L] matrices and sets
// the rest (the diagonal included) to zero.
func (g *Graph) StrictLower(x *Node) *Node { return g.StrictCausalMask(x, 0) }

// StrictCausalMask keeps entries j < i of the trailing [L, L] matrices and
// sets the rest (the diagonal included) to fill.
func (g *Graph) StrictCausalMask(x *Node, fill float32) *Node {
	r := len(x.Shape)
	if r < 2 || x.Shape[r-1] != x.Shape[r-2] {
		fail("strict_causal_mask: need square trailing dims, got %v", x.Shape)
	}
	return g.Apply(mask{0, fill, true}, x.Shape, x)
}

func (o mask) Backward(g *Graph, n *Node, dy *Node) []*Node {
	return []*Node{g.Apply(mask{o.window, 0, o.strict}, dy.Shape, dy)}
}

// NegInf is -Inf as a float32, the fill for masked attention scores.
var NegInf = float32(math.Inf(-1))

func (o mask) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	x, y := in[0].Data, out.Data
	l := out.Shape[len(out.Shape)-1]
	mats := len(y) / (l * l)
	body := func(lo, hi int) {
		for m := lo; m < hi; m++ {
			base := m * l * l
			for i := 0; i < l; i++ {
				row := base + i*l
				for j := 0; j < l; j++ {
					if j <= i && (o.window <= 0 || i-j < o.window) && !(o.strict && i == j) {
						y[row+j] = x[row+j]
					} else {
						y[row+j] = o.fill
					}
				}
			}
		}
	}
	return func() { r.For(mats, 1+ewGrain/(l*l+1), body) }
}
