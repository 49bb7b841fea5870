package kernels

// triInverse computes T = (I + A)⁻¹ for the strictly lower part of each
// trailing [C, C] matrix A (the diagonal and upper part are ignored), by
// forward substitution. Delta-rule chunked forms use it (the UT transform).
type triInverse struct{}

func (triInverse) Name() string { return "unit_lower_inverse" }

// UnitLowerInverse returns (I + strictly_lower(A))⁻¹ for A [..., C, C].
func (g *Graph) UnitLowerInverse(a *Node) *Node {
	r := len(a.Shape)
	if r < 2 || a.Shape[r-1] != a.Shape[r-2] {
		fail("unit_lower_inverse: need square trailing dims, got %v", a.Shape)
	}
	return g.Apply(triInverse{}, a.Shape, a)
}

// Backward: with T = (I+A)⁻¹, dA = -(Tᵀ·dT·Tᵀ) on the strictly lower part.
func (triInverse) Backward(g *Graph, n *Node, dy *Node) []*Node {
	t := n
	d := g.MatMul(g.MatMul(t, dy, true, false), t, false, true)
	return []*Node{g.Scale(g.StrictLower(d), -1)}
}

func (triInverse) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	a, t := in[0].Data, out.Data
	c := out.Shape[len(out.Shape)-1]
	mats := len(t) / (c * c)
	body := func(lo, hi int) {
		for m := lo; m < hi; m++ {
			am, tm := a[m*c*c:(m+1)*c*c], t[m*c*c:(m+1)*c*c]
			clear(tm)
			for i := 0; i < c; i++ {
				row := tm[i*c : (i+1)*c]
				row[i] = 1
				for j := 0; j < i; j++ {
					if aij := am[i*c+j]; aij != 0 {
						tj := tm[j*c : j*c+j+1] // row j of T is zero right of j
						for k, v := range tj {
							row[k] -= aij * v
						}
					}
				}
			}
		}
	}
	return func() { r.For(mats, 1+ewGrain/(c*c*c+1), body) }
}

// conv is a causal depthwise convolution along time: for x [B, L, D] and
// w [K, D], y[b, t, d] = Σ_j w[j, d]·x[b, t-j, d] (zero before the start).
type conv struct{}

func (conv) Name() string { return "causal_conv" }

// CausalConv applies a causal depthwise convolution of kernel w [K, D] to
// x [B, L, D].
func (g *Graph) CausalConv(x, w *Node) *Node {
	if len(x.Shape) != 3 || len(w.Shape) != 2 || w.Shape[1] != x.Shape[2] {
		fail("causal_conv: need x [B, L, D] and w [K, D], got %v and %v", x.Shape, w.Shape)
	}
	return g.Apply(conv{}, x.Shape, x, w)
}

func (conv) Backward(g *Graph, n *Node, dy *Node) []*Node {
	x, w := n.In[0], n.In[1]
	return []*Node{g.Apply(convGrad{wrtW: false}, x.Shape, dy, w), g.Apply(convGrad{wrtW: true}, w.Shape, dy, x)}
}

func (conv) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	x, w, y := in[0].Data, in[1].Data, out.Data
	l, d, k := out.Shape[1], out.Shape[2], in[1].Shape[0]
	body := func(lo, hi int) {
		for bt := lo; bt < hi; bt++ {
			t := bt % l
			yr := y[bt*d : (bt+1)*d]
			clear(yr)
			for j := 0; j < k && j <= t; j++ {
				xr, wr := x[(bt-j)*d:(bt-j+1)*d], w[j*d:(j+1)*d]
				for e := range yr {
					yr[e] += wr[e] * xr[e]
				}
			}
		}
	}
	return func() { r.For(len(y)/d, 1+ewGrain/(k*d+1), body) }
}

// convGrad is the convolution's gradient with respect to x (a correlation
// with the kernel, looking forward in time) or to w.
type convGrad struct{ wrtW bool }

func (o convGrad) Name() string {
	if o.wrtW {
		return "causal_conv_grad_w"
	}
	return "causal_conv_grad_x"
}

func (o convGrad) Backward(g *Graph, n *Node, dy *Node) []*Node {
	fail("%s: second derivatives are not supported", o.Name())
	return nil
}

func (o convGrad) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	dy, other := in[0], in[1]
	l, d := dy.Shape[1], dy.Shape[2]
	rowsN := dy.Shape[0] * l
	if !o.wrtW { // dx[b,s] = Σ_j w[j]·dy[b,s+j]
		w, dx, k := other.Data, out.Data, other.Shape[0]
		body := func(lo, hi int) {
			for bs := lo; bs < hi; bs++ {
				s := bs % l
				xr := dx[bs*d : (bs+1)*d]
				clear(xr)
				for j := 0; j < k && s+j < l; j++ {
					gr, wr := dy.Data[(bs+j)*d:(bs+j+1)*d], w[j*d:(j+1)*d]
					for e := range xr {
						xr[e] += wr[e] * gr[e]
					}
				}
			}
		}
		return func() { r.For(rowsN, 1+ewGrain/(k*d+1), body) }
	}
	x, dw, k := other.Data, out.Data, out.Shape[0]
	// dw[j, e] = Σ_{b,t≥j} dy[b,t,e]·x[b,t-j,e]; split over channels e.
	// Rows outer, channels inner: each dw[j, e] sums the same products in
	// the same order as a channel at a time, without the stride-d walk and
	// the chain of dependent adds.
	body := func(lo, hi int) {
		for j := 0; j < k; j++ {
			acc := dw[j*d+lo : j*d+hi]
			clear(acc)
			for bt := 0; bt < rowsN; bt++ {
				if bt%l < j {
					continue
				}
				g, xv := dy.Data[bt*d+lo:bt*d+hi], x[(bt-j)*d+lo:(bt-j)*d+hi]
				g, xv = g[:len(acc)], xv[:len(acc)]
				for e, v := range g {
					acc[e] += v * xv[e]
				}
			}
		}
	}
	return func() { r.For(d, 1+ewGrain/(k*rowsN+1), body) }
}
