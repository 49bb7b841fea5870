package architectures

import "lab/kernels"

// This file holds the shared core of the decayed and gated linear mixers:
//
//	S_t = diag(exp(g_t))·S_{t-1} + k_t v_tᵀ      o_t = q_tᵀ S_t
//
// for q, k [N, L, dk], v [N, L, dv] and log-decays g ≤ 0, either one per
// head and token (scalar, g [N, L]) or one per key dimension (g [N, L, dk]).
// With exclusive set (RWKV), the read-out uses S_{t-1}, and a bonus for the
// current token may be added: o_t = q_tᵀ(S_{t-1} + diag(u) k_t v_tᵀ).
//
// Every exp below is of a difference of cumulative log-decays taken in the
// causal direction, so it is at most 1: the forms stay finite for decays near
// 0 as well as near 1.

// decayOpts selects the variant.
type decayOpts struct {
	exclusive bool          // read S_{t-1} (RWKV)
	bonusQ    *kernels.Node // q ⊙ u [N, L, dk] for the bonus u; nil = none
}

// expDiff returns exp(a_i - b_j) masked causally (j <= i, or j < i when
// strict) for a, b [..., L] as [..., L, L]; masked entries are 0.
func expDiff(g *kernels.Graph, a, b *kernels.Node, strict bool) *kernels.Node {
	r := len(a.Shape)
	as := append(append([]int(nil), a.Shape...), 1)
	bs := append(append(append([]int(nil), b.Shape[:r-1]...), 1), b.Shape[r-1])
	d := g.BSub(g.Reshape(a, as...), g.Reshape(b, bs...))
	if strict {
		d = g.StrictCausalMask(d, kernels.NegInf)
	} else {
		d = g.CausalMask(d, 0, kernels.NegInf)
	}
	return g.Act(kernels.Exp, d)
}

// scoresPerDim returns A[n, t, s] = Σ_d q[n,t,d]·k[n,s,d]·exp(bq[n,t,d] - bk[n,s,d])
// masked causally, for q, k, bq, bk [N, L, dk]: one fused op (kernels.DecayScores)
// that never forms the [N, dk, L, L] products.
func scoresPerDim(g *kernels.Graph, q, k, bq, bk *kernels.Node, strict bool) *kernels.Node {
	return g.DecayScores(q, k, bq, bk, strict)
}

// scoresScalar returns A[n, t, s] = (q_t·k_s)·exp(bq_t - bk_s) masked causally.
// With one key dim (RWKV-4's channels as heads) this is the per-dimension
// form with dk = 1, and the fused op skips the GEMM and the mask passes.
func scoresScalar(g *kernels.Graph, q, k, bq, bk *kernels.Node, strict bool) *kernels.Node {
	if n, l := q.Shape[0], q.Shape[1]; q.Shape[2] == 1 {
		return g.DecayScores(q, k, g.Reshape(bq, n, l, 1), g.Reshape(bk, n, l, 1), strict)
	}
	return g.Mul(g.MatMul(q, k, false, true), expDiff(g, bq, bk, strict))
}

// bonusTerm is (Σ_d q_t,d·u_d·k_t,d)·v_t for the exclusive (RWKV) variant,
// from qu = q ⊙ u (the caller multiplies before splitting heads, where u is
// one vector over the channels).
func bonusTerm(g *kernels.Graph, qu, k, v *kernels.Node) *kernels.Node {
	return g.MulCol(v, g.SumLast(g.Mul(qu, k)))
}

// decayParallel is the quadratic reference form.
func decayParallel(g *kernels.Graph, q, k, v, lg *kernels.Node, o decayOpts) *kernels.Node {
	b := g.CumSum(lg, 1, false, false)
	bq := b
	if o.exclusive {
		// Decay up to t-1, summed in the same order as b so that
		// bq_t - b_{t-1} is exactly 0 even for huge log-decays.
		bq = g.CumSum(lg, 1, true, false)
	}
	var a *kernels.Node
	if len(lg.Shape) == 2 {
		a = scoresScalar(g, q, k, bq, b, o.exclusive)
	} else {
		a = scoresPerDim(g, q, k, bq, b, o.exclusive)
	}
	out := g.MatMul(a, v, false, false)
	if o.bonusQ != nil {
		out = g.Add(out, bonusTerm(g, o.bonusQ, k, v))
	}
	return out
}

