package kernels

// The delta-rule inter-chunk scan. Chunked delta-rule mixers (DeltaNet,
// Gated DeltaNet) reduce each chunk i of c tokens, by the UT transform, to
// per-chunk tensors (tv, tk, qkg, gq, kd [c, ·] and the chunk decay dec);
// the chunks are then joined by a state S [dk, dv] carried from chunk to
// chunk:
//
//	S_0 = 0
//	u_i = tv_i - tk_i·S_i                  (pseudo-values, [c, dv])
//	o_i = qkg_i·u_i + gq_i·S_i             (output, [c, dv])
//	S_{i+1} = dec_i·S_i + kd_iᵀ·u_i
//
// Only the state recurrence is sequential. DeltaStates computes it (one op,
// one pass over the chunks); u and o are then batched matrix products over
// every chunk at once (DeltaScan).

// deltaStates is the state recurrence (grad false) or its reverse scan
// (grad true).
//
// Forward, inputs (tv, tk, kd, dec): out_i = S_i, the state before chunk i.
// Reverse, inputs (dS, tk, kd, dec), dS the gradient of each S_i:
//
//	H_{nc-1} = 0,   H_{i-1} = dS_i + dec_i·H_i - tk_iᵀ·(kd_i·H_i)
//
// so out_i = H_i is the gradient of S_{i+1} (everything that S_{i+1}
// influences). Both are one loop, X ← dec_i·X + P_iᵀ·(Y_i - Q_i·X) + Z_i,
// with (P, Q, Y, Z) = (kd, tk, tv, 0) forward and (tk, kd, 0, dS) in reverse.
type deltaStates struct{ grad bool }

func (o deltaStates) Name() string {
	if o.grad {
		return "delta_states_grad"
	}
	return "delta_states"
}

// DeltaStates returns the state S_i [N, nc, dk, dv] before each chunk i of
// the recurrence S_0 = 0, S_{i+1} = dec_i·S_i + kd_iᵀ·(tv_i - tk_i·S_i), for
// tv [N, nc, c, dv], tk and kd [N, nc, c, dk] and dec [N, nc]. The last
// chunk's kd and dec are not read (no state follows it).
func (g *Graph) DeltaStates(tv, tk, kd, dec *Node) *Node {
	s := tv.Shape
	if len(s) != 4 || len(tk.Shape) != 4 || !sameShape(tk.Shape, kd.Shape) || !sameShape(tk.Shape[:3], s[:3]) ||
		!sameShape(dec.Shape, s[:2]) {
		fail("delta_states: need tv [N, nc, c, dv], tk and kd [N, nc, c, dk], dec [N, nc]; got %v, %v, %v, %v",
			tv.Shape, tk.Shape, kd.Shape, dec.Shape)
	}
	return g.Apply(deltaStates{}, []int{s[0], s[1], tk.Shape[3], s[3]}, tv, tk, kd, dec)
}

// DeltaScan returns the outputs o [N, nc, c, dv] of the delta-rule chunk
// recurrence (see the top of this file) for tv [N, nc, c, dv], tk, gq, kd
// [N, nc, c, dk], qkg [N, nc, c, c] and dec [N, nc]: the states by
// DeltaStates, then u and o as batched products over all chunks.
func (g *Graph) DeltaScan(tv, tk, qkg, gq, kd, dec *Node) *Node {
	s := g.DeltaStates(tv, tk, kd, dec)
	u := g.Sub(tv, g.MatMul(tk, s, false, false))
	return g.Add(g.MatMul(qkg, u, false, false), g.MatMul(gq, s, false, false))
}

// Backward: with H from the reverse scan (H_i the gradient of S_{i+1}),
// du_i = kd_i·H_i, and
//
//	d tv_i = du_i,  d tk_i = -du_i·S_iᵀ,  d kd_i = u_i·H_iᵀ,  d dec_i = Σ H_i ⊙ S_i.
func (o deltaStates) Backward(g *Graph, n *Node, dy *Node) []*Node {
	if o.grad {
		fail("delta_states_grad: second derivatives are not supported")
	}
	tv, tk, kd, dec := n.In[0], n.In[1], n.In[2], n.In[3]
	h := g.Apply(deltaStates{grad: true}, n.Shape, dy, tk, kd, dec)
	u := g.Sub(tv, g.MatMul(tk, n, false, false))
	du := g.MatMul(kd, h, false, false)
	dtk := g.Scale(g.MatMul(du, n, false, true), -1)
	dkd := g.MatMul(u, h, false, true)
	s := n.Shape
	ddec := g.SumLast(g.Reshape(g.Mul(h, n), s[0], s[1], s[2]*s[3]))
	return []*Node{du, dtk, dkd, ddec}
}

func (o deltaStates) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	nn, nc, dk, dv := out.Shape[0], out.Shape[1], out.Shape[2], out.Shape[3]
	c := in[1].Shape[2]
	q, p := in[1].Data, in[2].Data // forward: Q = tk, P = kd
	var y, z []float32
	if o.grad {
		q, p = p, q
		z = in[0].Data
	} else {
		y = in[0].Data
	}
	dec, x := in[3].Data, out.Data
	u := make([]float32, nn*c*dv) // scratch, bound once
	ss, cs := dk*dv, c*dv
	body := func(lo, hi int) {
		for b := lo; b < hi; b++ {
			ub := u[b*cs : (b+1)*cs]
			first, step := 0, 1
			if o.grad {
				first, step = nc-1, -1
			}
			clear(x[(b*nc+first)*ss : (b*nc+first+1)*ss])
			for s, i := 0, first; s < nc-1; s, i = s+1, i+step {
				ch := b*nc + i
				cur, next := x[ch*ss:(ch+1)*ss], x[(ch+step)*ss:(ch+step+1)*ss]
				qi, pi := q[ch*c*dk:(ch+1)*c*dk], p[ch*c*dk:(ch+1)*c*dk]
				// u = Y_i - Q_i·X: a c x dk by dk x dv product.
				if y != nil {
					copy(ub, y[ch*cs:(ch+1)*cs])
				} else {
					clear(ub)
				}
				sgemm(false, false, c, dv, dk, -1, qi, dk, cur, dv, 1, ub, dv)
				// X' = dec_i·X + Z_i + P_iᵀ·u
				d := dec[ch]
				if z != nil {
					zs := z[ch*ss : (ch+1)*ss]
					for j := range next {
						next[j] = d*cur[j] + zs[j]
					}
				} else {
					for j := range next {
						next[j] = d * cur[j]
					}
				}
				sgemm(true, false, dk, dv, c, 1, pi, dk, ub, dv, 1, next, dv)
			}
		}
	}
	return func() { r.For(nn, 1, body) }
}
