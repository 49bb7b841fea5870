package kernels

// decayScan is the exclusive decayed scan of RWKV-4's WKV (one first-order
// linear recurrence per sequence n and column j):
//
//	forward:  y[n,t,j] = Σ_{s<t} exp(lg[n,s+1] + … + lg[n,t-1])·x[n,s,j]
//	reverse:  y[n,t,j] = Σ_{s>t} exp(lg[n,t+1] + … + lg[n,s-1])·x[n,s,j]
//
// computed as y_0 = 0, y_{t+1} = exp(lg_t)·y_t + x_t (reverse: y_{L-1} = 0,
// y_{t-1} = exp(lg_t)·y_t + x_t). This is the decayed linear form with
// q = 1, dk = 1 and the exclusive read-out (S_{t-1}): lg_0 (reverse:
// lg_{L-1}) is never used. Each direction is the other's transpose.
type decayScan struct{ reverse bool }

func (o decayScan) Name() string {
	if o.reverse {
		return "decay_scan_reverse"
	}
	return "decay_scan"
}

// DecayScan returns y [N, L, dv] with y_t = Σ_{s<t} exp(lg_{s+1} + … +
// lg_{t-1})·x_s for x [N, L, dv] and log-decays lg [N, L]: the exclusive
// scalar decayed scan, one sequential pass instead of [N, L, L] scores.
func (g *Graph) DecayScan(x, lg *Node) *Node { return g.decayScan(x, lg, false) }

// DecayScanReverse is DecayScan backwards in time: y_t = Σ_{s>t}
// exp(lg_{t+1} + … + lg_{s-1})·x_s (DecayScan's gradient with respect to x).
func (g *Graph) DecayScanReverse(x, lg *Node) *Node { return g.decayScan(x, lg, true) }

func (g *Graph) decayScan(x, lg *Node, reverse bool) *Node {
	o := decayScan{reverse}
	if len(x.Shape) != 3 || !sameShape(lg.Shape, x.Shape[:2]) {
		fail("%s: need x [N, L, dv] and lg [N, L]; got %v and %v", o.Name(), x.Shape, lg.Shape)
	}
	return g.Apply(o, x.Shape, x, lg)
}

// Backward: with h_t = exp(lg_t)·y_t + x_t the state that y_{t+1} reads
// (reverse: y_{t-1}), dx is the scan in the other direction of dy, and
//
//	dlg_t = exp(lg_t)·Σ_j y[t,j]·dx[t,j].
func (o decayScan) Backward(g *Graph, n *Node, dy *Node) []*Node {
	lg := n.In[1]
	dx := g.decayScan(dy, lg, !o.reverse)
	dlg := g.Mul(g.SumLast(g.Mul(dx, n)), g.Act(Exp, lg))
	return []*Node{dx, dlg}
}

func (o decayScan) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	x, lg, y := in[0].Data, in[1].Data, out.Data
	nn, l, dv := out.Shape[0], out.Shape[1], out.Shape[2]
	body := func(lo, hi int) {
		for n := lo; n < hi; n++ {
			yn, xn, gn := y[n*l*dv:(n+1)*l*dv], x[n*l*dv:(n+1)*l*dv], lg[n*l:(n+1)*l]
			first, step := 0, 1
			if o.reverse {
				first, step = l-1, -1
			}
			clear(yn[first*dv : (first+1)*dv])
			for s, t := 0, first; s < l-1; s, t = s+1, t+step {
				a := expf(gn[t])
				cur, next, xt := yn[t*dv:(t+1)*dv], yn[(t+step)*dv:(t+step+1)*dv], xn[t*dv:(t+1)*dv]
				for j, v := range cur {
					next[j] = a*v + xt[j]
				}
			}
		}
	}
	return func() { r.For(nn, 1+ewGrain/(l*dv+1), body) }
}