// decayChunked is the training form: the parallel form inside chunks of c
// tokens, and the state carried across chunks by a decayed sum over chunk
// summaries. L need not be a multiple of c.
func decayChunked(g *kernels.Graph, q, k, v, lg *kernels.Node, c int, o decayOpts) *kernels.Node {
	n, l, dk, dv := q.Shape[0], q.Shape[1], q.Shape[2], v.Shape[2]
	if c <= 0 || c > l {
		c = l
	}
	nc := (l + c - 1) / c
	pad := nc*c - l
	perDim := len(lg.Shape) == 3
	q, k, v, lg = g.Pad(q, 1, 0, pad), g.Pad(k, 1, 0, pad), g.Pad(v, 1, 0, pad), g.Pad(lg, 1, 0, pad)
	qc := g.Reshape(q, n*nc, c, dk)
	kc := g.Reshape(k, n*nc, c, dk)
	vc := g.Reshape(v, n*nc, c, dv)
	var intra, kdec, qdec, chunkLog *kernels.Node
	if perDim {
		lc := g.Reshape(lg, n*nc, c, dk)
		bl := g.CumSum(lc, 1, false, false) // within-chunk cumulative log-decay
		last := g.Slice(bl, 1, c-1, c)      // [N·nc, 1, dk]
		bq := bl
		if o.exclusive {
			bq = g.CumSum(lc, 1, true, false)
		}
		intra = g.MatMul(scoresPerDim(g, qc, kc, bq, bl, o.exclusive), vc, false, false)
		kdec = g.Mul(kc, g.Act(kernels.Exp, g.BSub(last, bl)))
		qdec = g.Mul(qc, g.Act(kernels.Exp, bq))
		chunkLog = g.Reshape(last, n, nc, dk)
	} else {
		lc := g.Reshape(lg, n*nc, c)
		bl := g.CumSum(lc, 1, false, false)
		last := g.Slice(bl, 1, c-1, c) // [N·nc, 1]
		bq := bl
		if o.exclusive {
			bq = g.CumSum(lc, 1, true, false)
		}
		intra = g.MatMul(scoresScalar(g, qc, kc, bq, bl, o.exclusive), vc, false, false)
		kdec = g.MulCol(kc, g.Act(kernels.Exp, g.BSub(last, bl)))
		qdec = g.MulCol(qc, g.Act(kernels.Exp, bq))
		chunkLog = g.Reshape(last, n, nc)
	}
	// Chunk summaries Σ_j exp(G - b_j) k_j v_jᵀ, then the state entering each
	// chunk, Σ_{c' < c} exp(G_{c'+1} + … + G_{c-1}) summary_{c'}: one exclusive
	// decayed scan over the chunks (kernels.DecayScan), each key dim's row of
	// the state decaying with its own G (per-dimension decays) or all with one.
	sum := g.MatMul(kdec, vc, true, false) // [N·nc, dk, dv]
	enter := g.Reshape(g.DecayScan(g.Reshape(sum, n, nc, dk*dv), chunkLog), n*nc, dk, dv)
	out := g.Add(intra, g.MatMul(qdec, enter, false, false))
	out = g.Slice(g.Reshape(out, n, nc*c, dv), 1, 0, l)
	if o.bonusQ != nil {
		k, v = g.Slice(k, 1, 0, l), g.Slice(v, 1, 0, l)
		out = g.Add(out, bonusTerm(g, o.bonusQ, k, v))
	}
	return out
}

// decayStep advances one head's state S [dk, dv] by one token and writes
// o [dv]: the recurrent form. gd holds the log-decay per key dim (len 1 for
// a scalar decay); u is the bonus (exclusive variant) or nil.
func decayStep(s, q, k, v, gd, u, o []float32) {
	dk, dv := len(q), len(v)
	clear(o)
	if u != nil { // read S_{t-1} + diag(u) k vᵀ, then update
		for i := 0; i < dk; i++ {
			for j := 0; j < dv; j++ {
				o[j] += q[i] * (s[i*dv+j] + u[i]*k[i]*v[j])
			}
		}
	}
	for i := 0; i < dk; i++ {
		a := expf(gd[min(i, len(gd)-1)])
		for j := 0; j < dv; j++ {
			s[i*dv+j] = a*s[i*dv+j] + k[i]*v[j]
		}
	}
	if u == nil {
		for i := 0; i < dk; i++ {
			for j := 0; j < dv; j++ {
				o[j] += q[i] * s[i*dv+j]
			}
		}
	}
}
