package kernels

import "math"

// decayScores is the score matrix of a linear mixer with a decay per key
// dimension (GLA, RWKV):
//
//	A[n,t,s] = Σ_d q[n,t,d]·k[n,s,d]·exp(bq[n,t,d] - bk[n,s,d])   for s ≤ t (s < t when strict)
//
// and exactly 0 elsewhere. bq and bk are cumulative log-decays, so every
// exponent in the causal region is ≤ 0 for the mixers that use it; the op
// does not rely on that, but it never evaluates a masked entry, so a large
// positive exponent there cannot turn into inf·0 = NaN.
type decayScores struct{ strict bool }

func (decayScores) Name() string { return "decay_scores" }

// DecayScores returns A [N, c, c] above for q, k, bq, bk [N, c, dk]: the
// fused form of Σ_d (q_t,d k_s,d)·exp(bq_t,d - bk_s,d) without the
// [N, dk, c, c] temporaries of the broadcast composite.
func (g *Graph) DecayScores(q, k, bq, bk *Node, strict bool) *Node {
	if len(q.Shape) != 3 {
		fail("decay_scores: q must be [N, c, dk], got %v", q.Shape)
	}
	for _, x := range []*Node{k, bq, bk} {
		if !sameShape(x.Shape, q.Shape) {
			fail("decay_scores: operand shapes %v, %v, %v, %v differ", q.Shape, k.Shape, bq.Shape, bk.Shape)
		}
	}
	n, c := q.Shape[0], q.Shape[1]
	return g.Apply(decayScores{strict}, []int{n, c, c}, q, k, bq, bk)
}

// Backward: with e = exp(bq_t - bk_s) over the kept entries,
//
//	dq[t,d] = Σ_s dA[t,s]·k[s,d]·e     dk[s,d] = Σ_t dA[t,s]·q[t,d]·e
//	dbq[t,d] = q[t,d]·dq[t,d]           dbk[s,d] = -k[s,d]·dk[s,d]
func (o decayScores) Backward(g *Graph, n *Node, dy *Node) []*Node {
	q, k, bq, bk := n.In[0], n.In[1], n.In[2], n.In[3]
	dq := g.Apply(decayScoresGrad{strict: o.strict}, q.Shape, dy, k, bq, bk)
	dk := g.Apply(decayScoresGrad{strict: o.strict, wrtK: true}, k.Shape, dy, q, bq, bk)
	return []*Node{dq, dk, g.Mul(q, dq), g.Scale(g.Mul(k, dk), -1)}
}

// expf is e^x rounded to float32, as Act(Exp) computes it.
func expf(x float32) float32 { return float32(math.Exp(float64(x))) }

func (o decayScores) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	q, k, bq, bk, y := in[0].Data, in[1].Data, in[2].Data, in[3].Data, out.Data
	nb, c, dk := in[0].Shape[0], in[0].Shape[1], in[0].Shape[2]
	lag := 0
	if o.strict {
		lag = 1
	}
	// Item i is row t = i % c of matrix i / c.
	body := func(lo, hi int) {
		if useNative && dk > 0 {
			nativeDecayScores(q, k, bq, bk, y, lo, hi, c, dk, lag) // decay_amd64.c
			return
		}
		for i := lo; i < hi; i++ {
			n, t := i/c, i%c
			row := y[i*c : (i+1)*c]
			qt, bt := q[i*dk:(i+1)*dk], bq[i*dk:(i+1)*dk]
			last := t - lag // kept: s ≤ last
			for s := range row {
				if s > last {
					row[s] = 0
					continue
				}
				j := (n*c + s) * dk
				ks, bs := k[j:j+dk], bk[j:j+dk]
				var acc float32
				for d, qv := range qt {
					// Rounded as the composite rounds: (q·k)·e, then the sum.
					acc += float32(float32(qv*ks[d]) * expf(bt[d]-bs[d]))
				}
				row[s] = acc
			}
		}
	}
	return func() { r.For(nb*c, 1+ewGrain/(c*dk/2+1), body) }
}

// decayScoresGrad is dq (wrtK false) or dk (wrtK true) of decayScores, from
// inputs (dA, x, bq, bk) where x is k for dq and q for dk.
type decayScoresGrad struct{ strict, wrtK bool }

func (o decayScoresGrad) Name() string {
	if o.wrtK {
		return "decay_scores_grad_k"
	}
	return "decay_scores_grad_q"
}

func (o decayScoresGrad) Backward(g *Graph, n *Node, dy *Node) []*Node {
	fail("%s: second derivatives are not supported", o.Name())
	return nil
}

func (o decayScoresGrad) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	da, x, bq, bk, y := in[0].Data, in[1].Data, in[2].Data, in[3].Data, out.Data
	nb, c, dk := in[1].Shape[0], in[1].Shape[1], in[1].Shape[2]
	lag := 0
	if o.strict {
		lag = 1
	}
	// Item i is output row i % c of matrix i / c: a query row t (dq) or a key
	// row s (dk), summed over the kept entries of its score row or column.
	body := func(lo, hi int) {
		if useNative && dk > 0 {
			nativeDecayScoresGrad(o.wrtK, da, x, bq, bk, y, lo, hi, c, dk, lag) // decay_amd64.c
			return
		}
		for i := lo; i < hi; i++ {
			n, a := i/c, i%c
			acc := y[i*dk : (i+1)*dk]
			clear(acc)
			if !o.wrtK { // dq[t] = Σ_{s ≤ t-lag} dA[t,s]·k[s]·exp(bq[t] - bk[s])
				bt := bq[i*dk : (i+1)*dk]
				for s := 0; s <= a-lag; s++ {
					w := da[i*c+s]
					j := (n*c + s) * dk
					xs, bs := x[j:j+dk], bk[j:j+dk]
					for d := range acc {
						acc[d] += float32(float32(w*xs[d]) * expf(bt[d]-bs[d]))
					}
				}
				continue
			}
			// dk[s] = Σ_{t ≥ s+lag} dA[t,s]·q[t]·exp(bq[t] - bk[s])
			bs := bk[i*dk : (i+1)*dk]
			for t := a + lag; t < c; t++ {
				w := da[(n*c+t)*c+a]
				j := (n*c + t) * dk
				xt, bt := x[j:j+dk], bq[j:j+dk]
				for d := range acc {
					acc[d] += float32(float32(w*xt[d]) * expf(bt[d]-bs[d]))
				}
			}
		}
	}
	return func() { r.For(nb*c, 1+ewGrain/(c*dk/2+1), body) }
}
