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
//
// The log-decays are one per step, lg [N, L], or one per group of columns,
// lg [N, L, H] with H dividing dv: column j decays with lg[n, t, j/(dv/H)]
// (the chunked decay core carries its [dk, dv] states chunk to chunk so,
// one decay per key dim).
type decayScan struct{ reverse bool }

func (o decayScan) Name() string {
	if o.reverse {
		return "decay_scan_reverse"
	}
	return "decay_scan"
}

// DecayScan returns y [N, L, dv] with y_t = Σ_{s<t} exp(lg_{s+1} + … +
// lg_{t-1})·x_s for x [N, L, dv] and log-decays lg [N, L] (or [N, L, H],
// one per group of dv/H columns): the exclusive decayed scan, one
// sequential pass instead of [N, L, L] scores.
func (g *Graph) DecayScan(x, lg *Node) *Node { return g.decayScan(x, lg, false) }

// DecayScanReverse is DecayScan backwards in time: y_t = Σ_{s>t}
// exp(lg_{t+1} + … + lg_{s-1})·x_s (DecayScan's gradient with respect to x).
func (g *Graph) DecayScanReverse(x, lg *Node) *Node { return g.decayScan(x, lg, true) }

func (g *Graph) decayScan(x, lg *Node, reverse bool) *Node {
	o := decayScan{reverse}
	ok := len(x.Shape) == 3 && len(lg.Shape) >= 2 && sameShape(lg.Shape[:2], x.Shape[:2])
	if ok && len(lg.Shape) == 3 {
		ok = lg.Shape[2] > 0 && x.Shape[2]%lg.Shape[2] == 0
	} else if len(lg.Shape) != 2 {
		ok = false
	}
	if !ok {
		fail("%s: need x [N, L, dv] and lg [N, L] or [N, L, H] with H dividing dv; got %v and %v", o.Name(), x.Shape, lg.Shape)
	}
	return g.Apply(o, x.Shape, x, lg)
}

// Backward: with h_t = exp(lg_t)·y_t + x_t the state that y_{t+1} reads
// (reverse: y_{t-1}), dx is the scan in the other direction of dy, and
//
//	dlg_t = exp(lg_t)·Σ_j y[t,j]·dx[t,j]
//
// (the sum over each group's columns with grouped decays).
func (o decayScan) Backward(g *Graph, n *Node, dy *Node) []*Node {
	lg := n.In[1]
	dx := g.decayScan(dy, lg, !o.reverse)
	yd := g.Mul(dx, n)
	if len(lg.Shape) == 3 {
		yd = g.Reshape(yd, lg.Shape[0], lg.Shape[1], lg.Shape[2], n.Shape[2]/lg.Shape[2])
	}
	dlg := g.Mul(g.SumLast(yd), g.Act(Exp, lg))
	return []*Node{dx, dlg}
}

// decayGroups is H of a decay scan's lg: 1 for [N, L], else its last dim.
func decayGroups(lg []int) int {
	if len(lg) == 3 {
		return lg[2]
	}
	return 1
}

func (o decayScan) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	x, lg, y := in[0].Data, in[1].Data, out.Data
	nn, l, dv := out.Shape[0], out.Shape[1], out.Shape[2]
	h := decayGroups(in[1].Shape)
	w := dv / h
	body := func(lo, hi int) {
		if useNative && l > 0 && dv > 0 {
			nativeDecayScan(o.reverse, x, lg, y, lo, hi, l, dv, h) // decay_amd64.c
			return
		}
		for n := lo; n < hi; n++ {
			yn, xn, gn := y[n*l*dv:(n+1)*l*dv], x[n*l*dv:(n+1)*l*dv], lg[n*l*h:(n+1)*l*h]
			first, step := 0, 1
			if o.reverse {
				first, step = l-1, -1
			}
			clear(yn[first*dv : (first+1)*dv])
			for s, t := 0, first; s < l-1; s, t = s+1, t+step {
				cur, next, xt := yn[t*dv:(t+1)*dv], yn[(t+step)*dv:(t+step+1)*dv], xn[t*dv:(t+1)*dv]
				for k := 0; k < h; k++ {
					a := expf(gn[t*h+k])
					for j := k * w; j < (k+1)*w; j++ {
						next[j] = a*cur[j] + xt[j]
					}
				}
			}
		}
	}
	return func() { r.For(nn, 1+ewGrain/(l*dv+1), body) }
}
